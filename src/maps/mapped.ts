// Typed access to an mmap()ed array map: element values read and written in the memory BPF
// programs use, with no syscall at all (a lookup costs a bpf(2) call of about a microsecond;
// this costs a memory access). The kernel lays element i out at i × valueSize rounded up to
// 8, so one typed array over the whole mapping serves every element.
//
// Lifetime: the accessor holds the view, and the view holds the mapping (src/syscall/libc.ts
// unmaps only when the last view is collected), so it stays valid after the map is closed —
// it then reads and writes memory no program can see any more, never unmapped memory.
import { UsageError } from '../errors.js';

const KINDS = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  f32: Float32Array,
  f64: Float64Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
} as const;

/** How a value (or a member of it) is read: the C scalar type, native (little-endian) order. */
export type MappedKind = keyof typeof KINDS;
/** What get() returns and set() takes: bigint for the 64-bit integers, number otherwise. */
export type MappedValue<K extends MappedKind> = K extends 'u64' | 'i64' ? bigint : number;

export interface MappedArrayOptions {
  /** Byte offset of the member inside each value (default 0); a multiple of the kind's size. */
  offset?: number;
}

export class MappedArray<K extends MappedKind = MappedKind> {
  /** Number of elements (the map's maxEntries). */
  readonly length: number;
  readonly kind: K;
  /**
   * The typed array over the whole mapping, for loops that want no call per element: element
   * i's member is at `array[i * stride + base]`.
   */
  readonly array: InstanceType<(typeof KINDS)[K]>;
  /** Array slots from one element to the next. */
  readonly stride: number;
  /** Array slot of the member within an element. */
  readonly base: number;
  readonly #bigint: boolean;
  readonly #what: string;

  /** @internal made by BpfMap.mappedArray() */
  constructor(view: Uint8Array, kind: K, valueSize: number, length: number, what: string, opts: MappedArrayOptions = {}) {
    const Ctor = KINDS[kind];
    if (!Ctor || !Object.hasOwn(KINDS, kind)) throw new UsageError(`${what}: unknown element kind ${JSON.stringify(kind)}; expected one of ${Object.keys(KINDS).join(', ')}`);
    const size = Ctor.BYTES_PER_ELEMENT;
    const offset = opts.offset ?? 0;
    if (!Number.isInteger(offset) || offset < 0 || offset % size !== 0 || offset + size > valueSize)
      throw new UsageError(`${what}: a ${kind} at offset ${offset} does not fit a ${valueSize}-byte value (offsets are multiples of ${size})`);
    const strideBytes = Math.ceil(valueSize / 8) * 8;
    this.length = length;
    this.kind = kind;
    this.stride = strideBytes / size;
    this.base = offset / size;
    this.array = new Ctor(view.buffer as ArrayBuffer, view.byteOffset, (strideBytes * length) / size) as InstanceType<(typeof KINDS)[K]>;
    this.#bigint = kind === 'u64' || kind === 'i64';
    this.#what = what;
  }

  /** Element i's value (its member at `offset`). */
  get(i: number): MappedValue<K> {
    if (!(i >= 0 && i < this.length && i === Math.floor(i))) this.#badIndex(i);
    return this.array[i * this.stride + this.base] as MappedValue<K>;
  }

  /** Writes element i's value (its member at `offset`): visible to BPF programs at once. */
  set(i: number, v: MappedValue<K>): void {
    if (!(i >= 0 && i < this.length && i === Math.floor(i))) this.#badIndex(i);
    if (typeof v !== (this.#bigint ? 'bigint' : 'number'))
      throw new UsageError(`${this.#what}: a ${this.kind} value is a ${this.#bigint ? 'bigint' : 'number'}, got ${typeof v}`);
    (this.array as unknown as (number | bigint)[])[i * this.stride + this.base] = v;
  }

  #badIndex(i: number): never {
    throw new UsageError(`${this.#what}: index ${String(i)} is not an element (0..${this.length - 1})`);
  }
}
