// A reader for BPF ring buffers (BPF_MAP_TYPE_RINGBUF), straight from shared memory: the
// kernel maps a consumer page (ours to write), a producer page and the data area twice in a
// row, so a record that wraps around the end is still contiguous. Reading costs no syscall.
//
// Waiting costs none on the main thread either: the async forms (wait, read, records,
// batches, `for await`) sleep in epoll_wait on a worker thread (src/syscall/epoll.ts says why
// a worker and not koffi's async calls), which the kernel wakes when a record is committed.
// The thread starts on the first async call; poll() and drain() never need it.
//
// Process lifetime: a pending wait keeps Node running (like a socket being read) unless the
// reader was opened with `keepAlive: false`; an idle, stopped or aborted reader never holds
// the process. close() ends the thread, which closes its fds before close() returns.
//
// Lifetime of memory: the mappings are unmapped only when no view of them is reachable
// (src/syscall/libc.ts), and no view of them ever leaves this file: the data pages are
// read-only (the kernel allows no other mapping of them), and a JavaScript write through a
// view of them would kill the process. A record is copied into the reader's own scratch
// buffer for their callbacks.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { BpfError, ClosedError, UsageError, errnoName } from '../errors.js';
import {
  BPF_RINGBUF_BUSY_BIT,
  BPF_RINGBUF_DISCARD_BIT,
  BPF_RINGBUF_HDR_SZ,
  FdOwner,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  dupFd,
  mmapFd,
} from '../syscall/index.js';
import type { EpollWaiter } from '../syscall/epoll.js';
import { fdOf, type FdLike } from './create.js';
import { readReady, readyBatches, waitReadable, waiterOn, type WaitOptions } from './event-wait.js';
import { mapInfoByFd } from './info.js';
import { PAGE_SIZE } from './types.js';

export interface RingOpenOptions {
  /** Whether a pending wait keeps the process alive (default true). */
  keepAlive?: boolean;
}

export interface RingReadOptions extends WaitOptions {
  /** At most this many records (default: all that are ready). */
  max?: number;
}

export interface RingIterateOptions {
  /** Ends the iteration: the loop throws `signal.reason` (an AbortError by default). */
  signal?: AbortSignal;
  /** At most this many records per batch (default: all that are ready). */
  max?: number;
}

interface RingViews {
  /** consumer_pos, which we advance; the kernel reads it to know what space is free. */
  consumer: BigUint64Array;
  producer: BigUint64Array;
  /** The data area, mapped twice: offsets up to 2 × size are valid. */
  data: Uint8Array;
  words: Uint32Array;
}

// A reader dropped without close() must not leave its thread parked forever.
const stopWaiter = new FinalizationRegistry<EpollWaiter>((w) => w.close());

export class RingBuffer extends FdOwner implements AsyncIterable<Uint8Array> {
  /** The data area's size in bytes (the map's max_entries). */
  readonly size: number;
  readonly #mask: number;
  /** The views of the mappings, while open (undefined after close: see the lifetime note). */
  #views: RingViews | undefined;
  /** Where records are copied for their callbacks; grows to the largest batch seen. */
  #scratch = new Uint8Array(4096);
  #scratchWords = new Uint32Array(this.#scratch.buffer);
  #waiter: EpollWaiter | undefined;
  readonly #keepAlive: boolean;
  readonly #name: string;

  private constructor(fd: number, size: number, consumer: Uint8Array, rest: Uint8Array, name: string, opts: RingOpenOptions) {
    // The fd is our own duplicate (for epoll); the GC safety net closes it if we are dropped.
    super(fd, 'ring buffer', true);
    this.size = size;
    this.#mask = size - 1;
    this.#name = name;
    this.#keepAlive = opts.keepAlive ?? true;
    const data = rest.subarray(PAGE_SIZE);
    this.#views = {
      consumer: new BigUint64Array(consumer.buffer, consumer.byteOffset, 1),
      producer: new BigUint64Array(rest.buffer, rest.byteOffset, 1),
      data,
      words: new Uint32Array(data.buffer, data.byteOffset, data.length / 4),
    };
  }

  /** Maps a ring buffer map (a BpfMap of type 'ringbuf', or its fd) for reading. The reader
   * holds its own fd and mapping: the ring stays alive in the kernel until close(), even if
   * the map's fd is closed. */
  static open(map: FdLike, opts: RingOpenOptions = {}): RingBuffer {
    const mapFd = fdOf(map, 'RingBuffer.open');
    const info = mapInfoByFd(mapFd, `ring buffer fd ${mapFd}`);
    if (info.type !== 'ringbuf')
      throw new UsageError(`RingBuffer.open needs a ringbuf map, got a ${info.type} map${info.name ? ` '${info.name}'` : ''}`);
    const size = info.maxEntries;
    const consumer = mmapFd(mapFd, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    if (typeof consumer === 'number') throw mmapError(-consumer, 'consumer page');
    // On failure the consumer page goes when its view is collected, like every mapping.
    const rest = mmapFd(mapFd, PAGE_SIZE + 2 * size, PROT_READ, MAP_SHARED, PAGE_SIZE);
    if (typeof rest === 'number') throw mmapError(-rest, 'producer page and data');
    const fd = dupFd(mapFd, 'RingBuffer.open');
    return new RingBuffer(fd, size, consumer, rest, info.name, opts);
  }

  override describe(): string {
    return this.#name ? `ring buffer '${this.#name}'` : 'ring buffer';
  }

  /** Bytes produced and not yet consumed (committed or still being written). */
  get pending(): number {
    const v = this.#open();
    return Number(Atomics.load(v.producer, 0) - Atomics.load(v.consumer, 0));
  }

  /**
   * Hands each committed record to `onRecord`, oldest first, and frees its space. Stops at a
   * record still being written, after `max` records, or when `onRecord` returns false (that
   * record counts as consumed). Discarded records are skipped. The view passed to `onRecord`
   * is the reader's scratch copy of the record, only valid during the call: copy what you
   * keep (a later poll overwrites it). Never blocks (libbpf's ring_buffer__consume).
   * Returns the number of records handed over.
   */
  poll(onRecord: (data: Uint8Array) => unknown, max = Infinity): number {
    return this.pollBatch((bytes, offset, length) => onRecord(bytes.subarray(offset, offset + length)), max);
  }

  /**
   * poll() without a view per record: the ready records are copied out in one piece, and
   * `onRecord(bytes, offset, length)` gets that copy with where each record is in it. No
   * allocation per record: the fastest way to read a busy ring. `bytes` is the reader's
   * scratch buffer, valid during the call only.
   */
  pollBatch(onRecord: (bytes: Uint8Array, offset: number, length: number) => unknown, max = Infinity): number {
    const v = this.#open();
    const cons = Number(Atomics.load(v.consumer, 0));
    const prod = Number(Atomics.load(v.producer, 0));
    // How far the records are committed: the producer clears the busy bit of the length word
    // last (a release), and the records' bytes are copied only after this walk. A plain load
    // is an acquire on x86-64 (loads are not reordered with loads), the only architecture
    // tsbpf's syscall table knows; an arm64 port needs Atomics.load here (measured: 4 ns of a
    // record's 12–16 on this machine).
    const words32 = v.words;
    const mask = this.#mask;
    let end = cons;
    let count = 0;
    while (end < prod && count < max) {
      const len = words32[(end & mask) >>> 2]!;
      if (len & BPF_RINGBUF_BUSY_BIT) break;
      if (!(len & BPF_RINGBUF_DISCARD_BIT)) count++;
      end += ((len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT)) + BPF_RINGBUF_HDR_SZ + 7) & ~7;
    }
    const total = end - cons;
    if (total === 0) return 0;
    // One copy of all of them: the data area is mapped twice in a row, so it is contiguous.
    if (this.#scratch.length < total) {
      this.#scratch = new Uint8Array(Math.max(total, this.#scratch.length * 2));
      this.#scratchWords = new Uint32Array(this.#scratch.buffer);
    }
    const b = this.#scratch;
    const words = this.#scratchWords;
    const from = cons & this.#mask;
    b.set(v.data.subarray(from, from + total));
    // `done`: the end of the last record handled. A throwing callback leaves its record
    // unconsumed (it comes again), the earlier ones not.
    let done = 0;
    let n = 0;
    try {
      while (done < total) {
        const len = words[done >>> 2]!;
        const dataLen = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
        const next = done + ((dataLen + BPF_RINGBUF_HDR_SZ + 7) & ~7);
        if (len & BPF_RINGBUF_DISCARD_BIT) {
          done = next;
          continue;
        }
        n++;
        const more = onRecord(b, done + BPF_RINGBUF_HDR_SZ, dataLen);
        done = next;
        if (more === false) break;
      }
    } finally {
      // The consumer position is published once per batch, not per record: the kernel wakes
      // nobody while we lag, and a waiter's epoll_wait looks at the level (data between the
      // positions), so nothing is missed. A callback that closed the reader leaves it alone.
      if (this.#views !== undefined && done > 0) Atomics.store(v.consumer, 0, BigInt(cons + done));
    }
    return n;
  }

  /** Copies out the committed records (up to `max`). */
  drain(max = Infinity): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.poll((d) => {
      out.push(d.slice());
    }, max);
    return out;
  }

  /**
   * Resolves with true once a record is ready (at once if one is), false after `timeoutMs`.
   * Rejects with the signal's reason on abort, and with ClosedError if the reader is closed
   * meanwhile. `while (await ring.wait()) ring.poll(onRecord)` is libbpf's ring_buffer__poll.
   */
  async wait(opts: WaitOptions = {}): Promise<boolean> {
    // Answered from unread data, it still resolves on the next turn of the event loop: a
    // `while (await ring.wait()) ring.poll(f)` loop behind a fast producer must let timers
    // and I/O run between batches, which a promise resolved at once would not.
    if (this.pending > 0) {
      await nextTurn();
      return true;
    }
    const got = await waitReadable(this.#ensureWaiter(), opts, () => this.closedError());
    return got !== undefined;
  }

  /**
   * Waits until at least one record is ready, then returns copies of the ready ones (up to
   * `max`); [] after `timeoutMs`. Woken by the kernel, not by a timer.
   */
  read(opts: RingReadOptions = {}): Promise<Uint8Array[]> {
    return readReady(this, () => this.drain(opts.max), opts);
  }

  /**
   * The records as they come, in batches (copies). Ends when the reader is closed; throws the
   * signal's reason when it is aborted. Breaking out of the loop leaves the reader open.
   */
  batches(opts: RingIterateOptions = {}): AsyncGenerator<Uint8Array[], void, undefined> {
    return readyBatches(this, () => this.drain(opts.max), opts.signal);
  }

  /** The records as they come, one at a time (copies): `for await (const r of ring.records({ signal }))`. */
  async *records(opts: RingIterateOptions = {}): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const batch of this.batches(opts)) yield* batch;
  }

  /** `for await (const r of ring)`: records() without a signal. */
  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    return this.records();
  }

  /** Stops reading: later calls throw ClosedError, a pending wait rejects with it and an
   * iteration ends. The waiting thread ends and closes its fds shortly after (closedAsync);
   * the mappings (and the ring's memory in the kernel) go when no record view a callback
   * kept is reachable any more. */
  protected override released(): void {
    this.#views = undefined;
    const w = this.#waiter;
    if (w) {
      stopWaiter.unregister(this);
      w.close(this.closedError());
    }
  }

  /** close(), then resolves once the waiting thread (if any) has ended and closed its fds. */
  async closedAsync(): Promise<void> {
    const w = this.#waiter;
    this.close();
    await w?.exited;
  }

  #ensureWaiter(): EpollWaiter {
    if (this.#waiter) return this.#waiter;
    const w = waiterOn(this.describe(), this.#keepAlive, [this.fd]);
    stopWaiter.register(this, w, this);
    this.#waiter = w;
    return w;
  }

  #open(): RingViews {
    if (this.#views === undefined) throw this.closedError();
    return this.#views;
  }

}

export type RingCallback = (data: Uint8Array, ring: RingBuffer) => unknown;

export interface RingSetRecord {
  /** Which ring of the set the record came from. */
  ring: RingBuffer;
  /** A copy of the record. */
  data: Uint8Array;
}

/**
 * Several ring buffers read together, woken by one epoll set and one thread (libbpf's
 * ring_buffer__add): `add()` each map with its callback, then `poll()` (never blocks),
 * `await wait()`, `run({ signal })`, or iterate. The set owns the rings it opened: close()
 * closes them. Process lifetime as for RingBuffer.
 */
export class RingBufferSet implements AsyncIterable<RingSetRecord>, Disposable {
  readonly #rings: { ring: RingBuffer; onRecord: RingCallback | undefined }[] = [];
  #waiter: EpollWaiter | undefined;
  readonly #keepAlive: boolean;
  #closed = false;

  constructor(opts: RingOpenOptions = {}) {
    this.#keepAlive = opts.keepAlive ?? true;
  }

  /** Opens a ring buffer map into the set; its records go to `onRecord` in poll() and run()
   * (with the same scratch-view rule as RingBuffer.poll), and to records() either way. */
  add(map: FdLike, onRecord?: RingCallback): RingBuffer {
    this.#check();
    if (onRecord !== undefined && typeof onRecord !== 'function') throw new UsageError('RingBufferSet.add: onRecord must be a function');
    const ring = RingBuffer.open(map, { keepAlive: this.#keepAlive });
    try {
      this.#waiter?.add(ring.fd, this.#rings.length);
    } catch (e) {
      ring.close();
      throw e;
    }
    this.#rings.push({ ring, onRecord });
    return ring;
  }

  get rings(): readonly RingBuffer[] {
    return this.#rings.map((r) => r.ring);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Hands every ready record of every ring to its callback; returns how many. Never blocks
   * (libbpf's ring_buffer__consume). `max` bounds the records taken from each ring. */
  poll(max = Infinity): number {
    this.#check();
    let n = 0;
    for (const { ring, onRecord } of this.#rings) {
      if (onRecord === undefined) throw new UsageError(`RingBufferSet.poll: ${ring.describe()} was added without a callback (read it with records())`);
      n += ring.poll((d) => onRecord(d, ring), max);
      if (this.#closed) break;
    }
    return n;
  }

  /** Resolves with true once any ring has a record, false after `timeoutMs`; rejects with
   * the signal's reason on abort and with ClosedError if the set is closed meanwhile. */
  async wait(opts: WaitOptions = {}): Promise<boolean> {
    this.#check();
    if (this.#rings.some((r) => r.ring.pending > 0)) {
      await nextTurn(); // as RingBuffer.wait: let the event loop turn between batches
      return true;
    }
    return (await waitReadable(this.#ensureWaiter(), opts, () => this.#closedError())) !== undefined;
  }

  /** poll() whenever the kernel says there is something, until the signal aborts (then it
   * resolves) or the set is closed (also resolves). Errors of callbacks reject. */
  async run(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = opts;
    while (!this.#closed && !signal?.aborted) {
      this.poll();
      try {
        await this.wait(signal ? { signal } : {});
      } catch (e) {
        if (this.#closed || signal?.aborted) return;
        throw e;
      }
    }
  }

  /** Every ring's records as they come, as copies with the ring they came from. Ends when the
   * set is closed; throws the signal's reason on abort. */
  async *records(opts: RingIterateOptions = {}): AsyncGenerator<RingSetRecord, void, undefined> {
    const drain = (): RingSetRecord[] => this.#rings.flatMap(({ ring }) => ring.drain(opts.max).map((data) => ({ ring, data })));
    for await (const batch of readyBatches(this, drain, opts.signal)) yield* batch;
  }

  [Symbol.asyncIterator](): AsyncGenerator<RingSetRecord, void, undefined> {
    return this.records();
  }

  /** Closes the rings and ends the waiting thread (its fds are closed before this returns). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#waiter) {
      stopWaiter.unregister(this);
      this.#waiter.close(this.#closedError());
    }
    for (const { ring } of this.#rings) ring.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #ensureWaiter(): EpollWaiter {
    if (this.#waiter) return this.#waiter;
    const w = waiterOn('ring buffer set', this.#keepAlive, this.#rings.map(({ ring }) => ring.fd));
    stopWaiter.register(this, w, this);
    this.#waiter = w;
    return w;
  }

  #closedError(): ClosedError {
    return new ClosedError('ring buffer set');
  }

  #check(): void {
    if (this.#closed) throw this.#closedError();
  }
}

function mmapError(errno: number, what: string): BpfError {
  return new BpfError({ errno, command: 'mmap', context: `ring buffer ${what}` }, `mmap of the ring buffer ${what} failed: ${errnoName(errno)}`);
}
