// Host processes as tests see them.

/** Whether a process with this pid exists (signal 0: no signal sent, only the check). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
