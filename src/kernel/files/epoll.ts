// epoll instances (Linux's fs/eventpoll.c).
//
// Contract:
// - An EpollFile keeps an interest list keyed by (open file description, fd)
//   and a ready list. Each registration listens on its file's waitQueue; a
//   wake-up puts it on the ready list (in arrival order) and wakes the epoll's
//   own waiters, so epoll instances nest and can be polled.
// - Harvesting re-reads each ready file's pollEvents(): an item no longer
//   ready is dropped; a level-triggered one goes back to the tail of the ready
//   list; an edge-triggered (EPOLLET) one waits for its next wake-up; an
//   EPOLLONESHOT one is disabled until EPOLL_CTL_MOD re-arms it.
// - A registration lives until EPOLL_CTL_DEL or until its open file
//   description is released (closing one fd of a dup'd file leaves it, as on
//   Linux). POLLERR and POLLHUP are always reported.
// - Files without a poll method (regular files, directories) are refused with
//   EPERM; registering an epoll instance inside itself (directly or through
//   others) is ELOOP.

import { EEXIST, EINVAL, ELOOP, ENOENT, EPERM, Errno } from '../../linux/errno.js';
import * as abi from '../../linux/abi.js';
import { File } from './file.js';
import { WaitQueue } from './waitqueue.js';
import { allocIno, makeAttr } from '../vfs/attr.js';
import type { Attr } from '../../backend/backend.js';
import type { EpollItemRecord, FileRecord, FileSaveContext } from '../checkpoint-records.js';

/** The flag bits of an epoll_event that are not events (Linux's EP_PRIVATE_BITS). */
const EP_PRIVATE_BITS = abi.EPOLLWAKEUP | abi.EPOLLONESHOT | abi.EPOLLET | abi.EPOLLEXCLUSIVE;
/** What EPOLLEXCLUSIVE may be combined with (EPOLLEXCLUSIVE_OK_BITS). */
const EXCLUSIVE_OK = abi.POLLIN | abi.POLLOUT | abi.POLLRDNORM | abi.POLLRDBAND | abi.POLLWRNORM | abi.POLLWRBAND | abi.POLLERR | abi.POLLHUP | abi.EPOLLWAKEUP | abi.EPOLLET | abi.EPOLLEXCLUSIVE;
/** How deep epoll instances may nest (EP_MAX_NESTS). */
const MAX_NESTS = 4;

interface Item {
  file: File;
  fd: number;
  /** Requested events and flags; POLLERR|POLLHUP are always added. */
  events: number;
  data: bigint;
  unsubscribe: () => void;
  forgetRelease: () => void;
}

export interface ReadyEvent {
  events: number;
  data: bigint;
}

export class EpollFile extends File {
  private readonly wq = new WaitQueue();
  private readonly items = new Map<File, Map<number, Item>>();
  private readonly ready = new Set<Item>();
  private readonly ino = allocIno();

  constructor(flags: number) {
    super(abi.O_RDWR | flags, 'anon_inode:[eventpoll]');
  }

  /** epoll_ctl for `fd` open as `target`; `events`/`data` are ignored for EPOLL_CTL_DEL. */
  ctl(op: number, fd: number, target: File, events: number, data: bigint): 0 | Errno {
    if (target === this) return EINVAL;
    if (!target.waitQueue) return EPERM;
    if (op !== abi.EPOLL_CTL_DEL) events |= abi.POLLERR | abi.POLLHUP;
    if (events & abi.EPOLLEXCLUSIVE) {
      if (op === abi.EPOLL_CTL_MOD) return EINVAL;
      if (op === abi.EPOLL_CTL_ADD && (target instanceof EpollFile || events & ~EXCLUSIVE_OK)) return EINVAL;
    }
    const existing = this.items.get(target)?.get(fd);
    switch (op) {
      case abi.EPOLL_CTL_ADD: {
        if (existing) return EEXIST;
        if (target instanceof EpollFile && (target.reaches(this, 0) || target.depth(0) >= MAX_NESTS)) return ELOOP;
        this.add(fd, target, events, data);
        return 0;
      }
      case abi.EPOLL_CTL_MOD: {
        if (!existing) return ENOENT;
        if (existing.events & abi.EPOLLEXCLUSIVE) return EINVAL;
        existing.events = events;
        existing.data = data;
        if (target.pollEvents() & events) this.makeReady(existing);
        return 0;
      }
      case abi.EPOLL_CTL_DEL:
        if (!existing) return ENOENT;
        this.remove(existing);
        return 0;
      default:
        return EINVAL;
    }
  }

  /**
   * Checkpoint: the interest list (each watched file saved first, by index)
   * and which items are on the ready list, in its order.
   */
  override save(c: FileSaveContext): FileRecord {
    const items: EpollItemRecord[] = [];
    const position = new Map<Item, number>();
    for (const byFd of this.items.values()) {
      for (const item of byFd.values()) {
        position.set(item, items.length);
        items.push({ file: c.file(item.file), fd: item.fd, events: item.events, data: item.data.toString() });
      }
    }
    return { kind: 'epoll', flags: this.flags & ~abi.O_ACCMODE, items, ready: [...this.ready].map((i) => position.get(i)!) };
  }

  /** The restore half of save(): `files[i]` is the restored file of index i; the ready list as it was (an edge-triggered item already reported stays quiet). */
  static restore(rec: Extract<FileRecord, { kind: 'epoll' }>, files: File[]): EpollFile {
    const ep = new EpollFile(rec.flags);
    const items = rec.items.map((r) => {
      const f = files[r.file];
      if (!f?.waitQueue) throw new Error(`an epoll instance watches file ${r.file}, which the image lacks or which cannot be polled`);
      return ep.add(r.fd, f, r.events, BigInt(r.data), false);
    });
    for (const i of rec.ready) {
      if (!items[i]) throw new Error(`an epoll instance's ready list names item ${i} of ${items.length}`);
      ep.ready.add(items[i]);
    }
    return ep;
  }

  private add(fd: number, file: File, events: number, data: bigint, checkReady = true): Item {
    const item: Item = { file, fd, events, data, unsubscribe: () => {}, forgetRelease: () => {} };
    let byFd = this.items.get(file);
    if (!byFd) this.items.set(file, (byFd = new Map()));
    byFd.set(fd, item);
    item.unsubscribe = file.waitQueue!.subscribe(~0, (ev) => {
      // A disabled EPOLLONESHOT item, or events it did not ask for, don't wake it.
      if (item.events & ~EP_PRIVATE_BITS & ev) this.makeReady(item);
    });
    item.forgetRelease = file.onRelease(() => this.remove(item));
    if (checkReady && file.pollEvents() & events) this.makeReady(item);
    return item;
  }

  private remove(item: Item): void {
    item.unsubscribe();
    item.forgetRelease();
    this.ready.delete(item);
    const byFd = this.items.get(item.file);
    byFd?.delete(item.fd);
    if (byFd && byFd.size === 0) this.items.delete(item.file);
  }

  private makeReady(item: Item): void {
    if (!this.ready.has(item)) this.ready.add(item);
    this.wq.notify(abi.POLLIN | abi.POLLRDNORM);
  }

  /**
   * Take up to `max` events (ep_send_events): ready items whose files are
   * still ready, in ready-list order.
   */
  harvest(max: number): ReadyEvent[] {
    const out: ReadyEvent[] = [];
    const requeue: Item[] = [];
    for (const item of [...this.ready]) {
      if (out.length >= max) break;
      this.ready.delete(item);
      const revents = item.file.pollEvents() & item.events;
      if (revents === 0) continue;
      out.push({ events: revents, data: item.data });
      if (item.events & abi.EPOLLONESHOT) item.events &= EP_PRIVATE_BITS;
      else if (!(item.events & abi.EPOLLET)) requeue.push(item);
    }
    for (const item of requeue) this.ready.add(item);
    return out;
  }

  /** Is any ready item really ready? Drops those that are not (ep_read_events_proc). */
  hasReady(): boolean {
    for (const item of [...this.ready]) {
      if (item.file.pollEvents() & item.events & ~EP_PRIVATE_BITS) return true;
      this.ready.delete(item);
    }
    return false;
  }

  override pollEvents(): number {
    return this.hasReady() ? abi.POLLIN | abi.POLLRDNORM : 0;
  }

  override get waitQueue(): WaitQueue {
    return this.wq;
  }

  getattr(): Attr {
    return makeAttr(0o600, { ino: this.ino, blksize: 4096 });
  }

  protected override release(): void {
    for (const byFd of [...this.items.values()]) for (const item of [...byFd.values()]) this.remove(item);
  }

  /** Does this instance watch `ep`, directly or through nested instances? */
  private reaches(ep: EpollFile, depth: number): boolean {
    if (depth > MAX_NESTS) return true;
    for (const f of this.items.keys()) if (f === ep || (f instanceof EpollFile && f.reaches(ep, depth + 1))) return true;
    return false;
  }

  /** Levels of epoll instances below this one. */
  private depth(level: number): number {
    let d = 0;
    if (level > MAX_NESTS) return level;
    for (const f of this.items.keys()) if (f instanceof EpollFile) d = Math.max(d, 1 + f.depth(level + 1));
    return d;
  }
}
