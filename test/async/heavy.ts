// A program the verifier takes long over: a counted loop the verifier walks iteration by
// iteration (the counter is a known constant each time round, so no state is pruned),
// about 3 × `iterations` instructions processed. Small to send, slow to verify.
export function heavyLoop(iterations: number): Buffer {
  const out = Buffer.alloc(6 * 8);
  const put = (i: number, code: number, dst: number, src: number, off: number, imm: number): void => {
    out.writeUInt8(code, i * 8);
    out.writeUInt8((src << 4) | dst, i * 8 + 1);
    out.writeInt16LE(off, i * 8 + 2);
    out.writeInt32LE(imm, i * 8 + 4);
  };
  put(0, 0xb7, 0, 0, 0, 0); // r0 = 0
  put(1, 0xb7, 1, 0, 0, 0); // r1 = 0
  put(2, 0x0f, 0, 1, 0, 0); // r0 += r1
  put(3, 0x07, 1, 0, 0, 1); // r1 += 1
  put(4, 0xa5, 1, 0, -3, iterations); // if r1 < iterations goto 2
  put(5, 0x95, 0, 0, 0, 0); // exit
  return out;
}

/** A program the verifier refuses: it returns r2, which nothing wrote. */
export function readsUninit(): Buffer {
  const out = Buffer.alloc(2 * 8);
  out.writeUInt8(0xbf, 0); // r0 = r2
  out.writeUInt8((2 << 4) | 0, 1);
  out.writeUInt8(0x95, 8); // exit
  return out;
}
