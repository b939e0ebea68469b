import { EAFNOSUPPORT, type Errno } from '../../linux/errno.js';
import type { InetSocket } from './inet-socket.js';

export function openHostInetSocket(_family: number, _type: number, _flags: number): InetSocket | Errno {
  return EAFNOSUPPORT;
}
