// A minimal program for prog_array entries, loaded straight through the syscall layer so the
// map tests do not depend on src/programs.
import { Attr, PROG_LOAD_ATTR, TEST_RUN_ATTR, bpfCall, bpf_cmd, bpf_func_id, bpf_prog_type, cString, stableBuffer } from '../../src/syscall/index.js';

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

/**
 * A socket filter that writes the 8-byte value `record` (a signed 32-bit immediate,
 * sign-extended) into the ring buffer `ringFd` with bpf_ringbuf_output.
 */
export function loadRingWriter(ringFd: number, record: number): number {
  const insns: number[][] = [
    // *(u64 *)(r10 - 8) = record
    [0x7a, 0x0a, -8, record],
    // r1 = map fd (ld_imm64, src = BPF_PSEUDO_MAP_FD)
    [0x18, 0x11, 0, ringFd],
    [0x00, 0x00, 0, 0],
    // r2 = r10; r2 += -8
    [0xbf, 0xa2, 0, 0],
    [0x07, 0x02, 0, -8],
    // r3 = 8; r4 = 0
    [0xb7, 0x03, 0, 8],
    [0xb7, 0x04, 0, 0],
    // call bpf_ringbuf_output
    [0x85, 0x00, 0, bpf_func_id.BPF_FUNC_ringbuf_output],
    // r0 = 0; exit
    [0xb7, 0x00, 0, 0],
    [0x95, 0x00, 0, 0],
  ];
  const buf = stableBuffer(insns.length * 8);
  insns.forEach(([op, regs, off, imm], i) => {
    buf[i * 8] = op!;
    buf[i * 8 + 1] = regs!;
    buf.writeInt16LE(off!, i * 8 + 2);
    buf.writeInt32LE(imm!, i * 8 + 4);
  });
  const license = cString('GPL');
  const attr = new Attr(PROG_LOAD_ATTR)
    .set('prog_type', bpf_prog_type.BPF_PROG_TYPE_SOCKET_FILTER)
    .set('insn_cnt', insns.length)
    .setPointer('insns', buf)
    .setPointer('license', license);
  return bpfCall(bpf_cmd.BPF_PROG_LOAD, attr, 'ring writer');
}

/** Runs a program `repeat` times on a 64-byte zero packet (BPF_PROG_TEST_RUN). */
export function testRun(progFd: number, repeat = 1): void {
  const data = stableBuffer(64);
  const attr = new Attr(TEST_RUN_ATTR).set('prog_fd', progFd).setPointer('data_in', data).set('data_size_in', 64).set('repeat', repeat);
  bpfCall(bpf_cmd.BPF_PROG_TEST_RUN, attr, 'test run');
}
