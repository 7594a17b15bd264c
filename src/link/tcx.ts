// tcx through a bpf_link (BPF_LINK_CREATE, BPF_TCX_INGRESS/EGRESS, 6.6+): a multi-program
// chain per interface and direction, ordered by before/after, guarded by a revision number
// that changes with every attach, detach and replace.
import { UsageError } from '../errors.js';
import {
  BPF_F_AFTER,
  BPF_F_BEFORE,
  BPF_F_ID,
  BPF_F_LINK,
  LINK_CREATE_ATTR,
  bpf_cmd,
} from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfStep, runSteps, runStepsAsync, type Steps } from '../syscall/steps.js';
import { EINVAL, haveLinkFeature, linkCreateError, notSupported } from './features.js';
import { Link, progFd, type ProgramRef } from './link.js';
import { TCX_ATTACH_TYPE, checkDirection, type TcxDirection } from '../tcx/direction.js';
import { resolveIface, type Iface } from './iface.js';
import { query } from '../tcx/query.js';

export type { TcxDirection };

/**
 * Where in the chain: a Link (relative to that link), a program (object with an fd), or by id
 * `{ progId }` / `{ linkId }`. `null` means the end of the chain: `before: null` attaches
 * first, `after: null` last (the default is last, too).
 */
export type TcxRelative = Link | { readonly fd: number } | { readonly progId: number } | { readonly linkId: number } | null;

export interface TcxLinkOptions {
  before?: TcxRelative;
  after?: TcxRelative;
  /** Attach only if the chain is still at this revision (from tcx.query); else ESTALE. */
  expectedRevision?: number;
}

/** The mprog flags and relative_fd/relative_id for a before/after target. */
export function relativeFlags(rel: TcxRelative): { flags: number; relative: number; what: string } {
  if (rel === null) return { flags: 0, relative: 0, what: 'end of the chain' };
  if (rel instanceof Link) return { flags: BPF_F_LINK, relative: rel.fd, what: 'link' };
  if (typeof rel === 'object') {
    if ('linkId' in rel) return { flags: BPF_F_LINK | BPF_F_ID, relative: positiveId(rel.linkId, 'linkId'), what: `link id ${rel.linkId}` };
    if ('progId' in rel) return { flags: BPF_F_ID, relative: positiveId(rel.progId, 'progId'), what: `program id ${rel.progId}` };
    if ('fd' in rel) return { flags: 0, relative: progFd(rel, 'the relative program'), what: 'program' };
  }
  throw new UsageError('before/after must be a Link, a program, { progId }, { linkId } or null');
}

function positiveId(id: number, name: string): number {
  if (!Number.isInteger(id) || id <= 0) throw new UsageError(`${name} must be a positive integer; got ${id}`);
  return id;
}

/** Encodes before/after into link_create's flags and relative field (shared with tests). */
export function placement(opts: TcxLinkOptions): { flags: number; relative: number; what?: string } {
  const hasBefore = opts.before !== undefined;
  const hasAfter = opts.after !== undefined;
  // The kernel takes one relative; both flags together (even with no relative) are ERANGE.
  if (hasBefore && hasAfter) {
    throw new UsageError('give before or after, not both: the kernel takes one relative program or link');
  }
  if (!hasBefore && !hasAfter) return { flags: 0, relative: 0 };
  const target = (hasBefore ? opts.before : opts.after) ?? null;
  const r = relativeFlags(target);
  return {
    flags: r.flags | (hasBefore ? BPF_F_BEFORE : 0) | (hasAfter ? BPF_F_AFTER : 0),
    relative: r.relative,
    what: r.what,
  };
}

/** Attaches a sched_cls program to an interface's tcx chain and returns the Link that owns it. */
export function attachTcxLink(iface: Iface, direction: TcxDirection, prog: ProgramRef, opts: TcxLinkOptions = {}): Link {
  return runSteps(tcxLinkSteps(iface, direction, prog, opts));
}

/** attachTcxLink with BPF_LINK_CREATE (which waits for RCU) off the main thread; the same
 * Link and the same errors, as a rejection. The link is detached with `closeAsync()`. */
export function attachTcxLinkAsync(iface: Iface, direction: TcxDirection, prog: ProgramRef, opts: TcxLinkOptions = {}): Promise<Link> {
  return runStepsAsync(tcxLinkSteps(iface, direction, prog, opts), [prog, opts.before, opts.after]);
}

function* tcxLinkSteps(iface: Iface, direction: TcxDirection, prog: ProgramRef, opts: TcxLinkOptions): Steps<Link> {
  const fd = progFd(prog);
  const ifindex = resolveIface(iface);
  checkDirection(direction);
  const { flags, relative, what } = placement(opts);
  const attr = new Attr(LINK_CREATE_ATTR)
    .set('prog_fd', fd)
    .set('target_ifindex', ifindex)
    .set('attach_type', TCX_ATTACH_TYPE[direction])
    .set('flags', flags)
    .set('relative_fd', relative);
  if (opts.expectedRevision !== undefined) {
    if (!Number.isInteger(opts.expectedRevision) || opts.expectedRevision < 0) {
      throw new UsageError(`expectedRevision must be a revision from tcx.query(); got ${opts.expectedRevision}`);
    }
    attr.set('expected_revision', opts.expectedRevision);
  }
  const r = yield bpfStep(bpf_cmd.BPF_LINK_CREATE, attr);
  if (r >= 0) return Link.adopt(r);
  const errno = -r;
  // Only an EINVAL can mean "no tcx here"; the probe is only paid for then.
  const supported = errno === EINVAL ? haveLinkFeature('tcx') : true;
  if (!supported) throw notSupported('tcx', errno);
  throw linkCreateError(
    errno,
    {
      feature: 'tcx',
      ifindex,
      where: direction,
      ...(opts.expectedRevision !== undefined ? { expectedRevision: opts.expectedRevision } : {}),
      currentRevision: () => currentRevision(ifindex, direction),
      ...(what ? { relative: what } : {}),
    },
    supported,
  );
}

function currentRevision(ifindex: number, direction: TcxDirection): number | undefined {
  try {
    return query(ifindex, direction).revision;
  } catch {
    return undefined;
  }
}
