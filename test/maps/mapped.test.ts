// Typed access to mmapable arrays (BpfMap.mappedArray): the bytes lookup/update see, what a
// BPF program writes visible with no syscall, members of struct values, errors, and the view
// after close().
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { BpfMap, readU32, readU64, u32, u64 } from '../../src/maps/index.js';
import { BpfProgram } from '../../src/programs/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { thrown } from '../helpers/thrown.js';
import { COUNT, MAP_SLOTS, XDP_PASS, counterInsns } from '../link/progs.js';

describe.runIf(isRoot)('mappedArray', () => {
  guardFdLeaks();
  const mmapable = (valueSize: number, maxEntries: number) => BpfMap.create({ type: 'array', valueSize, maxEntries, flags: ['mmapable'] });

  it('reads and writes the same values lookup and update see', () => {
    using m = mmapable(8, 100);
    const a = m.mappedArray('u64');
    expect(a.length).toBe(100);
    a.set(5, 42n);
    expect(readU64(m.lookup(u32(5))!)).toBe(42n);
    m.update(u32(7), u64(9));
    expect(a.get(7)).toBe(9n);
    expect(a.get(99)).toBe(0n);
    const signed = m.mappedArray('i64');
    signed.set(1, -2n);
    expect(readU64(m.lookup(u32(1))!)).toBe(2n ** 64n - 2n);
  });

  it("sees a BPF program's writes with no syscall", () => {
    using m = mmapable(8, MAP_SLOTS);
    using prog = BpfProgram.load({ type: 'xdp', license: 'GPL', instructions: counterInsns(m.fd, 2, XDP_PASS) });
    const a = m.mappedArray('u64');
    for (let i = 1; i <= 3; i++) {
      expect(prog.testRun({ data: new Uint8Array(64) }).retval).toBe(XDP_PASS);
      expect(a.get(COUNT + 2)).toBe(BigInt(i));
    }
    expect(a.get(COUNT + 1)).toBe(0n);
  });

  it('elements are 8-byte aligned; members of struct values by offset', () => {
    using small = mmapable(4, 10);
    const s = small.mappedArray('u32');
    expect(s.stride).toBe(2); // a 4-byte value takes 8 bytes
    s.set(3, 0xdeadbeef);
    expect(readU32(small.lookup(u32(3))!)).toBe(0xdeadbeef);
    expect(readU32(small.lookup(u32(2))!)).toBe(0);

    using big = mmapable(12, 10); // struct { u32 a; u32 b; u32 c; }, 16 bytes apart
    const c = big.mappedArray('u32', { offset: 8 });
    c.set(4, 77);
    const v = big.lookup(u32(4))!;
    expect([readU32(v, 0), readU32(v, 4), readU32(v, 8)]).toEqual([0, 0, 77]);
    expect(big.mappedArray('u16', { offset: 10 }).get(4)).toBe(0);
  });

  it('bad use is a UsageError', () => {
    using plain = BpfMap.create({ type: 'array', valueSize: 8, maxEntries: 4 });
    expect(thrown(() => plain.mappedArray('u64'))).toBeInstanceOf(UsageError);
    using m = mmapable(8, 4);
    expect(thrown(() => m.mappedArray('u128' as 'u64')).message).toMatch(/unknown element kind "u128"/);
    expect(thrown(() => m.mappedArray('u32', { offset: 2 })).message).toMatch(/offset 2 does not fit/);
    expect(thrown(() => m.mappedArray('u64', { offset: 8 }))).toBeInstanceOf(UsageError);
    const a = m.mappedArray('u64');
    for (const i of [-1, 4, 1.5, Number.NaN]) expect(thrown(() => a.get(i))).toBeInstanceOf(UsageError);
    expect(thrown(() => a.set(0, 1 as unknown as bigint)).message).toMatch(/a u64 value is a bigint, got number/);
    expect(thrown(() => m.mappedArray('u32').set(0, 1n as unknown as number))).toBeInstanceOf(UsageError);
  });

  it('stays valid after close(): the map methods throw, the accessor keeps its memory', () => {
    const m = mmapable(8, 16);
    const a = m.mappedArray('u64');
    a.set(3, 5n);
    m.close();
    expect(() => m.lookup(u32(3))).toThrow(/closed/);
    expect(() => m.mappedArray('u64')).toThrow(/closed/);
    expect(a.get(3)).toBe(5n);
    a.set(3, 6n);
    expect(a.get(3)).toBe(6n);
  });
});
