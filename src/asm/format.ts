// Number formatting shared by the disassembler and its tests: llvm-objdump prints every
// number as signed hexadecimal.

/** `0x1f`, `-0x1f`. */
export function signedHex(n: number | bigint): string {
  const neg = typeof n === 'bigint' ? n < 0n : n < 0;
  const mag = typeof n === 'bigint' ? (neg ? -n : n) : Math.abs(n);
  return (neg ? '-0x' : '0x') + mag.toString(16);
}

/** A jump displacement: `+0x3`, `-0x1`, `+0x0`. */
export function displacement(n: number): string {
  return (n < 0 ? '-0x' : '+0x') + Math.abs(n).toString(16);
}

/** A memory operand's base and offset: `r10 - 0x8`, `r1 + 0x0`. */
export function memOffset(base: string, off: number): string {
  return `${base} ${off < 0 ? '-' : '+'} 0x${Math.abs(off).toString(16)}`;
}
