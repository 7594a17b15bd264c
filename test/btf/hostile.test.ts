// Hostile input: every malformed header field, malformed types, cyclic type graphs, and a
// fuzz run of mutated/truncated/random BTF and .BTF.ext. The only acceptable failure is a
// BtfError (never a RangeError/TypeError from a DataView, never a hang).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtfError } from '../../src/errors.js';
import { Btf } from '../../src/btf/btf.js';
import { CoreRelocationError, CoreRelocator, typesAreCompat, typesMatch } from '../../src/btf/core.js';
import { parseBtfExt } from '../../src/btf/ext.js';
import { fixupExterns, sanitizeBtf } from '../../src/btf/fixup.js';
import { btfMapDefinitions } from '../../src/btf/maps.js';
import { applyCoreRelocation } from '../../src/btf/patch.js';
import type { BtfType } from '../../src/btf/types.js';
import { fixture } from './helpers.js';

function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** A raw BTF blob from type words and a string table (header computed). */
function rawBtf(types: number[], strings = '\0', hdr: Partial<Record<'magic' | 'version' | 'hdrLen' | 'typeOff' | 'typeLen' | 'strOff' | 'strLen', number>> = {}): Uint8Array {
  const str = new TextEncoder().encode(strings);
  const out = new Uint8Array(24 + types.length * 4 + str.length);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, hdr.magic ?? 0xeb9f, true);
  dv.setUint8(2, hdr.version ?? 1);
  dv.setUint32(4, hdr.hdrLen ?? 24, true);
  dv.setUint32(8, hdr.typeOff ?? 0, true);
  dv.setUint32(12, hdr.typeLen ?? types.length * 4, true);
  dv.setUint32(16, hdr.strOff ?? types.length * 4, true);
  dv.setUint32(20, hdr.strLen ?? str.length, true);
  types.forEach((w, i) => dv.setUint32(24 + i * 4, w >>> 0, true));
  out.set(str, 24 + types.length * 4);
  return out;
}
const info = (kind: number, vlen = 0, kflag = 0): number => ((kflag << 31) | (kind << 24) | vlen) >>> 0;
const INT32 = [0, info(1), 4, 32]; // [n] int, anonymous

describe('malformed headers', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /truncated header: 0 bytes/],
    ['short', new Uint8Array(23), /truncated header: 23 bytes/],
    ['big-endian', (() => { const b = rawBtf(INT32); b[0] = 0xeb; b[1] = 0x9f; return b; })(), /big-endian BTF is not supported/],
    ['magic', rawBtf(INT32, '\0', { magic: 0x1234 }), /bad magic 0x1234/],
    ['version', rawBtf(INT32, '\0', { version: 2 }), /unsupported version 2/],
    ['hdr_len small', rawBtf(INT32, '\0', { hdrLen: 8 }), /header length 8 out of range/],
    ['hdr_len huge', rawBtf(INT32, '\0', { hdrLen: 1 << 30 }), /header length .* out of range/],
    ['type_len', rawBtf(INT32, '\0', { typeLen: 1 << 20 }), /type section .* beyond the end/],
    ['type_off', rawBtf(INT32, '\0', { typeOff: 0xfffffff0 }), /type section .* beyond the end/],
    ['str_len', rawBtf(INT32, '\0', { strLen: 1 << 20 }), /string section .* beyond the end/],
    ['str_off+len wrap', rawBtf(INT32, '\0', { strOff: 0xffffffff, strLen: 2 }), /string section .* beyond the end/],
    ['misaligned types', rawBtf([...INT32, 0], '\0', { typeOff: 2, typeLen: 12, strOff: 16 }), /not 4-byte aligned/],
    ['odd type length', rawBtf(INT32, '\0', { typeLen: 14, strOff: 16 }), /not a multiple of 4/],
    ['overlap', rawBtf(INT32, '\0', { strOff: 8, strLen: 4 }), /overlap/],
    ['no leading NUL', rawBtf(INT32, 'a\0'), /must start with an empty string/],
    ['no string table', rawBtf(INT32, ''), /must start with an empty string/],
    ['unterminated strings', rawBtf(INT32, '\0ab'), /not NUL-terminated/],
  ];
  for (const [name, bytes, re] of cases)
    it(name, () => {
      const e = errorOf(() => Btf.parse(bytes));
      expect(e).toBeInstanceOf(BtfError);
      expect((e as Error).message).toMatch(re);
    });
  it('non-Uint8Array input', () => {
    expect(() => Btf.parse('BTF' as unknown as Uint8Array)).toThrow(BtfError);
  });
});

describe('malformed types', () => {
  const cases: [string, Uint8Array, RegExp, number?][] = [
    ['kind 0', rawBtf([0, info(0), 0]), /type \[1\]: unknown kind 0/],
    ['kind 20', rawBtf([...INT32, 0, info(20), 0]), /type \[2\]: unknown kind 20/],
    ['kind 31', rawBtf([0, info(31), 0]), /unknown kind 31/],
    ['reserved bits', rawBtf([0, info(1) | 0x10000, 4, 32]), /reserved info bits/],
    ['huge vlen', rawBtf([0, info(4, 0xffff), 8]), /struct with vlen 65535 runs past the end/],
    ['truncated record', rawBtf([0, info(1), 4]), /runs past the end|truncated/],
    ['half header', rawBtf([...INT32, 0, info(2)]), /type \[2\] is truncated/],
  ];
  for (const [name, bytes, re] of cases)
    it(`${name} (at parse)`, () => {
      const e = errorOf(() => Btf.parse(bytes));
      expect(e).toBeInstanceOf(BtfError);
      expect((e as Error).message).toMatch(re);
      expect((e as BtfError).offset).toBeGreaterThanOrEqual(24);
    });

  const lazy: [string, Uint8Array, number, RegExp][] = [
    ['name offset out of range', rawBtf([99, info(1), 4, 32]), 1, /type \[1\]: name offset 99 is outside the string table/],
    ['reference beyond last type', rawBtf([0, info(2), 5]), 1, /type \[1\]: target refers to type 5, beyond the last type 1/],
    ['member reference', rawBtf([...INT32, 0, info(4, 1), 4, 0, 9, 0]), 2, /member 0 refers to type 9/],
    ['member name', rawBtf([...INT32, 0, info(4, 1), 4, 1000, 1, 0]), 2, /member 0 name offset 1000/],
    ['int width 0', rawBtf([0, info(1), 4, 0]), 1, /bad width 0/],
    ['int width 200', rawBtf([0, info(1), 4, 200]), 1, /bad width 200/],
    ['func linkage 7', rawBtf([...INT32, 0, info(13), 1, 0, info(12, 7), 2]), 3, /unknown linkage 7/],
    ['var linkage 9', rawBtf([...INT32, 0, info(14), 1, 9]), 2, /unknown linkage 9/],
  ];
  for (const [name, bytes, id, re] of lazy)
    it(`${name} (when decoded, and by validate)`, () => {
      const btf = Btf.parse(bytes);
      expect(errorOf(() => btf.type(id))).toBeInstanceOf(BtfError);
      expect(() => btf.type(id)).toThrow(re);
      expect(() => btf.validate()).toThrow(BtfError);
      expect(() => btf.encode()).toThrow(BtfError);
    });

  it('bad ids', () => {
    const btf = Btf.parse(rawBtf(INT32));
    for (const id of [-1, 2, 1.5, NaN, 2 ** 40]) expect(() => btf.type(id)).toThrow(BtfError);
    expect(btf.type(0)).toEqual({ kind: 'void', name: '' });
  });
});

describe('cyclic type graphs', () => {
  // [1] typedef 'a' -> 1 (itself)
  const selfTypedef = Btf.parse(rawBtf([1, info(8), 1], '\0a\0'));
  // [1] int, [2] struct s { t x; } size 4, [3] typedef t -> 4, [4] const -> 3  (modifier loop 3<->4)
  const loop = Btf.parse(rawBtf([...INT32, 1, info(4, 1), 4, 3, 3, 0, 5, info(8), 4, 0, info(10), 3], '\0s\0x\0t\0'));
  // [1] struct s { struct s inner; } (by value), [2] anonymous struct { anon: 2 } (anon member loop)
  const byValue = Btf.parse(rawBtf([1, info(4, 1), 4, 3, 1, 0, 0, info(4, 1), 4, 0, 2, 0], '\0s\0in\0'));
  // [1] array of itself
  const arrayLoop = Btf.parse(rawBtf([0, info(3), 0, 1, 1, 1]));

  it('typedef to itself', () => {
    expect(() => selfTypedef.resolve(1)).toThrow(/modifier chain longer than 64 \(cyclic\?\)/);
    expect(() => selfTypedef.sizeOf(1)).toThrow(/cyclic/);
    expect(() => selfTypedef.alignOf(1)).toThrow(/cyclic/);
  });

  it('struct member loop through typedef and const', () => {
    expect(() => loop.sizeOf(3)).toThrow(BtfError);
    expect(loop.sizeOf(2)).toBe(4); // the struct's own size needs no recursion
    expect(() => loop.alignOf(2)).toThrow(/cyclic/);
    expect(() => loop.findMember(2, 'x.y')).toThrow(BtfError);
  });

  it('struct containing itself, anonymous member loop, array of itself', () => {
    expect(() => byValue.alignOf(1)).toThrow(/cyclic/);
    expect(() => byValue.findMember(2, 'nothing')).toThrow(/nested too deep/);
    expect(() => arrayLoop.sizeOf(1)).toThrow(/cyclic/);
    expect(() => arrayLoop.alignOf(1)).toThrow(/cyclic/);
  });

  it('CO-RE on cyclic types fails with a relocation error, not a hang', () => {
    const r = new CoreRelocator(loop, loop);
    const e = errorOf(() => r.compute({ typeId: 2, accessStr: '0:0:0', kind: 'field_byte_offset' }));
    expect(e).toBeInstanceOf(CoreRelocationError);
    expect((e as Error).message).toMatch(/field_byte_offset of struct s .*access "0:0:0"/);
    expect(() => typesMatch(loop, 2, loop, 2)).toThrow(BtfError);
    expect(() => typesAreCompat(selfTypedef, 1, selfTypedef, 1)).toThrow(BtfError);
    expect(() => new CoreRelocator(byValue, byValue).compute({ typeId: 1, accessStr: '0:0:0:0:0', kind: 'field_byte_offset' })).not.toThrow(RangeError);
  });
});

// ---- fuzz ----

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const EDGE = [0, 1, 2, 3, 4, 8, 0x7f, 0x80, 0xff, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, 24, 12];

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  let b = src.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const what = r();
    if (what < 0.35) {
      b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    } else if (what < 0.7) {
      // A u32 (aligned, so it hits type words and header fields) set to an edge value.
      const at = Math.floor((r() * b.length) / 4) * 4;
      if (at + 4 <= b.length) new DataView(b.buffer).setUint32(at, EDGE[Math.floor(r() * EDGE.length)]!, true);
    } else if (what < 0.85) {
      b = b.slice(0, Math.floor(r() * b.length));
    } else {
      const at = Math.floor(r() * b.length);
      const extra = new Uint8Array(Math.floor(r() * 16)).map(() => Math.floor(r() * 256));
      const c = new Uint8Array(b.length + extra.length);
      c.set(b.subarray(0, at));
      c.set(extra, at);
      c.set(b.subarray(at), at + extra.length);
      b = c;
    }
  }
  return b;
}

/** Everything a user might do with a parsed BTF; returns how many operations ran. */
function workout(btf: Btf, other: Btf): number {
  let ops = 0;
  const tryOp = (f: () => unknown): void => {
    ops++;
    try {
      f();
    } catch (e) {
      if (!(e instanceof BtfError)) throw e;
    }
  };
  for (let id = 0; id <= btf.lastTypeId + 1; id++) {
    let t: BtfType | undefined;
    tryOp(() => (t = btf.type(id)));
    tryOp(() => btf.resolve(id));
    tryOp(() => btf.sizeOf(id));
    tryOp(() => btf.alignOf(id));
    const name = t?.name;
    if (name) tryOp(() => btf.typesByName(name));
    const first = t && (t.kind === 'struct' || t.kind === 'union') ? t.members[0] : undefined;
    if (first) tryOp(() => btf.findMember(id, first.name || 'x'));
    if (id % 7 === 0) {
      tryOp(() => typesMatch(btf, id, other, id));
      tryOp(() => typesAreCompat(other, id, btf, id));
    }
  }
  tryOp(() => btf.typeByName('task_struct'));
  tryOp(() => btf.typesByEssentialName('sk_buff'));
  tryOp(() => btf.validate());
  tryOp(() => btfMapDefinitions(btf));
  tryOp(() => fixupExterns(Btf.parse(btf.encode())));
  tryOp(() => Btf.parse(btf.encode()));
  tryOp(() => sanitizeBtf(btf, { float: false, enum64: false, datasec: false, func: false, typeTag: false, declTag: false }));
  return ops;
}

describe('fuzz', () => {
  // Most cases end in a BtfError; capturing a stack for each would dominate the run time.
  // A non-BtfError is still reported with its name and message (and the case number).
  let limit = Error.stackTraceLimit;
  beforeAll(() => {
    limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
  });
  afterAll(() => {
    Error.stackTraceLimit = limit;
  });
  const sources = [fixture('kinds.btf'), fixture('core.btf'), fixture('maps.btf')];
  const clean = sources.map((s) => Btf.parse(s));

  it('mutated and truncated BTF: only BtfError, every operation', () => {
    const r = rng(0x5eed);
    let cases = 0;
    let parsed = 0;
    let ops = 0;
    for (let i = 0; i < 20000; i++) {
      const src = sources[i % 3]!;
      const bytes = mutate(src, r);
      cases++;
      let btf: Btf;
      try {
        btf = Btf.parse(bytes);
      } catch (e) {
        if (!(e instanceof BtfError)) throw new Error(`case ${i}: ${String(e)}`);
        continue;
      }
      parsed++;
      try {
        ops += workout(btf, clean[i % 3]!);
      } catch (e) {
        throw new Error(`case ${i}: non-BtfError ${String(e)}`);
      }
    }
    expect(cases).toBe(20000);
    expect(parsed).toBeGreaterThan(5000); // many mutations leave a parseable BTF to exercise
    expect(ops).toBeGreaterThan(100000);
  });

  it('random bytes, and random bytes behind a valid header', () => {
    const r = rng(42);
    for (let i = 0; i < 20000; i++) {
      const len = Math.floor(r() * 200);
      const b = new Uint8Array(len).map(() => Math.floor(r() * 256));
      if (i % 2 && len >= 24) {
        const dv = new DataView(b.buffer);
        dv.setUint16(0, 0xeb9f, true);
        dv.setUint8(2, 1);
        dv.setUint32(4, 24, true);
        const tl = Math.floor((r() * (len - 24)) / 4) * 4;
        dv.setUint32(8, 0, true);
        dv.setUint32(12, tl, true);
        dv.setUint32(16, tl, true);
        dv.setUint32(20, len - 24 - tl, true);
        if (len - 24 - tl > 0) {
          b[24 + tl] = 0;
          b[len - 1] = 0;
        }
      }
      try {
        const btf = Btf.parse(b);
        workout(btf, clean[0]!);
      } catch (e) {
        if (!(e instanceof BtfError)) throw new Error(`case ${i}: ${String(e)}`);
      }
    }
  });

  it('mutated .BTF.ext and CO-RE records against mutated BTF: only BtfError', () => {
    const r = rng(7);
    const localBytes = fixture('core.btf');
    const extBytes = fixture('core.btf.ext');
    const kernelish = Btf.parse(fixture('kinds.btf'));
    let relos = 0;
    for (let i = 0; i < 6000; i++) {
      const local = i % 3 === 0 ? (() => { try { return Btf.parse(mutate(localBytes, r)); } catch { return clean[1]!; } })() : clean[1]!;
      const ext = mutate(extBytes, r);
      try {
        const parsed = parseBtfExt(ext, local);
        const relocator = new CoreRelocator(local, i % 2 ? kernelish : local);
        for (const list of parsed.coreRelos.values())
          for (const relo of list) {
            relos++;
            try {
              const res = relocator.compute(relo);
              const insns = new Uint8Array(16).map(() => Math.floor(r() * 256));
              applyCoreRelocation(insns, relo.insnIndex % 3, res);
            } catch (e) {
              if (!(e instanceof BtfError)) throw e;
            }
          }
      } catch (e) {
        if (!(e instanceof BtfError)) throw new Error(`case ${i}: ${String(e)}`);
      }
    }
    expect(relos).toBeGreaterThan(10000);
  });
});
