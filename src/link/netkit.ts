// netkit programs through a bpf_link (BPF_LINK_CREATE with BPF_NETKIT_PRIMARY/PEER, 6.7+): a
// chain of programs in a netkit device's transmit path, ordered and guarded like tcx's. Both
// chains hang off the primary device's ifindex: 'primary' runs on what the primary sends (into
// the peer's namespace), 'peer' on what the peer sends. Programs return NETKIT_NEXT (-1),
// NETKIT_PASS (0), NETKIT_DROP (2) or NETKIT_REDIRECT (7).
import { BpfError, NotSupportedError, UsageError, errnoName } from '../errors.js';
import { features } from '../features/index.js';
import { ERRNO } from '../errno-names.js';
import { LINK_CREATE_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { resolveIface, type Iface } from './iface.js';
import { EBADF, EEXIST, EINVAL, ENODEV, ENOENT, ERANGE, ESTALE } from './features.js';
import { Link, progFd, type ProgramRef } from './link.js';
import { placement, type TcxLinkOptions, type TcxRelative } from './tcx.js';

export type NetkitSide = 'primary' | 'peer';
export type NetkitRelative = TcxRelative;
export type NetkitLinkOptions = TcxLinkOptions;

export const NETKIT_ATTACH_TYPE: Readonly<Record<NetkitSide, number>> = {
  primary: bpf_attach_type.BPF_NETKIT_PRIMARY,
  peer: bpf_attach_type.BPF_NETKIT_PEER,
};

export function checkSide(side: string, what: string): asserts side is NetkitSide {
  if (side !== 'primary' && side !== 'peer') throw new UsageError(`${what}: netkit side must be 'primary' or 'peer'; got ${String(side)}`);
}

export function netkitNotSupported(errno?: number, cause?: unknown): NotSupportedError {
  const f = features.info('netkit');
  return new NotSupportedError(f.title, f.minKernel, f.alternative, errno, undefined, cause !== undefined ? { cause } : undefined);
}

/** What a netkit attach or query answered, in words. */
export function netkitWhy(errno: number, ifindex: number): string | undefined {
  switch (errno) {
    case ENODEV:
      return `no interface with index ${ifindex} in this network namespace (or the netkit device has no peer)`;
    case ERRNO.ENXIO:
      return `ifindex ${ifindex} is not a netkit device`;
    case ERRNO.EACCES:
      return `ifindex ${ifindex} is a netkit peer: programs for both sides attach to the primary device`;
    default:
      return undefined;
  }
}

/** Attaches a sched_cls program to one side of a netkit device (by the primary's ifindex). */
export function attachNetkitLink(iface: Iface, side: NetkitSide, prog: ProgramRef, opts: NetkitLinkOptions = {}, what = 'attach a netkit link'): Link {
  const fd = progFd(prog);
  const ifindex = resolveIface(iface);
  checkSide(side, what);
  const { flags, relative, what: rel } = placement(opts);
  const attr = new Attr(LINK_CREATE_ATTR)
    .set('prog_fd', fd)
    .set('target_ifindex', ifindex)
    .set('attach_type', NETKIT_ATTACH_TYPE[side])
    .set('flags', flags)
    .set('relative_fd', relative);
  if (opts.expectedRevision !== undefined) {
    if (!Number.isInteger(opts.expectedRevision) || opts.expectedRevision < 0)
      throw new UsageError(`${what}: expectedRevision must be a revision from netkit.query(); got ${opts.expectedRevision}`);
    attr.set('expected_revision', opts.expectedRevision);
  }
  const r = bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
  if (r >= 0) return Link.adopt(r);
  const errno = -r;
  if (errno === EINVAL && features.probe('netkit').status === 'absent') throw netkitNotSupported(errno);
  const hook = `netkit ${side} on ifindex ${ifindex}`;
  const say = (why: string): BpfError => new BpfError({ errno, command: 'BPF_LINK_CREATE' }, `BPF_LINK_CREATE (${hook}) failed: ${errnoName(errno)} — ${why}`);
  const why = netkitWhy(errno, ifindex);
  if (why) throw say(why);
  switch (errno) {
    case ESTALE:
      throw say(`stale revision: the chain is no longer at revision ${opts.expectedRevision}; read it again (netkit.query) and retry; nothing was attached`);
    case ENOENT:
      throw say(`the relative ${rel ?? 'program or link'} is not attached to this hook`);
    case EEXIST:
      throw say('this program is already attached to this hook');
    case ERANGE:
      throw say('the chain is full (64 programs), or before/after name positions that contradict each other');
    case EINVAL:
      throw say('the program is not a sched_cls program, or before/after/flags are invalid');
    case EBADF:
      throw say('the program fd (or the relative fd) is not open');
    default:
      throw new BpfError({ errno, command: 'BPF_LINK_CREATE', context: hook });
  }
}
