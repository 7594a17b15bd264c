// The file descriptor behind a Node socket, for the attach points that take a socket: socket
// filters (SO_ATTACH_BPF), sockmap/sockhash values, sk_lookup targets. Node has no public API
// for it; net sockets and servers expose it on their handle, dgram sockets keep their handle
// in a symbol-keyed state (reading it there avoids dgram's deprecated `_handle` getter).
import { UsageError } from '../errors.js';

/** A socket: its fd, or a Node net.Socket, net.Server or dgram.Socket (bound, listening or connected). */
export type SocketRef = number | object;

function handleFd(h: unknown): number | undefined {
  const fd = (h as { fd?: unknown } | undefined)?.fd;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}

/** The fd of a socket; UsageError when it has none (not yet bound, listening or connected; closed). */
export function socketFd(socket: SocketRef, what = 'socket'): number {
  if (typeof socket === 'number') {
    if (!Number.isInteger(socket) || socket < 0) throw new UsageError(`${what}: not a file descriptor: ${socket}`);
    return socket;
  }
  if (socket === null || typeof socket !== 'object') throw new UsageError(`${what} must be a socket fd, or a Node net.Socket, net.Server or dgram.Socket; got ${String(socket)}`);
  // dgram.Socket: its state object (under a symbol) holds the handle.
  const state = Object.getOwnPropertySymbols(socket).find((sym) => sym.description === 'state symbol');
  const fd =
    state !== undefined
      ? handleFd((((socket as Record<symbol, unknown>)[state] ?? {}) as { handle?: unknown }).handle)
      : handleFd((socket as { _handle?: unknown })._handle); // net.Socket, net.Server
  if (fd !== undefined) return fd;
  throw new UsageError(`${what} has no file descriptor yet (bind, listen or connect it first, and wait for that to finish) or is closed`);
}
