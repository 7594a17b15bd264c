// The few instruction fields relocation reads and writes, on an 8-byte-per-instruction buffer
// (cheaper than decoding whole programs). The opcode values come from src/asm, their home.
import { LD_IMM64 } from '../asm/instruction.js';
import { Class, JmpOp, SLOT_SIZE } from '../asm/opcodes.js';

export const INSN_SIZE = SLOT_SIZE;
export const BPF_LD_IMM64 = LD_IMM64;
export const BPF_CALL = Class.JMP | JmpOp.CALL;

export function insnCode(b: Uint8Array, i: number): number {
  return b[i * INSN_SIZE]!;
}
export function insnSrc(b: Uint8Array, i: number): number {
  return b[i * INSN_SIZE + 1]! >> 4;
}
export function insnDst(b: Uint8Array, i: number): number {
  return b[i * INSN_SIZE + 1]! & 0xf;
}
export function setInsnSrc(b: Uint8Array, i: number, src: number): void {
  const at = i * INSN_SIZE + 1;
  b[at] = (b[at]! & 0x0f) | ((src & 0xf) << 4);
}
export function insnOff(b: Uint8Array, i: number): number {
  const at = i * INSN_SIZE + 2;
  return ((b[at]! | (b[at + 1]! << 8)) << 16) >> 16;
}
export function insnImm(b: Uint8Array, i: number): number {
  const at = i * INSN_SIZE + 4;
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24);
}
export function setInsnImm(b: Uint8Array, i: number, imm: number): void {
  const at = i * INSN_SIZE + 4;
  b[at] = imm & 0xff;
  b[at + 1] = (imm >>> 8) & 0xff;
  b[at + 2] = (imm >>> 16) & 0xff;
  b[at + 3] = (imm >>> 24) & 0xff;
}
export function isLdImm64(b: Uint8Array, i: number): boolean {
  return insnCode(b, i) === BPF_LD_IMM64;
}
export function isCall(b: Uint8Array, i: number): boolean {
  return insnCode(b, i) === BPF_CALL;
}
