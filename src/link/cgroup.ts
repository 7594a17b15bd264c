// cgroup programs through a bpf_link (BPF_LINK_CREATE on a cgroup v2 directory, 5.7+): the
// program runs for every socket (or device, sysctl…) of the cgroup and its descendants while
// the link exists. Links join the hook in multi-program mode; on kernels with cgroup mprog
// (6.16, and backports) `before`/`after` place them and `expectedRevision` guards the change,
// as on tcx. Without links, cgroup.attach (BPF_PROG_ATTACH) is the low level.
import { UsageError } from '../errors.js';
import { features } from '../features/index.js';
import { LINK_CREATE_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import type { AttachType } from '../syscall/abi/names.js';
import { ATTACH_TYPE_NAMES } from '../syscall/abi/names.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { explainNotCgroup2, openCgroup, type CgroupRef, type OpenCgroup } from '../cgroup/ref.js';
import { BpfError, NotSupportedError, errnoName } from '../errors.js';
import { ERRNO } from '../errno-names.js';
import { EBADF, EEXIST, EINVAL, ENOENT, EPERM, ERANGE, ESTALE } from './features.js';

const { E2BIG } = ERRNO;
import { Link, progFd, type ProgramRef } from './link.js';
import { placement, type TcxRelative } from './tcx.js';

/** The attach types of cgroup hooks: `cgroup_inet_ingress`, `cgroup_inet4_connect`, `cgroup_sock_ops`, … */
export type CgroupAttachType = Extract<AttachType, `cgroup_${string}` | 'lsm_cgroup'>;

/** Where in a cgroup hook's list (mprog kernels): a Link, a program, `{ progId }`, `{ linkId }`, or null for an end. */
export type CgroupRelative = TcxRelative;

export interface CgroupLinkOptions {
  /** Run before this program or link (`null`: first). Needs cgroup mprog (6.16). */
  before?: CgroupRelative;
  /** Run after this program or link (`null`: last, the default). Needs cgroup mprog (6.16). */
  after?: CgroupRelative;
  /** Attach only if the hook is still at this revision (from cgroup.query); else ESTALE. Needs cgroup mprog. */
  expectedRevision?: number;
}

/** The kernel value of a cgroup attach type; UsageError for anything else. */
export function cgroupAttachType(name: string, what: string): number {
  const n = typeof name === 'string' ? name.toLowerCase().replace(/^bpf_/, '') : '';
  const v = ATTACH_TYPE_NAMES.byName.get(n);
  if (v === undefined || !(n.startsWith('cgroup_') || n === 'lsm_cgroup')) {
    const known = [...ATTACH_TYPE_NAMES.byName.keys()].filter((k) => k.startsWith('cgroup_') || k === 'lsm_cgroup');
    throw new UsageError(`${what}: ${JSON.stringify(name)} is not a cgroup attach type; one of ${known.join(', ')}`);
  }
  return v;
}

/** NotSupportedError for a named feature, from the catalog's words. */
export function featureNotSupported(id: 'cgroup_link' | 'cgroup_mprog', errno?: number): NotSupportedError {
  const f = features.info(id);
  return new NotSupportedError(f.title, f.minKernel, f.alternative, errno);
}

/**
 * Attaches a cgroup program to a cgroup v2 directory (path or fd) at `attachType` through a
 * link, and returns the Link that owns the attachment.
 */
export function attachCgroupLink(cgroup: CgroupRef, attachType: CgroupAttachType, prog: ProgramRef, opts: CgroupLinkOptions = {}, what = 'attach a cgroup link'): Link {
  const fd = progFd(prog);
  const type = cgroupAttachType(attachType, what);
  const ordered = opts.before !== undefined || opts.after !== undefined || opts.expectedRevision !== undefined;
  const { flags, relative, what: rel } = placement(opts);
  if (opts.expectedRevision !== undefined && (!Number.isInteger(opts.expectedRevision) || opts.expectedRevision < 0))
    throw new UsageError(`${what}: expectedRevision must be a revision from cgroup.query(); got ${opts.expectedRevision}`);
  const cg = openCgroup(cgroup, what);
  try {
    const attr = new Attr(LINK_CREATE_ATTR)
      .set('prog_fd', fd)
      .set('target_fd', cg.fd)
      .set('attach_type', type)
      .set('flags', flags)
      .set('relative_fd', relative);
    if (opts.expectedRevision !== undefined) attr.set('expected_revision', opts.expectedRevision);
    const r = bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
    if (r >= 0) return Link.adopt(r);
    throw cgroupLinkError(-r, cg, attachType, ordered, { ...(rel ? { relative: rel } : {}), ...(opts.expectedRevision !== undefined ? { expectedRevision: opts.expectedRevision } : {}) });
  } finally {
    cg.close();
  }
}

/** What a failed BPF_LINK_CREATE on a cgroup means. */
function cgroupLinkError(errno: number, cg: OpenCgroup, attachType: string, ordered: boolean, ctx: { relative?: string; expectedRevision?: number }): Error {
  if (errno === EINVAL) {
    // EINVAL is also a program of the wrong type: only the probes can tell a kernel without it.
    if (features.probe('cgroup_link').status === 'absent') return featureNotSupported('cgroup_link', errno);
    if (ordered && features.probe('cgroup_mprog').status === 'absent') return featureNotSupported('cgroup_mprog', errno);
  }
  const command = 'BPF_LINK_CREATE';
  const hook = `${attachType} on ${cg.label}`;
  const say = (why: string): BpfError => new BpfError({ errno, command }, `${command} (${hook}) failed: ${errnoName(errno)} — ${why}`);
  switch (errno) {
    case EBADF:
      return say(explainNotCgroup2(cg) ?? 'the program fd (or the relative fd) is not open');
    case EINVAL:
      return say(`the program cannot attach to ${attachType}: its type, or the expected attach type it was loaded with, is for another hook (a program loaded for cgroup_inet_egress attaches only there)`);
    case EPERM:
      return say(
        `the cgroup's ${attachType} hook holds a program attached with BPF_PROG_ATTACH in exclusive or override mode (cgroup.query shows it), and links join only multi-program hooks; or this process lacks CAP_BPF/CAP_NET_ADMIN`,
      );
    case EEXIST:
      return say('this program is already attached to this hook of this cgroup');
    case E2BIG:
      return say('the hook already has the most programs a cgroup attach type takes (64)');
    case ESTALE:
      return say(`stale revision: the hook is no longer at revision ${ctx.expectedRevision ?? '?'}; read it again with cgroup.query and retry; nothing was attached`);
    case ENOENT:
      return say(`the relative ${ctx.relative ?? 'program or link'} is not attached to this hook`);
    case ERANGE:
      return say('before/after name positions that contradict each other');
    default:
      return new BpfError({ errno, command, context: hook });
  }
}
