// Element operations: flags, sizes checked before the syscall, lookupInto, lookupAndDelete,
// freeze, mmap, closed maps and the errors users see.
import { describe, expect, it } from 'vitest';
import { BpfError, UsageError } from '../../src/errors.js';
import { BpfMap, possibleCpus, readU32, readU64, u16, u32, u64 } from '../../src/maps/index.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';
import { thrown as catchError } from '../helpers/thrown.js';

guardFdLeaks();


describe('create: checked before the syscall', () => {
  it('unknown type lists the known ones', () => {
    const e = catchError(() => BpfMap.create({ type: 'hashmap' as 'hash', keySize: 4, valueSize: 4, maxEntries: 1 }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/unknown map type "hashmap"; expected one of: hash, array, prog_array/);
  });

  it('types are the uapi names, in any case, with or without the prefix', () => {
    using a = BpfMap.create({ type: 'BPF_MAP_TYPE_ARRAY' as 'array', valueSize: 4, maxEntries: 1 });
    expect(a.type).toBe('array');
  });

  it('array keys must be 4 bytes', () => {
    expect(() => BpfMap.create({ type: 'array', keySize: 8, valueSize: 4, maxEntries: 1 })).toThrow(
      'array map: keySize must be 4 (its keys are u32 indices), got 8',
    );
    expect(() => BpfMap.create({ type: 'queue', keySize: 4, valueSize: 4, maxEntries: 1 })).toThrow(
      'queue map: keySize must be 0 (it has no keys), got 4',
    );
    expect(() => BpfMap.create({ type: 'hash', keySize: 0, valueSize: 4, maxEntries: 1 })).toThrow(/keySize must be a size > 0, got 0/);
    expect(() => BpfMap.create({ type: 'hash', valueSize: 4, maxEntries: 1 })).toThrow('hash map: keySize is required');
    expect(() => BpfMap.create({ type: 'devmap', valueSize: 6, maxEntries: 1 })).toThrow('devmap map: valueSize must be 4 or 8, got 6');
    expect(() => BpfMap.create({ type: 'lpm_trie', keySize: 4, valueSize: 4, maxEntries: 1, flags: 'no_prealloc' })).toThrow(/4 \(the u32 prefix length\) \+ 1\.\.256/);
    expect(() => BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 1 })).toThrow(/needs flags 'no_prealloc'/);
  });

  it('map-in-map needs an inner map; other maps refuse one', () => {
    expect(() => BpfMap.create({ type: 'array_of_maps', maxEntries: 1 })).toThrow(/array_of_maps map: needs innerMap/);
    using inner = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    expect(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1, innerMap: inner })).toThrow(/innerMap is only for/);
  });

  it('flags by name or number; unknown names are refused', () => {
    using a = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, flags: ['no_prealloc', 'rdonly_prog'] });
    expect(a.info().flags).toBe(1 | 128);
    using b = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, flags: 1 });
    expect(b.flags).toBe(1);
    expect(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, flags: ['noprealloc' as 'no_prealloc'] })).toThrow(
      /unknown map flag "noprealloc"; expected one of: no_prealloc/,
    );
  });

  it('names: at most 15 characters of [A-Za-z0-9_.]', () => {
    expect(() => BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1, name: 'a-b' })).toThrow(UsageError);
    expect(() => BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1, name: 'x'.repeat(16) })).toThrow(UsageError);
    using m = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1, name: 'x'.repeat(15) });
    expect(m.info().name).toBe('x'.repeat(15));
  });

  it('maxEntries is required and non-zero', () => {
    expect(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4 })).toThrow('hash map: maxEntries is required');
    expect(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 0 })).toThrow(/maxEntries must be > 0/);
  });

  it('a kernel refusal names the parameters', () => {
    // Only arrays (and arenas) can be mmapable.
    const e = catchError(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1, flags: 'mmapable' })) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e.command).toBe('BPF_MAP_CREATE');
    expect(e.code).toBe('EINVAL');
    expect(e.message).toBe(
      'BPF_MAP_CREATE (create hash map: keySize 4, valueSize 8, maxEntries 1, flags mmapable) failed: EINVAL — the kernel refused this combination of type, sizes and flags',
    );
  });

  it('bloom filter hash count is checked', () => {
    expect(() => BpfMap.create({ type: 'bloom_filter', valueSize: 4, maxEntries: 8, mapExtra: 16 })).toThrow(/0\.\.15/);
  });

  it('numaNode sets BPF_F_NUMA_NODE', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, numaNode: 0 });
    expect(m.info().flags & 4).toBe(4);
  });
});

describe('element operations', () => {
  it('wrong key and value sizes are UsageErrors naming expected and got', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8, name: 'sizes' });
    expect(() => m.update(u16(1), u64(1))).toThrow("hash map 'sizes': key must be a Uint8Array of 4 bytes, got 2 bytes");
    expect(() => m.update(u32(1), u32(1))).toThrow("hash map 'sizes': value must be a Uint8Array of 8 bytes, got 4 bytes");
    expect(() => m.lookup(null)).toThrow(/got null/);
    expect(() => m.update(u32(1), [u64(1)])).toThrow(/is not per-CPU/);
    expect(() => m.lookupInto(u32(1), new Uint8Array(4))).toThrow(/lookupInto needs an output of 8 bytes, got 4/);
    expect(() => m.update(u32(1), 1, 'sometimes' as 'any')).toThrow(/unknown element flag "sometimes"/);
    expect([...m.keys()]).toEqual([]);
  });

  it('update flags: noexist, exist, any', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 });
    const e1 = catchError(() => m.update(u32(1), u64(1), 'exist')) as BpfError;
    expect(e1.code).toBe('ENOENT');
    expect(e1.message).toMatch(/update on hash map with flags exist\) failed: ENOENT — the key does not exist and flags say 'exist'/);
    m.update(u32(1), u64(1), 'noexist');
    const e2 = catchError(() => m.update(u32(1), u64(2), 'noexist')) as BpfError;
    expect(e2.code).toBe('EEXIST');
    m.update(u32(1), u64(3), 'exist');
    m.update(u32(1), 4n === 4n ? u64(4) : u64(0));
    expect(readU64(m.lookup(u32(1))!)).toBe(4n);
  });

  it("'lock' needs a spin lock in the value", () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 });
    const e = catchError(() => m.update(u32(1), u64(1), 'lock')) as BpfError;
    expect(e.code).toBe('EINVAL');
    expect(e.message).toMatch(/bpf_spin_lock/);
  });

  it('a full hash map says so', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 });
    m.update(u32(1), 1);
    m.update(u32(2), 2);
    const e = catchError(() => m.update(u32(3), 3)) as BpfError;
    expect(e.code).toBe('E2BIG');
    expect(e.message).toMatch(/the map is full \(maxEntries 2\)/);
  });

  it('number values are little-endian integers of valueSize', () => {
    using m4 = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    m4.update(u32(0), 0xdeadbeef);
    expect(readU32(m4.lookup(u32(0))!)).toBe(0xdeadbeef);
    expect(() => m4.update(u32(0), 2 ** 32)).toThrow(/does not fit an unsigned 32-bit value/);
    using m8 = BpfMap.create({ type: 'array', valueSize: 8, maxEntries: 1 });
    m8.update(u32(0), 2 ** 40 + 5);
    expect(readU64(m8.lookup(u32(0))!)).toBe(2n ** 40n + 5n);
    using m3 = BpfMap.create({ type: 'array', valueSize: 3, maxEntries: 1 });
    expect(() => m3.update(u32(0), 1)).toThrow(/needs valueSize 4 or 8/);
  });

  it('lookup returns a copy the caller owns; lookupInto fills a buffer', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 });
    m.update(u32(1), u64(11));
    m.update(u32(2), u64(22));
    const a = m.lookup(u32(1))!;
    const b = m.lookup(u32(2))!;
    expect(readU64(a)).toBe(11n);
    expect(readU64(b)).toBe(22n);
    expect(a.buffer).not.toBe(b.buffer);
    const out = new Uint8Array(8);
    expect(m.lookupInto(u32(2), out)).toBe(true);
    expect(readU64(out)).toBe(22n);
    expect(m.lookupInto(u32(3), out)).toBe(false);
    expect(readU64(out)).toBe(22n);
  });

  it('per-CPU lookupInto uses the kernel layout (slots of valueSize rounded up to 8)', () => {
    using m = BpfMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 8 });
    const n = possibleCpus();
    m.update(u32(1), Array.from({ length: n }, (_, i) => u32(i + 100)));
    const out = new Uint8Array(m.valueBytes);
    expect(out.length).toBe(8 * n);
    expect(m.lookupInto(u32(1), out)).toBe(true);
    for (let i = 0; i < n; i++) expect(readU32(out, i * 8)).toBe(i + 100);
    // The raw layout is accepted by update too.
    out.fill(0);
    for (let i = 0; i < n; i++) out[i * 8] = 7;
    m.update(u32(2), out);
    expect(m.lookup(u32(2))).toEqual(Array.from({ length: n }, () => Uint8Array.of(7, 0, 0, 0)));
  });

  it('a number for a per-CPU map is written to every CPU', () => {
    using m = BpfMap.create({ type: 'percpu_array', valueSize: 4, maxEntries: 2 });
    const n = possibleCpus();
    // Leave different bytes in every slot of the scratch buffer first.
    m.update(u32(0), Array.from({ length: n }, (_, i) => u32(0xaa00 + i)));
    m.update(u32(1), 0x1234);
    expect(m.lookup(u32(1))).toEqual(Array.from({ length: n }, () => u32(0x1234)));
  });

  it('lookupAndDelete removes and returns', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 });
    m.update(u32(5), u64(55));
    expect(readU64(m.lookupAndDelete(u32(5))!)).toBe(55n);
    expect(m.lookupAndDelete(u32(5))).toBeUndefined();
    expect(m.lookup(u32(5))).toBeUndefined();
    using a = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    const e = catchError(() => a.lookupAndDelete(u32(0))) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(['ENOTSUPP', 'EINVAL']).toContain(e.code);
  });

  it('freeze: user space can no longer write (EPERM), but can read', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 2 });
    m.update(u32(0), 42);
    m.freeze();
    const e = catchError(() => m.update(u32(1), 1)) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('EPERM');
    expect(e.message).toMatch(/the map is frozen/);
    expect(readU32(m.lookup(u32(0))!)).toBe(42);
    // A frozen map has lost its user-space write permission, so a second freeze is EPERM (EBUSY before 6.x).
    const again = catchError(() => m.freeze()) as BpfError;
    expect(['EPERM', 'EBUSY']).toContain(again.code); // 6.1 answers a second freeze with EBUSY
    expect(again.message).toMatch(/already frozen/);
  });

  it('a closed map refuses every call; close is idempotent', () => {
    const m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 2 });
    m.close();
    m.close();
    expect(m.closed).toBe(true);
    expect(() => m.lookup(u32(1))).toThrow('this hash map is closed');
    expect(() => m.update(u32(1), 1)).toThrow(UsageError);
    expect(() => m.delete(u32(1))).toThrow(UsageError);
    expect(() => m.fd).toThrow(UsageError);
    expect(() => [...m.keys()]).toThrow(UsageError);
    expect(() => m.info()).toThrow(UsageError);
  });
});

describe('mmap', () => {
  it('an mmapable array is shared memory with the map', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 8, maxEntries: 4, flags: 'mmapable' });
    const view = m.mmap();
    expect(view.length).toBe(4096);
    m.update(u32(2), u64(0x0102030405060708n));
    expect(readU64(view, 16)).toBe(0x0102030405060708n);
    view[24] = 99;
    expect(m.lookup(u32(3))).toEqual(Uint8Array.of(99, 0, 0, 0, 0, 0, 0, 0));
    expect(m.mmap()).toBe(view);
  });

  it('a frozen map is not mapped (no read-only view is handed out); a non-mmapable map is refused', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 4, flags: 'mmapable' });
    m.update(u32(1), 7);
    m.freeze();
    const e = catchError(() => m.mmap()) as BpfError;
    expect(e.code).toBe('EPERM');
    expect(e.message).toMatch(/frozen or read-only for user space: read it with lookup\(\)/);
    expect(readU32(m.lookup(u32(1)) as Uint8Array)).toBe(7);
    using plain = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 4 });
    expect(() => plain.mmap()).toThrow(/flags 'mmapable'/);
  });
});
