// The encoder (round trips, the builder, what the kernel accepts), DATASEC fixups and
// sanitizing for older kernels.
import { describe, expect, it } from 'vitest';
import { BtfError } from '../../src/errors.js';
import { Btf } from '../../src/btf/btf.js';
import { fixupDatasecs, fixupExterns, sanitizeBtf } from '../../src/btf/fixup.js';
import { parseBtfExt, type BtfExt } from '../../src/btf/ext.js';
import { KERNEL_BTF_PATH, readWholeFile } from '../../src/btf/kernel.js';
import type { BtfDatasec, BtfType } from '../../src/btf/types.js';
import { fixture, readElf } from './helpers.js';
import { kernelLoadBtf } from './kernel-load.js';

const allTypes = (b: Btf): BtfType[] => [...b.entries()].map(([, t]) => t);

/** What a loader does to clang's BTF before BPF_BTF_LOAD: externs, then DATASECs. */
function loaderReady(): Btf {
  const btf = Btf.parse(fixture('kinds.btf'));
  const elf = readElf(fixture('kinds.o'));
  fixupExterns(btf);
  fixupDatasecs(btf, {
    sectionSize: (n) => elf.sections.find((s) => s.name === n)?.size,
    symbolOffset: (v) => elf.symbols.find((s) => s.name === v)?.value,
  });
  return btf;
}

describe('round trips', () => {
  it('re-encodes clang output and the kernel BTF byte for byte', () => {
    for (const f of ['kinds.btf', 'core.btf']) {
      const bytes = fixture(f);
      expect(Buffer.compare(Buffer.from(Btf.parse(bytes).encode()), Buffer.from(bytes)), f).toBe(0);
    }
    const vmlinux = readWholeFile(KERNEL_BTF_PATH);
    expect(Buffer.compare(Buffer.from(Btf.parse(vmlinux).encode()), Buffer.from(vmlinux))).toBe(0);
  });

  it('keeps every type through a compacted string table', () => {
    const orig = Btf.parse(fixture('kinds.btf'));
    const compact = orig.encode({ compactStrings: true });
    const back = Btf.parse(compact);
    expect(allTypes(back)).toEqual(allTypes(orig));
    expect(back.header!.strLen).toBeLessThanOrEqual(orig.header!.strLen);
    expect(Btf.parse(back.encode()).encode()).toEqual(compact);
  });

  it('keeps string offsets valid for .BTF.ext after types are changed', () => {
    const btf = Btf.parse(fixture('kinds.btf'));
    const ext = parseBtfExt(fixture('kinds.btf.ext'), btf);
    const id = btf.requireType('small', 'enum');
    btf.replace(id, { kind: 'enum', name: 'renamed_enum', size: 4, signed: false, values: [{ name: 'NEW_ONE', value: 3 }] });
    const back = Btf.parse(btf.encode());
    expect(back.type(id)).toMatchObject({ name: 'renamed_enum', values: [{ name: 'NEW_ONE', value: 3 }] });
    // Records compared by what they say (line_info records read their strings lazily, from
    // each BTF's own table): the same offsets must still name the same file and line text.
    const plain = (e: BtfExt) => ({
      ...e,
      lineInfo: new Map([...e.lineInfo].map(([sec, recs]) => [sec, recs.map((r) => ({ insnIndex: r.insnIndex, fileName: r.fileName, lineText: r.lineText, line: r.line, col: r.col, fileNameOff: r.fileNameOff, lineOff: r.lineOff }))])),
    });
    expect(plain(parseBtfExt(fixture('kinds.btf.ext'), back))).toEqual(plain(ext));
    expect([...ext.lineInfo.values()].flat().some((r) => r.lineText.length > 0)).toBe(true);
    expect(back.typeByName('renamed_enum')).toBe(id);
    expect(back.typeByName('small')).toBeUndefined();
  });

  it('writes BTF the kernel accepts, and the kernel rejects what it should', () => {
    const r = kernelLoadBtf(loaderReady().encode());
    expect(r.ok, r.log.slice(-500)).toBe(true);
    // Without the fixups, the kernel refuses clang's raw output.
    const raw = kernelLoadBtf(fixture('kinds.btf'));
    expect(raw.ok).toBe(false);
    expect(raw.log).toMatch(/Invalid func linkage/);
    const noDatasec = Btf.parse(fixture('kinds.btf'));
    fixupExterns(noDatasec);
    const r2 = kernelLoadBtf(noDatasec.encode());
    expect(r2.ok).toBe(false);
    expect(r2.log).toMatch(/DATASEC .bss size=0 vlen=2\s*$|Invalid|size/);
  });
});

describe('builder', () => {
  it('builds every kind, encodes, and parses back the same', () => {
    const b = Btf.create();
    const int = b.add({ kind: 'int', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 });
    const u8 = b.add({ kind: 'int', name: 'u8', size: 1, signed: false, char: false, bool: false, bitOffset: 0, bits: 8 });
    const ptr = b.add({ kind: 'ptr', name: '', type: int });
    const arr = b.add({ kind: 'array', name: '', type: u8, indexType: int, nelems: 6 });
    const s = b.add({
      kind: 'struct', name: 'pkt', size: 16,
      members: [
        { name: 'flags', type: u8, bitOffset: 0, bitfieldSize: 3 },
        { name: 'mac', type: arr, bitOffset: 8, bitfieldSize: 0 },
        { name: 'p', type: ptr, bitOffset: 64, bitfieldSize: 0 },
      ],
    });
    b.add({ kind: 'union', name: 'un', size: 4, members: [{ name: 'i', type: int, bitOffset: 0, bitfieldSize: 0 }] });
    b.add({ kind: 'enum', name: 'e', size: 4, signed: true, values: [{ name: 'E_NEG', value: -1 }] });
    b.add({ kind: 'enum64', name: 'e64', size: 8, signed: false, values: [{ name: 'E_BIG', value: 0xffff_ffff_ffffn }] });
    b.add({ kind: 'fwd', name: 'opaque', fwdKind: 'union' });
    const td = b.add({ kind: 'typedef', name: 'pkt_t', type: s });
    b.add({ kind: 'volatile', name: '', type: int });
    b.add({ kind: 'const', name: '', type: td });
    b.add({ kind: 'restrict', name: '', type: ptr });
    const proto = b.add({ kind: 'func_proto', name: '', returnType: int, params: [{ name: 'x', type: int }, { name: '', type: 0 }] });
    b.add({ kind: 'func', name: 'f', type: proto, linkage: 'global' });
    const v = b.add({ kind: 'var', name: 'counter', type: int, linkage: 'global' });
    b.add({ kind: 'datasec', name: '.data', size: 4, vars: [{ type: v, offset: 0, size: 4 }] });
    b.add({ kind: 'float', name: 'float', size: 4 });
    b.add({ kind: 'decl_tag', name: 'tag', type: s, componentIdx: 1, attribute: false });
    b.add({ kind: 'type_tag', name: 'user', type: int, attribute: true });
    const back = Btf.parse(b.encode());
    expect(allTypes(back)).toEqual(allTypes(b));
    expect(back.sizeOf(td)).toBe(16);
    expect(back.memberOffset(s, 'p')).toBe(8);
    expect(b.isModified).toBe(true);
    expect(b.typeByName('pkt_t')).toBe(td); // name index after changes
  });

  it('refuses types it cannot encode, naming the type', () => {
    const enc = (t: BtfType): (() => Uint8Array) => () => {
      const b = Btf.create();
      b.add(t);
      return b.encode();
    };
    expect(enc({ kind: 'ptr', name: '', type: 7 })).toThrow(/type \[1\] ptr '' refers to missing type 7/);
    expect(enc({ kind: 'enum', name: 'e', size: 4, signed: false, values: [{ name: 'A', value: 2 ** 33 }] })).toThrow(/does not fit 32 bits/);
    expect(enc({ kind: 'int', name: 'i', size: 4, signed: false, char: false, bool: false, bitOffset: 0, bits: 0 })).toThrow(/bad width/);
    expect(enc({ kind: 'typedef', name: 'a\0b', type: 0 })).toThrow(/NUL byte/);
    expect(enc({ kind: 'struct', name: 's', size: 1, members: Array.from({ length: 70000 }, () => ({ name: '', type: 0, bitOffset: 0, bitfieldSize: 0 })) })).toThrow(/65535/);
    expect(enc({ kind: 'struct', name: 's', size: -1, members: [] })).toThrow(/not a u32/);
    const b = Btf.create();
    expect(() => b.replace(1, { kind: 'ptr', name: '', type: 0 })).toThrow(BtfError);
    expect(() => b.add({ kind: 'void', name: '' })).toThrow(/void/);
  });
});

describe('fixupDatasecs', () => {
  const elf = readElf(fixture('kinds.o'));
  const sectionSize = (n: string) => elf.sections.find((s) => s.name === n)?.size;
  const symbolOffset = (v: string) => elf.symbols.find((s) => s.name === v)?.value;

  it('fills sizes and offsets from the ELF and sorts variables by offset', () => {
    const btf = Btf.parse(fixture('kinds.btf'));
    const sizes = fixupDatasecs(btf, { sectionSize, symbolOffset });
    const bss = btf.type(btf.requireType('.bss', 'datasec')) as BtfDatasec;
    // clang listed bss_tail first at offset 0; the ELF symbols say otherwise.
    expect(bss.vars.map((v) => [btf.name(v.type), v.offset, v.size])).toEqual(
      [['global_all', symbolOffset('global_all'), 152], ['bss_tail', symbolOffset('bss_tail'), 3]].sort((a, b) => (a[1] as number) - (b[1] as number)),
    );
    expect(bss.size).toBe(sectionSize('.bss'));
    const data = btf.type(btf.requireType('.data', 'datasec')) as BtfDatasec;
    expect(data.vars.map((v) => [btf.name(v.type), v.offset])).toEqual([['global_data', 0], ['second_data', 4], ['static_counter', 8]]);
    expect(sizes.get('.data')).toBe(12);
    // Extern sections are left to the loader: only sorted.
    expect((btf.type(btf.requireType('.kconfig', 'datasec')) as BtfDatasec).size).toBe(0);
  });

  it('grows a DATASEC whose last variable runs past the ELF section size (.bss padding)', () => {
    const btf = Btf.parse(fixture('kinds.btf'));
    const sizes = fixupDatasecs(btf, { sectionSize: (n) => (n === '.bss' ? 155 - 4 : sectionSize(n)), symbolOffset });
    const end = Math.max(symbolOffset('global_all')! + 152, symbolOffset('bss_tail')! + 3);
    expect(sizes.get('.bss')).toBe(end);
  });

  it('makes hidden symbols static and reports what is missing', () => {
    const btf = Btf.parse(fixture('kinds.btf'));
    fixupDatasecs(btf, { sectionSize, symbolOffset, symbolHidden: (v) => v === 'second_data' });
    expect(btf.type(btf.requireType('second_data', 'var'))).toMatchObject({ linkage: 'static' });
    expect(() => fixupDatasecs(Btf.parse(fixture('kinds.btf')), { sectionSize: () => undefined, symbolOffset })).toThrow(/DATASEC \[\d+\] '.bss': no ELF section size/);
    expect(() => fixupDatasecs(Btf.parse(fixture('kinds.btf')), { sectionSize, symbolOffset: () => undefined })).toThrow(/no ELF symbol for variable 'bss_tail'/);
  });
});

describe('fixupExterns', () => {
  it('lays out .kconfig and turns .ksyms into allocated slots', () => {
    const btf = Btf.parse(fixture('kinds.btf'));
    const layout = fixupExterns(btf);
    expect(layout.kconfig).toEqual([{ name: 'LINUX_KERNEL_VERSION', type: btf.requireType('int', 'int'), offset: 0, size: 4 }]);
    expect(layout.kconfigSize).toBe(4);
    expect(layout.ksyms).toEqual([{ name: 'bpf_tsbpf_kfunc', kind: 'func', type: btf.requireType('bpf_tsbpf_kfunc', 'func') }]);
    expect(btf.type(btf.requireType('LINUX_KERNEL_VERSION', 'var'))).toMatchObject({ linkage: 'global' });
    expect(btf.type(btf.requireType('bpf_tsbpf_kfunc', 'func'))).toMatchObject({ linkage: 'global' });
    const ksyms = btf.type(btf.requireType('.ksyms', 'datasec')) as BtfDatasec;
    expect(ksyms.size).toBe(4);
    expect(btf.type(ksyms.vars[0]!.type)).toMatchObject({ kind: 'var', name: 'dummy_ksym', linkage: 'global' });
    const proto = btf.type((btf.type(btf.requireType('bpf_tsbpf_kfunc', 'func')) as { type: number }).type);
    expect(proto).toMatchObject({ kind: 'func_proto', params: [{ name: 'dummy_ksym' }] });
  });

  it('orders .kconfig by alignment, then size, then name', () => {
    const b = Btf.create();
    const c = b.add({ kind: 'int', name: 'char', size: 1, signed: true, char: false, bool: false, bitOffset: 0, bits: 8 });
    const l = b.add({ kind: 'int', name: 'long', size: 8, signed: true, char: false, bool: false, bitOffset: 0, bits: 64 });
    const arr = b.add({ kind: 'array', name: '', type: c, indexType: l, nelems: 5 });
    const vars = [['CONFIG_B', c], ['CONFIG_STR', arr], ['CONFIG_A', c], ['CONFIG_L', l]].map(([n, t]) => b.add({ kind: 'var', name: n as string, type: t as number, linkage: 'extern' }));
    b.add({ kind: 'datasec', name: '.kconfig', size: 0, vars: vars.map((v) => ({ type: v, offset: 0, size: 0 })) });
    const layout = fixupExterns(b);
    expect(layout.kconfig.map((k) => [k.name, k.offset, k.size])).toEqual([['CONFIG_L', 0, 8], ['CONFIG_A', 8, 1], ['CONFIG_B', 9, 1], ['CONFIG_STR', 10, 5]]);
    expect(layout.kconfigSize).toBe(15);
  });
});

describe('sanitizeBtf', () => {
  const btf = Btf.parse(fixture('kinds.btf'));

  it('changes nothing for a kernel with every feature', () => {
    const s = sanitizeBtf(btf, {});
    expect(allTypes(s)).toEqual(allTypes(btf));
  });

  it('replaces each unsupported kind in place, keeping ids', () => {
    const s = sanitizeBtf(btf, { float: false, declTag: false, typeTag: false, enum64: false, funcGlobal: false });
    const kinds = new Set(allTypes(s).map((t) => t.kind));
    for (const k of ['float', 'decl_tag', 'type_tag', 'enum64'] as const) expect(kinds.has(k), k).toBe(false);
    expect(s.type(btf.requireType('double', 'float'))).toEqual({ kind: 'struct', name: 'double', size: 8, members: [] });
    expect(s.type(btf.requireType('user', 'type_tag'))).toMatchObject({ kind: 'const', name: '' });
    expect(s.type(btf.requireType('big', 'enum64'))).toMatchObject({ kind: 'union', size: 8, members: [{ name: 'BIG_A' }, { name: 'BIG_B' }] });
    expect(s.type(btf.requireType('neg', 'enum'))).toMatchObject({ signed: false, values: [{ name: 'NEG_A', value: 0xfffffffb }, { name: 'NEG_B', value: 7 }] });
    expect(s.type(btf.requireType('prog', 'func'))).toMatchObject({ linkage: 'static' });
    expect(s.typeCount).toBe(btf.typeCount + 1); // one helper int for the enum64 unions
    // Sizes survive, so offsets computed against it are unchanged.
    expect(s.sizeOf(btf.requireType('all'))).toBe(152);
    expect(btf.type(btf.requireType('double', 'float')).kind).toBe('float'); // the input is untouched
  });

  it('turns DATASEC/VAR and FUNC/FUNC_PROTO into kinds older kernels know', () => {
    const s = sanitizeBtf(btf, { datasec: false, func: false });
    expect(s.type(btf.requireType('.data', 'datasec'))).toMatchObject({ kind: 'struct', name: '_data', members: [{ name: 'global_data' }, { name: 'second_data' }, { name: 'static_counter' }] });
    expect(s.type(btf.requireType('global_data', 'var'))).toMatchObject({ kind: 'int', size: 1 });
    expect(s.type(btf.requireType('prog', 'func'))).toMatchObject({ kind: 'typedef', name: 'prog' });
    const proto = (btf.type(btf.requireType('helper', 'func')) as { type: number }).type;
    expect(s.type(proto)).toMatchObject({ kind: 'enum', values: [{ name: 'x' }] });
  });

  it('produces BTF the kernel accepts', () => {
    const s = sanitizeBtf(loaderReady(), { float: false, declTag: false, typeTag: false, enum64: false, funcGlobal: false });
    const r = kernelLoadBtf(s.encode());
    expect(r.ok, r.log.slice(-500)).toBe(true);
    expect(r.log).not.toMatch(/FLOAT|ENUM64|TYPE_TAG|DECL_TAG/);
  });
});
