// A map whose keys and values are plain JavaScript values, encoded and decoded by the map's BTF
// (src/btf/codec.ts says which JavaScript type each C type becomes). It sits on the byte-level
// calls of BpfMap, which stay as they are (zero-allocation); this layer allocates the decoded
// objects it returns, and nothing else per call: keys and values are encoded into scratch
// buffers of its own.
import { UsageError } from '../errors.js';
import { valueCodec, type BtfValue, type Init, type ValueCodec } from '../btf/codec.js';
import type { BpfMap, ElemFlags, IterateOptions } from './map.js';
import { kernelMapBtf, type MapBtfTypes } from './map-btf.js';
import { traitsOf } from './types.js';

/** What `update` takes for a value read as `Out`: per-CPU maps (Out = V[]) take one value per
 * possible CPU or one value for every CPU. */
export type TypedInit<V, Out> = Out extends readonly unknown[] ? Init<V> | readonly Init<V>[] : Init<V>;

/**
 * A typed view of a map: `K` and `V` are the decoded key and value types (a generated skeleton
 * states them exactly; `map.typed<K, V>()` takes the caller's word for them), `Out` what a
 * lookup returns: `V`, or `V[]` (one per possible CPU) for per-CPU maps.
 */
export class TypedMap<K = BtfValue, V = BtfValue, Out extends V | V[] = V> {
  /** The byte-level map underneath (the same object: closing it closes this view's map). */
  readonly map: BpfMap;
  readonly keyCodec: ValueCodec<K> | undefined;
  readonly valueCodec: ValueCodec<V>;
  readonly #perCpu: boolean;
  readonly #cpus: number;
  readonly #stride: number;
  readonly #key: Uint8Array | null;
  readonly #keyView: DataView | null;
  readonly #value: Uint8Array;
  readonly #valueView: DataView;

  /** Prefer `map.typed()` (which finds the BTF itself) or a generated skeleton. */
  constructor(map: BpfMap, types: MapBtfTypes, perCpu: boolean) {
    const traits = traitsOf(map.typeId);
    const what = map.describe();
    if (!!traits.perCpu !== perCpu)
      throw new UsageError(perCpu ? `${what} is not per-CPU: use typed()` : `${what} is per-CPU (one value per CPU): use typedPerCpu()`);
    if (traits.fdToId || traits.fdValue || map.type === 'ringbuf' || map.type === 'user_ringbuf' || map.type === 'arena' || map.type === 'perf_event_array')
      throw new UsageError(`${what} holds ${traits.fdToId || traits.fdValue ? 'file descriptors (ids when read)' : 'no values of its own'}: use its byte-level API`);
    if (types === null || typeof types !== 'object' || typeof types.btf?.type !== 'function') throw new UsageError(`typed view of ${what}: need { btf, keyType, valueType }`);
    this.map = map;
    const vc = valueCodec<V>(types.btf, types.valueType);
    if (vc.size !== map.valueSize) throw new UsageError(`${what}: its BTF value type ${vc.ctype} is ${vc.size} bytes, the map's values are ${map.valueSize}`);
    this.valueCodec = vc;
    if (map.keySize === 0) this.keyCodec = undefined;
    else {
      if (!types.keyType) throw new UsageError(`${what} has keys but no BTF key type`);
      const kc = valueCodec<K>(types.btf, types.keyType);
      if (kc.size !== map.keySize) throw new UsageError(`${what}: its BTF key type ${kc.ctype} is ${kc.size} bytes, the map's keys are ${map.keySize}`);
      this.keyCodec = kc;
    }
    this.#perCpu = !!traits.perCpu;
    this.#cpus = map.cpus;
    this.#stride = this.#perCpu ? Math.ceil(map.valueSize / 8) * 8 : map.valueSize;
    this.#key = map.keySize ? new Uint8Array(map.keySize) : null;
    this.#keyView = this.#key ? new DataView(this.#key.buffer) : null;
    this.#value = new Uint8Array(map.valueBytes);
    this.#valueView = new DataView(this.#value.buffer);
  }

  get name(): string {
    return this.map.name;
  }

  /** The value at `key`, decoded; undefined if there is none. Per-CPU maps: one per CPU. */
  lookup(key: Init<K>, flags?: ElemFlags): Out | undefined {
    return this.map.lookupInto(this.#putKey(key), this.#value, flags) ? this.#decodeValue(this.#value) : undefined;
  }

  /** Encodes `value` (members left out are zero) and writes it at `key`. Per-CPU maps take
   * one value per CPU, or a single value for every CPU. A value that does not fit its C type
   * is a BtfValueError, and nothing is written. */
  update(key: Init<K>, value: TypedInit<V, Out>, flags?: ElemFlags): void {
    const k = this.#putKey(key);
    this.#encodeValue(value);
    this.map.update(k, this.#value, flags);
  }

  /** Removes `key`; false if it was not there. */
  delete(key: Init<K>): boolean {
    return this.map.delete(this.#putKey(key));
  }

  /** Removes `key` and returns its value (hash maps). */
  lookupAndDelete(key: Init<K>, flags?: ElemFlags): Out | undefined {
    const v = this.map.lookupAndDelete(this.#putKey(key), flags);
    return v === undefined ? undefined : this.#decodeAny(v);
  }

  /** Decoded keys (see BpfMap.keys for what concurrent changes do). */
  *keys(opts?: IterateOptions): Generator<K, void, undefined> {
    const kc = this.#keyed('keys');
    for (const k of this.map.keys(opts)) yield kc.decode(k);
  }

  /** Decoded `[key, value]` pairs. */
  *entries(opts?: IterateOptions): Generator<[K, Out], void, undefined> {
    const kc = this.#keyed('entries');
    for (const [k, v] of this.map.entries(opts)) yield [kc.decode(k), this.#decodeAny(v)];
  }

  *values(opts?: IterateOptions): Generator<Out, void, undefined> {
    for (const [, v] of this.entries(opts)) yield v;
  }

  [Symbol.iterator](): Generator<[K, Out], void, undefined> {
    return this.entries();
  }

  /** Queue/stack/bloom filter: adds a value. */
  push(value: Init<V>, flags?: ElemFlags): void {
    this.#encodeValue(value);
    this.map.push(this.#value, flags);
  }

  /** Queue/stack: removes and returns the next value. */
  pop(): V | undefined {
    const v = this.map.pop();
    return v === undefined ? undefined : this.valueCodec.decode(v);
  }

  /** Queue/stack: the next value, left in place. */
  peek(): V | undefined {
    const v = this.map.peek();
    return v === undefined ? undefined : this.valueCodec.decode(v);
  }

  /** Encodes a key as the map stores it (for the byte-level API). */
  keyBytes(key: Init<K>): Uint8Array {
    return this.#keyed('keyBytes').toBytes(key, 'key');
  }

  // ---- internals ----

  #keyed(op: string): ValueCodec<K> {
    if (!this.keyCodec) throw new UsageError(`${this.map.describe()} has no keys: ${op}() is for maps with keys`);
    return this.keyCodec;
  }

  #putKey(key: Init<K>): Uint8Array | null {
    const buf = this.#key;
    if (buf === null) {
      if (key !== null && key !== undefined) throw new UsageError(`${this.map.describe()} has no keys: pass null`);
      return null;
    }
    this.keyCodec!.encodeAt(key, buf, this.#keyView!, 0, 'key');
    return buf;
  }

  #encodeValue(value: unknown): void {
    const vc = this.valueCodec as ValueCodec<unknown>;
    if (!this.#perCpu) {
      vc.encodeAt(value as Init<unknown>, this.#value, this.#valueView, 0, 'value');
      return;
    }
    const buf = this.#value;
    buf.fill(0);
    // One value per CPU, or one value for all: an array is per-CPU only when the value type
    // itself is not an array (its codec would then take the list as one value).
    if (Array.isArray(value) && vc.shape.kind !== 'array' && vc.shape.kind !== 'bytes') {
      if (value.length !== this.#cpus) throw new UsageError(`${this.map.describe()}: expected one value per possible CPU (${this.#cpus}), got ${value.length}`);
      for (let i = 0; i < this.#cpus; i++) vc.encodeAt(value[i] as Init<unknown>, buf, this.#valueView, i * this.#stride, `value[cpu ${i}]`);
      return;
    }
    vc.encodeAt(value as Init<unknown>, buf, this.#valueView, 0, 'value');
    for (let i = 1; i < this.#cpus; i++) buf.copyWithin(i * this.#stride, 0, this.#stride);
  }

  #decodeValue(bytes: Uint8Array): Out {
    const vc = this.valueCodec;
    // The scratch buffer has a DataView of its own; a buffer from BpfMap gets one here.
    const view = bytes === this.#value ? this.#valueView : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!this.#perCpu) return vc.decodeAt(bytes, view, 0) as Out;
    const out: V[] = new Array(this.#cpus);
    for (let i = 0; i < this.#cpus; i++) out[i] = vc.decodeAt(bytes, view, i * this.#stride);
    return out as Out;
  }

  /** What BpfMap.lookup/entries return: one buffer, or one per CPU. */
  #decodeAny(v: Uint8Array | Uint8Array[] | number): Out {
    if (Array.isArray(v)) return v.map((b) => this.valueCodec.decode(b)) as Out;
    if (typeof v === 'number') throw new UsageError(`${this.map.describe()} returns ids, not values`);
    return this.#decodeValue(v);
  }
}

/** The BTF the kernel recorded for a map, read and parsed once per BpfMap. */
const kernelTypes = new WeakMap<BpfMap, MapBtfTypes>();
function typesOf(map: BpfMap): MapBtfTypes {
  let t = kernelTypes.get(map);
  if (!t) kernelTypes.set(map, (t = kernelMapBtf(map.info(), map.describe())));
  return t;
}

/** A typed view of `map` (not per-CPU): by `types` when given (an object's parsed BTF), else by
 * the BTF the kernel recorded for the map (read from the kernel and parsed, once per map). */
export function typedMap<K = BtfValue, V = BtfValue>(map: BpfMap, types?: MapBtfTypes): TypedMap<K, V, V> {
  return new TypedMap<K, V, V>(map, types ?? typesOf(map), false);
}

/** A typed view of a per-CPU map: a lookup returns one value per possible CPU. */
export function typedPerCpuMap<K = BtfValue, V = BtfValue>(map: BpfMap, types?: MapBtfTypes): TypedMap<K, V, V[]> {
  return new TypedMap<K, V, V[]>(map, types ?? typesOf(map), true);
}
