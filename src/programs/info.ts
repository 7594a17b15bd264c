// BPF_OBJ_GET_INFO_BY_FD for programs, decoded into plain values.
import { BPF_PROG_INFO } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { objInfo } from '../syscall/bpf.js';
import { stableBuffer } from '../syscall/libc.js';
import { dateFromBootNs } from '../sysinfo/boot-time.js';
import { progTypeName } from '../sysinfo/names.js';

export interface ProgramInfo {
  id: number;
  /** The kernel's program tag (a hash of the instructions with map fds zeroed): 16 hex chars. */
  tag: string;
  name: string;
  /** Lowercase program type, e.g. 'xdp'. */
  type: string;
  /** Ids of the maps the program uses. */
  mapIds: number[];
  /** Bytes of the program as the verifier rewrote it. */
  xlatedSize: number;
  /** Bytes of JITed machine code (0 without JIT, or when the caller may not see it). */
  jitedSize: number;
  loadTime: Date;
  createdByUid: number;
  /** Id of the program's BTF, 0 without. */
  btfId: number;
  verifiedInsns: number;
  /** Totals gathered while BPF stats are enabled (kernel.bpf_stats_enabled). */
  runTimeNs: number;
  runCount: number;
  recursionMisses: number;
  gplCompatible: boolean;
  /** Offloaded or dev-bound programs: the device; 0 otherwise. */
  ifindex: number;
  attachBtfId: number;
  attachBtfObjId: number;
}

type InfoKey = keyof typeof BPF_PROG_INFO.members;

function tagHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Information about the program behind `fd`, map ids included (two calls: count, then ids). */
export function programInfoByFd(fd: number): ProgramInfo {
  const attr = new Attr<InfoKey>(BPF_PROG_INFO);
  objInfo(fd, attr, `program fd ${fd}`);
  let mapIds: number[] = [];
  const nr = attr.get('nr_map_ids');
  if (nr > 0) {
    // Maps can be bound to a program after load (BPF_PROG_BIND_MAP): ask with room for a few
    // more than counted, and keep only what the kernel says it wrote.
    const room = nr + 4;
    const ids = stableBuffer(room * 4);
    attr.zero().set('nr_map_ids', room).setPointer('map_ids', ids);
    objInfo(fd, attr, `program fd ${fd}`);
    const n = Math.min(room, attr.get('nr_map_ids'));
    mapIds = Array.from({ length: n }, (_, i) => ids.readUInt32LE(i * 4));
  }
  return {
    id: attr.get('id'),
    tag: tagHex(attr.getBytes('tag')),
    name: attr.getString('name'),
    type: progTypeName(attr.get('type')),
    mapIds,
    xlatedSize: attr.get('xlated_prog_len'),
    jitedSize: attr.get('jited_prog_len'),
    loadTime: dateFromBootNs(attr.getBigInt('load_time')),
    createdByUid: attr.get('created_by_uid'),
    btfId: attr.get('btf_id'),
    verifiedInsns: attr.get('verified_insns'),
    runTimeNs: attr.get('run_time_ns'),
    runCount: attr.get('run_cnt'),
    recursionMisses: attr.get('recursion_misses'),
    gplCompatible: (attr.get('gpl_compatible') & 1) === 1,
    ifindex: attr.get('ifindex'),
    attachBtfId: attr.get('attach_btf_id'),
    attachBtfObjId: attr.get('attach_btf_obj_id'),
  };
}

/** The program's instructions after verification and rewriting (map fds turned into
 * addresses, helper calls resolved): the bytes a dump shows. Empty if the kernel hides them. */
export function xlatedInstructionsByFd(fd: number): Uint8Array {
  const attr = new Attr<InfoKey>(BPF_PROG_INFO);
  objInfo(fd, attr, `program fd ${fd}`);
  const len = attr.get('xlated_prog_len');
  if (len === 0) return new Uint8Array(0);
  const buf = stableBuffer(len);
  attr.zero().set('xlated_prog_len', len).setPointer('xlated_prog_insns', buf);
  objInfo(fd, attr, `program fd ${fd}`);
  const got = Math.min(len, attr.get('xlated_prog_len'));
  // The kernel leaves the pointer 0 when it may not expose the instructions (kptr_restrict).
  if (attr.get('xlated_prog_insns') === 0) return new Uint8Array(0);
  return new Uint8Array(buf.subarray(0, got));
}
