// Values through BTF (src/btf/codec.ts), without a kernel: every member of a struct lands at the
// offset BTF gives it (read with DataView, not with the codec), decodes back to what was
// written, and a value that does not fit its C type is a BtfValueError naming where and why.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfObject, BtfValueError, UsageError, valueCodec, type Btf } from '../../src/index.js';
import { thrown } from '../helpers/thrown.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const obj = BpfObject.open(`${FIX}skeleton_types.o`);
const btf: Btf = obj.btf!;
const sampleId = btf.requireType('sample', 'struct');
const sample = valueCodec<Record<string, any>>(btf, sampleId);
/** Bit offset of a member (bitfields included), and byte offset of a whole member, from BTF. */
const bits = (path: string) => btf.findMember(sampleId, path)!.bitOffset;
const at = (path: string) => btf.memberOffset(sampleId, path);

const full = {
  comm: 'nodé',
  mac: new Uint8Array([1, 2, 3, 4, 5, 6]),
  delta: -3,
  verdict: 'V_DROP',
  key: { saddr: 0xc0a80001, dport: 443, proto: 6, pad: 0 },
  range: { lo: 7, hi: 0xffffffff },
  addr: { v4: 0x7f000001 },
  as_s32: -2,
  flag_a: 1,
  flag_b: 5,
  level: 9,
  on: true,
  total: -(2n ** 62n),
  hist: [1n, 2n ** 64n - 1n, 3n, 0n],
  offsets: [-1, 2 ** 31 - 1],
};

describe('codec: struct sample of test/fixtures/skeleton_types.c', () => {
  const bytes = sample.toBytes(full);
  const dv = new DataView(bytes.buffer);

  it('writes every member where BTF places it, in its C width and byte order', () => {
    expect(bytes.length).toBe(btf.sizeOf(sampleId));
    expect(Buffer.from(bytes.subarray(at('comm'), at('comm') + 16)).toString('utf8')).toBe('nodé' + '\0'.repeat(11));
    expect([...bytes.subarray(at('mac'), at('mac') + 6)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(dv.getInt16(at('delta'), true)).toBe(-3);
    const verdictValue = (btf.resolved(btf.requireType('verdict', 'enum')) as { values: { name: string; value: number }[] }).values.find((v) => v.name === 'V_DROP')!.value;
    expect(dv.getUint32(at('verdict'), true)).toBe(verdictValue);
    expect(dv.getUint32(at('key.saddr'), true)).toBe(0xc0a80001);
    expect(dv.getUint16(at('key.dport'), true)).toBe(443);
    expect(bytes[at('key.proto')]).toBe(6);
    expect(dv.getUint32(at('range.hi'), true)).toBe(0xffffffff);
    expect(dv.getUint32(at('addr.v4'), true)).toBe(0x7f000001);
    expect(dv.getInt32(at('as_s32'), true)).toBe(-2);
    expect(bytes[at('on')]).toBe(1);
    expect(dv.getBigInt64(at('total'), true)).toBe(-(2n ** 62n));
    expect([0, 1, 2, 3].map((i) => dv.getBigUint64(at('hist') + i * 8, true))).toEqual(full.hist);
    expect([dv.getInt32(at('offsets'), true), dv.getInt32(at('offsets') + 4, true)]).toEqual(full.offsets);
  });

  it('packs bitfields at their bit offsets, leaving the neighbours alone', () => {
    for (const [name, width, v] of [['flag_a', 1, 1], ['flag_b', 3, 5], ['level', 4, 9]] as const) {
      const { member } = btf.findMember(sampleId, name)!;
      expect(member.bitfieldSize).toBe(width);
      const off = bits(name);
      const word = dv.getUint32(Math.floor(off / 32) * 4, true);
      expect((word >>> (off % 32)) & ((1 << width) - 1)).toBe(v);
    }
  });

  it('reads and writes an enum bitfield of a signed enum, and refuses what its bits cannot hold', () => {
    const off = bits('sign');
    const field = (b: Uint8Array) => (new DataView(b.buffer).getUint32(Math.floor(off / 32) * 4, true) >>> (off % 32)) & 3;
    expect(field(sample.toBytes({ sign: 'S_NEG' }))).toBe(3);
    expect(field(sample.toBytes({ sign: 'S_POS' }))).toBe(1);
    expect(sample.decode(sample.toBytes({ sign: 'S_NEG', level: 15 }))).toMatchObject({ sign: 'S_NEG', level: 15 });
    expect(sample.decode(sample.toBytes({ sign: -2 })).sign).toBe(-2);
    const e = thrown<BtfValueError>(() => sample.toBytes({ sign: 2 }));
    expect(e).toBeInstanceOf(BtfValueError);
    expect(e.message).toBe('value.sign (enum sign:2): 2 does not fit 2 bits');
  });

  it('decodes to one JavaScript type per C type, and back to what was written', () => {
    const back = sample.decode(bytes);
    expect(back).toEqual({
      ...full,
      sign: 'S_ZERO',
      addr: { v4: 0x7f000001, v6: new Uint8Array([1, 0, 0, 0x7f, ...new Array(12).fill(0)]) },
      // The anonymous union's members read the same 8 bytes.
      as_u64: BigInt.asUintN(64, -2n) & 0xffffffffn,
    });
    expect(typeof back.total).toBe('bigint');
    expect(typeof back.delta).toBe('number');
    expect(back.mac).toBeInstanceOf(Uint8Array);
    // Members left out are zero, as in a C designated initializer.
    expect(sample.decode(sample.toBytes({ level: 3 }))).toMatchObject({ comm: '', level: 3, flag_b: 0, sign: 'S_ZERO', total: 0n, verdict: 0, hist: [0n, 0n, 0n, 0n] });
  });

  it('reads a char array up to its first NUL, as UTF-8', () => {
    const raw = new Uint8Array(btf.sizeOf(sampleId));
    raw.set([0x68, 0x69, 0, 0x7a, 0x7a], at('comm'));
    expect(sample.decode(raw).comm).toBe('hi');
  });

  it('refuses values that do not fit, naming the member path and the C type', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ delta: 40000 }, 'value.delta', /40000 is out of range \(-32768\.\.32767\)/],
      [{ key: { dport: -1 } }, 'value.key.dport', /-1 is out of range \(0\.\.65535\)/],
      [{ key: { saddr: 1.5 } }, 'value.key.saddr', /1\.5 is not a safe integer/],
      [{ total: 2 ** 60 }, 'value.total', /is not a safe integer \(use a bigint\)/],
      [{ hist: [2n ** 64n] }, 'value.hist[0]', /out of range/],
      [{ hist: [1n, 2n, 3n, 4n, 5n] }, 'value.hist', /5 elements; it holds 4/],
      [{ comm: 'x'.repeat(17) }, 'value.comm', /17 bytes in UTF-8; it holds 16/],
      [{ comm: 5 }, 'value.comm', /expected a string, got number 5/],
      [{ mac: new Uint8Array(7) }, 'value.mac', /longer than 6 bytes/],
      [{ verdict: 'V_MAYBE' }, 'value.verdict', /"V_MAYBE" is not one of its enumerators \(V_DROP, V_PASS\)/],
      [{ addr: { v4: 1, v6: [1] } }, 'value.addr', /a union holds one member at a time; got v4, v6/],
      [{ as_u64: 1, as_s32: 1 }, 'value', /a union holds one member at a time/],
      [{ level: 16 }, 'value.level', /16 is out of range \(0\.\.15\)/],
      [{ on: 'yes' }, 'value.on', /expected a boolean/],
      [{ range: [1, 2] }, 'value.range', /expected an object, got an array of 2/],
      [{ bogus: 1 }, 'value', /has no member 'bogus'; members: comm, mac/],
    ];
    for (const [value, path, message] of cases) {
      const e = thrown(() => sample.toBytes(value as never));
      expect(e, JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).toBeInstanceOf(BtfValueError);
      expect(e).toBeInstanceOf(UsageError);
      expect((e as BtfValueError).path).toBe(path);
      expect((e as Error).message).toMatch(message);
      expect((e as Error).message.startsWith(`${path} (`)).toBe(true);
    }
  });

  it('names the C type in errors and in its shape, and sizes come from BTF', () => {
    const key = valueCodec(btf, btf.requireType('flow_key', 'struct'));
    expect(key.ctype).toBe('struct flow_key');
    expect(key.size).toBe(btf.sizeOf(btf.requireType('flow_key', 'struct')));
    expect(key.shape).toMatchObject({ kind: 'object', name: 'flow_key', union: false });
    // A typedef'd anonymous struct takes the typedef's name (the skeleton's interface name).
    expect(valueCodec(btf, btf.requireType('backend_t', 'typedef')).shape).toMatchObject({ kind: 'object', name: 'backend_t' });
    expect(() => key.decode(new Uint8Array(2))).toThrow(UsageError);
  });
});
