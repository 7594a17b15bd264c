// bpf_link_info decoded: what a link is attached to, per link type. Shared by `listLinks()`
// and the Link class, so both describe links the same way.
import { UsageError } from '../errors.js';
import { BPF_LINK_INFO, BPF_LINK_INFO_UNION } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { objInfo } from '../syscall/bpf.js';
import { addressOf, interfaceName, stableBuffer } from '../syscall/libc.js';
import { attachTypeName, linkTypeName } from './names.js';

/** What every link has, plus the fields of its type (absent ones are not reported). */
export interface LinkInfo {
  id: number;
  /** Lowercase link type without `BPF_LINK_TYPE_`: 'xdp', 'tcx', 'cgroup', 'tracing', ... */
  type: string;
  progId: number;
  /** xdp, tcx, netkit: the device, and its name in this network namespace if it has one. */
  ifindex?: number;
  ifname?: string;
  /** tcx, netkit, cgroup, netns, tracing, sockmap: lowercase attach type ('tcx_ingress'). */
  attachType?: string;
  /** cgroup: the cgroup's id (its inode number in cgroupfs). */
  cgroupId?: bigint;
  /** netns: the namespace's inode number. */
  netnsIno?: number;
  /** tracing: the BTF object and type the program is attached to. */
  targetObjId?: number;
  targetBtfId?: number;
  cookie?: bigint;
  /** raw_tracepoint: the tracepoint; iter: the iterator target. */
  tpName?: string;
  targetName?: string;
  /** iter, struct_ops, sockmap: the map. */
  mapId?: number;
  /** netfilter */
  pf?: number;
  hooknum?: number;
  priority?: number;
  flags?: number;
  /** kprobe_multi, uprobe_multi: number of probes; missed hits. */
  count?: number;
  missed?: bigint;
  /** uprobe_multi */
  path?: string;
  pid?: number;
  /** perf_event: the perf event kind (bpf_perf_event_type). */
  perfEventType?: number;
}

type Head = keyof typeof BPF_LINK_INFO.members;
const U = BPF_LINK_INFO_UNION;

function view(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

function reader(buf: Uint8Array) {
  const v = view(buf);
  const u32 = (m: { offset: number }) => v.getUint32(m.offset, true);
  const s32 = (m: { offset: number }) => v.getInt32(m.offset, true);
  const u64 = (m: { offset: number }) => v.getBigUint64(m.offset, true);
  return { u32, s32, u64 };
}

/**
 * Decodes a `struct bpf_link_info` as BPF_OBJ_GET_INFO_BY_FD filled it. Strings the kernel
 * copies through pointers (tracepoint and iterator names, uprobe paths) are passed in
 * `strings`, since the buffer only holds their addresses.
 */
export function decodeLinkInfo(buf: Uint8Array, strings: { tpName?: string; targetName?: string; path?: string } = {}): LinkInfo {
  if (buf.byteLength < BPF_LINK_INFO.size) throw new UsageError(`bpf_link_info needs ${BPF_LINK_INFO.size} bytes, got ${buf.byteLength}`);
  const { u32, s32, u64 } = reader(buf);
  const h = BPF_LINK_INFO.members;
  const type = linkTypeName(u32(h.type));
  const info: LinkInfo = { id: u32(h.id), type, progId: u32(h.prog_id) };
  const withIf = (ifindex: number) => {
    info.ifindex = ifindex;
    const n = ifindex ? interfaceName(ifindex) : undefined;
    if (n !== undefined) info.ifname = n;
  };
  switch (type) {
    case 'raw_tracepoint':
      if (strings.tpName !== undefined) info.tpName = strings.tpName;
      info.cookie = u64(U.raw_tracepoint.members.cookie);
      break;
    case 'tracing': {
      const m = U.tracing.members;
      info.attachType = attachTypeName(u32(m.attach_type));
      info.targetObjId = u32(m.target_obj_id);
      info.targetBtfId = u32(m.target_btf_id);
      info.cookie = u64(m.cookie);
      break;
    }
    case 'cgroup':
      info.cgroupId = u64(U.cgroup.members.cgroup_id);
      info.attachType = attachTypeName(u32(U.cgroup.members.attach_type));
      break;
    case 'iter':
      if (strings.targetName !== undefined) info.targetName = strings.targetName;
      info.mapId = u32(U.iter.members.map_id);
      break;
    case 'netns':
      info.netnsIno = u32(U.netns.members.netns_ino);
      info.attachType = attachTypeName(u32(U.netns.members.attach_type));
      break;
    case 'xdp':
      withIf(u32(U.xdp.members.ifindex));
      break;
    case 'struct_ops':
      info.mapId = u32(U.struct_ops.members.map_id);
      break;
    case 'netfilter': {
      const m = U.netfilter.members;
      info.pf = u32(m.pf);
      info.hooknum = u32(m.hooknum);
      info.priority = s32(m.priority);
      info.flags = u32(m.flags);
      break;
    }
    case 'kprobe_multi': {
      const m = U.kprobe_multi.members;
      info.count = u32(m.count);
      info.flags = u32(m.flags);
      info.missed = u64(m.missed);
      break;
    }
    case 'uprobe_multi': {
      const m = U.uprobe_multi.members;
      if (strings.path !== undefined) info.path = strings.path;
      info.count = u32(m.count);
      info.flags = u32(m.flags);
      info.pid = u32(m.pid);
      break;
    }
    case 'perf_event':
      info.perfEventType = u32(U.perf_event.members.type);
      break;
    case 'tcx':
    case 'netkit': {
      const m = type === 'tcx' ? U.tcx.members : U.netkit.members;
      withIf(u32(m.ifindex));
      info.attachType = attachTypeName(u32(m.attach_type));
      break;
    }
    case 'sockmap':
      info.mapId = u32(U.sockmap.members.map_id);
      info.attachType = attachTypeName(u32(U.sockmap.members.attach_type));
      break;
  }
  return info;
}

const STRING_ROOM = 4096;

/** BPF_OBJ_GET_INFO_BY_FD on a link fd, strings included (a second call when the type has any). */
export function linkInfoByFd(fd: number): LinkInfo {
  const attr = new Attr<Head>(BPF_LINK_INFO);
  objInfo(fd, attr.bytes, `link fd ${fd}`);
  const type = linkTypeName(attr.get('type'));
  // Name strings come through user pointers; the first call reported their lengths.
  const v = view(attr.bytes);
  const stringField: Record<string, { ptr: number; len: number }> = {
    raw_tracepoint: { ptr: U.raw_tracepoint.members.tp_name.offset, len: U.raw_tracepoint.members.tp_name_len.offset },
    iter: { ptr: U.iter.members.target_name.offset, len: U.iter.members.target_name_len.offset },
    uprobe_multi: { ptr: U.uprobe_multi.members.path.offset, len: U.uprobe_multi.members.path_size.offset },
  };
  const sf = stringField[type];
  if (!sf) return decodeLinkInfo(attr.bytes);
  const reported = v.getUint32(sf.len, true);
  const room = Math.max(reported, 1, type === 'uprobe_multi' ? STRING_ROOM : 0);
  const str = stableBuffer(room);
  attr.zero();
  // uprobe_multi: with count 0 and the array pointers null the kernel copies only the path.
  v.setBigUint64(sf.ptr, BigInt(addressOf(str)), true);
  v.setUint32(sf.len, room, true);
  objInfo(fd, attr.bytes, `link fd ${fd}`);
  const end = str.indexOf(0);
  const s = str.subarray(0, end < 0 ? str.length : end).toString('utf8');
  const key = type === 'raw_tracepoint' ? 'tpName' : type === 'iter' ? 'targetName' : 'path';
  return decodeLinkInfo(attr.bytes, { [key]: s });
}
