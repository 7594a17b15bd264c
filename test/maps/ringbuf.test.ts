// RingBuffer: records written by a program with bpf_ringbuf_output, read from shared memory.
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { BpfMap, RingBuffer, readU64, u32 } from '../../src/maps/index.js';
import { closeFd } from '../../src/syscall/index.js';
import { waitersExited } from '../../src/syscall/epoll.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';
import { loadRingWriter, testRun } from './helpers.js';

guardFdLeaks();
// After the fd count in the hook order (last registered, first run): the readers' threads
// hold their own event loop's fds until they have fully ended.
afterAll(async () => expect(await waitersExited(120_000)).toBe(true), 180_000);

function withWriter<R>(ring: BpfMap, record: number, f: (run: (times?: number) => void) => R): R {
  const prog = loadRingWriter(ring.fd, record);
  try {
    return f((times = 1) => testRun(prog, times));
  } finally {
    closeFd(prog);
  }
}

describe('RingBuffer', () => {
  it('reads records in order, each once, and frees their space', () => {
    using map = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
    using rb = RingBuffer.open(map);
    expect(rb.size).toBe(4096);
    expect(rb.pending).toBe(0);
    expect(rb.drain()).toEqual([]);
    for (const v of [7, 8, 9]) withWriter(map, v, (run) => run());
    // Each record: 8-byte header + 8 bytes of data.
    expect(rb.pending).toBe(48);
    const got = rb.drain();
    expect(got.map((d) => readU64(d))).toEqual([7n, 8n, 9n]);
    expect(rb.pending).toBe(0);
    expect(rb.drain()).toEqual([]);
  });

  it('wraps around the end of the ring: records stay contiguous', () => {
    using map = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
    using rb = RingBuffer.open(map);
    // 4096 / 16 = 256 records fill the ring; write and read 3 rounds of 100 to cross the end.
    let total = 0;
    for (let round = 0; round < 3; round++) {
      withWriter(map, round + 1, (run) => run(100));
      const seen: bigint[] = [];
      total += rb.poll((d) => {
        expect(d.length).toBe(8);
        seen.push(readU64(d));
      });
      expect(seen).toEqual(Array(100).fill(BigInt(round + 1)));
    }
    expect(total).toBe(300);
  });

  it('a full ring drops what does not fit; poll honours max and a false return', () => {
    using map = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
    using rb = RingBuffer.open(map);
    withWriter(map, -1, (run) => run(300));
    // The kernel never fills the ring to the last byte: 255 records of 16 bytes fit in 4096.
    expect(rb.pending).toBe(4080);
    expect(rb.poll(() => undefined, 10)).toBe(10);
    let n = 0;
    expect(
      rb.poll(() => {
        n++;
        return n < 5 ? undefined : false;
      }),
    ).toBe(5);
    const rest = rb.drain();
    expect(rest).toHaveLength(255 - 15);
    expect(readU64(rest[0]!)).toBe(0xffffffffffffffffn); // -1 sign-extended
  });

  it('read() waits for a record, or times out with []', async () => {
    using map = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
    using rb = RingBuffer.open(map);
    const t = Date.now();
    expect(await rb.read({ timeoutMs: 30 })).toEqual([]);
    expect(Date.now() - t).toBeGreaterThanOrEqual(25);
    const pending = rb.read({ timeoutMs: 5000 });
    setTimeout(() => withWriter(map, 42, (run) => run()), 20);
    const got = await pending;
    expect(got.map((d) => readU64(d))).toEqual([42n]);
  });

  it('only ringbuf maps; a closed reader refuses', () => {
    using arr = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    expect(() => RingBuffer.open(arr)).toThrow('RingBuffer.open needs a ringbuf map, got a array map');
    using map = BpfMap.create({ type: 'ringbuf', maxEntries: 8192 });
    const rb = RingBuffer.open(map);
    rb.close();
    rb.close();
    expect(() => rb.drain()).toThrow(UsageError);
    expect(u32(1)).toHaveLength(4);
  });
});
