// A minimal program for prog_array entries, loaded straight through the syscall layer so the
// map tests do not depend on src/programs.
import {
  Attr,
  BTF_LOAD_ATTR,
  PROG_LOAD_ATTR,
  SYS,
  TEST_RUN_ATTR,
  addressOf,
  bpfCall,
  bpf_cmd,
  bpf_func_id,
  bpf_prog_type,
  cString,
  rawSyscall,
  stableBuffer,
} from '../../src/syscall/index.js';

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

/**
 * Loads a tiny BTF blob (encoded by hand, independent of src/btf) describing:
 *   [1] int (4 bytes, signed)
 *   [2] struct bpf_spin_lock { int val; }
 *   [3] struct locked { struct bpf_spin_lock lock; int cnt; }   (8 bytes)
 *   [4] struct counter { int cnt; int pad; }                     (8 bytes)
 * Returns the BTF fd.
 */
export function loadTestBtf(): number {
  const strings = ['', 'int', 'bpf_spin_lock', 'val', 'locked', 'lock', 'cnt', 'counter', 'pad'];
  const off: Record<string, number> = {};
  let strLen = 0;
  for (const s of strings) {
    off[s] = strLen;
    strLen += Buffer.byteLength(s) + 1;
  }
  const types: number[] = [];
  const KIND_INT = 1;
  const KIND_STRUCT = 4;
  // [1] int: name, info, size, then encoding (signed) | offset 0 | 32 bits
  types.push(off.int!, KIND_INT << 24, 4, (1 << 24) | 32);
  // [2] struct bpf_spin_lock { int val; }
  types.push(off.bpf_spin_lock!, (KIND_STRUCT << 24) | 1, 4, off.val!, 1, 0);
  // [3] struct locked { struct bpf_spin_lock lock; int cnt; }
  types.push(off.locked!, (KIND_STRUCT << 24) | 2, 8, off.lock!, 2, 0, off.cnt!, 1, 32);
  // [4] struct counter { int cnt; int pad; }
  types.push(off.counter!, (KIND_STRUCT << 24) | 2, 8, off.cnt!, 1, 0, off.pad!, 1, 32);
  const typeLen = types.length * 4;
  const blob = stableBuffer(24 + typeLen + strLen);
  blob.writeUInt16LE(0xeb9f, 0);
  blob[2] = 1; // version
  blob[3] = 0; // flags
  blob.writeUInt32LE(24, 4); // hdr_len
  blob.writeUInt32LE(0, 8); // type_off
  blob.writeUInt32LE(typeLen, 12);
  blob.writeUInt32LE(typeLen, 16); // str_off
  blob.writeUInt32LE(strLen, 20);
  types.forEach((w, i) => blob.writeUInt32LE(w >>> 0, 24 + i * 4));
  let p = 24 + typeLen;
  for (const s of strings) {
    blob.write(s, p);
    p += Buffer.byteLength(s) + 1;
  }
  const attr = new Attr(BTF_LOAD_ATTR).setPointer('btf', blob).set('btf_size', blob.length);
  return bpfCall(bpf_cmd.BPF_BTF_LOAD, attr, 'test BTF');
}

/** A UDP socket bound to 127.0.0.1 (made with raw syscalls, SO_REUSEPORT if asked); returns its fd. */
export function boundUdpSocket(reusePort = false): number {
  const AF_INET = 2;
  const SOCK_DGRAM = 2;
  const SOL_SOCKET = 1;
  const SO_REUSEPORT = 15;
  const fd = rawSyscall(SYS.socket, AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) throw new Error(`socket: ${-fd}`);
  if (reusePort) {
    const one = stableBuffer(4);
    one.writeUInt32LE(1, 0);
    const r = rawSyscall(SYS.setsockopt, fd, SOL_SOCKET, SO_REUSEPORT, addressOf(one), 4);
    if (r < 0) throw new Error(`setsockopt: ${-r}`);
  }
  const sin = stableBuffer(16); // struct sockaddr_in, port 0 = any
  sin.writeUInt16LE(AF_INET, 0);
  sin.set([127, 0, 0, 1], 4);
  const r = rawSyscall(SYS.bind, fd, addressOf(sin), 16);
  if (r < 0) throw new Error(`bind: ${-r}`);
  return fd;
}

/** A BPF-output software perf event on CPU 0 (perf_event_open), for perf_event_array slots. */
export function bpfOutputPerfEvent(): number {
  const PERF_TYPE_SOFTWARE = 1;
  const PERF_COUNT_SW_BPF_OUTPUT = 10;
  const PERF_SAMPLE_RAW = 1 << 10;
  const PERF_FLAG_FD_CLOEXEC = 8;
  const NR_PERF_EVENT_OPEN = 298;
  const attr = stableBuffer(128); // struct perf_event_attr (PERF_ATTR_SIZE_VER7 = 128)
  attr.writeUInt32LE(PERF_TYPE_SOFTWARE, 0); // type
  attr.writeUInt32LE(128, 4); // size
  attr.writeUInt32LE(PERF_COUNT_SW_BPF_OUTPUT, 8); // config
  attr.writeUInt32LE(1, 16); // sample_period
  attr.writeUInt32LE(PERF_SAMPLE_RAW, 24); // sample_type
  // pid = -1 (any task), cpu = 0, group_fd = -1: int arguments, so the low 32 bits suffice.
  const fd = rawSyscall(NR_PERF_EVENT_OPEN, addressOf(attr), 0xffffffff, 0, 0xffffffff, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) throw new Error(`perf_event_open: errno ${-fd}`);
  return fd;
}
