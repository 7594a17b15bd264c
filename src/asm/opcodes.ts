// The eBPF instruction set's opcode fields (RFC 9669 and the Linux uapi <linux/bpf.h>,
// <linux/bpf_common.h>). The package stands alone, so these live here rather than in
// src/syscall/abi.

/** Low 3 bits of the opcode. */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;

/** ALU and JMP classes: bit 3 picks the second operand. */
export const Source = { K: 0x00, X: 0x08 } as const;

/** Load/store classes: bits 3-4. */
export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;

/** Load/store classes: bits 5-7. */
export const Mode = { IMM: 0x00, ABS: 0x20, IND: 0x40, MEM: 0x60, MEMSX: 0x80, ATOMIC: 0xc0 } as const;

/** ALU classes: bits 4-7. */
export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;

/** JMP classes: bits 4-7. */
export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
  /** `may_goto` (src 0): a loop escape the verifier bounds. */
  JCOND: 0xe0,
} as const;

/** BPF_END's source bit: to little or big endian (ALU); ALU64 with TO_LE is bswap. */
export const Endian = { TO_LE: 0x00, TO_BE: 0x08 } as const;

/** The imm of a STX|ATOMIC instruction. */
export const AtomicOp = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  FETCH: 0x01,
  XCHG: 0xe0 | 0x01,
  CMPXCHG: 0xf0 | 0x01,
} as const;

/** The `off` of an sdiv/smod, and of an ALU64 mov that is addr_space_cast. */
export const OFF_SIGNED = 1;
export const OFF_ADDR_SPACE_CAST = 1;

/** The src field of ld_imm64: what the loader or kernel makes of the constant. */
export const Pseudo = {
  /** A plain 64-bit constant. */
  NONE: 0,
  /** imm = map fd: the map's address. */
  MAP_FD: 1,
  /** imm = map fd, next imm = offset: an address inside the map's value. */
  MAP_VALUE: 2,
  /** imm = BTF id of a kernel variable (next imm = module BTF fd). */
  BTF_ID: 3,
  /** imm = instruction offset of a subprogram: its address. */
  FUNC: 4,
  /** imm = index into fd_array. */
  MAP_IDX: 5,
  /** imm = index into fd_array, next imm = offset into the value. */
  MAP_IDX_VALUE: 6,
} as const;

/** The src field of a call. */
export const CallKind = { HELPER: 0, BPF_TO_BPF: 1, KFUNC: 2 } as const;

/** Registers r0..r10; r10 is the read-only frame pointer. */
export const MAX_REGISTER = 10;

/** Bytes per instruction slot; ld_imm64 takes two. */
export const SLOT_SIZE = 8;
