// A reader for BPF ring buffers (BPF_MAP_TYPE_RINGBUF), straight from shared memory: the
// kernel maps a consumer page (ours to write), a producer page and the data area twice in a
// row, so a record that wraps around the end is still contiguous. Reading costs no syscall.
//
// Lifetime: the mappings are unmapped only when no view of them is reachable (src/syscall/
// libc.ts), and no view of them ever leaves this file: the data pages are read-only (the
// kernel allows no other mapping of them), and a JavaScript write through a view of them would
// kill the process. A record is copied into the reader's own scratch buffer for its callback.
import { BpfError, ClosedError, UsageError, errnoName } from '../errors.js';
import {
  BPF_RINGBUF_BUSY_BIT,
  BPF_RINGBUF_DISCARD_BIT,
  BPF_RINGBUF_HDR_SZ,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  mmapFd,
} from '../syscall/index.js';
import { fdOf, type FdLike } from './create.js';
import { mapInfoByFd } from './info.js';
import { PAGE_SIZE } from './types.js';

export interface RingReadOptions {
  /** Give up and resolve with [] after this long (default: wait forever). */
  timeoutMs?: number;
  /** How often to look at the producer position while waiting (default 5 ms). */
  intervalMs?: number;
  /** At most this many records (default: all that are ready). */
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

export class RingBuffer {
  /** The data area's size in bytes (the map's max_entries). */
  readonly size: number;
  readonly #mask: number;
  /** The views of the mappings, while open (undefined after close: see the lifetime note). */
  #views: RingViews | undefined;
  /** Where a record is copied for its callback; grows to the largest record seen. */
  #scratch = new Uint8Array(256);

  private constructor(size: number, consumer: Uint8Array, rest: Uint8Array) {
    this.size = size;
    this.#mask = size - 1;
    const data = rest.subarray(PAGE_SIZE);
    this.#views = {
      consumer: new BigUint64Array(consumer.buffer, consumer.byteOffset, 1),
      producer: new BigUint64Array(rest.buffer, rest.byteOffset, 1),
      data,
      words: new Uint32Array(data.buffer, data.byteOffset, data.length / 4),
    };
  }

  /** Maps a ring buffer map (a BpfMap of type 'ringbuf', or its fd) for reading. The mapping
   * keeps the ring alive in the kernel until close(), even if the map's fd is closed. */
  static open(map: FdLike): RingBuffer {
    const fd = fdOf(map, 'RingBuffer.open');
    const info = mapInfoByFd(fd, `ring buffer fd ${fd}`);
    if (info.type !== 'ringbuf')
      throw new UsageError(`RingBuffer.open needs a ringbuf map, got a ${info.type} map${info.name ? ` '${info.name}'` : ''}`);
    const size = info.maxEntries;
    const consumer = mmapFd(fd, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    if (typeof consumer === 'number') throw mmapError(-consumer, 'consumer page');
    // On failure the consumer page goes when its view is collected, like every mapping.
    const rest = mmapFd(fd, PAGE_SIZE + 2 * size, PROT_READ, MAP_SHARED, PAGE_SIZE);
    if (typeof rest === 'number') throw mmapError(-rest, 'producer page and data');
    return new RingBuffer(size, consumer, rest);
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
   * keep (a later record overwrites it).
   * Returns the number of records handed over.
   */
  poll(onRecord: (data: Uint8Array) => unknown, max = Infinity): number {
    const v = this.#open();
    let cons = Number(Atomics.load(v.consumer, 0));
    const prod = Number(Atomics.load(v.producer, 0));
    let n = 0;
    while (cons < prod && n < max) {
      const off = cons & this.#mask;
      // The length word is written last by the producer (with the busy bit cleared).
      const len = Atomics.load(v.words, off / 4);
      if (len & BPF_RINGBUF_BUSY_BIT) break;
      const dataLen = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      cons += Math.ceil((dataLen + BPF_RINGBUF_HDR_SZ) / 8) * 8;
      let more: unknown = true;
      if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
        n++;
        const start = off + BPF_RINGBUF_HDR_SZ;
        if (this.#scratch.length < dataLen) this.#scratch = new Uint8Array(Math.max(dataLen, this.#scratch.length * 2));
        this.#scratch.set(v.data.subarray(start, start + dataLen));
        more = onRecord(this.#scratch.subarray(0, dataLen));
      }
      // Free the space as soon as the record is handled, so producers can reuse it.
      Atomics.store(v.consumer, 0, BigInt(cons));
      if (more === false) break;
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
   * Waits until at least one record is ready, then returns copies of the ready ones. Waiting
   * watches the producer position in shared memory every `intervalMs` (no epoll, no syscall):
   * fine for tools and tests, a few milliseconds of latency.
   */
  async read(opts: RingReadOptions = {}): Promise<Uint8Array[]> {
    const interval = opts.intervalMs ?? 5;
    const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
    for (;;) {
      const got = this.drain(opts.max);
      if (got.length || Date.now() >= deadline) return got;
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(interval, deadline - Date.now()))));
    }
  }

  get closed(): boolean {
    return this.#views === undefined;
  }

  /** Stops reading: later calls throw ClosedError. The mappings (and the ring's memory in the
   * kernel) go when no record view a callback kept is reachable any more. */
  close(): void {
    this.#views = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #open(): RingViews {
    if (this.#views === undefined) throw new ClosedError('ring buffer');
    return this.#views;
  }
}

function mmapError(errno: number, what: string): BpfError {
  return new BpfError({ errno, command: 'mmap', context: `ring buffer ${what}` }, `mmap of the ring buffer ${what} failed: ${errnoName(errno)}`);
}
