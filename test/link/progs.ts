// Tiny hand-assembled programs and an array map for the link and tcx suites, loaded straight
// through bpf(2) so these tests don't depend on the program or map classes.
import {
  BPF_PSEUDO_MAP_FD,
  INFO_ATTR,
  MAP_CREATE_ATTR,
  MAP_ELEM_ATTR,
  PROG_LOAD_ATTR,
  bpf_cmd,
  bpf_map_type,
  bpf_prog_type,
} from '../../src/syscall/abi/bpf.js';
import { Attr } from '../../src/syscall/attr.js';
import { bpfCall, cString } from '../../src/syscall/bpf.js';
import { closeFd, stableBuffer } from '../../src/syscall/libc.js';

export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const TCX_NEXT = -1;
export const TCX_PASS = 0;
export const TCX_DROP = 2;

type Insn = { code: number; dst: number; src: number; off: number | string; imm: number } | { label: string };

const ins = (code: number, dst: number, src: number, off: number | string, imm: number): Insn => ({ code, dst, src, off, imm });
const R0 = 0, R1 = 1, R2 = 2, R7 = 7, R10 = 10;

function encode(list: Insn[]): Buffer {
  const labels = new Map<string, number>();
  let pc = 0;
  for (const i of list) {
    if ('label' in i) labels.set(i.label, pc);
    else pc += i.code === 0x18 ? 2 : 1;
  }
  const out = stableBuffer(pc * 8);
  pc = 0;
  for (const i of list) {
    if ('label' in i) continue;
    const off = typeof i.off === 'string' ? labels.get(i.off)! - pc - 1 : i.off;
    out.writeUInt8(i.code, pc * 8);
    out.writeUInt8((i.src << 4) | i.dst, pc * 8 + 1);
    out.writeInt16LE(off, pc * 8 + 2);
    out.writeInt32LE(i.imm, pc * 8 + 4);
    pc += i.code === 0x18 ? 2 : 1;
  }
  return out;
}

/** r0 = &map[slot], or jump to `miss`. */
function lookup(mapFd: number, slot: number, miss: string): Insn[] {
  return [
    ins(0x62, R10, 0, -4, slot), // *(u32 *)(r10 - 4) = slot
    ins(0xbf, R2, R10, 0, 0), // r2 = r10
    ins(0x07, R2, 0, 0, -4), // r2 += -4
    ins(0x18, R1, BPF_PSEUDO_MAP_FD, 0, mapFd), // r1 = map (ld_imm64)
    ins(0x85, 0, 0, 0, 1), // call bpf_map_lookup_elem
    ins(0x15, R0, 0, miss, 0), // if r0 == 0 goto miss
  ];
}

/** Slots of the shared counter map: COUNT+i packets seen by program i, TICKET+i the order in
 * which program i last ran (a global sequence number), CLOCK the sequence itself. */
export const COUNT = 0;
export const TICKET = 8;
export const CLOCK = 16;
export const MAP_SLOTS = 17;

/**
 * A program that counts packets in map[COUNT+index], stamps map[TICKET+index] with a global
 * sequence number (so run order is visible), and returns `verdict`.
 */
export function counterInsns(mapFd: number, index: number, verdict: number): Buffer {
  return encode([
    ...lookup(mapFd, COUNT + index, 'out'),
    ins(0xb7, R1, 0, 0, 1), // r1 = 1
    ins(0xdb, R0, R1, 0, 0x00), // lock *(u64 *)(r0 + 0) += r1
    ...lookup(mapFd, CLOCK, 'out'),
    ins(0xb7, R1, 0, 0, 1), // r1 = 1
    ins(0xdb, R0, R1, 0, 0x01), // r1 = atomic_fetch_add((u64 *)(r0 + 0), r1)
    ins(0xbf, R7, R1, 0, 0), // r7 = r1
    ...lookup(mapFd, TICKET + index, 'out'),
    ins(0x07, R7, 0, 0, 1), // r7 += 1 (tickets start at 1: 0 means "never ran")
    ins(0x7b, R0, R7, 0, 0), // *(u64 *)(r0 + 0) = r7
    { label: 'out' },
    ins(0xb7, R0, 0, 0, verdict), // r0 = verdict
    ins(0x95, 0, 0, 0, 0), // exit
  ]);
}

/** `return verdict;` */
export function constInsns(verdict: number): Buffer {
  return encode([ins(0xb7, R0, 0, 0, verdict), ins(0x95, 0, 0, 0, 0)]);
}

export type TestProgType = 'xdp' | 'sched_cls' | 'raw_tracepoint' | 'flow_dissector' | 'cgroup_skb' | 'netfilter';
const PROG_TYPES: Record<TestProgType, number> = {
  xdp: bpf_prog_type.BPF_PROG_TYPE_XDP,
  sched_cls: bpf_prog_type.BPF_PROG_TYPE_SCHED_CLS,
  raw_tracepoint: bpf_prog_type.BPF_PROG_TYPE_RAW_TRACEPOINT,
  flow_dissector: bpf_prog_type.BPF_PROG_TYPE_FLOW_DISSECTOR,
  cgroup_skb: bpf_prog_type.BPF_PROG_TYPE_CGROUP_SKB,
  netfilter: bpf_prog_type.BPF_PROG_TYPE_NETFILTER,
};

export function loadProgram(type: TestProgType, insns: Buffer, name = 'tsbpf_test', expectedAttachType = 0): number {
  const license = cString('GPL');
  const log = stableBuffer(64 * 1024);
  const attr = new Attr(PROG_LOAD_ATTR)
    .set('prog_type', PROG_TYPES[type])
    .set('expected_attach_type', expectedAttachType)
    .set('insn_cnt', insns.length / 8)
    .setPointer('insns', insns)
    .setPointer('license', license)
    .set('log_level', 1)
    .set('log_size', log.length)
    .setPointer('log_buf', log)
    .setString('prog_name', name);
  try {
    return bpfCall(bpf_cmd.BPF_PROG_LOAD, attr, `load ${name}`);
  } catch (e) {
    const end = log.indexOf(0);
    throw new Error(`${(e as Error).message}\n${log.subarray(0, end).toString()}`);
  }
}

/** A loaded test program: `{ fd }` like the library's program objects, plus close(). */
export interface TestProg {
  readonly fd: number;
  readonly id: number;
  close(): void;
}

export function progId(fd: number): number {
  // bpf_prog_info.id is at offset 4.
  const info = stableBuffer(8);
  const attr = new Attr(INFO_ATTR).set('bpf_fd', fd).set('info_len', 8).setPointer('info', info);
  bpfCall(bpf_cmd.BPF_OBJ_GET_INFO_BY_FD, attr);
  return info.readUInt32LE(4);
}

export function prog(type: TestProgType, insns: Buffer, name?: string, expectedAttachType?: number): TestProg {
  const fd = loadProgram(type, insns, name, expectedAttachType);
  let open = true;
  return {
    fd,
    id: progId(fd),
    close() {
      if (open) closeFd(fd);
      open = false;
    },
  };
}

/** An ARRAY map of MAP_SLOTS u64 counters. */
export class Counters {
  readonly fd: number;
  readonly #attr = new Attr(MAP_ELEM_ATTR);
  readonly #key = stableBuffer(4);
  readonly #value = stableBuffer(8);

  constructor() {
    const attr = new Attr(MAP_CREATE_ATTR)
      .set('map_type', bpf_map_type.BPF_MAP_TYPE_ARRAY)
      .set('key_size', 4)
      .set('value_size', 8)
      .set('max_entries', MAP_SLOTS)
      .setString('map_name', 'link_test');
    this.fd = bpfCall(bpf_cmd.BPF_MAP_CREATE, attr, 'test counters');
    this.#attr.set('map_fd', this.fd).setPointer('key', this.#key).setPointer('value', this.#value);
  }

  get(slot: number): number {
    this.#key.writeUInt32LE(slot);
    bpfCall(bpf_cmd.BPF_MAP_LOOKUP_ELEM, this.#attr);
    return Number(this.#value.readBigUInt64LE());
  }

  count(i: number): number {
    return this.get(COUNT + i);
  }

  ticket(i: number): number {
    return this.get(TICKET + i);
  }

  reset(): void {
    this.#value.fill(0);
    for (let s = 0; s < MAP_SLOTS; s++) {
      this.#key.writeUInt32LE(s);
      bpfCall(bpf_cmd.BPF_MAP_UPDATE_ELEM, this.#attr);
    }
  }

  close(): void {
    closeFd(this.fd);
  }
}
