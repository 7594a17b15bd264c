import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openObjectSpec, type OpenObjectOptions } from '../../src/elf/index.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

export function fixtureBytes(name: string): Uint8Array {
  const b = readFileSync(join(FIXTURES, name));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function openFixture(name: string, opts: OpenObjectOptions = {}) {
  return openObjectSpec(fixtureBytes(name), { name: name.replace(/\..*$/, ''), ...opts });
}

/** Decoded instruction fields at index i of an instruction buffer. */
export function insn(b: Uint8Array, i: number) {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { code: b[i * 8]!, dst: b[i * 8 + 1]! & 0xf, src: b[i * 8 + 1]! >> 4, off: dv.getInt16(i * 8 + 2, true), imm: dv.getInt32(i * 8 + 4, true) };
}
