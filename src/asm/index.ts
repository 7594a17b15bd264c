// ebpf-asm-ts (tsbpf/asm): encode, decode, build, disassemble and assemble eBPF programs.
// Stands alone: nothing here imports from outside src/asm.
export { AsmError, type AsmErrorLocation } from './errors.js';
export * from './opcodes.js';
export { Register, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, FP, isRegister, type RegisterIndex } from './registers.js';
export {
  makeInstruction,
  invalidReason,
  ldImm64Constant,
  slotCount,
  LD_IMM64,
  type Instruction,
  type InstructionFields,
  type AluInstruction,
  type JmpInstruction,
  type MemInstruction,
  type LdImm64Instruction,
  type ClassName,
  type SizeName,
  type ModeName,
  type AluOpName,
  type JmpOpName,
} from './instruction.js';
export { encode, decode } from './codec.js';
export { HELPER_NAMES, helperId, helperName, type HelperName } from './helpers.js';
export { ProgramBuilder, type AssembledProgram, type MapReference, type Operand, type Target, type MemSize, type HelperRef } from './builder.js';
export { patchMapFd } from './maps.js';
export {
  disassemble,
  disassembleLines,
  disassembleListing,
  formatInstruction,
  type DisassembleOptions,
  type SymbolInfo,
} from './disasm.js';
export { parse, assemble } from './parse.js';
