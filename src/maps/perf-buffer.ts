// A reader for BPF_MAP_TYPE_PERF_EVENT_ARRAY maps, where programs write with
// bpf_perf_event_output: one perf event per CPU (PERF_TYPE_SOFTWARE / PERF_COUNT_SW_BPF_OUTPUT),
// its fd stored in the map at the CPU's index, each with its own mmap'd ring. The kernel
// writes raw samples (PERF_RECORD_SAMPLE) into the ring of the CPU the program ran on, and,
// when a ring was full, a PERF_RECORD_LOST with the number of samples it had to drop.
//
// Unlike a BPF ring buffer, the data area is mapped once: a record that crosses its end is
// split, and is copied out in two parts. Records are 8-byte aligned and at least 8 bytes,
// so a header never is.
//
// Waiting is as for RingBuffer (src/maps/ringbuf.ts): one epoll set over every CPU's fd, slept
// on by a worker thread; the same process-lifetime rules. Lifetime of memory: the rings are
// mapped through mmapFd (unmapped when their view is collected), no view of them leaves this
// file, and after close() every read is a ClosedError.
import { readFileSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BpfError, UsageError, errnoName } from '../errors.js';
import {
  Attr,
  FdOwner,
  MAP_ELEM_ATTR,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  bpfRaw,
  bpf_cmd,
  closeFd,
  dupFd,
  mmapFd,
  stableBuffer,
} from '../syscall/index.js';
import type { EpollWaiter } from '../syscall/epoll.js';
import {
  PERF_ATTR_BIT,
  PERF_EVENT_HEADER_SIZE,
  PERF_EVENT_IOC_ENABLE,
  PERF_EVENT_MMAP_PAGE,
  perf_event_sample_format,
  perf_event_type,
  perf_sw_ids,
  perf_type_id,
} from '../syscall/abi/perf.js';
import { ioctl, perfEventAttr, perfEventOpen } from '../syscall/perf.js';
import { fdOf, type FdLike } from './create.js';
import { readReady, readyBatches, waitReadable, waiterOn, type WaitOptions } from './event-wait.js';
import { mapInfoByFd } from './info.js';
import { PAGE_SIZE } from './types.js';

export interface PerfBufferOptions {
  /** Data pages per CPU, a power of two (default 8: 32 KiB per CPU). */
  pages?: number;
  /** Wake a waiting reader once a CPU has written this many samples (default 1). */
  wakeupEvents?: number;
  /** Instead of wakeupEvents: wake once a CPU has written more than this many bytes since
   * the last wake-up (perf's watermark). */
  watermark?: number;
  /** The CPUs to read (default: every online CPU). Each needs a slot in the map. */
  cpus?: readonly number[];
  /** Whether a pending wait keeps the process alive (default true). */
  keepAlive?: boolean;
}

export interface PerfRecord {
  cpu: number;
  /** A copy of the sample's bytes (the kernel pads the size to 8 bytes, minus 4, as libbpf sees it). */
  data: Uint8Array;
}

export interface PerfPollOptions {
  /** At most this many samples in all (default: all that are ready). */
  max?: number;
  /** Called for each PERF_RECORD_LOST, with the number of samples that CPU dropped. */
  onLost?: (cpu: number, count: number) => void;
}

export interface PerfIterateOptions {
  signal?: AbortSignal;
  max?: number;
}

interface CpuRing {
  cpu: number;
  fd: number;
  /** The first page: data_head (the kernel's) and data_tail (ours) as u64 words. */
  meta: BigUint64Array;
  data: Uint8Array;
  mask: number;
  lost: number;
}

const HEAD = PERF_EVENT_MMAP_PAGE.data_head / 8;
const TAIL = PERF_EVENT_MMAP_PAGE.data_tail / 8;
const { PERF_RECORD_SAMPLE, PERF_RECORD_LOST } = perf_event_type;

/** What a reader holds in the kernel: its own map fd, and per CPU the slot it filled with a
 * perf event's fd. */
interface Held {
  mapFd: number;
  cpus: number[];
  fds: number[];
  waiter: EpollWaiter | undefined;
}

/**
 * Empties the slots, closes the perf events, the waiting thread and the map fd. The slots
 * first: the map holds its own reference to each perf event, so closing our fds alone would
 * leave the program writing into rings nobody reads until the map itself goes (libbpf's
 * perf_buffer__free deletes them too). Each slot is emptied even if another reader has filled
 * it since, as libbpf does: user space cannot look a perf event array's slots up to tell.
 */
function release(held: Held): void {
  held.waiter?.close();
  const key = stableBuffer(4);
  const elem = new Attr(MAP_ELEM_ATTR).set('map_fd', held.mapFd).setPointer('key', key);
  held.cpus.forEach((cpu, i) => {
    key.writeUInt32LE(cpu);
    bpfRaw(bpf_cmd.BPF_MAP_DELETE_ELEM, elem.address, elem.size, elem);
    closeFd(held.fds[i]!);
  });
}

// A reader dropped without close() releases all of it too; not the base class's safety net,
// which would close the map fd alone, before the slots could be emptied through it.
const dropped = new FinalizationRegistry<Held>((held) => {
  release(held);
  closeFd(held.mapFd);
});

export class PerfBuffer extends FdOwner implements AsyncIterable<PerfRecord> {
  /** The CPUs read, in the order of their rings. */
  readonly cpus: readonly number[];
  /** Data bytes per CPU. */
  readonly size: number;
  #rings: CpuRing[] | undefined;
  /** Where a CPU's ready records are copied for their callbacks; grows to the largest batch. */
  #scratch = new Uint8Array(4096);
  #scratchView = new DataView(this.#scratch.buffer);
  /** What is released on close(), or by the safety net if the reader is dropped. */
  readonly #owned: Held;
  readonly #keepAlive: boolean;
  readonly #wakesEach: boolean;
  readonly #name: string;

  private constructor(mapFd: number, name: string, rings: CpuRing[], size: number, keepAlive: boolean, wakesEach: boolean) {
    super(mapFd, 'perf buffer', false);
    this.#wakesEach = wakesEach;
    this.#name = name;
    this.#rings = rings;
    this.cpus = rings.map((r) => r.cpu);
    this.size = size;
    this.#keepAlive = keepAlive;
    this.#owned = { mapFd, cpus: rings.map((r) => r.cpu), fds: rings.map((r) => r.fd), waiter: undefined };
    dropped.register(this, this.#owned, this);
  }

  /**
   * Opens one perf event per CPU, maps its ring, and puts its fd into the map at the CPU's
   * index (replacing what was there: this reader is now the one the program writes to).
   */
  static open(map: FdLike, opts: PerfBufferOptions = {}): PerfBuffer {
    const mapFd = fdOf(map, 'PerfBuffer.open');
    const info = mapInfoByFd(mapFd, `perf buffer fd ${mapFd}`);
    const label = info.name ? ` '${info.name}'` : '';
    if (info.type !== 'perf_event_array') throw new UsageError(`PerfBuffer.open needs a perf_event_array map, got a ${info.type} map${label}`);
    const pages = opts.pages ?? 8;
    if (!Number.isInteger(pages) || pages < 1 || (pages & (pages - 1)) !== 0 || pages > 1 << 20)
      throw new UsageError(`PerfBuffer.open: pages must be a power of two (1, 2, 4, …), got ${String(pages)}`);
    if (opts.wakeupEvents !== undefined && opts.watermark !== undefined)
      throw new UsageError('PerfBuffer.open: give wakeupEvents or watermark, not both');
    const wakeup = opts.watermark ?? opts.wakeupEvents ?? 1;
    const size = pages * PAGE_SIZE;
    if (!Number.isInteger(wakeup) || wakeup < 1 || wakeup > (opts.watermark !== undefined ? size : 0xffffffff))
      throw new UsageError(
        opts.watermark !== undefined
          ? `PerfBuffer.open: watermark must be 1 to ${size} bytes (the ring's size), got ${String(wakeup)}`
          : `PerfBuffer.open: wakeupEvents must be a positive integer, got ${String(wakeup)}`,
      );
    const cpus = opts.cpus ?? onlineCpus();
    for (const c of cpus) {
      if (!Number.isInteger(c) || c < 0) throw new UsageError(`PerfBuffer.open: ${String(c)} is not a CPU number`);
      if (c >= info.maxEntries)
        throw new UsageError(
          `PerfBuffer.open: the map${label} has ${info.maxEntries} slots, too few for CPU ${c} (size it to the number of possible CPUs, or pass cpus)`,
        );
    }
    if (cpus.length === 0 || new Set(cpus).size !== cpus.length) throw new UsageError('PerfBuffer.open: cpus must list distinct CPUs');

    const attr = perfEventAttr()
      .set('type', perf_type_id.PERF_TYPE_SOFTWARE)
      .set('config', perf_sw_ids.PERF_COUNT_SW_BPF_OUTPUT)
      .set('sample_type', perf_event_sample_format.PERF_SAMPLE_RAW)
      .set('sample_period', 1)
      .set('wakeup_events', wakeup)
      .set('bits', opts.watermark !== undefined ? 1n << BigInt(PERF_ATTR_BIT.watermark) : 0n);
    const ownFd = dupFd(mapFd, 'PerfBuffer.open');
    const rings: CpuRing[] = [];
    const key = stableBuffer(4);
    const value = stableBuffer(4);
    const elem = new Attr(MAP_ELEM_ATTR).set('map_fd', ownFd).setPointer('key', key).setPointer('value', value);
    try {
      for (const cpu of cpus) {
        const fd = perfEventOpen(attr, -1, cpu);
        if (fd < 0) throw new BpfError({ errno: -fd, command: 'perf_event_open', context: `perf buffer${label}, CPU ${cpu}` });
        const ring: CpuRing = { cpu, fd, meta: new BigUint64Array(8), data: new Uint8Array(0), mask: size - 1, lost: 0 };
        rings.push(ring);
        const m = mmapFd(fd, PAGE_SIZE + size, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
        if (typeof m === 'number')
          throw new BpfError({ errno: -m, command: 'mmap', context: `perf buffer${label}, CPU ${cpu}` }, `mmap of the perf buffer${label} ring of CPU ${cpu} (${pages} pages) failed: ${errnoName(-m)}`);
        ring.meta = new BigUint64Array(m.buffer, m.byteOffset, PAGE_SIZE / 8);
        // data_offset/data_size are 0 before Linux 4.1: the data pages then follow the first.
        const dataOffset = Number(ring.meta[PERF_EVENT_MMAP_PAGE.data_offset / 8]) || PAGE_SIZE;
        ring.data = m.subarray(dataOffset, dataOffset + size);
        const e = ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
        if (e < 0) throw new BpfError({ errno: -e, command: 'ioctl(PERF_EVENT_IOC_ENABLE)', context: `perf buffer${label}, CPU ${cpu}` });
        key.writeUInt32LE(cpu);
        value.writeUInt32LE(fd);
        const u = bpfRaw(bpf_cmd.BPF_MAP_UPDATE_ELEM, elem.address, elem.size, elem);
        if (u < 0) throw new BpfError({ errno: -u, command: 'BPF_MAP_UPDATE_ELEM', context: `perf buffer${label}: storing CPU ${cpu}'s perf event` });
      }
    } catch (e) {
      for (const r of rings) {
        key.writeUInt32LE(r.cpu);
        bpfRaw(bpf_cmd.BPF_MAP_DELETE_ELEM, elem.address, elem.size, elem);
        closeFd(r.fd);
      }
      closeFd(ownFd);
      throw e;
    }
    return new PerfBuffer(ownFd, info.name, rings, size, opts.keepAlive ?? true, opts.watermark === undefined && wakeup === 1);
  }

  override describe(): string {
    return this.#name ? `perf buffer '${this.#name}'` : 'perf buffer';
  }

  /** Samples a CPU's ring lost because it was full (as PERF_RECORD_LOST reported them so far);
   * without a CPU, all CPUs' together. Counted as records are read. */
  lost(cpu?: number): number {
    const rings = this.#open();
    if (cpu === undefined) return rings.reduce((n, r) => n + r.lost, 0);
    const r = rings.find((x) => x.cpu === cpu);
    if (!r) throw new UsageError(`${this.describe()} does not read CPU ${cpu} (it reads ${this.cpus.join(', ')})`);
    return r.lost;
  }

  /** Bytes written and not yet read, over all CPUs. */
  get pending(): number {
    let n = 0;
    for (const r of this.#open()) n += Number(Atomics.load(r.meta, HEAD) - r.meta[TAIL]!);
    return n;
  }

  /**
   * Hands each ready sample to `onRecord` with its CPU, CPU by CPU, oldest first per CPU, and
   * frees its space (libbpf's perf_buffer__consume). The view is the reader's scratch copy,
   * valid during the call only. Stops after `max` samples, or when `onRecord` returns false.
   * Lost-sample records add to lost() and go to `onLost`. Never blocks. Returns the number
   * of samples handed over.
   */
  poll(onRecord: (data: Uint8Array, cpu: number) => unknown, opts: PerfPollOptions = {}): number {
    return this.pollBatch((bytes, offset, length, cpu) => onRecord(bytes.subarray(offset, offset + length), cpu), opts);
  }

  /**
   * poll() without a view per sample: each CPU's ready records are copied out in one piece
   * (in two parts where they cross the end of its ring, which makes them contiguous), and
   * `onRecord(bytes, offset, length, cpu)` gets that copy and where the sample is in it.
   */
  pollBatch(onRecord: (bytes: Uint8Array, offset: number, length: number, cpu: number) => unknown, opts: PerfPollOptions = {}): number {
    const rings = this.#open();
    const max = opts.max ?? Infinity;
    let n = 0;
    for (const r of rings) {
      // data_head is read before the records (the kernel publishes it after writing them).
      const head = Number(Atomics.load(r.meta, HEAD));
      const tail = Number(r.meta[TAIL]);
      const total = head - tail;
      if (total === 0) continue;
      if (total > r.data.length || total < 0)
        throw new BpfError({ errno: 5, command: 'perf buffer read', context: `${this.describe()}, CPU ${r.cpu}: head ${head}, tail ${tail}` });
      const b = this.#batchOf(total);
      const dv = this.#scratchView;
      const from = tail & r.mask;
      const first = Math.min(total, r.data.length - from);
      b.set(r.data.subarray(from, from + first));
      if (first < total) b.set(r.data.subarray(0, total - first), first);
      let done = 0;
      let stop = false;
      try {
        while (done < total && n < max) {
          const type = dv.getUint32(done, true);
          const size = dv.getUint16(done + 6, true);
          if (size < PERF_EVENT_HEADER_SIZE || done + size > total)
            throw new BpfError({ errno: 5, command: 'perf buffer read', context: `${this.describe()}, CPU ${r.cpu}: a record of ${size} bytes` });
          if (type === PERF_RECORD_SAMPLE) {
            const raw = dv.getUint32(done + PERF_EVENT_HEADER_SIZE, true);
            const len = Math.min(raw, size - PERF_EVENT_HEADER_SIZE - 4);
            n++;
            const more = onRecord(b, done + PERF_EVENT_HEADER_SIZE + 4, len, r.cpu);
            done += size;
            if (more === false || this.#rings === undefined) {
              stop = true;
              break;
            }
          } else if (type === PERF_RECORD_LOST) {
            const count = Number(dv.getBigUint64(done + PERF_EVENT_HEADER_SIZE + 8, true));
            r.lost += count;
            done += size;
            opts.onLost?.(r.cpu, count);
            if (this.#rings === undefined) {
              stop = true;
              break;
            }
          } else done += size; // nothing else is asked for; skip what a newer kernel might add
        }
      } finally {
        if (this.#rings !== undefined && done > 0) Atomics.store(r.meta, TAIL, BigInt(tail + done));
      }
      if (stop || n >= max) break;
    }
    return n;
  }

  /** Copies out the ready samples (up to `max`), with their CPUs. */
  drain(max = Infinity): PerfRecord[] {
    const out: PerfRecord[] = [];
    this.poll((d, cpu) => {
      out.push({ cpu, data: d.slice() });
    }, { max });
    return out;
  }

  /** As RingBuffer.wait: true once any CPU has data, false after `timeoutMs`. With
   * wakeupEvents > 1 or a watermark, the kernel wakes only at that fill level. */
  async wait(opts: WaitOptions = {}): Promise<boolean> {
    // With the default threshold (every sample wakes) unread data answers at once; with a
    // higher one, only the kernel's wake-up does, or the threshold would mean nothing.
    if (this.#wakesEach && this.pending > 0) {
      await nextTurn(); // as RingBuffer.wait: let the event loop turn between batches
      return true;
    }
    return (await waitReadable(this.#ensureWaiter(), opts, () => this.closedError())) !== undefined;
  }

  /** Waits for samples, then returns copies of the ready ones; [] after `timeoutMs`. */
  read(opts: WaitOptions & { max?: number } = {}): Promise<PerfRecord[]> {
    return readReady(this, () => this.drain(opts.max), opts);
  }

  /** Samples as they come, in batches; ends on close, throws the signal's reason on abort. */
  batches(opts: PerfIterateOptions = {}): AsyncGenerator<PerfRecord[], void, undefined> {
    return readyBatches(this, () => this.drain(opts.max), opts.signal);
  }

  async *records(opts: PerfIterateOptions = {}): AsyncGenerator<PerfRecord, void, undefined> {
    for await (const b of this.batches(opts)) yield* b;
  }

  [Symbol.asyncIterator](): AsyncGenerator<PerfRecord, void, undefined> {
    return this.records();
  }

  /** Empties the map's slots this reader filled, closes the perf events and the waiting
   * thread (the base class closes the map fd after this); reads afterwards are ClosedErrors. */
  protected override released(): void {
    this.#rings = undefined;
    dropped.unregister(this);
    const w = this.#owned.waiter;
    this.#owned.waiter = undefined;
    w?.close(this.closedError());
    release(this.#owned);
  }

  /** The scratch buffer, at least `len` bytes. */
  #batchOf(len: number): Uint8Array {
    if (this.#scratch.length < len) {
      this.#scratch = new Uint8Array(Math.max(len, this.#scratch.length * 2));
      this.#scratchView = new DataView(this.#scratch.buffer);
    }
    return this.#scratch;
  }

  #ensureWaiter(): EpollWaiter {
    if (this.#owned.waiter) return this.#owned.waiter;
    const w = waiterOn(this.describe(), this.#keepAlive, this.#open().map((r) => r.fd));
    this.#owned.waiter = w;
    return w;
  }

  #open(): CpuRing[] {
    if (this.#rings === undefined) throw this.closedError();
    return this.#rings;
  }
}

/** The online CPUs, from /sys/devices/system/cpu/online (`0-3,8-11`). */
export function onlineCpus(): number[] {
  const text = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new BpfError({ errno: 22, command: 'read /sys/devices/system/cpu/online' }, `cannot parse the online CPU list "${text}"`);
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.push(c);
  }
  return out;
}
