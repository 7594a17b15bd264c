// A minimal program for prog_array entries, loaded straight through the syscall layer so the
// map tests do not depend on src/programs.
import { Attr, PROG_LOAD_ATTR, bpfCall, bpf_cmd, bpf_prog_type, cString, stableBuffer } from '../../src/syscall/index.js';

/** `r0 = ret; exit` as a program of `type` (socket_filter by default); returns its fd. */
export function loadReturnProgram(ret = 0, type: number = bpf_prog_type.BPF_PROG_TYPE_SOCKET_FILTER): number {
  const insns = stableBuffer(16);
  insns[0] = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K, dst r0
  insns.writeInt32LE(ret, 4);
  insns[8] = 0x95; // BPF_JMP | BPF_EXIT
  const license = cString('GPL');
  const attr = new Attr(PROG_LOAD_ATTR)
    .set('prog_type', type)
    .set('insn_cnt', 2)
    .setPointer('insns', insns)
    .setPointer('license', license);
  return bpfCall(bpf_cmd.BPF_PROG_LOAD, attr, 'test program');
}

export function bytesOf(...n: number[]): Uint8Array {
  return Uint8Array.from(n);
}
