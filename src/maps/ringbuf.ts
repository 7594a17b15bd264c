// A reader for BPF ring buffers (BPF_MAP_TYPE_RINGBUF), straight from shared memory: the
// kernel maps a consumer page (ours to write), a producer page and the data area twice in a
// row, so a record that wraps around the end is still contiguous. Reading costs no syscall.
import { BpfError, UsageError, errnoName } from '../errors.js';
import {
  BPF_RINGBUF_BUSY_BIT,
  BPF_RINGBUF_DISCARD_BIT,
  BPF_RINGBUF_HDR_SZ,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  mmapFd,
  type Mapping,
} from '../syscall/index.js';
import { fdOf, type FdLike } from './create.js';
import { mapInfoByFd } from './info.js';
import { PAGE_SIZE } from './types.js';

// A ring dropped without close() gives its mappings back when collected. Record views handed
// to callbacks are only valid during the callback, so nothing can outlive the mapping legally.
const leaked = new FinalizationRegistry<Mapping[]>((ms) => {
  for (const m of ms) m.unmap();
});

export interface RingReadOptions {
  /** Give up and resolve with [] after this long (default: wait forever). */
  timeoutMs?: number;
  /** How often to look at the producer position while waiting (default 5 ms). */
  intervalMs?: number;
  /** At most this many records (default: all that are ready). */
  max?: number;
}

export class RingBuffer {
  /** The data area's size in bytes (the map's max_entries). */
  readonly size: number;
  readonly #mask: number;
  readonly #maps: Mapping[];
  /** consumer_pos, which we advance; the kernel reads it to know what space is free. */
  readonly #consumer: BigUint64Array;
  readonly #producer: BigUint64Array;
  /** The data area, mapped twice: offsets up to 2 × size are valid. */
  readonly #data: Uint8Array;
  readonly #words: Uint32Array;
  #closed = false;

  private constructor(size: number, consumer: Mapping, rest: Mapping) {
    this.size = size;
    this.#mask = size - 1;
    this.#maps = [consumer, rest];
    this.#consumer = new BigUint64Array(consumer.bytes.buffer, consumer.bytes.byteOffset, 1);
    this.#producer = new BigUint64Array(rest.bytes.buffer, rest.bytes.byteOffset, 1);
    this.#data = rest.bytes.subarray(PAGE_SIZE);
    this.#words = new Uint32Array(this.#data.buffer, this.#data.byteOffset, this.#data.length / 4);
    leaked.register(this, this.#maps, this);
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
    const rest = mmapFd(fd, PAGE_SIZE + 2 * size, PROT_READ, MAP_SHARED, PAGE_SIZE);
    if (typeof rest === 'number') {
      consumer.unmap();
      throw mmapError(-rest, 'producer page and data');
    }
    return new RingBuffer(size, consumer, rest);
  }

  /** Bytes produced and not yet consumed (committed or still being written). */
  get pending(): number {
    this.#check();
    return Number(Atomics.load(this.#producer, 0) - Atomics.load(this.#consumer, 0));
  }

  /**
   * Hands each committed record to `onRecord`, oldest first, and frees its space. Stops at a
   * record still being written, after `max` records, or when `onRecord` returns false (that
   * record counts as consumed). Discarded records are skipped. The view passed to `onRecord`
   * points into the ring and is only valid during the call: copy what you keep.
   * Returns the number of records handed over.
   */
  poll(onRecord: (data: Uint8Array) => unknown, max = Infinity): number {
    this.#check();
    let cons = Number(Atomics.load(this.#consumer, 0));
    const prod = Number(Atomics.load(this.#producer, 0));
    let n = 0;
    while (cons < prod && n < max) {
      const off = cons & this.#mask;
      // The length word is written last by the producer (with the busy bit cleared).
      const len = Atomics.load(this.#words, off / 4);
      if (len & BPF_RINGBUF_BUSY_BIT) break;
      const dataLen = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
      cons += Math.ceil((dataLen + BPF_RINGBUF_HDR_SZ) / 8) * 8;
      let more: unknown = true;
      if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
        n++;
        more = onRecord(this.#data.subarray(off + BPF_RINGBUF_HDR_SZ, off + BPF_RINGBUF_HDR_SZ + dataLen));
      }
      // Free the space as soon as the record is handled, so producers can reuse it.
      Atomics.store(this.#consumer, 0, BigInt(cons));
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

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    leaked.unregister(this);
    for (const m of this.#maps) m.unmap();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #check(): void {
    if (this.#closed) throw new UsageError('this RingBuffer is closed');
  }
}

function mmapError(errno: number, what: string): BpfError {
  return new BpfError({ errno, command: 'mmap', context: `ring buffer ${what}` }, `mmap of the ring buffer ${what} failed: ${errnoName(errno)}`);
}
