// Pure helpers: key/value encoders and the possible-CPU list parser.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TsbpfError, UsageError } from '../../src/errors.js';
import { lpmKey, possibleCpus, readI32, readU16, readU32, readU64, readU64Number, sumU64, u16, u32, u64, u8 } from '../../src/maps/index.js';
import { parseCpuList } from '../../src/maps/cpus.js';

describe('encoders', () => {
  it('little-endian integers', () => {
    expect(u8(255)).toEqual(Uint8Array.of(255));
    expect(u16(0x1234)).toEqual(Uint8Array.of(0x34, 0x12));
    expect(u32(0xdeadbeef)).toEqual(Uint8Array.of(0xef, 0xbe, 0xad, 0xde));
    expect(u64(2 ** 53 - 1)).toEqual(Uint8Array.of(255, 255, 255, 255, 255, 255, 31, 0));
    expect(u64(0xffffffffffffffffn)).toEqual(new Uint8Array(8).fill(255));
    expect(readU16(u16(0xbeef))).toBe(0xbeef);
    expect(readU32(u32(4000000000))).toBe(4000000000);
    expect(readI32(u32(0xffffffff))).toBe(-1);
    expect(readU64(u64(123n))).toBe(123n);
    expect(readU64Number(u64(2 ** 40))).toBe(2 ** 40);
    expect(readU32(Uint8Array.of(9, 1, 0, 0, 0), 1)).toBe(1);
  });

  it('out-of-range input is a UsageError, never a RangeError', () => {
    expect(() => u8(256)).toThrow(UsageError);
    expect(() => u32(-1)).toThrow('u32: -1 is not an unsigned 32-bit integer');
    expect(() => u32(1.5)).toThrow(UsageError);
    expect(() => u64(2 ** 53)).toThrow(/pass a bigint/);
    expect(() => u64(1n << 64n)).toThrow(UsageError);
    expect(() => readU32(new Uint8Array(3))).toThrow('readU32: offset 0 + 4 is outside a 3-byte buffer');
    expect(() => readU64Number(new Uint8Array(8).fill(255))).toThrow(/use readU64/);
  });

  it('LPM keys: u32 prefix length then the data, padded', () => {
    expect(lpmKey(24, [192, 168, 1])).toEqual(Uint8Array.of(24, 0, 0, 0, 192, 168, 1));
    expect(lpmKey(8, [10], 4)).toEqual(Uint8Array.of(8, 0, 0, 0, 10, 0, 0, 0));
    expect(() => lpmKey(33, [1, 2, 3, 4])).toThrow(/longer than 4 data bytes/);
    expect(() => lpmKey(8, [300])).toThrow(UsageError);
  });

  it('sumU64 adds per-CPU counters', () => {
    expect(sumU64([u64(1), u64(2), u64(2n ** 40n)])).toBe(3n + 2n ** 40n);
    expect(sumU64([Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0)], 8)).toBe(5n);
  });
});

describe('possible CPUs', () => {
  it('parses kernel CPU lists', () => {
    expect(parseCpuList('0\n')).toBe(1);
    expect(parseCpuList('0-3')).toBe(4);
    expect(parseCpuList('0-3,8-11\n')).toBe(8);
    expect(parseCpuList('0,2,4-5')).toBe(4);
    expect(() => parseCpuList('')).toThrow(TsbpfError);
    expect(() => parseCpuList('3-1')).toThrow(TsbpfError);
    expect(() => parseCpuList('a-b')).toThrow(/cannot parse CPU list "a-b"/);
  });

  it('matches this machine', () => {
    expect(possibleCpus()).toBe(parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8')));
    expect(possibleCpus()).toBeGreaterThan(0);
  });
});
