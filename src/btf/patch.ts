// Writes a CO-RE result into BPF instructions, checking first that the instruction holds
// what the compiler emitted (so a relocation never lands on the wrong instruction).
import { BtfError } from '../errors.js';
import { CoreRelocationError, type CoreRelocationResult } from './core.js';
import { Class, JmpOp, SLOT_SIZE, Size, Source } from '../asm/opcodes.js';
import { LD_IMM64 } from '../asm/instruction.js';

/** libbpf's marker for a failed relocation: `call 0xbad2310` ("bad relo"). */
export const POISON_CALL_IMM = 0xbad2310; // 195896080
// Opcode fields from the assembler package, their one home (it imports nothing back).
const INSN_SIZE = SLOT_SIZE;
const CLASS_LD = Class.LD;
const CLASS_LDX = Class.LDX;
const CLASS_ST = Class.ST;
const CLASS_STX = Class.STX;
const CLASS_ALU = Class.ALU;
const CLASS_ALU64 = Class.ALU64;
const JMP_CALL = Class.JMP | JmpOp.CALL;
const SRC_X = Source.X;
const SIZE_BY_BYTES: Record<number, number> = { 4: Size.W, 2: Size.H, 1: Size.B, 8: Size.DW };
const BYTES_BY_SIZE = [4, 2, 1, 8];

export interface PatchOutcome {
  /** 'patched', or 'poisoned' when the instruction was replaced by the invalid call. */
  action: 'patched' | 'poisoned';
  /** Why it was poisoned. */
  reason?: string;
}

function view(insns: Uint8Array | DataView): DataView {
  return insns instanceof DataView ? insns : new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
}

function poison(dv: DataView, at: number): void {
  dv.setUint8(at, JMP_CALL);
  dv.setUint8(at + 1, 0);
  dv.setInt16(at + 2, 0, true);
  dv.setInt32(at + 4, POISON_CALL_IMM, true);
}

/**
 * Applies `result` to instruction `insnIndex` (an index into `insns`, 8 bytes each):
 * ALU/ALU64 immediates, LDX/ST/STX offsets (and access size when the target field's size
 * differs safely), or both halves of an ld_imm64. Poisons instead when the relocation has no
 * target. Throws CoreRelocationError when the instruction does not hold the expected value
 * or cannot take the new one.
 */
export function applyCoreRelocation(
  insns: Uint8Array | DataView,
  insnIndex: number,
  result: CoreRelocationResult,
  describe: { localType?: string; accessStr?: string } = {},
): PatchOutcome {
  const dv = view(insns);
  const fail = (why: string): never => {
    throw new CoreRelocationError(result.kind, describe.localType ?? result.localSpec, describe.accessStr ?? '', why, insnIndex);
  };
  if (!Number.isInteger(insnIndex) || insnIndex < 0 || (insnIndex + 1) * INSN_SIZE > dv.byteLength)
    throw new BtfError(`CO-RE: instruction #${insnIndex} is outside the program (${Math.floor(dv.byteLength / INSN_SIZE)} instructions)`);
  const at = insnIndex * INSN_SIZE;
  const code = dv.getUint8(at);
  const cls = code & 0x07;
  const isLdImm64 = code === LD_IMM64;
  const hasNext = (insnIndex + 2) * INSN_SIZE <= dv.byteLength;

  const doPoison = (reason: string): PatchOutcome => {
    // Poison both halves of an ld_imm64 so the verifier reports the call, not "unknown opcode 00".
    if (isLdImm64 && hasNext) poison(dv, at + INSN_SIZE);
    poison(dv, at);
    return { action: 'poisoned', reason };
  };
  if (result.poison) return doPoison(`no target for ${result.localSpec}`);

  const orig = result.origValue;
  const next = result.newValue;
  switch (cls) {
    case CLASS_ALU:
    case CLASS_ALU64: {
      if (code & SRC_X) fail(`instruction is a register ALU operation (code 0x${code.toString(16)}), not an immediate one`);
      const imm = dv.getInt32(at + 4, true);
      if (result.validate && BigInt.asUintN(64, BigInt(imm)) !== orig)
        fail(`instruction immediate is ${imm}, expected ${orig} (-> ${next})`);
      dv.setInt32(at + 4, Number(BigInt.asIntN(32, next)), true);
      return { action: 'patched' };
    }
    case CLASS_LDX:
    case CLASS_ST:
    case CLASS_STX: {
      const off = dv.getInt16(at + 2, true);
      if (result.validate && BigInt.asUintN(64, BigInt(off)) !== orig)
        fail(`instruction offset is ${off}, expected ${orig} (-> ${next})`);
      if (next > 0x7fffn) fail(`new offset ${next} does not fit a 16-bit instruction offset`);
      if (result.failMemSizeAdjust)
        return doPoison(
          'the field changed size in a way a load/store cannot follow (access pointers, unsigned integers, or fields of matching type and size)',
        );
      if (result.newSize !== result.origSize) {
        const have = BYTES_BY_SIZE[(code >> 3) & 0x03]!;
        if (have !== result.origSize) fail(`instruction accesses ${have} bytes, expected ${result.origSize}`);
        const size = SIZE_BY_BYTES[result.newSize];
        if (size === undefined) fail(`target field size ${result.newSize} cannot be loaded by one instruction`);
        dv.setUint8(at, (code & 0xe0) | size! | cls);
      }
      dv.setInt16(at + 2, Number(next), true);
      return { action: 'patched' };
    }
    case CLASS_LD: {
      if (!isLdImm64 || !hasNext) fail('instruction is not a complete ld_imm64');
      const b = at + INSN_SIZE;
      if (
        dv.getUint8(at + 1) >> 4 !== 0 ||
        dv.getInt16(at + 2, true) !== 0 ||
        dv.getUint8(b) !== 0 ||
        dv.getUint8(b + 1) !== 0 ||
        dv.getInt16(b + 2, true) !== 0
      )
        fail('ld_imm64 has an unexpected form (pseudo source register or non-zero fields)');
      const imm = BigInt(dv.getUint32(at + 4, true)) | (BigInt(dv.getUint32(b + 4, true)) << 32n);
      if (result.validate && imm !== orig) fail(`ld_imm64 value is ${imm}, expected ${orig} (-> ${next})`);
      const v = BigInt.asUintN(64, next);
      dv.setUint32(at + 4, Number(v & 0xffffffffn), true);
      dv.setUint32(b + 4, Number(v >> 32n), true);
      return { action: 'patched' };
    }
    default:
      return fail(`cannot relocate instruction with code 0x${code.toString(16)}`);
  }
}
