// BPF_PROG_QUERY of a tcx hook: the chain in run order, with the link that holds each program
// and the revision to pass back as `expectedRevision` for a race-free change.
import { BpfError } from '../errors.js';
import { PROG_QUERY_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { stableBuffer } from '../syscall/libc.js';
import { EINVAL, ENODEV, ENOSPC, haveLinkFeature, notSupported } from '../link/features.js';
import { TCX_ATTACH_TYPE, checkDirection, type TcxDirection } from './direction.js';
import { resolveIface, type Iface } from '../link/iface.js';

export interface TcxEntry {
  progId: number;
  /** The link that holds the program; undefined for programs attached with BPF_PROG_ATTACH. */
  linkId: number | undefined;
}

export interface TcxChain {
  /** Changes with every attach, detach and replace on this hook. */
  revision: number;
  /** In run order: the first entry sees the packet first. */
  programs: TcxEntry[];
}

/** The kernel's BPF_MPROG_MAX: a tcx chain never holds more. */
const MPROG_MAX = 64;

/** Lists the programs on an interface's tcx hook, in the order they run. */
export function query(iface: Iface, direction: TcxDirection): TcxChain {
  const ifindex = resolveIface(iface);
  checkDirection(direction);
  for (let cap = MPROG_MAX; ; cap *= 2) {
    const progIds = stableBuffer(cap * 4);
    const linkIds = stableBuffer(cap * 4);
    const attr = new Attr(PROG_QUERY_ATTR)
      .set('target_ifindex', ifindex)
      .set('attach_type', TCX_ATTACH_TYPE[direction])
      .set('count', cap)
      .setPointer('prog_ids', progIds)
      .setPointer('link_ids', linkIds);
    const r = bpfAttr(bpf_cmd.BPF_PROG_QUERY, attr);
    if (r === -ENOSPC && cap < 1 << 16) continue; // a chain longer than today's limit: grow
    if (r < 0) {
      const errno = -r;
      if (errno === EINVAL && !haveLinkFeature('tcx')) throw notSupported('tcx', errno);
      throw new BpfError(
        { errno, command: 'BPF_PROG_QUERY' },
        errno === ENODEV
          ? `BPF_PROG_QUERY (tcx ${direction} on ifindex ${ifindex}) failed: ENODEV — no interface with index ${ifindex} in this network namespace`
          : undefined,
      );
    }
    const count = attr.get('count');
    const programs: TcxEntry[] = [];
    for (let i = 0; i < count; i++) {
      const linkId = linkIds.readUInt32LE(i * 4);
      programs.push({ progId: progIds.readUInt32LE(i * 4), linkId: linkId === 0 ? undefined : linkId });
    }
    return { revision: attr.get('revision'), programs };
  }
}
