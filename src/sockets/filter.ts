// Socket filters: a socket_filter program on one socket (setsockopt SO_ATTACH_BPF, 3.19). It sees
// each packet the socket is about to receive and returns how many bytes to keep (0 drops it).
// The socket holds the program: no link, no pin; closing the socket (or detach) ends it.
//
// SO_ATTACH_BPF replaces a filter already on the socket without a word, so attach looks first
// (SO_GET_FILTER) and refuses a socket that has one unless told `replace: true`.
import { ERRNO } from '../errno-names.js';
import { BpfError, errnoName } from '../errors.js';
import { progFd, type ProgramRef } from '../link/link.js';
import { SOL_SOCKET, SO_ATTACH_BPF, SO_DETACH_BPF, SO_GET_FILTER } from '../syscall/abi/net.js';
import { stableBuffer } from '../syscall/libc.js';
import { sysSetsockopt } from '../syscall/socket.js';
import { sysGetsockopt } from '../syscall/sockopt.js';
import { socketFd, type SocketRef } from './fd.js';

const { EACCES, EBADF, ENOTSOCK, EINVAL, ENOENT, EPERM } = ERRNO;

export interface SocketFilterOptions {
  /** Replace a filter the socket already has (classic or eBPF). */
  replace?: boolean;
}

/** Whether the socket has a filter: 'none', 'bpf' (an eBPF program) or 'classic' (cBPF instructions). */
export function filterOf(socket: SocketRef): 'none' | 'bpf' | 'classic' {
  const fd = socketFd(socket, 'socketFilter.filterOf');
  const value = stableBuffer(0);
  const len = stableBuffer(4);
  // With length 0 the kernel only reports: 0 no filter, n classic instructions, EACCES an eBPF program.
  const r = sysGetsockopt(fd, SOL_SOCKET, SO_GET_FILTER, value, len, 0);
  if (r === -EACCES) return 'bpf';
  if (r < 0) throw sockError(-r, 'getsockopt(SO_GET_FILTER)', fd);
  return len.readUInt32LE(0) > 0 ? 'classic' : 'none';
}

function sockError(errno: number, command: string, fd: number, why?: string): BpfError {
  const w =
    why ??
    (errno === EBADF || errno === ENOTSOCK
      ? `fd ${fd} is not an open socket`
      : errno === EINVAL
        ? 'the program is not a socket_filter program'
        : errno === EPERM
          ? 'the socket has a locked filter (SO_LOCK_FILTER)'
          : undefined);
  return new BpfError({ errno, command }, `${command} on socket fd ${fd} failed: ${errnoName(errno)}${w ? ` — ${w}` : ''}`);
}

/** Attaches a socket_filter program to a socket (an fd, or a Node socket). */
export function attach(socket: SocketRef, prog: ProgramRef, opts: SocketFilterOptions = {}): void {
  const pfd = progFd(prog);
  const fd = socketFd(socket, 'socketFilter.attach');
  if (!opts.replace) {
    const now = filterOf(fd);
    if (now !== 'none')
      throw new BpfError(
        { errno: ERRNO.EEXIST, command: 'setsockopt(SO_ATTACH_BPF)' },
        `setsockopt(SO_ATTACH_BPF) on socket fd ${fd} not sent: EEXIST — the socket already has a${now === 'bpf' ? 'n eBPF' : ' classic BPF'} filter, which this would replace; pass { replace: true } to replace it`,
      );
  }
  const v = stableBuffer(4);
  v.writeUInt32LE(pfd, 0);
  const r = sysSetsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, v);
  if (r < 0) throw sockError(-r, 'setsockopt(SO_ATTACH_BPF)', fd);
}

/** Removes a socket's filter (SO_DETACH_BPF). */
export function detach(socket: SocketRef): void {
  const fd = socketFd(socket, 'socketFilter.detach');
  const r = sysSetsockopt(fd, SOL_SOCKET, SO_DETACH_BPF, stableBuffer(4));
  if (r < 0) throw sockError(-r, 'setsockopt(SO_DETACH_BPF)', fd, -r === ENOENT ? 'the socket has no filter' : undefined);
}
