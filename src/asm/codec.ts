// Binary form: little-endian, 8 bytes per slot (op:8, dst:4 | src:4, off:s16, imm:s32);
// ld_imm64 takes a second slot whose only non-zero field is imm, the constant's high half.
import { AsmError } from './errors.js';
import { LD_IMM64, invalidReason, ldImm64Constant, makeInstruction, slotCount, type Instruction, type InstructionFields } from './instruction.js';
import { SLOT_SIZE } from './opcodes.js';

/** Encodes instructions; throws AsmError (with the instruction index) on an invalid one. */
export function encode(insns: readonly InstructionFields[]): Uint8Array {
  let slots = 0;
  for (const insn of insns) slots += slotCount(insn);
  const out = new Uint8Array(slots * SLOT_SIZE);
  const view = new DataView(out.buffer);
  let pos = 0;
  insns.forEach((insn, index) => {
    const at = { insnIndex: index, offset: pos };
    if (insn.opcode === LD_IMM64) {
      const u = located(() => ldImm64Constant(insn), at);
      const lo = Number(BigInt.asIntN(32, u));
      const hi = Number(BigInt.asIntN(32, u >> 32n));
      check({ ...insn, imm: lo }, at);
      writeSlot(view, pos, insn.opcode, insn.dst, insn.src, insn.off, lo);
      writeSlot(view, pos + SLOT_SIZE, 0, 0, 0, 0, hi);
      pos += 2 * SLOT_SIZE;
    } else {
      check(insn, at);
      writeSlot(view, pos, insn.opcode, insn.dst, insn.src, insn.off, insn.imm);
      pos += SLOT_SIZE;
    }
  });
  return out;
}

function located<T>(fn: () => T, at: { insnIndex: number; offset: number }): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AsmError) throw new AsmError(err.message, at);
    throw err;
  }
}

function check(insn: InstructionFields, at: { insnIndex: number; offset: number }): void {
  const reason = invalidReason(insn);
  if (reason !== undefined) throw new AsmError(reason, at);
}

function writeSlot(view: DataView, pos: number, opcode: number, dst: number, src: number, off: number, imm: number): void {
  view.setUint8(pos, opcode);
  view.setUint8(pos + 1, (src << 4) | dst);
  view.setInt16(pos + 2, off, true);
  view.setInt32(pos + 4, imm, true);
}

/** Decodes a program; throws AsmError with the byte offset on truncated or invalid bytes. */
export function decode(bytes: Uint8Array): Instruction[] {
  if (bytes.length % SLOT_SIZE !== 0) {
    throw new AsmError(
      `program is ${bytes.length} bytes, not a multiple of ${SLOT_SIZE}: last instruction truncated`,
      { offset: bytes.length - (bytes.length % SLOT_SIZE) },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const at = { offset: pos, insnIndex: pos / SLOT_SIZE };
    const first = readSlot(view, pos);
    if (first.opcode === LD_IMM64) {
      if (pos + 2 * SLOT_SIZE > bytes.length) {
        throw new AsmError('ld_imm64 is missing its second slot', at);
      }
      const second = readSlot(view, pos + SLOT_SIZE);
      if (second.opcode !== 0 || second.dst !== 0 || second.src !== 0 || second.off !== 0) {
        throw new AsmError('second slot of ld_imm64 must have opcode, registers and off all 0', {
          offset: pos + SLOT_SIZE,
          insnIndex: at.insnIndex + 1,
        });
      }
      const imm64 = (BigInt(second.imm >>> 0) << 32n) | BigInt(first.imm >>> 0);
      out.push(decodeOne({ ...first, imm64 }, at));
      pos += 2 * SLOT_SIZE;
    } else {
      out.push(decodeOne(first, at));
      pos += SLOT_SIZE;
    }
  }
  return out;
}

function decodeOne(fields: InstructionFields, at: { offset: number; insnIndex: number }): Instruction {
  return located(() => makeInstruction(fields), at);
}

function readSlot(view: DataView, pos: number): InstructionFields {
  const regs = view.getUint8(pos + 1);
  return {
    opcode: view.getUint8(pos),
    dst: regs & 0x0f,
    src: regs >> 4,
    off: view.getInt16(pos + 2, true),
    imm: view.getInt32(pos + 4, true),
  };
}
