// Hand-encoded instructions for the loader tests: the loader must not need the assembler, and
// these few encodings are easy to check against the kernel's struct bpf_insn by eye.
export function insn(code: number, dst: number, src: number, off: number, imm: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return new Uint8Array(b);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** r{dst} = imm (BPF_ALU64 | BPF_MOV | BPF_K) */
export const movImm = (dst: number, imm: number) => insn(0xb7, dst, 0, 0, imm);
/** r{dst} = r{src} */
export const movReg = (dst: number, src: number) => insn(0xbf, dst, src, 0, 0);
export const exit = () => insn(0x95, 0, 0, 0, 0);

/** `r0 = value; exit` */
export const returns = (value: number) => concat([movImm(0, value), exit()]);

/** Reads r2, which no one wrote: the verifier says 'R2 !read_ok' at instruction `at`. */
export function readsUninitialised(padding = 0): Uint8Array {
  const body = Array.from({ length: padding }, (_, i) => movImm(0, i));
  return concat([...body, movReg(0, 2), exit()]);
}
