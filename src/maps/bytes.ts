// Small encoders for keys and values. Everything is little-endian (x86_64, the only
// architecture tsbpf runs on), which is what BPF programs see for host-order integers.
import { UsageError } from '../errors.js';

function checkInt(n: number, bits: number, what: string): void {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** bits)
    throw new UsageError(`${what}: ${n} is not an unsigned ${bits}-bit integer`);
}

export function u8(n: number): Uint8Array {
  checkInt(n, 8, 'u8');
  return Uint8Array.of(n);
}

export function u16(n: number): Uint8Array {
  checkInt(n, 16, 'u16');
  return Uint8Array.of(n & 0xff, n >>> 8);
}

export function u32(n: number): Uint8Array {
  checkInt(n, 32, 'u32');
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/** Accepts a number up to 2^53 or any bigint in [0, 2^64). */
export function u64(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  if (typeof n === 'bigint') {
    if (n < 0n || n >= 1n << 64n) throw new UsageError(`u64: ${n} is not an unsigned 64-bit integer`);
    v.setBigUint64(0, n, true);
  } else {
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`u64: ${n} is not a non-negative safe integer (pass a bigint)`);
    v.setUint32(0, n >>> 0, true);
    v.setUint32(4, Math.floor(n / 2 ** 32), true);
  }
  return b;
}

function view(buf: Uint8Array, offset: number, size: number, what: string): DataView {
  if (!Number.isInteger(offset) || offset < 0 || offset + size > buf.length)
    throw new UsageError(`${what}: offset ${offset} + ${size} is outside a ${buf.length}-byte buffer`);
  return new DataView(buf.buffer, buf.byteOffset + offset, size);
}

export function readU16(buf: Uint8Array, offset = 0): number {
  return view(buf, offset, 2, 'readU16').getUint16(0, true);
}

export function readU32(buf: Uint8Array, offset = 0): number {
  return view(buf, offset, 4, 'readU32').getUint32(0, true);
}

export function readI32(buf: Uint8Array, offset = 0): number {
  return view(buf, offset, 4, 'readI32').getInt32(0, true);
}

/** Exact, as a bigint. */
export function readU64(buf: Uint8Array, offset = 0): bigint {
  return view(buf, offset, 8, 'readU64').getBigUint64(0, true);
}

/** As a number; throws if the value does not fit in 2^53 exactly. */
export function readU64Number(buf: Uint8Array, offset = 0): number {
  const v = view(buf, offset, 8, 'readU64Number');
  const n = v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32;
  if (!Number.isSafeInteger(n)) throw new UsageError(`readU64Number: value exceeds 2^53; use readU64`);
  return n;
}

/**
 * An LPM trie key: `struct bpf_lpm_trie_key_u8 { __u32 prefixlen; __u8 data[]; }`.
 * `data` is in network order (an IPv4 address as its four bytes), `dataSize` pads it.
 */
export function lpmKey(prefixLen: number, data: ArrayLike<number>, dataSize = data.length): Uint8Array {
  checkInt(prefixLen, 32, 'lpmKey prefixLen');
  if (prefixLen > dataSize * 8) throw new UsageError(`lpmKey: prefix /${prefixLen} is longer than ${dataSize} data bytes`);
  if (data.length > dataSize) throw new UsageError(`lpmKey: ${data.length} data bytes do not fit in ${dataSize}`);
  const b = new Uint8Array(4 + dataSize);
  new DataView(b.buffer).setUint32(0, prefixLen, true);
  for (let i = 0; i < data.length; i++) {
    checkInt(data[i]!, 8, 'lpmKey data byte');
    b[4 + i] = data[i]!;
  }
  return b;
}

/** Sums a u64 counter at `offset` across per-CPU values (the usual way to read a per-CPU counter). */
export function sumU64(values: readonly Uint8Array[], offset = 0): bigint {
  let s = 0n;
  for (const v of values) s += readU64(v, offset);
  return s;
}
