// Patching map fds into encoded programs, for loaders that create maps after assembling.
import { AsmError } from './errors.js';
import { LD_IMM64 } from './instruction.js';
import { Pseudo, SLOT_SIZE } from './opcodes.js';

/**
 * Writes `fd` into the ld_imm64 at slot `insnIndex` of `bytes` (in place). A plain ld_imm64
 * (src 0, as clang leaves map loads in an object file) becomes a map-fd load (src 1); a
 * map-value load (src 2) keeps its kind and its offset in the second slot.
 */
export function patchMapFd(bytes: Uint8Array, insnIndex: number, fd: number): void {
  const offset = insnIndex * SLOT_SIZE;
  if (!Number.isInteger(insnIndex) || insnIndex < 0 || offset + 2 * SLOT_SIZE > bytes.length) {
    throw new AsmError(`no ld_imm64 at instruction ${insnIndex}: program has ${Math.floor(bytes.length / SLOT_SIZE)} slots`, { offset });
  }
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new AsmError(`${fd} is not a file descriptor`, { offset });
  if (bytes[offset] !== LD_IMM64) {
    throw new AsmError(`instruction ${insnIndex} is opcode 0x${bytes[offset]!.toString(16)}, not ld_imm64`, { offset });
  }
  const regs = bytes[offset + 1]!;
  const src = regs >> 4;
  if (src !== Pseudo.NONE && src !== Pseudo.MAP_FD && src !== Pseudo.MAP_VALUE) {
    throw new AsmError(`ld_imm64 at instruction ${insnIndex} has pseudo source ${src}, not a map fd load`, { offset });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (src === Pseudo.NONE) view.setUint8(offset + 1, (Pseudo.MAP_FD << 4) | (regs & 0x0f));
  view.setInt32(offset + 4, fd, true);
}
