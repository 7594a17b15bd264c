// .BTF.ext: func_info against the symbol table, line_info against the source files, CO-RE
// records against llvm-objdump's own decoding of them; larger records and hostile input.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BtfError } from '../../src/errors.js';
import { Btf } from '../../src/btf/btf.js';
import { CORE_RELO_KINDS, type BtfExt, parseBtfExt } from '../../src/btf/ext.js';
import type { BtfEnum, BtfEnum64 } from '../../src/btf/types.js';
import { FIXTURES, fixture, readElf } from './helpers.js';

const OBJDUMP_KIND: Record<string, string> = {
  byte_off: 'field_byte_offset',
  byte_sz: 'field_byte_size',
  field_exists: 'field_exists',
  signed: 'field_signed',
  lshift_u64: 'field_lshift_u64',
  rshift_u64: 'field_rshift_u64',
  local_type_id: 'type_id_local',
  target_type_id: 'type_id_target',
  type_exists: 'type_exists',
  type_size: 'type_size',
  type_matches: 'type_matches',
  enumval_exists: 'enumval_exists',
  enumval_value: 'enumval_value',
};

/** Re-encodes parsed .BTF.ext with chosen record sizes (extra bytes are filled with 0xee). */
export function encodeExt(ext: BtfExt, btf: Btf, sizes = { func: 8, line: 16, core: 16 }): Uint8Array {
  const offOf = new Map<string, number>();
  // Every string we need is already in the BTF string table: find its offset.
  const strOff = (s: string): number => {
    const hit = offOf.get(s);
    if (hit !== undefined) return hit;
    const offs = btf.strings.offsetsOf(s);
    const off = s === '' ? 0 : offs[0];
    if (off === undefined) throw new Error(`string ${s} not in BTF`);
    offOf.set(s, off);
    return off;
  };
  const words: number[][] = [];
  const part = <T>(map: Map<string, T[]>, rec: number, fields: (r: T) => number[]): number[] => {
    const out = [rec];
    for (const [sec, list] of map) {
      out.push(strOff(sec), list.length);
      for (const r of list) {
        const f = fields(r);
        out.push(...f);
        for (let i = f.length * 4; i < rec; i += 4) out.push(0xeeeeeeee);
      }
    }
    return map.size ? out : [];
  };
  words.push(part(ext.funcInfo, sizes.func, (r) => [r.insnIndex * 8, r.typeId]));
  words.push(part(ext.lineInfo, sizes.line, (r) => [r.insnIndex * 8, r.fileNameOff, r.lineOff, (r.line << 10) | r.col]));
  words.push(part(ext.coreRelos, sizes.core, (r) => [r.insnIndex * 8, r.typeId, strOff(r.accessStr), CORE_RELO_KINDS.indexOf(r.kind)]));
  const hdr = 32;
  const body = words.flat();
  const out = new Uint8Array(hdr + body.length * 4);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, true);
  dv.setUint8(2, 1);
  dv.setUint32(4, hdr, true);
  let off = 0;
  words.forEach((w, i) => {
    dv.setUint32(8 + i * 8, off, true);
    dv.setUint32(12 + i * 8, w.length * 4, true);
    off += w.length * 4;
  });
  body.forEach((v, i) => dv.setUint32(hdr + i * 4, v >>> 0, true));
  return out;
}

describe('.BTF.ext of the all-kinds fixture', () => {
  const btf = Btf.parse(fixture('kinds.btf'));
  const ext = parseBtfExt(fixture('kinds.btf.ext'), btf);
  const elf = readElf(fixture('kinds.o'));

  it('has one func_info per function, at its symbol, naming its FUNC', () => {
    expect([...ext.funcInfo.keys()].sort()).toEqual(['.text', 'socket']);
    let n = 0;
    for (const [sec, list] of ext.funcInfo) {
      const shndx = elf.sections.find((s) => s.name === sec)!.index;
      const funcs = elf.symbols.filter((s) => s.shndx === shndx && (s.info & 0xf) === 2);
      expect(list.length).toBe(funcs.length);
      for (const fi of list) {
        const sym = funcs.find((s) => s.value === fi.insnIndex * 8);
        expect(sym, `${sec}+${fi.insnIndex}`).toBeDefined();
        expect(btf.type(fi.typeId)).toMatchObject({ kind: 'func', name: sym!.name });
        n++;
      }
    }
    expect(n).toBe(3); // prog, prog2, helper
    expect(ext.funcInfoRecSize).toBe(8);
  });

  it('has line_info whose text is the source line it names', () => {
    const src = readFileSync(join(FIXTURES, 'kinds.c'), 'utf8').split('\n');
    const all = [...ext.lineInfo.values()].flat();
    expect(all.length).toBeGreaterThan(5);
    for (const li of all) {
      expect(li.fileName).toMatch(/kinds\.c$/);
      expect(li.lineText).toBe(src[li.line - 1]);
      expect(li.col).toBeGreaterThan(0);
      expect(btf.strings.get(li.lineOff)).toBe(li.lineText);
    }
    // Instruction indices are in instructions, not bytes: all within their section.
    for (const [sec, list] of ext.lineInfo) {
      const size = elf.sections.find((s) => s.name === sec)!.size / 8;
      for (const li of list) expect(li.insnIndex).toBeLessThan(size);
    }
    expect(ext.lineInfoRecSize).toBe(16);
    expect(ext.coreRelos.size).toBe(0);
  });
});

describe('.BTF.ext CO-RE records', () => {
  const btf = Btf.parse(fixture('core.btf'));
  const ext = parseBtfExt(fixture('core.btf.ext'), btf);

  it('match llvm-objdump record for record', () => {
    const text = execFileSync('llvm-objdump-19', ['-dr', join(FIXTURES, 'core.o')]).toString();
    const theirs: string[] = [];
    let sec = '';
    for (const line of text.split('\n')) {
      const s = /^Disassembly of section (.*):$/.exec(line);
      if (s) sec = s[1]!;
      if (!line.includes('CO-RE')) continue;
      const r = /^\s+([0-9a-f]+):\s+CO-RE <(\w+)> \[(\d+)\] \w+ (\w+)(?:::([\w[\].]+))?(?: = -?\d+)?(?: \(([\d:]+)\))?$/.exec(line);
      expect(r, line).not.toBeNull();
      const kind = OBJDUMP_KIND[r![2]!]!;
      const access = kind.startsWith('enumval') ? r![5] : (r![6] ?? '0');
      theirs.push([sec, parseInt(r![1]!, 16) / 8, kind, r![3], r![4], access].join(' '));
    }
    const ours = [...ext.coreRelos].flatMap(([sec, list]) =>
      list.map((c) => {
        const t = btf.type(btf.resolve(c.typeId));
        // objdump shows enum relocations by enumerator name, field relocations by access string.
        const access = c.kind.startsWith('enumval')
          ? (t as BtfEnum | BtfEnum64).values[Number(c.accessStr)]!.name
          : c.accessStr;
        return [sec, c.insnIndex, c.kind, c.typeId, btf.name(c.typeId), access].join(' ');
      }),
    );
    expect(theirs.length).toBe(47);
    expect(ours).toEqual(theirs);
  });

  it('reads records larger than it knows, ignoring the extra fields', () => {
    const wide = encodeExt(ext, btf, { func: 12, line: 24, core: 20 });
    const back = parseBtfExt(wide, btf);
    expect(back.coreRelos).toEqual(ext.coreRelos);
    expect(back.funcInfo).toEqual(ext.funcInfo);
    expect(back.lineInfo).toEqual(ext.lineInfo);
    expect([back.funcInfoRecSize, back.lineInfoRecSize, back.coreReloRecSize]).toEqual([12, 24, 20]);
    expect(parseBtfExt(encodeExt(ext, btf), btf)).toEqual(ext);
  });

  it('rejects malformed sections with BtfError naming the problem', () => {
    const good = encodeExt(ext, btf);
    const mut = (f: (dv: DataView) => void): Uint8Array => {
      const b = good.slice();
      f(new DataView(b.buffer));
      return b;
    };
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 6), /truncated header/],
      [mut((d) => d.setUint16(0, 0x9feb, true)), /big-endian/],
      [mut((d) => d.setUint16(0, 0x1234, true)), /bad magic/],
      [mut((d) => d.setUint8(2, 2)), /version 2/],
      [mut((d) => d.setUint32(4, 12, true)), /header length 12/],
      [mut((d) => d.setUint32(12, 1 << 20, true)), /func_info .* beyond the end/],
      [mut((d) => d.setUint32(32, 6, true)), /record size 6 is invalid/],
      [mut((d) => d.setUint32(32, 10, true)), /record size 10 is invalid/],
      [mut((d) => d.setUint32(36, 1 << 30, true)), /section name string offset .* outside/],
      [mut((d) => d.setUint32(40, 0xfffffff, true)), /claims 268435455 records/],
      [mut((d) => d.setUint32(40, 0, true)), /has no records/],
      [mut((d) => d.setUint32(44, 3, true)), /not a multiple of 8/],
      [mut((d) => d.setUint32(48, 99999, true)), /type 99999, beyond the last type/],
    ];
    for (const [bytes, re] of cases) {
      let err: unknown;
      try {
        parseBtfExt(bytes, btf);
      } catch (e) {
        err = e;
      }
      expect(err, String(re)).toBeInstanceOf(BtfError);
      expect((err as Error).message).toMatch(re);
    }
    const coreStart = 32 + new DataView(good.buffer).getUint32(24, true);
    const badKind = mut((d) => d.setUint32(coreStart + 4 + 8 + 12, 77, true));
    expect(() => parseBtfExt(badKind, btf)).toThrow(/unknown CO-RE relocation kind 77/);
  });
});
