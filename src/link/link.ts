// A bpf_link owned through one file descriptor. The attachment lives exactly as long as the
// kernel's link object: while this fd, another process's fd, or a bpffs pin holds it. Never
// registered with a FinalizationRegistry: a garbage collector must not detach a program.
import { readlinkSync, unlinkSync } from 'node:fs';
import { BpfError, UsageError, errnoName } from '../errors.js';
import { BPF_F_REPLACE, LINK_DETACH_ATTR, LINK_UPDATE_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { fdById, objGet, objPin } from '../syscall/bpf.js';
import { FdOwner } from '../syscall/fd.js';
import { bpfRaw, closeFd } from '../syscall/libc.js';
import { EINVAL, ENOENT, ENOLINK, EOPNOTSUPP, EPERM } from './features.js';
import { linkInfo, type LinkInfo } from './info.js';

/** A loaded program: anything with its fd (BpfProgram), or the fd itself. */
export type ProgramRef = { readonly fd: number } | number;

export function progFd(p: ProgramRef, what = 'program'): number {
  const fd = typeof p === 'number' ? p : p?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new UsageError(`${what} must be a loaded program (an object with an open fd, or an fd number); got ${String(fd)}`);
  }
  return fd;
}

/** What an open fd refers to, from its anon inode name ('bpf-link', 'bpf-map', 'bpf-prog'). */
function fdKind(fd: number): string {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`).replace(/^anon_inode:/, '');
  } catch {
    return 'unknown';
  }
}

export interface LinkUpdateOptions {
  /** Compare-and-exchange: replace only if the link still runs this program (BPF_F_REPLACE). */
  expected?: ProgramRef;
}

export class Link {
  readonly #owner: FdOwner;
  #pinnedPath: string | undefined;

  private constructor(fd: number, pinnedPath?: string) {
    this.#owner = new FdOwner(fd, 'link', /* closeOnGc */ false);
    this.#pinnedPath = pinnedPath;
  }

  /**
   * Takes ownership of an fd that refers to a bpf link (from BPF_LINK_CREATE, or a raw
   * syscall of your own). The Link closes it; don't close it yourself.
   */
  static adopt(fd: number, pinnedPath?: string): Link {
    return new Link(fd, pinnedPath);
  }

  /** Opens a link pinned on bpffs. The pin stays; `unpin()` removes it. */
  static fromPin(path: string): Link {
    const fd = objGet(path);
    const kind = fdKind(fd);
    if (kind !== 'bpf-link') {
      closeFd(fd);
      throw new UsageError(`${path} is a pinned ${kind}, not a bpf link`);
    }
    return new Link(fd, path);
  }

  /** Opens an existing link by id (any process's, e.g. from `bpftool link show`). */
  static fromId(id: number): Link {
    if (!Number.isInteger(id) || id <= 0) throw new UsageError(`a link id is a positive integer; got ${id}`);
    try {
      return new Link(fdById('link', id));
    } catch (e) {
      if (e instanceof BpfError && e.errno === ENOENT) {
        throw new BpfError({ errno: e.errno, command: e.command, cause: e }, `${e.command} failed: ENOENT — there is no link with id ${id}`);
      }
      throw e;
    }
  }

  /** The link's fd; throws UsageError once closed. */
  get fd(): number {
    return this.#owner.fd;
  }

  get closed(): boolean {
    return this.#owner.closed;
  }

  /** Where this link is pinned, if it was pinned (or opened) through this object. */
  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  /**
   * Atomically swaps the link's program (BPF_LINK_UPDATE): packets never see an empty hook.
   * With `expected`, only if the link still runs that program; otherwise nothing changes.
   */
  update(prog: ProgramRef, opts: LinkUpdateOptions = {}): void {
    const attr = new Attr(LINK_UPDATE_ATTR).set('link_fd', this.fd).set('new_prog_fd', progFd(prog, 'the new program'));
    if (opts.expected !== undefined) {
      attr.set('flags', BPF_F_REPLACE).set('old_prog_fd', progFd(opts.expected, 'the expected program'));
    }
    const r = bpfRaw(bpf_cmd.BPF_LINK_UPDATE, attr.address, attr.size);
    if (r >= 0) return;
    const errno = -r;
    const command = 'BPF_LINK_UPDATE';
    const why =
      errno === EPERM && opts.expected !== undefined
        ? "the link's program is not the expected one (someone updated the link since you looked); the link is unchanged"
        : errno === ENOLINK
          ? 'the link is detached (defunct): its hook is gone, so there is nothing to update'
          : errno === EINVAL
            ? "the new program's type or expected attach type differs from the link's program"
            : errno === EOPNOTSUPP
              ? 'this link type does not support replacing its program'
              : undefined;
    throw why
      ? new BpfError({ errno, command }, `${command} failed: ${errnoName(errno)} — ${why}`)
      : new BpfError({ errno, command, context: 'replace the program of a link' });
  }

  /** Pins the link on bpffs: the attachment then outlives this process until unpinned. */
  pin(path: string): void {
    objPin(this.fd, path);
    this.#pinnedPath = path;
  }

  /** Removes the pin this object made or was opened from. The link stays attached while
   * this object (or anyone else) still holds it. */
  unpin(): void {
    const path = this.#pinnedPath;
    if (path === undefined) throw new UsageError('this link is not pinned (pin() it, or open it with Link.fromPin())');
    try {
      unlinkSync(path);
    } catch (e) {
      // Someone already removed the pin: the outcome asked for holds.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot unpin ${path}: ${(e as Error).message}`);
    }
    this.#pinnedPath = undefined;
  }

  /**
   * Lets go of the hook now (BPF_LINK_DETACH), even if other fds or pins hold the link: the
   * program stops running, the fd stays open on a defunct link (`info().detached`), and
   * still needs `close()`.
   */
  detach(): void {
    const attr = new Attr(LINK_DETACH_ATTR).set('link_fd', this.fd);
    const r = bpfRaw(bpf_cmd.BPF_LINK_DETACH, attr.address, attr.size);
    if (r >= 0) return;
    const errno = -r;
    if (errno === EOPNOTSUPP || errno === EINVAL) {
      throw new BpfError(
        { errno, command: 'BPF_LINK_DETACH' },
        `BPF_LINK_DETACH failed: ${errnoName(errno)} — this link type cannot be detached explicitly; close it (and unpin it) instead`,
      );
    }
    throw new BpfError({ errno, command: 'BPF_LINK_DETACH' });
  }

  /** What the kernel says about this link: id, type, program id, per-type fields. */
  info(): LinkInfo {
    return linkInfo(this.fd);
  }

  /** Closes our fd. The attachment ends if this was its last holder (no other fd, no pin).
   * Closing twice is harmless. */
  close(): void {
    this.#owner.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
