// Walking maps: get_next_key iteration under concurrent deletes, and the batch commands.
import { describe, expect, it } from 'vitest';
import { BpfError, UsageError } from '../../src/errors.js';
import { BatchCursor, BpfMap, MapIterationError, possibleCpus, readU32, readU64, u32, u64 } from '../../src/maps/index.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';

guardFdLeaks();

function fill(m: BpfMap, n: number, value = (i: number) => u64(i * 3)): void {
  for (let i = 0; i < n; i++) m.update(u32(i), value(i));
}

const ids = (keys: Iterable<Uint8Array>): number[] => [...keys].map((k) => readU32(k));

describe('keys() and entries()', () => {
  it('array keys are every index in order', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 5 });
    expect(ids(m.keys())).toEqual([0, 1, 2, 3, 4]);
    expect([...m.entries()].map(([k, v]) => [readU32(k), readU32(v)])).toEqual([0, 1, 2, 3, 4].map((i) => [i, 0]));
  });

  it('hash keys: each exactly once; entries carry the values; the map is iterable', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 256 });
    fill(m, 200);
    expect(ids(m.keys()).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    const entries = [...m].map(([k, v]) => [readU32(k), readU64(v)] as const);
    expect(entries).toHaveLength(200);
    for (const [k, v] of entries) expect(v).toBe(BigInt(k * 3));
  });

  it('the loop body may delete the key it is given', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 256 });
    fill(m, 200);
    const seen: number[] = [];
    for (const k of m.keys({ dedupe: false })) {
      seen.push(readU32(k));
      expect(m.delete(k)).toBe(true);
    }
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect([...m.keys()]).toEqual([]);
  });

  it('a vanished cursor key makes the kernel restart; dedupe hides the repeats', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 256 });
    fill(m, 100);
    const order = ids(m.keys());
    // At position 10 the iterator already holds order[11] as its cursor: deleting it (as a
    // program might) sends the next get_next_key back to the first key.
    const walk = (dedupe: boolean): number[] => {
      const out: number[] = [];
      for (const k of m.keys({ dedupe })) {
        out.push(readU32(k));
        if (out.length === 11) m.delete(u32(order[11]!));
      }
      m.update(u32(order[11]!), u64(0));
      return out;
    };
    const raw = walk(false);
    expect(raw.length).toBeGreaterThan(99);
    expect(new Set(raw).size).toBeLessThan(raw.length); // the restart repeated keys
    // order[11] had been fetched before it was deleted, so it is still yielded; then the
    // walk starts over.
    expect(raw.slice(0, 12)).toEqual(order.slice(0, 12));
    expect(raw.slice(12, 23)).toEqual(order.slice(0, 11));

    const deduped = walk(true);
    expect(new Set(deduped).size).toBe(deduped.length);
    expect(deduped.sort((a, b) => a - b)).toEqual([...order].sort((a, b) => a - b));

    // entries() reads each value, so the deleted key is not reported. (Re-inserting moved
    // order[11] within its bucket: take the order again.)
    const order2 = ids(m.keys());
    const got: number[] = [];
    for (const [k] of m.entries()) {
      got.push(readU32(k));
      if (got.length === 11) m.delete(u32(order2[11]!));
    }
    expect(new Set(got).size).toBe(got.length);
    expect(got.sort((a, b) => a - b)).toEqual(order2.filter((k) => k !== order2[11]).sort((a, b) => a - b));
  });

  it('nextKey exposes the kernel order', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 });
    fill(m, 3);
    const order = ids(m.keys());
    expect(readU32(m.nextKey(null)!)).toBe(order[0]);
    expect(readU32(m.nextKey(u32(order[0]!))!)).toBe(order[1]);
    expect(m.nextKey(u32(order[2]!))).toBeUndefined();
    // A key that is not there: hash maps restart from the first key.
    expect(readU32(m.nextKey(u32(999))!)).toBe(order[0]);
  });

  it('a map that keeps changing stops with MapIterationError instead of looping forever', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64 });
    fill(m, 10);
    let fresh = 1000;
    const walk = (): number => {
      let n = 0;
      for (const k of m.keys({ maxSteps: 500 })) {
        n++;
        // Delete the iterator's cursor and add a new key: every step restarts the walk and
        // there is always a key not seen yet.
        const next = m.nextKey(k);
        if (next) m.delete(next);
        m.update(u32(fresh++), u64(0));
      }
      return n;
    };
    expect(walk).toThrow(MapIterationError);
    expect(walk).toThrow(/gave up after 500 steps/);
  });

  it('entries skip keys deleted between the key walk and the value read', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 });
    fill(m, 10);
    const order = ids(m.keys());
    const got: number[] = [];
    for (const [k] of m.entries()) {
      got.push(readU32(k));
      // Delete a key later in the order that is not the iterator's cursor.
      if (got.length === 2) m.delete(u32(order[5]!));
    }
    expect(got).not.toContain(order[5]);
    expect(got).toHaveLength(9);
  });
});

describe('entries(): duplicates kept out only when the kernel restarts', () => {
  it('a restart late in a large walk (past the first packed record) repeats no key and loses none', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4096 });
    fill(m, 3000);
    const order = ids(m.keys());
    const victim = order[2500]!;
    const got: number[] = [];
    for (const [k, v] of m.entries()) {
      got.push(readU32(k));
      expect(readU64(v)).toBe(BigInt(readU32(k) * 3));
      // The iterator holds order[2500] as its cursor here: deleting it restarts the walk.
      if (got.length === 2500) m.delete(u32(victim));
    }
    expect(new Set(got).size).toBe(got.length);
    expect(got.sort((a, b) => a - b)).toEqual(order.filter((k) => k !== victim).sort((a, b) => a - b));
    // Without dedupe the same restart repeats the first 2500 keys: the test above can fail.
    m.update(u32(victim), u64(victim * 3));
    const order2 = ids(m.keys());
    const raw: number[] = [];
    for (const [k] of m.entries({ dedupe: false })) {
      raw.push(readU32(k));
      if (raw.length === 2500) m.delete(u32(order2[2500]!));
    }
    expect(raw.length).toBeGreaterThan(4000);
  });

  it('dedupe: true remembers every key, as before', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 8, maxEntries: 64 });
    for (let i = 0; i < 40; i++) m.update(u64(i), u64(i));
    const order = [...m.keys()].map((k) => Number(readU64(k)));
    const got: number[] = [];
    for (const [k] of m.entries({ dedupe: true })) {
      got.push(Number(readU64(k)));
      if (got.length === 20) m.delete(u64(order[20]!));
    }
    expect(new Set(got).size).toBe(got.length);
    expect(got).toHaveLength(39);
  });

  it('array maps are walked by index: the same pairs as keys() + lookup, ClosedError if closed mid-walk', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 8, maxEntries: 300 });
    for (let i = 0; i < 300; i += 7) m.update(u32(i), u64(i + 1));
    const viaKeys = [...m.keys()].map((k) => [readU32(k), readU64(m.lookup(k)!)]);
    expect([...m.entries()].map(([k, v]) => [readU32(k), readU64(v)])).toEqual(viaKeys);
    using p = BpfMap.create({ type: 'percpu_array', valueSize: 4, maxEntries: 3 });
    p.update(u32(1), u32(5));
    expect([...p.entries()].map(([k, v]) => [readU32(k), v.map((x) => readU32(x))])).toEqual([0, 1, 2].map((i) => [i, Array(possibleCpus()).fill(i === 1 ? 5 : 0)]));
    const it = m.entries();
    it.next();
    m.close();
    expect(() => it.next()).toThrow(/closed/);
  });
});

describe('keys() and entries() with batchSize: read ahead with BPF_MAP_LOOKUP_BATCH', () => {
  it('the same pairs as the key walk, one syscall per batch, never a repeat', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1024 });
    fill(m, 700);
    const walk = [...m.entries()].map(([k, v]) => [readU32(k), readU64(v)] as const).sort((a, b) => a[0] - b[0]);
    for (const batchSize of [1, 64, 5000]) {
      // A batch of 1 is smaller than some buckets: it grows instead of failing.
      const batched = [...m.entries({ batchSize })].map(([k, v]) => [readU32(k), readU64(v)] as const).sort((a, b) => a[0] - b[0]);
      expect(batched).toEqual(walk);
    }
    expect(ids(m.keys({ batchSize: 100 })).sort((a, b) => a - b)).toEqual(walk.map(([k]) => k));
    // Deleting the keys as they come: read-ahead entries are still yielded, none twice.
    const got: number[] = [];
    for (const [k] of m.entries({ batchSize: 50 })) {
      got.push(readU32(k));
      m.delete(k);
    }
    expect(got.sort((a, b) => a - b)).toEqual(walk.map(([k]) => k));
    expect([...m.keys()]).toEqual([]);
  });

  it('per-CPU values come one per CPU; arrays too; a map without batch lookups is a BpfError', () => {
    using p = BpfMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 8 });
    p.update(u32(3), u32(9));
    expect([...p.entries({ batchSize: 4 })].map(([k, v]) => [readU32(k), v.map((x) => readU32(x))])).toEqual([[3, Array(possibleCpus()).fill(9)]]);
    using a = BpfMap.create({ type: 'array', valueSize: 8, maxEntries: 10 });
    a.update(u32(4), u64(44));
    expect([...a.entries({ batchSize: 3 })].map(([k, v]) => [readU32(k), readU64(v)])).toEqual([...a.entries()].map(([k, v]) => [readU32(k), readU64(v)]));
    using q = BpfMap.create({ type: 'queue', valueSize: 4, maxEntries: 4 });
    expect(() => [...q.entries({ batchSize: 4 })]).toThrow(UsageError);
    using pa = BpfMap.create({ type: 'prog_array', maxEntries: 4 });
    expect(() => [...pa.entries({ batchSize: 4 })]).toThrow(BpfError);
    expect(() => [...pa.entries({ batchSize: 4 })]).toThrow(/ENOTSUPP — prog_array maps do not support this batch operation/);
    expect(() => [...a.entries({ batchSize: 0 })]).toThrow(UsageError);
  });
});

describe('batch operations', () => {
  it('updateBatch then lookupBatch over a hash map in chunks until ENOENT ends it', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 2048 });
    const n = 1000;
    const keys = new Uint8Array(n * 4);
    const values = new Uint8Array(n * 8);
    const kv = new DataView(keys.buffer);
    const vv = new DataView(values.buffer);
    for (let i = 0; i < n; i++) {
      kv.setUint32(i * 4, i, true);
      vv.setBigUint64(i * 8, BigInt(i) * 7n, true);
    }
    expect(m.updateBatch(keys, values)).toBe(n);
    expect(readU64(m.lookup(u32(999))!)).toBe(6993n);

    const cursor = new BatchCursor();
    const outK = new Uint8Array(128 * 4);
    const outV = new Uint8Array(128 * 8);
    const got = new Map<number, bigint>();
    let calls = 0;
    while (!cursor.done) {
      const c = m.lookupBatch(outK, outV, cursor);
      calls++;
      expect(c).toBeLessThanOrEqual(128);
      for (let i = 0; i < c; i++) got.set(readU32(outK, i * 4), readU64(outV, i * 8));
    }
    expect(got.size).toBe(n);
    for (const [k, v] of got) expect(v).toBe(BigInt(k) * 7n);
    expect(calls).toBeGreaterThanOrEqual(Math.ceil(n / 128));
    // A finished cursor returns nothing more.
    expect(m.lookupBatch(outK, outV, cursor)).toBe(0);
  });

  it('array maps: lookupBatch walks every index; deleteBatch is ENOTSUPP (524)', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 100 });
    for (let i = 0; i < 100; i++) m.update(u32(i), u32(i + 1));
    const cursor = new BatchCursor();
    const k = new Uint8Array(30 * 4);
    const v = new Uint8Array(30 * 4);
    const seen: number[] = [];
    while (!cursor.done) {
      const c = m.lookupBatch(k, v, cursor);
      for (let i = 0; i < c; i++) {
        expect(readU32(v, i * 4)).toBe(readU32(k, i * 4) + 1);
        seen.push(readU32(k, i * 4));
      }
    }
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    let err: unknown;
    try {
      m.deleteBatch(u32(1));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).errno).toBe(524);
    expect((err as BpfError).code).toBe('ENOTSUPP');
    expect((err as BpfError).message).toMatch(/elements of array maps cannot be deleted/);
  });

  it('array updateBatch writes by index', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 8 });
    const keys = new Uint8Array([...u32(1), ...u32(5)]);
    const vals = new Uint8Array([...u32(10), ...u32(50)]);
    expect(m.updateBatch(keys, vals)).toBe(2);
    expect(readU32(m.lookup(u32(5))!)).toBe(50);
  });

  it('lookupAndDeleteBatch drains a hash map', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 512 });
    fill(m, 300);
    const cursor = new BatchCursor();
    const k = new Uint8Array(64 * 4);
    const v = new Uint8Array(64 * 8);
    let total = 0;
    while (!cursor.done) total += m.lookupAndDeleteBatch(k, v, cursor);
    expect(total).toBe(300);
    expect([...m.keys()]).toEqual([]);
  });

  it('deleteBatch deletes; a missing key stops it with ENOENT and says how far it got', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16 });
    fill(m, 4);
    expect(m.deleteBatch(new Uint8Array([...u32(0), ...u32(1)]))).toBe(2);
    expect(ids(m.keys()).sort()).toEqual([2, 3]);
    let err: unknown;
    try {
      m.deleteBatch(new Uint8Array([...u32(2), ...u32(9), ...u32(3)]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).code).toBe('ENOENT');
    expect((err as BpfError).message).toMatch(/1 of 3 done/);
    expect(ids(m.keys())).toEqual([3]);
  });

  it('a batch smaller than a hash bucket is ENOSPC; batches() grows past it', () => {
    // 64 entries in 64 buckets: some bucket holds two unless the hash is a perfect spread.
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 64 });
    fill(m, 64);
    const cursor = new BatchCursor();
    const k = new Uint8Array(4);
    const v = new Uint8Array(8);
    let err: unknown;
    try {
      while (!cursor.done) m.lookupBatch(k, v, cursor);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect((err as BpfError).code).toBe('ENOSPC');
    expect((err as BpfError).message).toMatch(/a hash bucket holds more entries than the batch \(1\)/);

    const keys = new Set<number>();
    for (const chunk of m.batches({ batchSize: 1 })) for (let i = 0; i < chunk.count; i++) keys.add(readU32(chunk.keys, i * 4));
    expect(keys.size).toBe(64);
  });

  it('per-CPU batches use the kernel layout', () => {
    using m = BpfMap.create({ type: 'percpu_hash', keySize: 4, valueSize: 4, maxEntries: 8 });
    const n = possibleCpus();
    m.update(u32(1), Array.from({ length: n }, (_, i) => u32(i + 1)));
    const chunks = [...m.batches()];
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.count).toBe(1);
    expect(chunks[0]!.values.length).toBe(8 * n);
    for (let i = 0; i < n; i++) expect(readU32(chunks[0]!.values, i * 8)).toBe(i + 1);
  });

  it('batch buffers of the wrong size are UsageErrors', () => {
    using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 8 });
    expect(() => m.lookupBatch(new Uint8Array(6), new Uint8Array(16), new BatchCursor())).toThrow(UsageError);
    expect(() => m.updateBatch(new Uint8Array(8), new Uint8Array(12))).toThrow(/multiple of 8 bytes/);
    expect(() => m.updateBatch(new Uint8Array(8), new Uint8Array(16), { count: 3 })).toThrow(/count 3 is more than the buffers hold \(2\)/);
  });
});
