import { describe, expect, it } from 'vitest';
import { ElfError } from '../../src/errors.js';
import { parseElf, R_BPF_64_32, R_BPF_64_64, SHT_NOBITS, STB_GLOBAL, STT_FUNC } from '../../src/elf/reader.js';
import { fixtureBytes } from './helpers.js';

function patched(src: Uint8Array, at: number, bytes: number[]): Uint8Array {
  const b = src.slice();
  b.set(bytes, at);
  return b;
}
function u64le(v: number): number[] {
  const out = new Array<number>(8).fill(0);
  for (let i = 0; i < 8; i++) out[i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
  return out;
}
function shdr(b: Uint8Array, index: number): number {
  const dv = new DataView(b.buffer, b.byteOffset);
  return Number(dv.getBigUint64(40, true)) + index * 64;
}

describe('ELF reader', () => {
  const calls = fixtureBytes('calls.o');

  it('reads sections, names and the symbol table of a clang object', () => {
    const elf = parseElf(calls);
    const names = elf.sections.map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['.text', 'xdp', '.relxdp', 'tc', '.reltc', '.maps', '.bss', 'license', '.BTF', '.BTF.ext', '.symtab', '.strtab']));
    expect(elf.section('xdp')!.size).toBe(35 * 8);
    expect(elf.section('.bss')!.type).toBe(SHT_NOBITS);
    expect(elf.section('.bss')!.data.byteLength).toBe(0);
    const gf = elf.symbols.find((s) => s.name === 'global_fn')!;
    expect(gf).toMatchObject({ type: STT_FUNC, bind: STB_GLOBAL, value: 0, size: 48, shndx: elf.section('.text')!.index });
    const second = elf.symbols.find((s) => s.name === 'xdp_second')!;
    expect(second).toMatchObject({ value: 0x60, size: 184 });
  });

  it('reads relocations with their types and symbols', () => {
    const elf = parseElf(calls);
    const rels = elf.relocations(elf.section('.relxdp')!);
    const symName = (i: number) => elf.symbols[i]!.name || elf.sectionName(elf.symbols[i]!.shndx); // section symbols are unnamed
    expect(rels.map((r) => [r.offset, r.type, symName(r.symbol)])).toEqual([
      [0x08, R_BPF_64_32, '.text'],
      [0x20, R_BPF_64_32, 'global_fn'],
      [0x90, R_BPF_64_64, '.text'],
      [0xb8, R_BPF_64_32, 'global_fn'],
      [0xd8, R_BPF_64_32, '.text'],
    ]);
  });

  const bad: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
    ['empty input', () => new Uint8Array(0), /too short for an ELF identification/],
    ['bad magic', (b) => patched(b, 0, [0x7f, 0x45, 0x4c, 0x47]), /not an ELF file/],
    ['32-bit', (b) => patched(b, 4, [1]), /not ELFCLASS64 \(32-bit/],
    ['big-endian', (b) => patched(b, 5, [2]), /big-endian BPF objects are not supported/],
    ['x86-64 machine', (b) => patched(b, 18, [62, 0]), /e_machine is 62, not EM_BPF/],
    ['executable type', (b) => patched(b, 16, [2, 0]), /e_type is 2, not ET_REL/],
    ['truncated header', (b) => b.slice(0, 40), /too short for an ELF64 header/],
    ['truncated file', (b) => b.slice(0, b.byteLength - 100), /runs past the end of the file/],
    ['section table offset beyond the end', (b) => patched(b, 40, u64le(b.byteLength + 8)), /section header table at \d+ is outside the file/],
    ['huge section count', (b) => patched(b, 60, [0xff, 0xfe]), /runs past the end of the file/],
    ['name table index out of range', (b) => patched(b, 62, [200, 0]), /section name table index 200 is not a section/],
    ['section past the end', (b) => patched(b, shdr(b, 2) + 32, u64le(1 << 30)), /section #2 \(1073741824 bytes at \d+\) runs past the end/],
    ['overlapping sections', (b) => {
      const dv = new DataView(b.buffer, b.byteOffset);
      const textOff = Number(dv.getBigUint64(shdr(b, 2) + 24, true));
      return patched(b, shdr(b, 4) + 24, u64le(textOff + 8));
    }, /overlaps section #2/],
    ['section over the ELF header', (b) => patched(b, shdr(b, 2) + 24, u64le(0)), /overlaps the ELF header/],
    ['section name outside the string table', (b) => patched(b, shdr(b, 3), [0xff, 0xff, 0, 0]), /section #3 name at string offset 65535 is outside the string table/],
    ['64-bit offset beyond 2^53', (b) => patched(b, shdr(b, 2) + 24, [0, 0, 0, 0, 0, 0, 0, 0x80]), /sh_offset \d+ is out of range/],
  ];
  for (const [what, make, msg] of bad) {
    it(`refuses ${what} with an ElfError saying where`, () => {
      let err: unknown;
      try {
        parseElf(make(calls));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ElfError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).toMatch(/^ELF: /);
    });
  }

  it('refuses a relocation against a symbol that does not exist', () => {
    const elf0 = parseElf(calls);
    const rel = elf0.section('.relxdp')!;
    const b = patched(calls, rel.offset + 12, [0xff, 0xff, 0, 0]);
    const elf = parseElf(b);
    expect(() => elf.relocations(elf.section('.relxdp')!)).toThrow(/relocation #0 refers to symbol #65535, but the symbol table has 24/);
  });

  it('refuses a relocation outside its target section', () => {
    const rel = parseElf(calls).section('.relxdp')!;
    const b = patched(calls, rel.offset, u64le(0x1000));
    const elf = parseElf(b);
    expect(() => elf.relocations(elf.section('.relxdp')!)).toThrow(ElfError);
    expect(() => elf.relocations(elf.section('.relxdp')!)).toThrow(/relocation #0 at offset 4096 is outside xdp/);
  });

  it('refuses an unknown relocation type', () => {
    const rel = parseElf(calls).section('.relxdp')!;
    const elf = parseElf(patched(calls, rel.offset + 8, [99]));
    expect(() => elf.relocations(elf.section('.relxdp')!)).toThrow(/unknown type 99/);
  });
});
