// A bpf_link owned through one file descriptor. The attachment lives exactly as long as the
// kernel's link object: while this fd, another process's fd, or a bpffs pin holds it. Never
// registered with a FinalizationRegistry: a garbage collector must not detach a program.
import { BpfError, UsageError, errnoName } from '../errors.js';
import { BPF_F_REPLACE, LINK_DETACH_ATTR, LINK_UPDATE_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { bpfStep, runSteps, runStepsAsync, type Steps } from '../syscall/steps.js';
import { KernelObject, duplicateFd, openById, openPinned } from '../syscall/kernel-object.js';
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

export interface LinkUpdateOptions {
  /** Compare-and-exchange: replace only if the link still runs this program (BPF_F_REPLACE). */
  expected?: ProgramRef;
}

export class Link extends KernelObject {
  private constructor(fd: number, pinnedPath?: string) {
    super(fd, 'link', /* closeOnGc */ false, pinnedPath);
  }

  /**
   * @internal Takes ownership of an fd fresh from BPF_LINK_CREATE (the attach functions of
   * src/link): the Link closes it. Anything else goes through fromFd, which duplicates.
   */
  static adopt(fd: number): Link {
    return new Link(fd);
  }

  /** Wraps a link fd someone else opened. The fd is duplicated: the caller keeps (and closes)
   * its own, and closing this Link closes only the duplicate (the attachment stays while any
   * holder does). */
  static fromFd(fd: number): Link {
    return new Link(duplicateFd('link', fd));
  }

  /** Opens a link pinned on bpffs. The pin stays; `unpin()` removes it. */
  static fromPin(path: string): Link {
    return new Link(openPinned('link', path), path);
  }

  /** Opens an existing link by id (any process's, e.g. from `bpftool link show`). */
  static fromId(id: number): Link {
    return new Link(openById('link', id));
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
    const r = bpfAttr(bpf_cmd.BPF_LINK_UPDATE, attr);
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

  /**
   * Lets go of the hook now (BPF_LINK_DETACH), even if other fds or pins hold the link: the
   * program stops running, the fd stays open on a defunct link (`info().detached`), and
   * still needs `close()`.
   */
  detach(): void {
    runSteps(this.#detachSteps());
  }

  /** detach() off the main thread (for XDP and tcx links it waits for RCU); the same errors,
   * as a rejection. To detach by letting go of the link, use `closeAsync()`. */
  detachAsync(): Promise<void> {
    return runStepsAsync(this.#detachSteps(), [this]);
  }

  *#detachSteps(): Steps<void> {
    const attr = new Attr(LINK_DETACH_ATTR).set('link_fd', this.fd);
    const r = yield bpfStep(bpf_cmd.BPF_LINK_DETACH, attr);
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

  protected idOf(fd: number): number {
    return linkInfo(fd).id;
  }
}
