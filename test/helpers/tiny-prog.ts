// Tiny hand-encoded programs for the attach tests, loaded straight through the syscall seam so
// these suites don't depend on the program loader: return an action, or count and return it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import {
  Attr,
  bpf_cmd,
  bpf_map_type,
  bpf_prog_type,
  bpfCall,
  BPF_PROG_INFO,
  closeFd,
  cString,
  MAP_CREATE_ATTR,
  MAP_ELEM_ATTR,
  objInfo,
  PROG_LOAD_ATTR,
  stableBuffer,
} from '../../src/syscall/index.js';

export const XDP_DROP = 1;
export const XDP_PASS = 2;
export const TC_ACT_OK = 0;
export const TC_ACT_SHOT = 2;

function insn(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

const movImm = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm); // BPF_ALU64|BPF_MOV|BPF_K
const exit = () => insn(0x95, 0, 0, 0, 0);

export interface TinyProg {
  fd: number;
  id: number;
  name: string;
  close(): void;
}

export interface Counter {
  fd: number;
  read(): bigint;
  close(): void;
}

function load(type: 'xdp' | 'tc', insns: Buffer[], name: string): TinyProg {
  const code = stableBuffer(insns.length * 8);
  Buffer.concat(insns).copy(code);
  const license = cString('GPL');
  const log = stableBuffer(1 << 16);
  const attr = new Attr(PROG_LOAD_ATTR)
    .set('prog_type', type === 'xdp' ? bpf_prog_type.BPF_PROG_TYPE_XDP : bpf_prog_type.BPF_PROG_TYPE_SCHED_CLS)
    .set('insn_cnt', insns.length)
    .setPointer('insns', code)
    .setPointer('license', license)
    .set('log_level', 1)
    .set('log_size', log.length)
    .setPointer('log_buf', log)
    .setString('prog_name', name);
  let fd: number;
  try {
    fd = bpfCall(bpf_cmd.BPF_PROG_LOAD, attr, `load ${name}`);
  } catch (e) {
    const end = log.indexOf(0);
    throw new Error(`${String(e)}\n${log.subarray(0, end).toString()}`);
  }
  const info = stableBuffer(BPF_PROG_INFO.size);
  objInfo(fd, info);
  const id = info.readUInt32LE(BPF_PROG_INFO.members.id.offset);
  let open = true;
  return {
    fd,
    id,
    name,
    close() {
      if (open) closeFd(fd);
      open = false;
    },
  };
}

/** `r0 = action; exit` as an XDP or tc (direct-action) program. */
export function actionProgram(type: 'xdp' | 'tc', action: number, name = `${type}_act${action}`): TinyProg {
  return load(type, [movImm(0, action), exit()], name);
}

/** A one-element u64 ARRAY map used as a packet counter. */
export function counterMap(name = 'pkt_count'): Counter {
  const attr = new Attr(MAP_CREATE_ATTR)
    .set('map_type', bpf_map_type.BPF_MAP_TYPE_ARRAY)
    .set('key_size', 4)
    .set('value_size', 8)
    .set('max_entries', 1)
    .setString('map_name', name);
  const fd = bpfCall(bpf_cmd.BPF_MAP_CREATE, attr, 'counter map');
  const key = stableBuffer(4);
  const value = stableBuffer(8);
  const elem = new Attr(MAP_ELEM_ATTR).set('map_fd', fd).setPointer('key', key).setPointer('value', value);
  let open = true;
  return {
    fd,
    read() {
      // Touch `key` here: the attr holds only its address, so the closure must keep it alive.
      key.writeUInt32LE(0, 0);
      bpfCall(bpf_cmd.BPF_MAP_LOOKUP_ELEM, elem, 'read counter');
      return value.readBigUInt64LE(0);
    },
    close() {
      if (open) closeFd(fd);
      open = false;
    },
  };
}

/** Counts every packet in `counter[0]` (atomic add), then returns `action`. */
export function countingProgram(type: 'xdp' | 'tc', action: number, counter: Counter, name = `${type}_cnt${action}`): TinyProg {
  return load(
    type,
    [
      insn(0x62, 10, 0, -4, 0), // *(u32 *)(r10 - 4) = 0
      insn(0xbf, 2, 10, 0, 0), // r2 = r10
      insn(0x07, 2, 0, 0, -4), // r2 += -4
      insn(0x18, 1, 1, 0, counter.fd), // r1 = map (ld_imm64, BPF_PSEUDO_MAP_FD)
      insn(0x00, 0, 0, 0, 0),
      insn(0x85, 0, 0, 0, 1), // call bpf_map_lookup_elem
      insn(0x15, 0, 0, 2, 0), // if r0 == 0 goto +2
      movImm(1, 1), // r1 = 1
      insn(0xdb, 0, 1, 0, 0), // lock *(u64 *)(r0 + 0) += r1
      movImm(0, action),
      exit(),
    ],
    name,
  );
}

/**
 * Compiles a BPF C source (a test fixture) with clang-19 into a temporary directory and
 * returns the object's path: for tests that hand objects to other tools (ip, tc, xdp-loader).
 */
export function compileBpf(source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-obj-'));
  const out = join(dir, basename(source).replace(/\.c$/, '.o'));
  execFileSync('clang-19', ['-O2', '-g', '-target', 'bpf', '-c', source, '-o', out], { stdio: 'pipe' });
  return out;
}

/** Removes what compileBpf made. */
export function removeObject(path: string): void {
  rmSync(dirname(path), { recursive: true, force: true });
}
