// Network namespaces as attach targets. Some attach points name their namespace with an fd
// (sk_lookup and flow dissector links); others act on the namespace of the calling thread
// (netfilter links, the legacy flow dissector attach). `inNetns` runs a synchronous function
// with this thread moved into another namespace and always moves it back, so both kinds can
// target a namespace the process does not live in.
import { closeSync, constants, openSync } from 'node:fs';
import { ERRNO } from '../errno-names.js';
import { BpfError, TsbpfError, UsageError, errnoName } from '../errors.js';
import { CLONE_NEWNET } from '../syscall/abi/net.js';
import { sysSetns } from '../syscall/netns.js';

/**
 * A network namespace: a path to its nsfs file (`/run/netns/NAME`, `/proc/PID/ns/net`), a name
 * under /run/netns (as `ip netns` names them), or an open fd of one (left open).
 */
export type NetnsRef = string | number;

/** The calling thread's own namespace: the default target. */
export const CURRENT_NETNS = '/proc/thread-self/ns/net';

export interface OpenNetns {
  readonly fd: number;
  /** What to call it in messages. */
  readonly label: string;
  /** Closes the fd if we opened it (a caller's fd is left open). */
  close(): void;
}

/** The nsfs path a NetnsRef string names. */
export function netnsPath(ref: string): string {
  return ref.includes('/') ? ref : `/run/netns/${ref}`;
}

/** Opens a namespace reference (a caller's fd is used as it is, and left open). */
export function openNetns(ref: NetnsRef | undefined, what = 'network namespace'): OpenNetns {
  if (ref === undefined) ref = CURRENT_NETNS;
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 0) throw new UsageError(`${what}: not a file descriptor: ${ref}`);
    return { fd: ref, label: `netns fd ${ref}`, close() {} };
  }
  if (typeof ref !== 'string' || ref === '' || ref.includes('\0'))
    throw new UsageError(`${what} must be a path (/run/netns/NAME, /proc/PID/ns/net), a name under /run/netns, or an fd; got ${JSON.stringify(ref)}`);
  const path = netnsPath(ref);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(
      `${what}: cannot open ${path}: ${err.code ?? err.message}${err.code === 'ENOENT' && !ref.includes('/') ? ` (no namespace named '${ref}': see ip netns list)` : ''}`,
      { cause: e },
    );
  }
  let closed = false;
  return {
    fd,
    label: ref === CURRENT_NETNS ? "this thread's network namespace" : `network namespace ${path}`,
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

function setns(fd: number, label: string, back: boolean): void {
  const r = sysSetns(fd, CLONE_NEWNET);
  if (r >= 0) return;
  const errno = -r;
  const why =
    errno === ERRNO.EINVAL
      ? 'the fd does not refer to a network namespace'
      : errno === ERRNO.EPERM
        ? 'entering another network namespace needs CAP_SYS_ADMIN (root)'
        : undefined;
  const msg = `setns(${label}) failed: ${errnoName(errno)}${why ? ` — ${why}` : ''}`;
  if (!back) throw new BpfError({ errno, command: 'setns' }, msg);
  // Nothing sane can run on a thread stranded in another namespace.
  throw new TsbpfError(`${msg} while returning this thread to its own network namespace; the thread is left in the other one`);
}

/**
 * Runs `fn` with the calling thread in another network namespace, then moves it back (also when
 * `fn` throws). `fn` must be synchronous: anything it leaves for later runs back home. What
 * `fn` creates keeps its namespace (a netfilter link stays on that namespace's hooks).
 */
export function inNetns<T>(netns: NetnsRef, fn: () => T): T {
  if (typeof fn !== 'function') throw new UsageError('inNetns(netns, fn): fn must be a function');
  const home = openNetns(CURRENT_NETNS);
  try {
    const target = openNetns(netns);
    let result: T;
    try {
      setns(target.fd, target.label, false);
      try {
        result = fn();
      } finally {
        setns(home.fd, "this thread's own network namespace", true);
      }
    } finally {
      target.close();
    }
    if (result instanceof Promise)
      throw new UsageError('inNetns(netns, fn): fn returned a Promise; only its synchronous part ran in the namespace (pass a synchronous function)');
    return result;
  } finally {
    home.close();
  }
}
