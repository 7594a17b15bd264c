// The instruction model: the raw fields plus the opcode decoded into names, and the one
// definition of which field combinations are well formed.
import { AsmError } from './errors.js';
import { AluOp, AtomicOp, Class, JmpOp, Mode, Size, Source } from './opcodes.js';

export type ClassName = 'ld' | 'ldx' | 'st' | 'stx' | 'alu' | 'jmp' | 'jmp32' | 'alu64';
export type SizeName = 'w' | 'h' | 'b' | 'dw';
export type ModeName = 'imm' | 'abs' | 'ind' | 'mem' | 'memsx' | 'atomic';
export type AluOpName = Lowercase<keyof typeof AluOp>;
export type JmpOpName = Lowercase<keyof typeof JmpOp>;

/** The raw fields of one instruction (ld_imm64: of its first slot, plus the 64-bit constant). */
export interface InstructionFields {
  /** The 8-bit opcode. */
  readonly opcode: number;
  /** Destination register, 0..10. */
  readonly dst: number;
  /** Source register, 0..10; for ld_imm64 and calls, the pseudo/call kind. */
  readonly src: number;
  /** Signed 16-bit offset. */
  readonly off: number;
  /** Signed 32-bit immediate; for ld_imm64 the low half of `imm64`, sign-extended. */
  readonly imm: number;
  /** ld_imm64 only: the full constant (unsigned, 0 .. 2^64-1); the second slot's imm is its high half. */
  readonly imm64?: bigint;
}

export interface AluInstruction extends InstructionFields {
  readonly kind: 'alu';
  readonly class: 'alu' | 'alu64';
  readonly op: AluOpName;
  readonly source: 'k' | 'x';
}

export interface JmpInstruction extends InstructionFields {
  readonly kind: 'jmp';
  readonly class: 'jmp' | 'jmp32';
  readonly op: JmpOpName;
  readonly source: 'k' | 'x';
}

export interface MemInstruction extends InstructionFields {
  readonly kind: 'mem';
  readonly class: 'ld' | 'ldx' | 'st' | 'stx';
  readonly mode: ModeName;
  readonly size: SizeName;
}

export interface LdImm64Instruction extends InstructionFields {
  readonly kind: 'ld_imm64';
  readonly class: 'ld';
  readonly mode: 'imm';
  readonly size: 'dw';
  readonly imm64: bigint;
}

export type Instruction = AluInstruction | JmpInstruction | MemInstruction | LdImm64Instruction;

export const LD_IMM64 = Class.LD | Mode.IMM | Size.DW;

const CLASS_NAMES: readonly ClassName[] = ['ld', 'ldx', 'st', 'stx', 'alu', 'jmp', 'jmp32', 'alu64'];
const SIZE_NAMES: readonly SizeName[] = ['w', 'h', 'b', 'dw'];
const MODE_NAMES = new Map<number, ModeName>(
  Object.entries(Mode).map(([k, v]) => [v, k.toLowerCase() as ModeName]),
);
const ALU_NAMES = new Map<number, AluOpName>(
  Object.entries(AluOp).map(([k, v]) => [v, k.toLowerCase() as AluOpName]),
);
const JMP_NAMES = new Map<number, JmpOpName>(
  Object.entries(JmpOp).map(([k, v]) => [v, k.toLowerCase() as JmpOpName]),
);
const ATOMIC_IMMS = new Set<number>([
  AtomicOp.ADD,
  AtomicOp.OR,
  AtomicOp.AND,
  AtomicOp.XOR,
  AtomicOp.ADD | AtomicOp.FETCH,
  AtomicOp.OR | AtomicOp.FETCH,
  AtomicOp.AND | AtomicOp.FETCH,
  AtomicOp.XOR | AtomicOp.FETCH,
  AtomicOp.XCHG,
  AtomicOp.CMPXCHG,
]);

const hex = (n: number): string => '0x' + n.toString(16).padStart(2, '0');

/**
 * Why these fields are not a valid instruction, or undefined if they are. "Valid" is the
 * kernel's encoding rule (kernel/bpf/verifier.c): known opcode, fields it ignores are zero,
 * registers 0..10. Semantic checks (division by a zero constant, writes to r10) are the
 * verifier's business, not an encoder's.
 */
export function invalidReason(f: InstructionFields): string | undefined {
  const { opcode, dst, src, off, imm } = f;
  if (!isInt(opcode, 0, 0xff)) return `opcode ${opcode} is not a byte`;
  if (!isInt(dst, 0, 15) || !isInt(src, 0, 15)) return 'register fields must be 0..15';
  if (!isInt(off, -0x8000, 0x7fff)) return `off ${off} is not a signed 16-bit integer`;
  if (!isInt(imm, -0x80000000, 0x7fffffff)) return `imm ${imm} is not a signed 32-bit integer`;
  const rule = fieldRule(opcode, src, off, imm);
  if (rule === UNKNOWN) return `unknown opcode ${hex(opcode)}`;
  if (typeof rule === 'string') return rule;
  const bad = rule & DST && dst ? 'dst' : rule & SRC && src ? 'src' : rule & OFF && off ? 'off' : rule & IMM && imm ? 'imm' : undefined;
  if (bad) return `${bad} must be 0 for opcode ${hex(opcode)}`;
  if (dst > 10) return `dst r${dst} does not exist`;
  if (src > 10) return `src r${src} does not exist`;
  return undefined;
}

// fieldRule answers with a reason, or with the mask of fields that must be zero. It avoids
// closures and namespace lookups because the exhaustive tests call it millions of times.
const NONE = 0;
const DST = 1;
const SRC = 2;
const OFF = 4;
const IMM = 8;
const UNKNOWN = 'unknown';

const { LD, LDX, ST, ALU, ALU64, JMP, JMP32 } = Class;
const { ABS, IND, MEM, MEMSX, ATOMIC } = Mode;
const { NEG, END, MOV, DIV, MOD } = AluOp;
const { JA, JCOND, CALL, EXIT } = JmpOp;
const SIZE_W = Size.W;
const SIZE_DW = Size.DW;

function fieldRule(opcode: number, src: number, off: number, imm: number): string | number {
  const cls = opcode & 0x07;
  const x = (opcode & 0x08) !== 0;
  switch (cls) {
    case ALU:
    case ALU64: {
      const op = opcode & 0xf0;
      const alu64 = cls === ALU64;
      if (!ALU_NAMES.has(op)) return UNKNOWN;
      if (op === NEG) return x ? UNKNOWN : (SRC | OFF | IMM);
      if (op === END) {
        if (alu64 && x) return UNKNOWN;
        if (imm !== 16 && imm !== 32 && imm !== 64) return `byte swap width ${imm} is not 16, 32 or 64`;
        return SRC | OFF;
      }
      if (op === MOV && x) {
        if (alu64 && off === 1) return NONE; // addr_space_cast: imm holds both address spaces
        const widths = alu64 ? [0, 8, 16, 32] : [0, 8, 16];
        if (!widths.includes(off)) return `mov off ${off} is not a sign-extension width (${widths.join(', ')})`;
        return IMM;
      }
      const offOk = op === DIV || op === MOD ? off === 0 || off === 1 : off === 0;
      if (!offOk) return `off must be 0${op === DIV || op === MOD ? ' or 1' : ''} for opcode ${hex(opcode)}`;
      return x ? IMM : SRC;
    }
    case JMP:
    case JMP32: {
      const op = opcode & 0xf0;
      const jmp32 = cls === JMP32;
      if (!JMP_NAMES.has(op)) return UNKNOWN;
      switch (op) {
        case JA:
          if (x) return UNKNOWN;
          return jmp32 ? DST | SRC | OFF : DST | SRC | IMM;
        case JCOND:
          if (x || jmp32) return UNKNOWN;
          return DST | SRC | IMM;
        case CALL:
          if (x || jmp32) return UNKNOWN;
          if (src > 2) return `call kind (src) ${src} is not 0 (helper), 1 (bpf-to-bpf) or 2 (kfunc)`;
          return src === 2 ? DST : DST | OFF;
        case EXIT:
          if (x || jmp32) return UNKNOWN;
          return DST | SRC | OFF | IMM;
        default:
          return x ? IMM : SRC;
      }
    }
    case LD: {
      if (opcode === LD_IMM64) return src > 6 ? `ld_imm64 pseudo source ${src} is not 0..6` : OFF;
      const mode = opcode & 0xe0;
      const size = opcode & 0x18;
      if ((mode !== ABS && mode !== IND) || size === SIZE_DW) return UNKNOWN;
      return mode === ABS ? DST | SRC | OFF : DST | OFF;
    }
    case LDX: {
      const mode = opcode & 0xe0;
      if (mode !== MEM && !(mode === MEMSX && (opcode & 0x18) !== SIZE_DW)) return UNKNOWN;
      return IMM;
    }
    case ST:
      return (opcode & 0xe0) === MEM ? SRC : UNKNOWN;
    default: {
      // STX
      const mode = opcode & 0xe0;
      if (mode === MEM) return IMM;
      const size = opcode & 0x18;
      if (mode !== ATOMIC || (size !== SIZE_W && size !== SIZE_DW)) return UNKNOWN;
      return ATOMIC_IMMS.has(imm) ? NONE : `atomic operation ${hex(imm >>> 0)} is not add/or/and/xor[|fetch], xchg or cmpxchg`;
    }
  }
}

function isInt(n: number, min: number, max: number): boolean {
  return Number.isInteger(n) && n >= min && n <= max;
}

/**
 * Builds a typed instruction from raw fields, or throws AsmError naming what is wrong.
 * For ld_imm64, pass `imm64` (the 64-bit constant); `imm` is then derived from it.
 */
export function makeInstruction(fields: InstructionFields): Instruction {
  let { imm } = fields;
  const { opcode, dst, src, off } = fields;
  if (opcode === LD_IMM64) {
    const u = ldImm64Constant(fields);
    imm = Number(BigInt.asIntN(32, u));
    const reason = invalidReason({ opcode, dst, src, off, imm });
    if (reason) throw new AsmError(reason);
    return { kind: 'ld_imm64', class: 'ld', mode: 'imm', size: 'dw', opcode, dst, src, off, imm, imm64: u };
  }
  const reason = invalidReason({ opcode, dst, src, off, imm });
  if (reason) throw new AsmError(reason);
  const cls = CLASS_NAMES[opcode & 0x07]!;
  switch (cls) {
    case 'alu':
    case 'alu64':
      return { kind: 'alu', class: cls, op: ALU_NAMES.get(opcode & 0xf0)!, source: sourceOf(opcode), opcode, dst, src, off, imm };
    case 'jmp':
    case 'jmp32':
      return { kind: 'jmp', class: cls, op: JMP_NAMES.get(opcode & 0xf0)!, source: sourceOf(opcode), opcode, dst, src, off, imm };
    default:
      return {
        kind: 'mem',
        class: cls,
        mode: MODE_NAMES.get(opcode & 0xe0)!,
        size: SIZE_NAMES[(opcode & 0x18) >> 3]!,
        opcode,
        dst,
        src,
        off,
        imm,
      };
  }
}

/**
 * The unsigned 64-bit constant of an ld_imm64: `imm64` (signed or unsigned spelling), or
 * `imm` sign-extended when `imm64` is absent. Throws AsmError if it does not fit.
 */
export function ldImm64Constant(fields: InstructionFields): bigint {
  const { imm64, imm } = fields;
  if (imm64 === undefined) {
    if (!isInt(imm, -0x80000000, 0x7fffffff)) throw new AsmError(`imm ${imm} is not a signed 32-bit integer`);
    return BigInt.asUintN(64, BigInt(imm));
  }
  if (typeof imm64 !== 'bigint' || imm64 < -(1n << 63n) || imm64 >= 1n << 64n) {
    throw new AsmError(`ld_imm64 constant ${String(imm64)} does not fit in 64 bits`);
  }
  return BigInt.asUintN(64, imm64);
}

function sourceOf(opcode: number): 'k' | 'x' {
  return (opcode & Source.X) !== 0 ? 'x' : 'k';
}

/** Slots an instruction occupies: 2 for ld_imm64, else 1. */
export function slotCount(insn: InstructionFields): 1 | 2 {
  return insn.opcode === LD_IMM64 ? 2 : 1;
}
