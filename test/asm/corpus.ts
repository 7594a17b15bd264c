// The exhaustive instruction corpus: every opcode byte crossed with representative register,
// offset and immediate values. Valid combinations are what the encoder must accept; the
// rest must be refused.
import { LD_IMM64, invalidReason, makeInstruction, type Instruction, type InstructionFields } from '../../src/asm/index.js';

export const DSTS = [0, 1, 10, 11, 15];
export const SRCS = [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 15];
export const OFFS = [0, 1, -1, 8, 16, 32, 0x7fff, -0x8000, 0x1234];
export const IMMS = [
  0, 1, -1, 16, 32, 64, 8, 0x7fffffff, -0x80000000, 0x10000, 0xffff, -0x1234,
  0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, 0x11, 0x80,
];
export const IMM64S = [0n, 1n, 0xffffffffn, 0x1_0000_0000n, 0xffff_ffff_ffff_ffffn, 0x8000_0000_0000_0000n, 0x7fff_ffff_ffff_ffffn, 0x10_0000_0010n, 0xdead_beef_0000_0001n];

function* fieldsFor(opcode: number): Generator<InstructionFields> {
  for (const dst of DSTS) {
    for (const src of SRCS) {
      for (const off of OFFS) {
        if (opcode === LD_IMM64) {
          for (const imm64 of IMM64S) yield { opcode, dst, src, off, imm: 0, imm64 };
        } else {
          for (const imm of IMMS) yield { opcode, dst, src, off, imm };
        }
      }
    }
  }
}

/** Every valid instruction of the cross product, in opcode order. */
export function validCorpus(): Instruction[] {
  const out: Instruction[] = [];
  for (let opcode = 0; opcode < 256; opcode++) {
    for (const f of fieldsFor(opcode)) {
      const imm = f.imm64 === undefined ? f.imm : Number(BigInt.asIntN(32, f.imm64));
      if (invalidReason({ ...f, imm }) === undefined) out.push(makeInstruction(f));
    }
  }
  return out;
}

/** Opcodes for which no combination of the representative values is valid. */
export function unknownOpcodes(): number[] {
  const out: number[] = [];
  for (let opcode = 0; opcode < 256; opcode++) {
    let any = false;
    for (const f of fieldsFor(opcode)) {
      if (invalidReason({ ...f, imm: f.imm64 === undefined ? f.imm : 0 }) === undefined) {
        any = true;
        break;
      }
    }
    if (!any) out.push(opcode);
  }
  return out;
}
