// PerfBuffer: bpf_perf_event_output samples read from each CPU's perf ring, sync and async;
// records that wrap around the end of a ring, lost samples counted, wake-up thresholds, bad
// input and use after close.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap, BpfObject, ClosedError, PerfBuffer, UsageError, onlineCpus, u32, type PerfRecord } from '../../src/index.js';
import { SYS, addressOf, rawSyscall, stableBuffer } from '../../src/syscall/index.js';
import { needs } from '../helpers/features.js';
import { waitersExited } from '../../src/syscall/epoll.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { createVethPair, type VethPair } from '../helpers/netns.js';

const FIX = fileURLToPath(new URL('../fixtures/event_streams.o', import.meta.url));
/** A 64-byte "packet" 0, 1, 2, …: the program appends its first bytes to each sample. */
const PKT = Uint8Array.from({ length: 64 }, (_, i) => i);
const APPEND = 20;
/** struct event (24 bytes) + 20 packet bytes; the kernel pads the raw size to 8n - 4. */
const SAMPLE = 24 + APPEND;

function seqOf(d: Uint8Array): bigint {
  return new DataView(d.buffer, d.byteOffset, d.length).getBigUint64(8, true);
}
const later = (ms: number, f: () => void): void => void setTimeout(f, ms);

/** Runs `f` with the calling thread pinned to `cpu` (sched_setaffinity), then unpins it. */
function onCpu<T>(cpu: number, f: () => T): T {
  const saved = stableBuffer(128);
  const got = rawSyscall(SYS.sched_getaffinity, 0, saved.length, addressOf(saved), 0, 0, 0, saved);
  if (got < 0) throw new Error(`sched_getaffinity: errno ${-got}`);
  const one = stableBuffer(128);
  one[cpu >> 3] = 1 << (cpu & 7);
  const r = rawSyscall(SYS.sched_setaffinity, 0, one.length, addressOf(one), 0, 0, 0, one);
  if (r < 0) throw new Error(`sched_setaffinity to CPU ${cpu}: errno ${-r}`);
  try {
    return f();
  } finally {
    rawSyscall(SYS.sched_setaffinity, 0, got, addressOf(saved), 0, 0, 0, saved);
  }
}
/** How long a wait that must succeed may take: only a failure waits this long, and the TCG
 * guests start the waiting thread (a Node worker loading koffi) in seconds, not milliseconds. */
const SLOW = 120_000;

describe.runIf(isRoot)('PerfBuffer', { timeout: 2 * SLOW }, () => {
  guardFdLeaks();
  // After the fd count in the hook order (last registered, first run): the readers' threads
  // hold their own event loop's fds until they have fully ended.
  afterAll(async () => expect(await waitersExited(120_000)).toBe(true), 180_000);
  let obj: BpfObject;
  beforeAll(() => {
    obj = BpfObject.open(FIX).setConstant('perf_packet_bytes', APPEND).load({ programs: ['xdp_perf'] });
  });
  afterAll(() => obj?.close());
  const produce = (times = 1, data = PKT): void => void obj.program('xdp_perf').testRun({ data, repeat: times });

  it('one ring per online CPU; samples carry the event and the packet bytes, in order, with their CPU', () => {
    using pb = PerfBuffer.open(obj.map('perf'));
    expect(pb.cpus).toEqual(onlineCpus());
    expect(onlineCpus().length).toBeGreaterThan(0);
    expect(pb.size).toBe(8 * 4096);
    expect(pb.pending).toBe(0);
    produce(5);
    // header 8 + u32 size 4 + 44 bytes of sample = 56 per record.
    expect(pb.pending).toBe(5 * 56);
    const got = pb.drain();
    expect(got).toHaveLength(5);
    const cpu = got[0]!.cpu;
    expect(pb.cpus).toContain(cpu);
    for (const [i, r] of got.entries()) {
      expect(r.cpu).toBe(cpu); // a test run stays on one CPU
      expect(r.data.length).toBe(SAMPLE);
      expect(seqOf(r.data) - seqOf(got[0]!.data)).toBe(BigInt(i));
      const v = new DataView(r.data.buffer, r.data.byteOffset);
      expect(v.getUint32(16, true)).toBe(64); // the packet's length
      expect([...r.data.subarray(24)]).toEqual([...PKT.subarray(0, APPEND)]);
    }
    expect(pb.pending).toBe(0);
    expect(pb.lost()).toBe(0);
  });

  it('records that cross the end of a one-page ring come out whole', () => {
    using pb = PerfBuffer.open(obj.map('perf'), { pages: 1 });
    expect(pb.size).toBe(4096);
    // 56-byte records do not divide 4096: rounds of 50 cross the end again and again.
    let last: bigint | undefined;
    let n = 0;
    for (let round = 0; round < 6; round++) {
      produce(50);
      n += pb.poll((d) => {
        expect(d.length).toBe(SAMPLE);
        expect([...d.subarray(24)]).toEqual([...PKT.subarray(0, APPEND)]);
        const s = seqOf(d);
        if (last !== undefined) expect(s).toBe(last + 1n);
        last = s;
      });
    }
    expect(n).toBe(300);
    expect(pb.lost()).toBe(0);
  });

  it('a full ring loses samples: lost() = produced − received, reported per CPU and to onLost', () => {
    using pb = PerfBuffer.open(obj.map('perf'), { pages: 1 });
    // Every run on one CPU: the kernel writes the PERF_RECORD_LOST into the full ring at the
    // next sample on that same CPU, and a thread left free can sit on another CPU for every
    // one of a fast loop's test runs (seen once in CI).
    const cpu = pb.cpus[0]!;
    const { lostSeen, total, received } = onCpu(cpu, () => {
      const produced = 500;
      produce(produced);
      let received = pb.poll(() => undefined);
      expect(received).toBeGreaterThan(0);
      expect(received).toBeLessThan(produced);
      const lostSeen: [number, number][] = [];
      produce(1);
      received += pb.poll(() => undefined, { onLost: (c, count) => void lostSeen.push([c, count]) });
      return { lostSeen, total: produced + 1, received };
    });
    expect(lostSeen).toEqual([[cpu, total - received]]);
    expect(pb.lost()).toBe(total - received);
    expect(pb.lost(cpu)).toBe(total - received);
    for (const other of pb.cpus.filter((c) => c !== cpu)) expect(pb.lost(other)).toBe(0);
    expect(() => pb.lost(4096)).toThrow(`perf buffer 'perf' does not read CPU 4096 (it reads ${pb.cpus.join(', ')})`);
  });

  it('poll stops at max and at a false return; what is left stays for the next poll', () => {
    using pb = PerfBuffer.open(obj.map('perf'));
    produce(10);
    expect(pb.poll(() => undefined, { max: 3 })).toBe(3);
    let k = 0;
    expect(pb.poll(() => ++k < 2)).toBe(2);
    expect(pb.drain()).toHaveLength(5);
  });

  it('async: wait/read/for await woken by the kernel; AbortSignal; close while awaiting ends the loop', async () => {
    using pb = PerfBuffer.open(obj.map('perf'));
    expect(await pb.wait({ timeoutMs: 20 })).toBe(false);
    later(20, () => produce(2));
    const got = await pb.read({ timeoutMs: SLOW });
    expect(got).toHaveLength(2);
    later(20, () => produce(3));
    const seqs: bigint[] = [];
    for await (const r of pb) if (seqs.push(seqOf(r.data)) === 3) break;
    expect(seqs.map((s) => Number(s - seqs[0]!))).toEqual([0, 1, 2]);
    const ac = new AbortController();
    later(20, () => ac.abort());
    await expect(
      (async () => {
        for await (const _ of pb.records({ signal: ac.signal })) expect.unreachable();
      })(),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const loop = (async () => {
      let n = 0;
      for await (const _ of pb.batches()) n++;
      return n;
    })();
    later(20, () => pb.close());
    expect(await loop).toBe(0);
    await expect(pb.read()).rejects.toBeInstanceOf(ClosedError);
    expect(() => pb.poll(() => undefined)).toThrow("this perf buffer 'perf' is closed");
    expect(() => pb.pending).toThrow(ClosedError);
  });

  // The thresholds count per CPU, and the test thread may move between CPUs between two test
  // runs: the run that must wake the reader reaches the threshold on its own.
  it('wakeupEvents: the kernel wakes a waiting reader only at the fourth sample of a CPU', async () => {
    using pb = PerfBuffer.open(obj.map('perf'), { wakeupEvents: 4 });
    produce(3);
    expect(pb.pending).toBe(3 * 56);
    expect(await pb.wait({ timeoutMs: 150 })).toBe(false);
    produce(4);
    expect(await pb.wait({ timeoutMs: SLOW })).toBe(true);
    expect(pb.drain()).toHaveLength(7);
  });

  it('watermark: woken once a CPU has written more than that many bytes', async () => {
    using pb = PerfBuffer.open(obj.map('perf'), { watermark: 5 * 56 });
    produce(2);
    expect(await pb.wait({ timeoutMs: 150 })).toBe(false);
    // The kernel wakes once *more* than the watermark was written: 6 × 56 bytes on one CPU.
    produce(6);
    expect(await pb.wait({ timeoutMs: SLOW })).toBe(true);
    expect(pb.drain()).toHaveLength(8);
  });

  it('bad input is a UsageError naming what is wrong', () => {
    using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
    expect(() => PerfBuffer.open(ring)).toThrow(new UsageError('PerfBuffer.open needs a perf_event_array map, got a ringbuf map'));
    const m = obj.map('perf');
    expect(() => PerfBuffer.open(m, { pages: 3 })).toThrow('pages must be a power of two (1, 2, 4, …), got 3');
    expect(() => PerfBuffer.open(m, { wakeupEvents: 2, watermark: 64 })).toThrow('give wakeupEvents or watermark, not both');
    expect(() => PerfBuffer.open(m, { pages: 1, watermark: 8192 })).toThrow('watermark must be 1 to 4096 bytes');
    expect(() => PerfBuffer.open(m, { cpus: [0, 0] })).toThrow('cpus must list distinct CPUs');
    using small = BpfMap.create({ type: 'perf_event_array', maxEntries: 1 });
    const cpus = onlineCpus();
    if (cpus.length > 1)
      expect(() => PerfBuffer.open(small)).toThrow(`has 1 slots, too few for CPU ${cpus[1]} (size it to the number of possible CPUs, or pass cpus)`);
    // Only CPU 0, in a map with one slot, is fine.
    using one = PerfBuffer.open(small, { cpus: [0] });
    expect(one.cpus).toEqual([0]);
  });

  it('a CPU that is not online is refused by the kernel, with nothing left open', () => {
    const possible = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
    const max = Math.max(...possible.split(/[,-]/).map(Number));
    using big = BpfMap.create({ type: 'perf_event_array', maxEntries: max + 2 });
    // max + 1 is past every possible CPU: perf_event_open says ENODEV (or EINVAL).
    expect(() => PerfBuffer.open(big, { cpus: [0, max + 1] })).toThrow(/perf_event_open \(perf buffer, CPU \d+\) failed: (ENODEV|EINVAL)/);
  });

  // Skip reason: needs perf_link; skipped where absent or refused (the title says which).
  needs('perf_link')('a tracepoint (sys_enter_getppid of this process) wakes the reader, sample by sample', async () => {
    using o = BpfObject.open(FIX).load({ programs: ['tp_perf'] });
    o.map('target').update(u32(0), u32(process.pid));
    using pb = PerfBuffer.open(o.map('perf'));
    using _link = o.program('tp_perf').attachTracepoint();
    const got: PerfRecord[] = [];
    later(20, () => rawSyscall(SYS.getppid));
    for await (const r of pb) {
      got.push(r);
      if (got.length === 3) break;
      later(5, () => rawSyscall(SYS.getppid));
    }
    expect(got.map((r) => Number(seqOf(r.data)))).toEqual([0, 1, 2]);
    // No packet: the sample is the 24-byte event plus the kernel's padding to 8n - 4.
    expect(got.every((r) => r.data.length === 28 && pb.cpus.includes(r.cpu))).toBe(true);
  });

  describe('XDP over a veth pair', () => {
    let v: VethPair;
    beforeAll(() => {
      v = createVethPair();
    });
    afterAll(() => v?.destroy());

    it('each UDP datagram from the namespace arrives with its Ethernet header (MACs) and IP version', async () => {
      using pb = PerfBuffer.open(obj.map('perf'));
      using _link = obj.program('xdp_perf').attachXdp(v.hostIndex);
      const payload = 'perf-stream';
      later(20, () => v.sendUdp(9998, 8, payload));
      const mac = (s: string): number[] => s.split(':').map((x) => parseInt(x, 16));
      const seen: number[] = [];
      const ac = new AbortController();
      const guard = setTimeout(() => ac.abort(), SLOW);
      for await (const r of pb.records({ signal: ac.signal })) {
        const d = r.data;
        const len = new DataView(d.buffer, d.byteOffset).getUint32(16, true);
        if (len !== 14 + 20 + 8 + payload.length) continue;
        expect(pb.cpus).toContain(r.cpu);
        expect([...d.subarray(24, 30)]).toEqual(mac(v.hostMac));
        expect([...d.subarray(30, 36)]).toEqual(mac(v.peerMac));
        expect([...d.subarray(36, 39)]).toEqual([0x08, 0x00, 0x45]); // IPv4, 20-byte header
        seen.push(new DataView(d.buffer, d.byteOffset).getUint32(20, true));
        if (seen.length === 8) break;
      }
      clearTimeout(guard);
      expect(seen).toEqual(Array(8).fill(v.hostIndex));
    });
  });
});
