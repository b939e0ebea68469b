// What the kernel reports, and where: the debug log (--debug-log), the user
// log (--user-log-fd, JSON lines), and --strace lines.

export interface KernelLogs {
  debug(msg: string): void;
  warn(msg: string): void;
  /** A kernel bug: logged loudly, always. */
  error(msg: string): void;
  /** One line per system call; undefined when --strace is off. */
  strace?: (line: string) => void;
  /** A message meant for the user (unsupported system calls, once each). */
  user(msg: string): void;
}
