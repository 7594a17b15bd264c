// Tiny hand-encoded programs for the attach tests (return an action, or count and return it),
// loaded with BpfProgram and counting into a BpfMap. Hand-encoded rather than assembled so the
// bytes under test are visible here.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { BpfMap } from '../../src/maps/index.js';
import { BpfProgram } from '../../src/programs/index.js';

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
  const prog = BpfProgram.load({ type: type === 'xdp' ? 'xdp' : 'sched_cls', instructions: Buffer.concat(insns), license: 'GPL', name });
  return {
    fd: prog.fd,
    id: prog.info().id,
    name,
    close: () => prog.close(),
  };
}

/** `r0 = action; exit` as an XDP or tc (direct-action) program. */
export function actionProgram(type: 'xdp' | 'tc', action: number, name = `${type}_act${action}`): TinyProg {
  return load(type, [movImm(0, action), exit()], name);
}

/** A one-element u64 ARRAY map used as a packet counter. */
export function counterMap(name = 'pkt_count'): Counter {
  const map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name });
  const key = new Uint8Array(4);
  return {
    fd: map.fd,
    read: () => Buffer.from(map.lookup(key) as Uint8Array).readBigUInt64LE(0),
    close: () => map.close(),
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
