// BPF_OBJ_GET_INFO_BY_FD for links, decoded into one plain object per link type. Names come
// from the uapi enums (src/sysinfo/names.ts), so a link type added to the kernel shows up as
// `unknown(N)` with its id and program id instead of failing.
import { BPF_LINK_INFO, BPF_LINK_INFO_UNION, bpf_kprobe_multi_flags, bpf_link_type, bpf_perf_event_type } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { objInfo } from '../syscall/bpf.js';
import { stableBuffer } from '../syscall/libc.js';
import { attachTypeName, linkTypeName } from '../sysinfo/names.js';
import { BPF_F_NETFILTER_IP_DEFRAG } from '../syscall/abi/bpf.js';
import { netfilterFamilyName, netfilterHookName } from './netfilter-hooks.js';
import { linkMode } from '../xdp/occupant.js';

/** Lowercase `bpf_link_type` without `BPF_LINK_TYPE_`. */
export type LinkTypeName =
  | 'raw_tracepoint'
  | 'tracing'
  | 'cgroup'
  | 'iter'
  | 'netns'
  | 'xdp'
  | 'perf_event'
  | 'kprobe_multi'
  | 'struct_ops'
  | 'netfilter'
  | 'tcx'
  | 'uprobe_multi'
  | 'netkit'
  | 'sockmap'
  | `unknown(${number})`;

interface LinkInfoBase {
  /** The link's id (system-wide, what `bpftool link show` prints). */
  id: number;
  /** The raw `bpf_link_type` value. */
  typeId: number;
  /** The attached program's id; 0 for links without one (struct_ops). */
  progId: number;
  /**
   * True when the hook has been let go (BPF_LINK_DETACH, the device or netns went away, the
   * cgroup was removed) while this fd still holds the link: it is defunct and runs nothing.
   * Undefined for link types whose info cannot tell.
   */
  detached?: boolean;
}

/** `attachType` is the lowercase `bpf_attach_type` without `BPF_` ('tcx_ingress', 'xdp'...). */
export type LinkInfo = LinkInfoBase &
  (
    | {
        type: 'xdp';
        ifindex: number;
        /** The mode the kernel runs it in (the link's info lacks it: read from the interface,
         * as xdp.query reports it); undefined once detached or if the interface is in another
         * network namespace. */
        mode?: 'skb' | 'drv' | 'hw';
      }
    | { type: 'tcx'; ifindex: number; attachType: string; direction?: 'ingress' | 'egress' }
    | {
        type: 'netkit';
        /** The device the chain runs on: the primary for `netkit_primary`; for `netkit_peer` the
         * peer, by its index in its own namespace (links attach through the primary's). */
        ifindex: number;
        attachType: string;
      }
    | { type: 'netns'; netnsIno: number; attachType: string }
    | { type: 'cgroup'; cgroupId: bigint; attachType: string }
    | { type: 'tracing'; attachType: string; targetObjId: number; targetBtfId: number; cookie: bigint }
    | { type: 'raw_tracepoint'; tpName: string; cookie: bigint }
    | { type: 'iter'; targetName: string; mapId?: number }
    | { type: 'struct_ops'; mapId: number }
    | {
        type: 'netfilter';
        pf: number;
        hooknum: number;
        priority: number;
        flags: number;
        /** 'ipv4' / 'ipv6' and 'prerouting', 'local_in'…: pf and hooknum by name. */
        family: string;
        hook: string;
        /** BPF_F_NETFILTER_IP_DEFRAG: the program sees reassembled datagrams. */
        defrag: boolean;
      }
    | { type: 'kprobe_multi'; count: number; flags: number; missed: bigint; retprobe: boolean }
    | { type: 'uprobe_multi'; path: string; count: number; flags: number; pid: number }
    | {
        type: 'perf_event';
        /** `bpf_perf_event_type` (6.6+; 0 on older kernels, which report nothing more). */
        perfEventType: number;
        /** 'kprobe', 'kretprobe', 'uprobe', 'uretprobe', 'tracepoint', 'event' (6.6+). */
        perfEventKind?: string;
        /** kprobes (6.6+): the probed function, offset into it and address. */
        kprobe?: { function: string; offset: number; address: bigint; missed: bigint; cookie: bigint };
        /** uprobes (6.6+): the file and the offset in it (cookie 6.9+, refCtrOffset 6.13+; 0 before). */
        uprobe?: { path: string; offset: number; cookie: bigint; refCtrOffset: bigint };
        /** tracepoints (6.6+): 'category:name' as tracefs has it… or the bare name the kernel reports (cookie 6.9+). */
        tracepoint?: { name: string; cookie: bigint };
      }
    | { type: 'sockmap'; mapId: number; attachType: string }
    | { type: `unknown(${number})` }
  );

const T = bpf_link_type;
const U = BPF_LINK_INFO_UNION;
const PATH_MAX = 4096;

/** Link types whose info carries a string: [pointer member, length member]. */
const STRING_MEMBERS: Partial<Record<number, readonly [{ offset: number }, { offset: number }]>> = {
  [T.BPF_LINK_TYPE_RAW_TRACEPOINT]: [U.raw_tracepoint.members.tp_name, U.raw_tracepoint.members.tp_name_len],
  [T.BPF_LINK_TYPE_ITER]: [U.iter.members.target_name, U.iter.members.target_name_len],
  // Asking for the path alone (offsets/cookies left 0) is allowed for uprobe_multi.
  [T.BPF_LINK_TYPE_UPROBE_MULTI]: [U.uprobe_multi.members.path, U.uprobe_multi.members.path_size],
};

/** Reads and decodes a link's info. Works on any link fd (ours, pinned, or opened by id). */
export function linkInfo(fd: number): LinkInfo {
  const attr = new Attr(BPF_LINK_INFO);
  objInfo(fd, attr, 'link info');
  const typeId = attr.get('type');

  // Types that report a string need a second call with a buffer for it: the first one told
  // us the type and the string's length.
  let str = '';
  const strSpec = STRING_MEMBERS[typeId];
  if (strSpec) {
    const [ptr, len] = strSpec;
    const reported = attr.bytes.readUInt32LE(len.offset);
    const size = reported > 0 ? Math.min(reported, PATH_MAX) : PATH_MAX;
    const buf = stableBuffer(size);
    attr.zero().setPointerAt(ptr.offset, buf);
    attr.bytes.writeUInt32LE(size, len.offset);
    objInfo(fd, attr, 'link info');
    const end = buf.indexOf(0);
    str = buf.subarray(0, end < 0 ? size : end).toString('utf8');
  }

  const base: LinkInfoBase = { id: attr.get('id'), typeId, progId: attr.get('prog_id') };
  type Members = { members: Record<string, { offset: number; size: number }> };
  // Reads of one union member of the info just fetched.
  const rd = (l: Members, m: string): number => {
    const mem = l.members[m]!;
    return mem.size === 8 ? Number(attr.bytes.readBigUInt64LE(mem.offset)) : attr.bytes.readUInt32LE(mem.offset);
  };
  const rd64 = (l: Members, m: string): bigint =>
    attr.bytes.readBigUInt64LE(l.members[m]!.offset);
  const at = (l: Members): string => attachTypeName(rd(l, 'attach_type'));

  switch (typeId) {
    case T.BPF_LINK_TYPE_XDP: {
      const ifindex = rd(U.xdp, 'ifindex');
      const mode = ifindex === 0 ? undefined : linkMode(ifindex, base.id, base.progId);
      return { ...base, type: 'xdp', ifindex, ...(mode ? { mode } : {}), detached: ifindex === 0 };
    }
    case T.BPF_LINK_TYPE_TCX: {
      const ifindex = rd(U.tcx, 'ifindex');
      const attachType = at(U.tcx);
      const direction = attachType === 'tcx_ingress' ? 'ingress' : attachType === 'tcx_egress' ? 'egress' : undefined;
      return { ...base, type: 'tcx', ifindex, attachType, ...(direction ? { direction } : {}), detached: ifindex === 0 };
    }
    case T.BPF_LINK_TYPE_NETKIT: {
      const ifindex = rd(U.netkit, 'ifindex');
      return { ...base, type: 'netkit', ifindex, attachType: at(U.netkit), detached: ifindex === 0 };
    }
    case T.BPF_LINK_TYPE_NETNS: {
      const netnsIno = rd(U.netns, 'netns_ino');
      return { ...base, type: 'netns', netnsIno, attachType: at(U.netns), detached: netnsIno === 0 };
    }
    case T.BPF_LINK_TYPE_CGROUP: {
      const cgroupId = rd64(U.cgroup, 'cgroup_id');
      return { ...base, type: 'cgroup', cgroupId, attachType: at(U.cgroup), detached: cgroupId === 0n };
    }
    case T.BPF_LINK_TYPE_TRACING:
      return {
        ...base,
        type: 'tracing',
        attachType: at(U.tracing),
        targetObjId: rd(U.tracing, 'target_obj_id'),
        targetBtfId: rd(U.tracing, 'target_btf_id'),
        cookie: rd64(U.tracing, 'cookie'),
      };
    case T.BPF_LINK_TYPE_RAW_TRACEPOINT:
      return { ...base, type: 'raw_tracepoint', tpName: str, cookie: rd64(U.raw_tracepoint, 'cookie') };
    case T.BPF_LINK_TYPE_ITER: {
      const mapId = rd(U.iter, 'map_id');
      return { ...base, type: 'iter', targetName: str, ...(mapId ? { mapId } : {}) };
    }
    case T.BPF_LINK_TYPE_STRUCT_OPS: {
      const mapId = rd(U.struct_ops, 'map_id');
      return { ...base, type: 'struct_ops', mapId, detached: mapId === 0 };
    }
    case T.BPF_LINK_TYPE_NETFILTER: {
      const pf = rd(U.netfilter, 'pf');
      const hooknum = rd(U.netfilter, 'hooknum');
      const flags = rd(U.netfilter, 'flags');
      return {
        ...base,
        type: 'netfilter',
        pf,
        hooknum,
        priority: attr.bytes.readInt32LE(U.netfilter.members.priority.offset),
        flags,
        family: netfilterFamilyName(pf),
        hook: netfilterHookName(hooknum),
        defrag: (flags & BPF_F_NETFILTER_IP_DEFRAG) !== 0,
      };
    }
    case T.BPF_LINK_TYPE_KPROBE_MULTI: {
      const flags = rd(U.kprobe_multi, 'flags');
      return {
        ...base,
        type: 'kprobe_multi',
        count: rd(U.kprobe_multi, 'count'),
        flags,
        missed: rd64(U.kprobe_multi, 'missed'),
        retprobe: (flags & bpf_kprobe_multi_flags.BPF_F_KPROBE_MULTI_RETURN) !== 0,
      };
    }
    case T.BPF_LINK_TYPE_UPROBE_MULTI:
      return {
        ...base,
        type: 'uprobe_multi',
        path: str,
        count: rd(U.uprobe_multi, 'count'),
        flags: rd(U.uprobe_multi, 'flags'),
        pid: rd(U.uprobe_multi, 'pid'),
      };
    case T.BPF_LINK_TYPE_PERF_EVENT:
      return perfEventInfo(fd, base, rd(U.perf_event, 'type'));
    case T.BPF_LINK_TYPE_SOCKMAP:
      return { ...base, type: 'sockmap', mapId: rd(U.sockmap, 'map_id'), attachType: at(U.sockmap) };
    default:
      return { ...base, type: linkTypeName(typeId) as `unknown(${number})` };
  }
}

const PERF_EVENT_KINDS: Record<number, string> = {
  [bpf_perf_event_type.BPF_PERF_EVENT_UPROBE]: 'uprobe',
  [bpf_perf_event_type.BPF_PERF_EVENT_URETPROBE]: 'uretprobe',
  [bpf_perf_event_type.BPF_PERF_EVENT_KPROBE]: 'kprobe',
  [bpf_perf_event_type.BPF_PERF_EVENT_KRETPROBE]: 'kretprobe',
  [bpf_perf_event_type.BPF_PERF_EVENT_TRACEPOINT]: 'tracepoint',
  [bpf_perf_event_type.BPF_PERF_EVENT_EVENT]: 'event',
};

/** perf_event links (6.6+ fill this in): the event kind, and for kprobes a second call with a
 * buffer for the function name. Older kernels report the link type only. */
function perfEventInfo(fd: number, base: LinkInfoBase, perfEventType: number): LinkInfo {
  const kind = PERF_EVENT_KINDS[perfEventType];
  if (kind === 'uprobe' || kind === 'uretprobe' || kind === 'tracepoint') return perfEventNamedInfo(fd, base, perfEventType, kind);
  if (kind !== 'kprobe' && kind !== 'kretprobe')
    return { ...base, type: 'perf_event', perfEventType, ...(kind ? { perfEventKind: kind } : {}) };
  const K = U.perf_event_kprobe;
  const attr = new Attr(BPF_LINK_INFO);
  const name = stableBuffer(256);
  attr.setPointerAt(K.members['kprobe.func_name'].offset, name);
  attr.bytes.writeUInt32LE(name.length, K.members['kprobe.name_len'].offset);
  objInfo(fd, attr, 'link info');
  const end = name.indexOf(0);
  const u64 = (m: keyof typeof K.members): bigint => attr.bytes.readBigUInt64LE(K.members[m].offset);
  return {
    ...base,
    type: 'perf_event',
    perfEventType,
    perfEventKind: kind,
    kprobe: {
      function: name.toString('utf8', 0, end < 0 ? name.length : end),
      offset: attr.bytes.readUInt32LE(K.members['kprobe.offset'].offset),
      address: u64('kprobe.addr'),
      missed: u64('kprobe.missed'),
      cookie: u64('kprobe.cookie'),
    },
  };
}

/** uprobe and tracepoint perf links (6.6+): a second call with a buffer for the path or name. */
function perfEventNamedInfo(fd: number, base: LinkInfoBase, perfEventType: number, kind: 'uprobe' | 'uretprobe' | 'tracepoint'): LinkInfo {
  const attr = new Attr(BPF_LINK_INFO);
  const name = stableBuffer(PATH_MAX);
  const read = (): string => {
    const end = name.indexOf(0);
    return name.toString('utf8', 0, end < 0 ? name.length : end);
  };
  if (kind === 'tracepoint') {
    const P = U.perf_event_tracepoint.members;
    attr.setPointerAt(P['tracepoint.tp_name'].offset, name);
    attr.bytes.writeUInt32LE(name.length, P['tracepoint.name_len'].offset);
    objInfo(fd, attr, 'link info');
    return { ...base, type: 'perf_event', perfEventType, perfEventKind: kind, tracepoint: { name: read(), cookie: attr.bytes.readBigUInt64LE(P['tracepoint.cookie'].offset) } };
  }
  const P = U.perf_event_uprobe.members;
  attr.setPointerAt(P['uprobe.file_name'].offset, name);
  attr.bytes.writeUInt32LE(name.length, P['uprobe.name_len'].offset);
  objInfo(fd, attr, 'link info');
  return {
    ...base,
    type: 'perf_event',
    perfEventType,
    perfEventKind: kind,
    uprobe: {
      path: read(),
      offset: attr.bytes.readUInt32LE(P['uprobe.offset'].offset),
      cookie: attr.bytes.readBigUInt64LE(P['uprobe.cookie'].offset),
      refCtrOffset: attr.bytes.readBigUInt64LE(P['uprobe.ref_ctr_offset'].offset),
    },
  };
}
