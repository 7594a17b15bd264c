// BPF_PROG_QUERY of a netkit device's chains: run order, the link holding each program, and the
// revision to pass back as `expectedRevision`.
import { BpfError, errnoName } from '../errors.js';
import { EINVAL } from '../link/features.js';
import { NETKIT_ATTACH_TYPE, checkSide, netkitNotSupported, netkitWhy, type NetkitSide } from '../link/netkit.js';
import { progQuery, type AttachedProgram } from '../link/prog-query.js';
import { features } from '../features/index.js';
import { resolveIface, type Iface } from '../link/iface.js';

export interface NetkitChain {
  revision: number;
  /** In run order. */
  programs: AttachedProgram[];
}

/** The programs on one side of a netkit device (the primary's ifindex), in the order they run. */
export function query(iface: Iface, side: NetkitSide): NetkitChain {
  const ifindex = resolveIface(iface);
  checkSide(side, 'netkit.query');
  const r = progQuery(ifindex, NETKIT_ATTACH_TYPE[side], { mprog: true });
  if (typeof r !== 'number') return { revision: r.revision, programs: r.programs };
  const errno = -r;
  if (errno === EINVAL && features.probe('netkit').status === 'absent') throw netkitNotSupported(errno);
  const why = netkitWhy(errno, ifindex);
  throw new BpfError({ errno, command: 'BPF_PROG_QUERY' }, why ? `BPF_PROG_QUERY (netkit ${side} on ifindex ${ifindex}) failed: ${errnoName(errno)} — ${why}` : undefined);
}
