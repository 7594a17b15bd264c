// RingBuffer and RingBufferSet woken by the kernel (epoll on a worker thread): records from XDP
// over a veth pair, from BPF_PROG_TEST_RUN and from a tracepoint, read with wait/read/for await;
// AbortSignal and close() while awaiting; the process can exit with an idle reader.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, ClosedError, RingBuffer, RingBufferSet, u32 } from '../../src/index.js';
import { SYS, rawSyscall } from '../../src/syscall/index.js';
import { waitersExited } from '../../src/syscall/epoll.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { needs } from '../helpers/features.js';
import { createVethPair, type VethPair } from '../helpers/netns.js';

const FIX = fileURLToPath(new URL('../fixtures/event_streams.o', import.meta.url));
const PKT = new Uint8Array(64);

interface Ev {
  ts: bigint;
  seq: bigint;
  len: number;
  ifindex: number;
}
function decode(d: Uint8Array): Ev {
  const v = new DataView(d.buffer, d.byteOffset, d.length);
  return { ts: v.getBigUint64(0, true), seq: v.getBigUint64(8, true), len: v.getUint32(16, true), ifindex: v.getUint32(20, true) };
}
const later = (ms: number, f: () => void): void => void setTimeout(f, ms);
/** How long a wait that must succeed may take: only a failure waits this long, and the TCG
 * guests start the waiting thread (a Node worker loading koffi) in seconds, not milliseconds. */
const SLOW = 120_000;

describe.runIf(isRoot)('RingBuffer woken by the kernel', { timeout: 2 * SLOW }, () => {
  guardFdLeaks();
  // After the fd count in the hook order (last registered, first run): the readers' threads
  // hold their own event loop's fds until they have fully ended.
  afterAll(async () => expect(await waitersExited(120_000)).toBe(true), 180_000);
  let obj: BpfObject;
  beforeAll(() => {
    obj = BpfObject.open(FIX).load({ programs: ['xdp_ring', 'xdp_ring2'] });
  });
  afterAll(() => obj?.close());
  const produce = (times = 1, prog = 'xdp_ring'): void => void obj.program(prog).testRun({ data: PKT, repeat: times });

  it('wait() resolves when a test run commits a record, read() returns it; a timeout is false / []', async () => {
    using ring = RingBuffer.open(obj.map('ring'));
    ring.drain();
    expect(await ring.wait({ timeoutMs: 30 })).toBe(false);
    expect(await ring.read({ timeoutMs: 30 })).toEqual([]);
    later(20, () => produce(3));
    expect(await ring.wait({ timeoutMs: SLOW })).toBe(true);
    const got = await ring.read({ timeoutMs: SLOW });
    expect(got.length).toBe(3);
    const evs = got.map(decode);
    expect(evs.map((e) => e.seq - evs[0]!.seq)).toEqual([0n, 1n, 2n]);
    expect(evs.every((e) => e.len === 64)).toBe(true);
    // The producer's clock is CLOCK_MONOTONIC, like hrtime: the record is from just now.
    const age = process.hrtime.bigint() - evs[0]!.ts;
    expect(age > 0n && age < BigInt(SLOW) * 1_000_000n).toBe(true);
  });

  it('for await reads records as they come, each once, in order, across several wake-ups', async () => {
    using ring = RingBuffer.open(obj.map('ring'));
    ring.drain();
    let rounds = 0;
    const tick = (): void => {
      produce(5);
      if (++rounds < 4) later(15, tick);
    };
    later(10, tick);
    const seqs: bigint[] = [];
    for await (const r of ring) {
      seqs.push(decode(r).seq);
      if (seqs.length === 20) break;
    }
    expect(seqs.map((s) => Number(s - seqs[0]!))).toEqual([...Array(20).keys()]);
    // Breaking out leaves the reader open and empty.
    expect(ring.closed).toBe(false);
    expect(ring.drain()).toEqual([]);
  });

  it('an AbortSignal stops the iterator while it waits (AbortError); records after it stay readable', async () => {
    using ring = RingBuffer.open(obj.map('ring'));
    ring.drain();
    const ac = new AbortController();
    later(30, () => ac.abort());
    const seen: Uint8Array[] = [];
    const err = await (async () => {
      for await (const r of ring.records({ signal: ac.signal })) seen.push(r);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([]);
    expect((err as Error).name).toBe('AbortError');
    // An already aborted signal refuses at once; a custom reason is what is thrown.
    await expect(ring.wait({ signal: AbortSignal.abort(new Error('stop now')) })).rejects.toThrow('stop now');
    produce(2);
    expect(ring.drain()).toHaveLength(2);
    // The reader still waits after an abort.
    later(10, () => produce(1));
    expect(await ring.read({ timeoutMs: SLOW })).toHaveLength(1);
  });

  it('close() while awaiting: for await ends, read() rejects with ClosedError, the thread and its fds go', async () => {
    const ring = RingBuffer.open(obj.map('ring'));
    ring.drain();
    const loop = (async () => {
      const got: Uint8Array[] = [];
      for await (const r of ring) got.push(r);
      return got;
    })();
    later(30, () => ring.close());
    expect(await loop).toEqual([]);
    const ring2 = RingBuffer.open(obj.map('ring'));
    const pending = ring2.read();
    later(20, () => ring2.close());
    const e = await pending.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClosedError);
    expect((e as Error).message).toBe("this ring buffer 'ring' is closed");
    await expect(ring2.wait()).rejects.toBeInstanceOf(ClosedError);
    expect(() => ring2.drain()).toThrow(ClosedError);
    // guardFdLeaks checks the thread's epoll fd and eventfd are gone too.
  });

  it('a reader that keeps finding data still lets the event loop turn between batches', async () => {
    using ring = RingBuffer.open(obj.map('ring'));
    ring.drain();
    produce(10);
    let turned = -1;
    let seen = 0;
    setImmediate(() => (turned = seen));
    for await (const _ of ring.records({ max: 1 })) if (++seen === 10) break;
    // The immediate ran after the first batch, not after all ten.
    expect(turned).toBe(1);
    produce(3);
    let timer = false;
    setImmediate(() => (timer = true));
    expect(await ring.wait()).toBe(true); // answered from unread data, on the next turn
    expect(timer).toBe(true);
  });

  it('one wait at a time per reader; bad timeouts are UsageErrors', async () => {
    using ring = RingBuffer.open(obj.map('ring'));
    ring.drain();
    const ac = new AbortController();
    const first = ring.wait({ signal: ac.signal });
    await expect(ring.wait({ timeoutMs: 10 })).rejects.toThrow('a wait is already pending');
    ac.abort();
    await expect(first).rejects.toThrow(/aborted/);
    await expect(ring.wait({ timeoutMs: -1 })).rejects.toThrow('timeoutMs must be a number of milliseconds ≥ 0, got -1');
  });

  it('RingBufferSet: two rings on one epoll set, each record to its ring’s callback; run() ends on abort', async () => {
    using set = new RingBufferSet();
    const a: bigint[] = [];
    const b: bigint[] = [];
    const ra = set.add(obj.map('ring'), (d) => void a.push(decode(d).seq));
    const rb = set.add(obj.map('ring2'), (d, r) => {
      expect(r).toBe(rb);
      b.push(decode(d).seq);
    });
    expect(set.rings).toEqual([ra, rb]);
    ra.drain();
    rb.drain();
    const ac = new AbortController();
    later(20, () => produce(3, 'xdp_ring'));
    later(40, () => produce(4, 'xdp_ring2'));
    later(60, () => produce(2, 'xdp_ring'));
    const done = set.run({ signal: ac.signal });
    for (let i = 0; i < 500 && a.length + b.length < 9; i++) await new Promise((r) => setTimeout(r, 10));
    ac.abort();
    await done;
    expect(a.map((s) => Number(s - a[0]!))).toEqual([0, 1, 2, 3, 4]);
    expect(b.map((s) => Number(s - b[0]!))).toEqual([0, 1, 2, 3]);
    // records() tells which ring a record came from.
    later(10, () => produce(1, 'xdp_ring2'));
    for await (const r of set) {
      expect(r.ring).toBe(rb);
      expect(decode(r.data).seq).toBe(b.at(-1)! + 1n);
      break;
    }
    set.close();
    expect(ra.closed && rb.closed).toBe(true);
    expect(() => set.poll()).toThrow(ClosedError);
  });

  it('RingBufferSet: a ring added without a callback is read by records(), refused by poll()', () => {
    using set = new RingBufferSet();
    set.add(obj.map('ring2'));
    expect(() => set.poll()).toThrow("RingBufferSet.poll: ring buffer 'ring2' was added without a callback (read it with records())");
  });

  describe('real producers', () => {
    let v: VethPair;
    beforeAll(() => {
      v = createVethPair();
    });
    afterAll(() => v?.destroy());

    it('XDP on a veth: every UDP datagram sent from the namespace arrives as a record with its length and ifindex', async () => {
      using ring = RingBuffer.open(obj.map('ring'));
      ring.drain();
      using _link = obj.program('xdp_ring').attachXdp(v.hostIndex);
      const payload = 'event-streams';
      later(20, () => v.sendUdp(9999, 10, payload));
      const evs: Ev[] = [];
      const ac = new AbortController();
      const guard = setTimeout(() => ac.abort(), SLOW);
      for await (const r of ring.records({ signal: ac.signal })) {
        const e = decode(r);
        // Only the datagrams: the veth may also carry a stray frame of the kernel's own.
        if (e.len === 14 + 20 + 8 + payload.length) evs.push(e);
        if (evs.length === 10) break;
      }
      clearTimeout(guard);
      expect(evs.every((e) => e.ifindex === v.hostIndex)).toBe(true);
      const seqs = evs.map((e) => e.seq);
      expect(new Set(seqs).size).toBe(10);
    });

    // Skip reason: needs perf_link; skipped where absent or refused (the title says which).
    needs('perf_link')('a tracepoint (sys_enter_getppid of this process) wakes the reader', async () => {
      using o = BpfObject.open(FIX).load({ programs: ['tp_ring'] });
      o.map('target').update(u32(0), u32(process.pid));
      using ring = RingBuffer.open(o.map('ring'));
      using _link = o.program('tp_ring').attachTracepoint();
      later(20, () => {
        for (let i = 0; i < 3; i++) rawSyscall(SYS.getppid);
      });
      const got: Ev[] = [];
      for await (const r of ring) if (got.push(decode(r)) === 3) break;
      expect(got.map((e) => Number(e.seq))).toEqual([0, 1, 2]);
      expect(got.every((e) => e.len === 0 && e.ifindex === 0)).toBe(true);
    });
  });
});

describe.runIf(isRoot)('process lifetime', () => {
  // A child that opens a ring, waits, and then stops waiting without close(): it must exit by
  // itself (the waiting thread is unref'd once nobody waits, and stopped at exit). With
  // keepAlive: false even a pending wait does not hold the process. The child is bundled with
  // esbuild: tsx starts too slowly in the TCG guests.
  const ROOT = fileURLToPath(new URL('../../', import.meta.url));
  const bundle = join(ROOT, 'node_modules', '.cache', 'tsbpf-ringbuf', 'exit-child.mjs');
  beforeAll(() => {
    execFileSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), [
      join(ROOT, 'test', 'maps', 'fixtures', 'ring-exit-child.ts'),
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--target=node20',
      '--external:koffi',
      `--outfile=${bundle}`,
      '--log-level=warning',
    ]);
  }, 120_000);
  const child = (mode: string): Promise<{ code: number | null; out: string }> =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, [bundle, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      // Generous: a guest under TCG starts Node slowly. A child that hangs is killed (code null).
      const kill = setTimeout(() => p.kill('SIGKILL'), 100_000);
      p.on('close', (code) => {
        clearTimeout(kill);
        resolve({ code, out });
      });
    });

  it('an aborted wait lets Node exit without close(); a keepAlive: false wait never holds it', async () => {
    expect(await child('abort')).toEqual({ code: 0, out: 'stopped AbortError\n' });
    expect(await child('unref')).toEqual({ code: 0, out: 'timer done\n' });
  }, 240_000);
});
