// Programs for the async tests, built from the loader tests' hand encodings (test/programs/insns).
import { concat, exit, insn, movImm } from '../programs/insns.js';

export { readsUninitialised as readsUninit } from '../programs/insns.js';

/**
 * A program the verifier takes long over: a counted loop it walks iteration by iteration (the
 * counter is a known constant each time round, so no state is pruned), about 3 × `iterations`
 * instructions processed. Small to send, slow to verify.
 */
export function heavyLoop(iterations: number): Uint8Array {
  return concat([
    movImm(0, 0),
    movImm(1, 0),
    insn(0x0f, 0, 1, 0, 0), // r0 += r1
    insn(0x07, 1, 0, 0, 1), // r1 += 1
    insn(0xa5, 1, 0, -3, iterations), // if r1 < iterations goto r0 += r1
    exit(),
  ]);
}
