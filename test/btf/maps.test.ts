// BTF-defined maps (.maps): attributes, key/value types, map-in-map and prog-array slots
// (checked against the ELF relocations clang emitted for the initialisers), and bad shapes.
import { describe, expect, it } from 'vitest';
import { BtfError } from '../../src/errors.js';
import { Btf } from '../../src/btf/btf.js';
import { fixupDatasecs } from '../../src/btf/fixup.js';
import { btfMapDefinitions, parseBtfMapDef } from '../../src/btf/maps.js';
import type { BtfType } from '../../src/btf/types.js';
import { fixture, readElf } from './helpers.js';

function fixedUp(): Btf {
  const btf = Btf.parse(fixture('maps.btf'));
  const elf = readElf(fixture('maps.o'));
  fixupDatasecs(btf, {
    sectionSize: (n) => elf.sections.find((s) => s.name === n)?.size,
    symbolOffset: (v) => elf.symbols.find((s) => s.name === v)?.value,
  });
  return btf;
}

describe('btfMapDefinitions', () => {
  const btf = fixedUp();
  const maps = new Map(btfMapDefinitions(btf).map((m) => [m.name, m]));

  it('reads every attribute form', () => {
    expect([...maps.keys()].sort()).toEqual(['bloom', 'hash_map', 'inner_a', 'outer', 'progs', 'sized']);
    const h = maps.get('hash_map')!;
    expect(h).toMatchObject({ type: 1, maxEntries: 1024, mapFlags: 1, pinning: 'byName', keySize: 16, valueSize: 8 });
    expect(btf.type(h.keyType!)).toMatchObject({ kind: 'struct', name: 'key' });
    expect(btf.type(h.valueType!)).toMatchObject({ kind: 'int', name: 'long' });
    expect(maps.get('sized')).toMatchObject({ type: 2, keySize: 4, valueSize: 8, maxEntries: 4, numaNode: 0 });
    expect(maps.get('sized')!.keyType).toBeUndefined();
    expect(maps.get('bloom')).toMatchObject({ type: 30, maxEntries: 64, valueSize: 4, mapExtra: 0x300000005n });
  });

  it('describes map-in-map and prog-array slots where the ELF relocations land', () => {
    const outer = maps.get('outer')!;
    expect(outer.values).toMatchObject({ kind: 'maps', offset: 24 });
    expect(outer.values!.inner).toMatchObject({ name: 'outer.inner', type: 2, maxEntries: 1, keySize: 4, valueSize: 4 });
    expect(outer.valueSize).toBe(4);
    const progs = maps.get('progs')!;
    expect(progs.values).toEqual({ kind: 'programs', offset: 24 });
    // llvm-readelf -r maps.o: R_BPF_64_ABS64 at 0x38 (inner_a) and 0x60 (tail).
    const slot = (m: typeof outer, relOffset: number) => (relOffset - m.sectionOffset - m.values!.offset) / 8;
    expect(slot(outer, 0x38)).toBe(0);
    expect(slot(progs, 0x60)).toBe(1);
    expect(maps.get('inner_a')!.sectionOffset).toBe(0);
  });

  it('returns nothing without a .maps section', () => {
    expect(btfMapDefinitions(Btf.parse(fixture('kinds.btf')))).toEqual([]);
  });
});

describe('bad map definitions', () => {
  const INT: BtfType = { kind: 'int', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 };
  /** [1] int, [2] int[N] for each N, pointers to them, then the struct from `members`. */
  function def(members: { name: string; type: 'uint' | 'int' | 'ptrint' | 'arr'; n?: number }[]): { btf: Btf; id: number } {
    const b = Btf.create();
    b.add(INT);
    const idx = b.add({ kind: 'int', name: 'idx', size: 4, signed: false, char: false, bool: false, bitOffset: 0, bits: 32 });
    const ms = members.map((m, i) => {
      let type: number;
      if (m.type === 'uint') type = b.add({ kind: 'ptr', name: '', type: b.add({ kind: 'array', name: '', type: 1, indexType: idx, nelems: m.n ?? 1 }) });
      else if (m.type === 'ptrint') type = b.add({ kind: 'ptr', name: '', type: 1 });
      else if (m.type === 'arr') type = b.add({ kind: 'array', name: '', type: b.add({ kind: 'ptr', name: '', type: 1 }), indexType: idx, nelems: m.n ?? 0 });
      else type = 1;
      return { name: m.name, type, bitOffset: i * 64, bitfieldSize: 0 };
    });
    const id = b.add({ kind: 'struct', name: '', size: ms.length * 8, members: ms });
    return { btf: b, id };
  }
  const cases: [string, Parameters<typeof def>[0], RegExp][] = [
    ['no type', [{ name: 'max_entries', type: 'uint', n: 4 }], /map 'm': no map type given/],
    ['int not pointer', [{ name: 'type', type: 'int' }], /'type' should be __uint \(a pointer to an array\), is int/],
    ['pointer to int', [{ name: 'type', type: 'ptrint' }], /points to int/],
    ['unknown attribute', [{ name: 'type', type: 'uint' }, { name: 'colour', type: 'uint' }], /'colour' is unknown/],
    ['key size conflict', [{ name: 'type', type: 'uint' }, { name: 'key_size', type: 'uint', n: 8 }, { name: 'key', type: 'ptrint' }], /'key' conflicts with an earlier size \(8 != 4\)/],
    ['key not pointer', [{ name: 'type', type: 'uint' }, { name: 'key', type: 'int' }], /'key' should be __type/],
    ['bad pinning', [{ name: 'type', type: 'uint' }, { name: 'pinning', type: 'uint', n: 2 }], /invalid value 2/],
    ['values not last', [{ name: 'type', type: 'uint' }, { name: 'values', type: 'arr' }, { name: 'max_entries', type: 'uint' }], /must be the last member/],
    ['values sized', [{ name: 'type', type: 'uint' }, { name: 'values', type: 'arr', n: 2 }], /zero-length array/],
    ['values to int', [{ name: 'type', type: 'uint' }, { name: 'values', type: 'arr' }], /elements point to int/],
  ];
  for (const [name, members, re] of cases)
    it(name, () => {
      const { btf, id } = def(members);
      let err: unknown;
      try {
        parseBtfMapDef(btf, id, 'm');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BtfError);
      expect((err as Error).message).toMatch(re);
    });
  it('a definition that is not a struct', () => {
    const b = Btf.create();
    b.add(INT);
    expect(() => parseBtfMapDef(b, 1, 'm')).toThrow(/definition is int, not a struct/);
  });
});
