// A BPF map owning its fd. Element operations are the hot path: each map keeps encoded attrs
// whose key/value pointers already point at its own stable scratch buffers, so a call copies
// the key (and value) bytes in and makes one bpf(2) call — no allocation, no BigInt, no
// koffi.address per call. `lookup` returns a copy the caller owns.
import { BpfError, TsbpfError, UsageError, errnoName } from '../errors.js';
import {
  Attr,
  MAP_BATCH_ATTR,
  MAP_ELEM_ATTR,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  bpfRaw,
  bpf_cmd,
  bpf_map_create_flags,
  bpf_update_flags,
  commandName,
  mmapFd,
  stableBuffer,
} from '../syscall/index.js';
import { bpfAttr } from '../syscall/bpf.js';
import { KernelObject, closeOnError, duplicateFd, openById, openPinned } from '../syscall/kernel-object.js';
import { possibleCpus } from './cpus.js';
import { createMap, type MapCreateOptions, type MapDesc } from './create.js';
import { checkMapCompatible, createOptionsOf, hasInitialData, pinPathOf, type MapFromSpecOptions } from './spec.js';
import type { MapSpec } from '../elf/spec.js';
import { E2BIG, EBADF, EBUSY, EEXIST, EINVAL, ENOENT, ENOSPC, ENOTSOCK, ENOTSUPP, EOPNOTSUPP, EPERM } from './errno.js';
import { mapInfoByFd, type MapInfo } from './info.js';
import { mapTypeName, PAGE_SIZE, parseMapType, traitsOf, type MapType, type TypeTraits } from './types.js';
import { typedMap, typedPerCpuMap, type TypedMap } from './typed.js';
import { MappedArray, type MappedArrayOptions, type MappedKind } from './mapped.js';
import type { MapBtfTypes } from './map-btf.js';
import type { BtfValue } from '../btf/codec.js';

const C = bpf_cmd;
const ELEM_SIZE = MAP_ELEM_ATTR.size;
// Hot-path names as module constants: reading an imported binding or a member of an imported
// object on every call measurably slows a 1 µs syscall wrapper (about 4% each, under tsx).
const raw = bpfRaw;
const LOOKUP = bpf_cmd.BPF_MAP_LOOKUP_ELEM;
const UPDATE = bpf_cmd.BPF_MAP_UPDATE_ELEM;
const DELETE = bpf_cmd.BPF_MAP_DELETE_ELEM;
const LOOKUP_AND_DELETE = bpf_cmd.BPF_MAP_LOOKUP_AND_DELETE_ELEM;
const GET_NEXT_KEY = bpf_cmd.BPF_MAP_GET_NEXT_KEY;
// BPF_MAP_DELETE_ELEM's last field is `key`: the kernel wants every byte after it zero, so a
// delete hands over only the bytes up to the value pointer (the kernel zero-fills the rest).
const DELETE_SIZE = MAP_ELEM_ATTR.members.value.offset;
const { BPF_ANY, BPF_NOEXIST, BPF_EXIST, BPF_F_LOCK } = bpf_update_flags;

type PerCpuType = 'percpu_hash' | 'percpu_array' | 'lru_percpu_hash' | 'percpu_cgroup_storage';
type IdType = 'prog_array' | 'array_of_maps' | 'hash_of_maps';

/** What `lookup` returns for a map type: one buffer per possible CPU for per-CPU maps, the
 * inner object's id for prog_array and map-in-map, else the value bytes. */
export type MapValue<T extends MapType = MapType> = T extends PerCpuType ? Uint8Array[] : T extends IdType ? number : Uint8Array;

/** What `update` accepts: bytes of valueSize; for per-CPU maps also one buffer per possible CPU
 * (a single buffer is written to every CPU); a number is encoded as a little-endian integer of
 * valueSize (a program/map/socket fd, an ifindex); an object with an `fd` (a BpfMap, a program)
 * stands for that fd. */
export type UpdateValue = Uint8Array | readonly Uint8Array[] | number | { readonly fd: number };

export type ElemFlag = 'any' | 'noexist' | 'exist' | 'lock';
/** `'any'` (default), `'noexist'`, `'exist'`, `'lock'`, a list of them, or the number. */
export type ElemFlags = ElemFlag | number | readonly ElemFlag[];

export interface IterateOptions {
  /**
   * Hash-like maps: skip keys already yielded when the kernel restarts the walk. `true`
   * remembers every key in a set (memory and a hash per key); `false` never skips. Left out:
   * keys() remembers every key; entries() keeps a packed list of the keys yielded (a copy of
   * their bytes, no hashing) and builds the set from it only once a lookup finds a key gone —
   * the sign that the kernel may have started over — skipping from then on. (The one case
   * this misses: a key deleted and re-added between two syscalls of the walk, in the
   * microsecond between its get-next-key and its lookup.) Arrays never restart.
   */
  dedupe?: boolean;
  /** Give up with MapIterationError after this many BPF_MAP_GET_NEXT_KEY calls (default
   * 8 × (maxEntries + 1)). */
  maxSteps?: number;
  /**
   * Read ahead with BPF_MAP_LOOKUP_BATCH (5.6+; hash, array and per-CPU kinds, and LPM tries
   * on recent kernels; fd maps such as prog_array refuse it), this many
   * entries per syscall instead of two syscalls per entry. The kernel walks hash buckets by
   * index, so the walk never restarts and never repeats a key; but an entry deleted after its
   * batch was read is still yielded, with the value it had then. A map type without batch
   * lookups is a BpfError (EINVAL or ENOTSUPP), not a silent fallback to the key walk.
   */
  batchSize?: number;
}

/** Iteration was abandoned: the map changed faster than it could be walked. */
export class MapIterationError extends TsbpfError {
  override name = 'MapIterationError';
}

/**
 * Position in a batch walk (`lookupBatch`, `lookupAndDeleteBatch`). Start with a new cursor;
 * `done` turns true when the kernel has returned the last batch.
 */
export class BatchCursor {
  done = false;
  /** @internal kernel batch tokens: the one passed in and the one the kernel writes back. */
  _in: Buffer | undefined;
  /** @internal */
  _out: Buffer | undefined;
  /** @internal */
  _started = false;

  reset(): void {
    this.done = false;
    this._started = false;
  }
}

export interface MapFromOptions {
  /** fromPin: open read-only or write-only (BPF_F_RDONLY / BPF_F_WRONLY file flags). */
  readOnly?: boolean;
  writeOnly?: boolean;
}

function elemFlags(f: ElemFlags | undefined): number {
  if (f === undefined) return BPF_ANY;
  if (typeof f === 'number') {
    if (!Number.isInteger(f) || f < 0 || f > 0xffffffff) throw new UsageError(`element flags: ${f} is not a u32`);
    return f;
  }
  if (typeof f === 'string') {
    switch (f) {
      case 'any':
        return BPF_ANY;
      case 'noexist':
        return BPF_NOEXIST;
      case 'exist':
        return BPF_EXIST;
      case 'lock':
        return BPF_F_LOCK;
    }
  } else if (Array.isArray(f)) {
    let v = 0;
    for (const x of f) v |= elemFlags(x);
    return v;
  }
  throw new UsageError(`unknown element flag ${JSON.stringify(f)}; expected 'any', 'noexist', 'exist' or 'lock'`);
}

function elemFlagText(f: number): string {
  const names: string[] = [];
  if ((f & 3) === BPF_NOEXIST) names.push('noexist');
  if ((f & 3) === BPF_EXIST) names.push('exist');
  if (f & BPF_F_LOCK) names.push('lock');
  return names.length ? names.join('|') : 'any';
}

/** Copies a small key or value: a loop beats TypedArray#set's call overhead for a few bytes. */
function copyInto(dst: Uint8Array, src: Uint8Array): void {
  const n = src.length;
  if (n <= 16) for (let i = 0; i < n; i++) dst[i] = src[i]!;
  else dst.set(src);
}

/** A new buffer holding `n` bytes of `src` from `start`: for small sizes a fresh array and a
 * loop beat TypedArray#slice (about 48 vs 70 ns here). */
function copyOut(src: Uint8Array, start: number, n: number): Uint8Array {
  if (n > 16) return src.slice(start, start + n);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = src[start + i]!;
  return out;
}

/** A Set-friendly identity for a key: a number for keys of up to 6 bytes, else a string. */
function keyId(b: Uint8Array): number | string {
  const n = b.length;
  if (n <= 6) {
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i]!;
    return v;
  }
  return Buffer.from(b.buffer, b.byteOffset, n).toString('latin1');
}

/** A plain Uint8Array view of a stable buffer (Buffer#slice would alias, not copy); the view
 * keeps the buffer's memory, and its address is the buffer's. */
function scratch(size: number): Uint8Array {
  const b = stableBuffer(Math.max(size, 8));
  return new Uint8Array(b.buffer, b.byteOffset, size);
}

type ElemAttr = Attr<keyof typeof MAP_ELEM_ATTR.members>;


export class BpfMap<T extends MapType = MapType> extends KernelObject {
  /** The fd while open, -1 after close: checked on every call so a reused fd number is never
   * hit (a copy of the owner's, read without a getter on the hot path). */
  #fd: number;
  readonly #traits: TypeTraits;
  /** Bytes per CPU slot (valueSize rounded up to 8) for per-CPU maps, else valueSize. */
  readonly #stride: number;
  readonly #cpus: number;
  /** Bytes the kernel reads or writes per value: stride × CPUs for per-CPU maps. */
  readonly #valueLen: number;
  readonly #key: Uint8Array;
  readonly #value: Uint8Array;
  readonly #valueView: DataView;
  readonly #nextKey: Uint8Array;
  /** key → #key, value → #value (key 0 for keyless maps, as the kernel requires). */
  readonly #elem: ElemAttr;
  readonly #elemAddr: number;
  readonly #elemFlags: DataView;
  readonly #flagsOffset: number;
  /** get_next_key from #key into #nextKey, and from NULL (the first key) into #nextKey. */
  readonly #next: ElemAttr;
  readonly #first: ElemAttr;
  #batch: Attr<keyof typeof MAP_BATCH_ATTR.members> | undefined;
  /** The mmap() view, while open: the mapping itself lives as long as any view of it. */
  #view: Uint8Array | undefined;

  /** Lower-case uapi type name. */
  readonly type: T;
  readonly typeId: number;
  readonly keySize: number;
  /** Bytes per value (per CPU, for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  /** `BPF_F_*` creation flags. */
  readonly flags: number;
  readonly name: string;

  private constructor(fd: number, d: MapDesc, pinnedPath?: string) {
    // A leaked map fd costs kernel memory, not behaviour, so the GC may close it.
    super(fd, 'map', true, pinnedPath);
    this.#fd = fd;
    this.typeId = d.typeId;
    this.type = mapTypeName(d.typeId) as T;
    this.keySize = d.keySize;
    this.valueSize = d.valueSize;
    this.maxEntries = d.maxEntries;
    this.flags = d.flags;
    this.name = d.name;
    this.#traits = traitsOf(d.typeId);
    this.#cpus = this.#traits.perCpu ? possibleCpus() : 1;
    this.#stride = this.#traits.perCpu ? Math.ceil(d.valueSize / 8) * 8 : d.valueSize;
    this.#valueLen = this.#stride * this.#cpus;

    this.#key = scratch(d.keySize);
    this.#value = scratch(this.#valueLen);
    this.#nextKey = scratch(d.keySize);
    this.#valueView = new DataView(this.#value.buffer, this.#value.byteOffset, Math.max(this.#valueLen, 8));

    // Each Attr keeps the scratch buffers it points at (and each call keeps its Attr).
    this.#elem = new Attr(MAP_ELEM_ATTR).set('map_fd', fd).setPointer('key', d.keySize ? this.#key : null).setPointer('value', this.#value);
    this.#elemAddr = this.#elem.address;
    this.#elemFlags = new DataView(this.#elem.bytes.buffer, this.#elem.bytes.byteOffset, this.#elem.size);
    this.#flagsOffset = MAP_ELEM_ATTR.members.flags.offset;
    this.#next = new Attr(MAP_ELEM_ATTR).set('map_fd', fd).setPointer('key', this.#key).setPointer('next_key', this.#nextKey);
    this.#first = new Attr(MAP_ELEM_ATTR).set('map_fd', fd).set('key', 0).setPointer('next_key', this.#nextKey);
  }

  // ---- construction ----

  /** Creates a map. Options are checked before the kernel is asked (UsageError); the kernel's
   * refusal becomes a BpfError naming the parameters. */
  static create<T extends MapType>(opts: MapCreateOptions<T>): BpfMap<T> {
    const { fd, desc } = createMap(opts);
    return new BpfMap<T>(fd, desc);
  }

  /**
   * Creates the map an object file declares (a MapSpec: `obj.mapSpec(name)`,
   * `obj.spec.maps`), as libbpf does: a map declared `pinning: 'by_name'` that is already
   * pinned under `pinRoot` is reused if compatible (a UsageError naming the differences if
   * not), else created and pinned there; map-in-map gets its inner template; BTF key/value
   * types are given when `btf` is (and left out for types the kernel refuses them for); global
   * data is written and `.rodata` frozen. The spec is not changed.
   */
  static fromSpec(spec: MapSpec, opts: MapFromSpecOptions = {}): BpfMap {
    if (spec === null || typeof spec !== 'object' || typeof spec.type !== 'string') throw new UsageError('BpfMap.fromSpec needs a MapSpec (from BpfObject.open(…).spec.maps)');
    const pinPath = pinPathOf(spec, opts.pinRoot);
    if (pinPath) {
      const reused = BpfMap.#reusePinned(spec, pinPath);
      if (reused) return reused;
    }
    // The outer map keeps what it needs of the template: its fd goes once the outer exists.
    using inner = spec.inner ? BpfMap.fromSpec(spec.inner, opts.btf !== undefined ? { btf: opts.btf } : {}) : undefined;
    const base: MapCreateOptions = { ...createOptionsOf(spec), ...(inner ? { innerMap: inner } : {}) };
    const btf = opts.btf !== undefined && spec.btfValueType !== undefined ? { fd: opts.btf, keyTypeId: spec.btfKeyType ?? 0, valueTypeId: spec.btfValueType } : undefined;
    let map: BpfMap;
    try {
      map = BpfMap.create(btf ? { ...base, btf } : base);
    } catch (e) {
      // The kernel refuses BTF for some map types (prog arrays, NOTES.md); libbpf retries
      // without it, and so do we — the map works the same, only introspection is poorer.
      if (!btf || !(e instanceof BpfError)) throw e;
      map = BpfMap.create(base);
    }
    return closeOnError(map, () => {
      if (hasInitialData(spec)) {
        map.update(new Uint8Array(4), spec.data);
        if (spec.freeze) map.freeze();
      }
      if (pinPath) map.pin(pinPath);
      return map;
    });
  }

  /** The compatible map pinned at `path`, or undefined if nothing is pinned there. */
  static #reusePinned(spec: MapSpec, path: string): BpfMap | undefined {
    let pinned: BpfMap;
    try {
      pinned = BpfMap.fromPin(path);
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') return undefined;
      throw e;
    }
    return closeOnError(pinned, () => {
      checkMapCompatible(pinned.info(), spec, `the map pinned at ${path}`, 'unpin it or use another pinRoot');
      return pinned;
    });
  }

  /** Opens a map pinned on a bpf filesystem (`readOnly`/`writeOnly` open it with
   * BPF_F_RDONLY/BPF_F_WRONLY); `unpin()` then removes that pin. */
  static fromPin<T extends MapType = MapType>(path: string, opts: MapFromOptions = {}): BpfMap<T> {
    const fileFlags = (opts.readOnly ? bpf_map_create_flags.BPF_F_RDONLY : 0) | (opts.writeOnly ? bpf_map_create_flags.BPF_F_WRONLY : 0);
    return BpfMap.#wrap<T>(openPinned('map', path, fileFlags), path);
  }

  /** Opens a map by its kernel id (from `listMaps()`, `bpftool map list`, a map-in-map lookup). */
  static fromId<T extends MapType = MapType>(id: number): BpfMap<T> {
    return BpfMap.#wrap<T>(openById('map', id));
  }

  /** Wraps a map fd someone else opened. The fd is duplicated: the caller keeps (and closes)
   * its own, and closing this map closes only the duplicate. */
  static fromFd<T extends MapType = MapType>(fd: number): BpfMap<T> {
    return BpfMap.#wrap<T>(duplicateFd('map', fd));
  }

  /** A BpfMap over an fd we own and know to be a map (closed if its info cannot be read). */
  static #wrap<T extends MapType>(fd: number, pinnedPath?: string): BpfMap<T> {
    return closeOnError(fd, () => {
      const i = mapInfoByFd(fd);
      return new BpfMap<T>(
        fd,
        { typeId: i.typeId, keySize: i.keySize, valueSize: i.valueSize, maxEntries: i.maxEntries, flags: i.flags, name: i.name },
        pinnedPath,
      );
    });
  }

  /** Narrows a map of unknown type (from fromPin/fromId/an object) after checking it. */
  as<U extends MapType>(type: U): BpfMap<U> {
    if (this.typeId !== parseMapType(type)) throw new UsageError(`${this.#describe()} is not a ${type} map`);
    return this as unknown as BpfMap<U>;
  }

  /**
   * This map with keys and values as plain JavaScript values, by BTF (src/maps/typed.ts): K and
   * V are the decoded types you expect (`tsbpf gen skeleton` writes them for you). The BTF is
   * `types` when given, else what the kernel recorded for the map. Per-CPU maps: typedPerCpu().
   */
  typed<K = BtfValue, V = BtfValue>(types?: MapBtfTypes): TypedMap<K, V, V> {
    return typedMap<K, V>(this, types);
  }

  /** typed() for per-CPU maps: a lookup returns one value per possible CPU. */
  typedPerCpu<K = BtfValue, V = BtfValue>(types?: MapBtfTypes): TypedMap<K, V, V[]> {
    return typedPerCpuMap<K, V>(this, types);
  }

  // ---- lifetime ----

  /** Per-CPU maps: the number of value slots (possible CPUs); 1 otherwise. */
  get cpus(): number {
    return this.#cpus;
  }

  override describe(): string {
    return `${this.type} map${this.name ? ` '${this.name}'` : ''}`;
  }

  /** Closing drops this handle's fd; the map lives on while pinned, used by a program, or
   * mmap()ed by a view that is still reachable. Closing twice is harmless. */
  protected override released(): void {
    this.#fd = -1;
    // The view stays valid for whoever holds it; the mapping goes when the last view does.
    this.#view = undefined;
  }

  info(): MapInfo {
    return mapInfoByFd(this.#open(), `info of ${this.#describe()}`);
  }

  protected idOf(fd: number): number {
    return mapInfoByFd(fd).id;
  }

  /** Makes the map read-only for user space (BPF programs can still write it unless the map
   * was created with 'rdonly_prog'); updates from user space then fail with EPERM. */
  freeze(): void {
    const a = new Attr(MAP_ELEM_ATTR).set('map_fd', this.#open());
    const r = bpfAttr(C.BPF_MAP_FREEZE, a);
    if (r < 0) {
      const errno = -r;
      const context = `freeze ${this.#describe()}`;
      const why =
        errno === EPERM
          ? 'the map is already frozen, or this fd is read-only'
          : errno === EBUSY
            ? 'a writable mmap() of the map exists (or it is already frozen)'
            : undefined;
      throw new BpfError({ errno, command: 'BPF_MAP_FREEZE', context }, why ? `BPF_MAP_FREEZE (${context}) failed: ${errnoName(errno)} — ${why}` : undefined);
    }
  }

  /**
   * A live view of an array created with 'mmapable' (element i at i × valueSize rounded up to
   * 8): the same memory BPF programs see, and how .data/.bss globals are read and written. One
   * mapping per map, made on the first call. The view outlives `close()`: it keeps the mapping
   * (and with it the map) until the view itself is garbage-collected, so it never points at
   * unmapped memory; only new calls on the closed map throw.
   *
   * Only writable mappings are handed out: JavaScript has no read-only typed array, and a
   * write through a view of read-only pages would kill the process. A frozen map (or one
   * opened read-only) is read with lookup().
   */
  mmap(): Uint8Array {
    const fd = this.#open();
    if (this.#view) return this.#view;
    if (!(this.flags & bpf_map_create_flags.BPF_F_MMAPABLE) || this.type !== 'array')
      throw new UsageError(`${this.#describe()} cannot be mmapped: only array maps created with flags 'mmapable' can`);
    const size = Math.ceil((Math.ceil(this.valueSize / 8) * 8 * this.maxEntries) / PAGE_SIZE) * PAGE_SIZE;
    const m = mmapFd(fd, size, PROT_READ | PROT_WRITE, MAP_SHARED);
    if (typeof m === 'number') {
      const errno = -m;
      throw new BpfError(
        { errno, command: 'mmap' },
        `mmap of ${this.#describe()} failed: ${errnoName(errno)}${errno === EPERM ? ' — the map is frozen or read-only for user space: read it with lookup() (a read-only mapping is never handed to JavaScript, where a write through it would crash the process)' : ''}`,
      );
    }
    this.#view = m;
    return m;
  }

  /**
   * Typed access to an 'mmapable' array's elements with no syscall (src/maps/mapped.ts):
   * `mappedArray('u64').get(i)` reads element i's value where BPF programs read it, `set`
   * writes it; `{ offset }` picks a member of a struct value. Like mmap(), it stays valid after
   * close() (it keeps the mapping; nothing a program sees any more). The same errors as mmap().
   */
  mappedArray<K extends MappedKind>(kind: K, opts: MappedArrayOptions = {}): MappedArray<K> {
    return new MappedArray(this.mmap(), kind, this.valueSize, this.maxEntries, this.#describe(), opts);
  }

  // ---- single elements (hot path) ----

  /** The value at `key`, as a copy; undefined if there is none. Keyless maps (queue, stack,
   * bloom filter) take `null`: see peek()/has(). */
  lookup(key: Uint8Array | null, flags?: ElemFlags): MapValue<T> | undefined {
    if (this.#fd < 0) this.#open();
    this.#putKey(key);
    this.#elemFlags.setUint32(this.#flagsOffset, flags === undefined ? 0 : elemFlags(flags), true);
    const r = raw(LOOKUP, this.#elemAddr, ELEM_SIZE, this.#elem);
    if (r < 0) {
      if (r === -ENOENT) return undefined;
      throw this.#elemError(C.BPF_MAP_LOOKUP_ELEM, -r, flags === undefined ? 0 : elemFlags(flags));
    }
    return this.#readValue();
  }

  /**
   * Copies the value at `key` into `out` (valueSize bytes; for per-CPU maps, `cpus` slots of
   * valueSize rounded up to 8). Returns false if there is no such key. Allocates nothing.
   */
  lookupInto(key: Uint8Array | null, out: Uint8Array, flags?: ElemFlags): boolean {
    if (this.#fd < 0) this.#open();
    this.#putKey(key);
    if (!(out instanceof Uint8Array) || out.length < this.#valueLen)
      throw new UsageError(`${this.#describe()}: lookupInto needs an output of ${this.#valueLen} bytes, got ${out instanceof Uint8Array ? out.length : typeof out}`);
    this.#elemFlags.setUint32(this.#flagsOffset, flags === undefined ? 0 : elemFlags(flags), true);
    const r = raw(LOOKUP, this.#elemAddr, ELEM_SIZE, this.#elem);
    if (r < 0) {
      if (r === -ENOENT) return false;
      throw this.#elemError(C.BPF_MAP_LOOKUP_ELEM, -r, flags === undefined ? 0 : elemFlags(flags));
    }
    copyInto(out, this.#value);
    return true;
  }

  /** Creates or replaces the value at `key` ('noexist': only create, 'exist': only replace). */
  update(key: Uint8Array | null, value: UpdateValue, flags?: ElemFlags): void {
    if (this.#fd < 0) this.#open();
    this.#putKey(key);
    this.#putValue(value);
    const f = flags === undefined ? 0 : elemFlags(flags);
    this.#elemFlags.setUint32(this.#flagsOffset, f, true);
    const r = raw(UPDATE, this.#elemAddr, ELEM_SIZE, this.#elem);
    if (r < 0) throw this.#elemError(C.BPF_MAP_UPDATE_ELEM, -r, f);
  }

  /** Removes `key`; false if it was not there. Array maps cannot delete (BpfError EINVAL). */
  delete(key: Uint8Array | null): boolean {
    if (this.#fd < 0) this.#open();
    this.#putKey(key);
    const r = raw(DELETE, this.#elemAddr, DELETE_SIZE, this.#elem);
    if (r < 0) {
      if (r === -ENOENT) return false;
      throw this.#elemError(C.BPF_MAP_DELETE_ELEM, -r, 0);
    }
    return true;
  }

  /** Removes `key` and returns its value (hash maps; for queue/stack, pop() is this with no key). */
  lookupAndDelete(key: Uint8Array | null, flags?: ElemFlags): MapValue<T> | undefined {
    if (this.#fd < 0) this.#open();
    this.#putKey(key);
    const f = flags === undefined ? 0 : elemFlags(flags);
    this.#elemFlags.setUint32(this.#flagsOffset, f, true);
    const r = raw(LOOKUP_AND_DELETE, this.#elemAddr, ELEM_SIZE, this.#elem);
    if (r < 0) {
      if (r === -ENOENT) return undefined;
      throw this.#elemError(C.BPF_MAP_LOOKUP_AND_DELETE_ELEM, -r, f);
    }
    return this.#readValue();
  }

  /** Queue/stack: adds a value ('exist' overwrites the oldest when full). Bloom filter: adds. */
  push(value: Uint8Array, flags?: ElemFlags): void {
    this.#keyless('push');
    this.update(null, value, flags);
  }

  /** Queue/stack: removes and returns the next value; undefined when empty. */
  pop(): Uint8Array | undefined {
    this.#keyless('pop');
    return this.lookupAndDelete(null) as Uint8Array | undefined;
  }

  /** Queue/stack: the next value without removing it; undefined when empty. */
  peek(): Uint8Array | undefined {
    this.#keyless('peek');
    return this.lookup(null) as Uint8Array | undefined;
  }

  /** Bloom filter: false if `value` was certainly never pushed; true if it may have been. */
  has(value: Uint8Array): boolean {
    if (this.type !== 'bloom_filter') throw new UsageError(`has() is for bloom_filter maps; ${this.#describe()} is not one`);
    if (this.#fd < 0) this.#open();
    this.#putValue(value);
    this.#elemFlags.setUint32(this.#flagsOffset, 0, true);
    const r = raw(LOOKUP, this.#elemAddr, ELEM_SIZE, this.#elem);
    if (r === 0) return true;
    if (r === -ENOENT) return false;
    throw this.#elemError(C.BPF_MAP_LOOKUP_ELEM, -r, 0);
  }

  // ---- iteration ----

  /**
   * Every key, walked with BPF_MAP_GET_NEXT_KEY; each yielded key is a copy you own.
   *
   * Concurrent changes: the next key is fetched *before* the current one is yielded, so the
   * loop body may delete the key it is given. If another key we stand on vanishes (deleted by
   * a program or another process), hash and LPM maps restart from their first key; by default
   * every yielded key is remembered and keys seen before are skipped, so a restart costs
   * time but yields no duplicates. Keys added during the walk may or may not be seen; a key
   * deleted after it was fetched may still be yielded (entries() skips it, having no value).
   * An updated hash key moves to the front of its bucket, so with `dedupe: false` it can come
   * twice. When the walk takes more than `maxSteps` steps (the map keeps changing under it)
   * it stops with MapIterationError; batches() is the better tool for maps that churn (the
   * kernel walks hash buckets by index there, which never restarts).
   */
  keys(opts: IterateOptions = {}): Generator<Uint8Array, void, undefined> {
    return this.#walk(opts, false) as Generator<Uint8Array, void, undefined>;
  }

  /** The key after `key` in the kernel's order (the first key for null); undefined at the end.
   * A `key` that is not in the map gives the first key for hash maps (the kernel restarts). */
  nextKey(key: Uint8Array | null): Uint8Array | undefined {
    this.#iterable();
    if (key === null) return this.#getNextKey(undefined);
    if (!(key instanceof Uint8Array) || key.length !== this.keySize) this.#putKey(key);
    return this.#getNextKey(key);
  }

  /** `[key, value]` pairs (see keys() for what concurrent changes do, and `dedupe` for how
   * duplicates are kept out); keys whose value is gone by the time it is read are skipped.
   * Array-like maps are walked by index, one lookup per entry (their keys are 0..maxEntries-1). */
  entries(opts: IterateOptions = {}): Generator<[Uint8Array, MapValue<T>], void, undefined> {
    return this.#walk(opts, true) as Generator<[Uint8Array, MapValue<T>], void, undefined>;
  }

  /** The one walk behind keys() and entries(): two syscalls per entry, like C's loop. */
  *#walk(opts: IterateOptions, withValues: boolean): Generator<Uint8Array | [Uint8Array, MapValue<T>], void, undefined> {
    this.#iterable();
    if (opts.batchSize !== undefined) {
      yield* this.#batchWalk(opts.batchSize, withValues);
      return;
    }
    if (withValues && this.#traits.array) {
      yield* this.#arrayEntries();
      return;
    }
    // Without values there is no lookup to tell that the kernel restarted: every key is
    // remembered. With values, keys are only recorded (packed, no hashing) until a restart
    // may have happened; see entries().
    const strict = opts.dedupe === true || (opts.dedupe === undefined && !withValues && !this.#traits.array);
    const lazy = opts.dedupe === undefined && withValues && !this.#traits.array;
    let seen = strict ? new Set<number | string>() : undefined;
    const keySize = this.keySize;
    let record = lazy ? new Uint8Array(Math.min(this.maxEntries, 1024) * keySize) : undefined;
    let recorded = 0;
    const maxSteps = opts.maxSteps ?? 8 * (this.maxEntries + 1);
    let steps = 1;
    let cur = this.#getNextKey(undefined);
    while (cur !== undefined) {
      if (++steps > maxSteps)
        throw new MapIterationError(`iterating ${this.#describe()}: gave up after ${maxSteps} steps; the map changes faster than it can be walked (use lookupBatch)`);
      // Fetch the successor before handing `cur` out, so the caller may delete `cur`.
      const next = this.#getNextKey(cur);
      if (seen) {
        // One hash operation instead of has() + add(): the set is large and cold after
        // every syscall, so each probe is a cache miss.
        const before = seen.size;
        if (seen.add(keyId(cur)).size === before) {
          cur = next;
          continue;
        }
      }
      if (withValues) {
        // #getNextKey left `cur` in the key scratch: look it up without copying it again.
        this.#elemFlags.setUint32(this.#flagsOffset, 0, true);
        const r = raw(LOOKUP, this.#elemAddr, ELEM_SIZE, this.#elem);
        if (r === 0) {
          if (record) {
            if ((recorded + 1) * keySize > record.length) {
              const bigger = new Uint8Array(record.length * 2);
              bigger.set(record);
              record = bigger;
            }
            const at = recorded * keySize;
            if (keySize <= 16) for (let i = 0; i < keySize; i++) record[at + i] = cur[i]!;
            else record.set(cur, at);
            recorded++;
          }
          yield [cur, this.#readValue()];
        } else if (r === -ENOENT) {
          // `cur` is gone: if it went before the get-next-key above, the kernel answered
          // with the map's first key and the walk starts over. From here on, skip every key
          // already yielded (and every key yielded from now on, as strict dedupe does).
          if (record) {
            seen = new Set<number | string>();
            for (let i = 0; i < recorded; i++) seen.add(keyId(record.subarray(i * keySize, (i + 1) * keySize)));
            record = undefined;
          }
        } else throw this.#elemError(C.BPF_MAP_LOOKUP_ELEM, -r, 0);
      } else yield cur;
      cur = next;
    }
  }

  /** keys()/entries() read ahead in batches (IterateOptions.batchSize). */
  *#batchWalk(size: number, withValues: boolean): Generator<Uint8Array | [Uint8Array, MapValue<T>], void, undefined> {
    const ks = this.keySize;
    const vl = this.#valueLen;
    for (const { count, keys, values } of this.batches({ batchSize: size })) {
      // Copied out before the next batch overwrites the buffers.
      for (let i = 0; i < count; i++) {
        const k = copyOut(keys, i * ks, ks);
        yield withValues ? [k, this.#valueAt(values, i * vl)] : k;
      }
    }
  }

  /**
   * entries() of an array-like map: its keys are always 0 .. maxEntries-1, in that order (the
   * kernel's get-next-key for arrays is index + 1 and never restarts), so only the lookups go
   * to the kernel — one syscall per entry instead of two. Empty slots of fd arrays (ENOENT)
   * are skipped, as the walk skips them.
   */
  *#arrayEntries(): Generator<[Uint8Array, MapValue<T>], void, undefined> {
    const key = this.#key;
    const n = this.maxEntries;
    for (let i = 0; i < n; i++) {
      if (this.#fd < 0) this.#open();
      key[0] = i & 0xff;
      key[1] = (i >>> 8) & 0xff;
      key[2] = (i >>> 16) & 0xff;
      key[3] = i >>> 24;
      this.#elemFlags.setUint32(this.#flagsOffset, 0, true);
      const r = raw(LOOKUP, this.#elemAddr, ELEM_SIZE, this.#elem);
      if (r === 0) yield [copyOut(key, 0, 4), this.#readValue()];
      else if (r !== -ENOENT) throw this.#elemError(C.BPF_MAP_LOOKUP_ELEM, -r, 0);
    }
  }

  [Symbol.iterator](): Generator<[Uint8Array, MapValue<T>], void, undefined> {
    return this.entries();
  }

  // ---- batches ----

  /**
   * Reads the next batch of entries into `keys` (a multiple of keySize bytes) and `values`
   * (the same number of values; per-CPU maps: `cpus` slots of valueSize rounded up to 8 each).
   * Returns how many entries were written; `cursor.done` is true after the last batch.
   * Hash maps return whole buckets: a batch too small for the next bucket throws ENOSPC
   * (only when nothing fit — use a larger batch, e.g. 64+).
   */
  lookupBatch(keys: Uint8Array, values: Uint8Array, cursor: BatchCursor, flags?: ElemFlags): number {
    return this.#batchRead(C.BPF_MAP_LOOKUP_BATCH, keys, values, cursor, flags);
  }

  /** Like lookupBatch, and removes what it returns (hash maps only). */
  lookupAndDeleteBatch(keys: Uint8Array, values: Uint8Array, cursor: BatchCursor, flags?: ElemFlags): number {
    return this.#batchRead(C.BPF_MAP_LOOKUP_AND_DELETE_BATCH, keys, values, cursor, flags);
  }

  /** Writes `count` (default: all of `keys`) packed keys and values in one call. */
  updateBatch(keys: Uint8Array, values: Uint8Array, opts: { count?: number; flags?: ElemFlags } = {}): number {
    const n = this.#batchCount(keys, values, opts.count, 'updateBatch');
    return this.#batchWrite(C.BPF_MAP_UPDATE_BATCH, keys, values, n, elemFlags(opts.flags));
  }

  /** Deletes `count` (default: all of `keys`) packed keys in one call. A missing key stops the
   * batch with ENOENT (the error says how many were deleted before it). */
  deleteBatch(keys: Uint8Array, count?: number): number {
    const n = this.#batchCount(keys, undefined, count, 'deleteBatch');
    return this.#batchWrite(C.BPF_MAP_DELETE_BATCH, keys, undefined, n, 0);
  }

  /**
   * Walks the whole map in batches (deleting what it reads with `{ delete: true }`). Each
   * yielded chunk's `keys`/`values` are packed like lookupBatch's and reused by the next chunk.
   * A hash bucket larger than the batch grows the batch instead of failing.
   */
  *batches(opts: { batchSize?: number; delete?: boolean } = {}): Generator<{ count: number; keys: Uint8Array; values: Uint8Array }, void, undefined> {
    let size = opts.batchSize ?? 256;
    if (!Number.isInteger(size) || size <= 0) throw new UsageError(`batchSize must be a positive integer, got ${size}`);
    const cmd = opts.delete ? C.BPF_MAP_LOOKUP_AND_DELETE_BATCH : C.BPF_MAP_LOOKUP_BATCH;
    const cursor = new BatchCursor();
    let keys = stableBuffer(size * this.keySize);
    let values = stableBuffer(size * this.#valueLen);
    while (!cursor.done) {
      let n: number;
      try {
        n = this.#batchRead(cmd, keys, values, cursor, undefined);
      } catch (e) {
        if (!(e instanceof BpfError) || e.errno !== ENOSPC || size >= this.maxEntries) throw e;
        size = Math.min(size * 2, this.maxEntries);
        keys = stableBuffer(size * this.keySize);
        values = stableBuffer(size * this.#valueLen);
        continue;
      }
      if (n > 0)
        yield {
          count: n,
          keys: new Uint8Array(keys.buffer, keys.byteOffset, n * this.keySize),
          values: new Uint8Array(values.buffer, values.byteOffset, n * this.#valueLen),
        };
    }
  }

  /** Bytes one value takes in batch buffers and lookupInto: valueSize, or cpus × valueSize
   * rounded up to 8 for per-CPU maps. */
  get valueBytes(): number {
    return this.#valueLen;
  }

  // ---- internals ----

  #open(): number {
    if (this.#fd < 0) throw this.closedError();
    return this.#fd;
  }

  #describe(): string {
    return this.describe();
  }

  #keyless(op: string): void {
    if (!this.#traits.keyless || this.type === 'ringbuf' || this.type === 'user_ringbuf' || this.type === 'arena')
      throw new UsageError(`${op}() is for queue, stack and bloom_filter maps; ${this.#describe()} has keys`);
    if (op !== 'push' && this.type === 'bloom_filter') throw new UsageError(`${op}() is not supported by bloom_filter maps; use has(value)`);
  }

  #iterable(): void {
    this.#open();
    if (this.#traits.keyless) throw new UsageError(`${this.#describe()} has no keys to iterate`);
  }

  #putKey(key: Uint8Array | null): void {
    const size = this.keySize;
    if (key instanceof Uint8Array && key.length === size) {
      if (size) copyInto(this.#key, key);
      return;
    }
    if (size === 0 && (key === null || key === undefined)) return;
    throw new UsageError(
      size === 0
        ? `${this.#describe()} has no keys: pass null`
        : `${this.#describe()}: key must be a Uint8Array of ${size} bytes, got ${key instanceof Uint8Array ? `${key.length} bytes` : key === null ? 'null' : typeof key}`,
    );
  }

  #putValue(value: UpdateValue): void {
    const size = this.valueSize;
    if (value instanceof Uint8Array) {
      if (value.length === size) {
        if (!this.#traits.perCpu) copyInto(this.#value, value);
        else this.#broadcast(value);
        return;
      }
      if (this.#traits.perCpu && value.length === this.#valueLen) {
        this.#value.set(value);
        return;
      }
    } else if (Array.isArray(value)) {
      if (this.#traits.perCpu && value.length === this.#cpus) {
        this.#value.fill(0);
        for (let i = 0; i < value.length; i++) {
          const v = value[i];
          if (!(v instanceof Uint8Array) || v.length !== size)
            throw new UsageError(`${this.#describe()}: the value for CPU ${i} must be a Uint8Array of ${size} bytes`);
          this.#value.set(v, i * this.#stride);
        }
        return;
      }
      throw new UsageError(
        this.#traits.perCpu
          ? `${this.#describe()}: expected one value per possible CPU (${this.#cpus}), got ${value.length}`
          : `${this.#describe()} is not per-CPU: pass one Uint8Array of ${size} bytes`,
      );
    } else if (typeof value === 'number' || (value !== null && typeof value === 'object' && typeof (value as { fd?: unknown }).fd === 'number')) {
      const n = typeof value === 'number' ? value : (value as { fd: number }).fd;
      if (!Number.isSafeInteger(n) || n < 0 || (size === 4 && n > 0xffffffff))
        throw new UsageError(`${this.#describe()}: ${n} does not fit an unsigned ${size * 8}-bit value`);
      if (size === 4) this.#valueView.setUint32(0, n, true);
      else if (size === 8) {
        this.#valueView.setUint32(0, n >>> 0, true);
        this.#valueView.setUint32(4, Math.floor(n / 2 ** 32), true);
      } else throw new UsageError(`${this.#describe()}: a number value needs valueSize 4 or 8 (it is ${size}); pass bytes`);
      if (this.#traits.perCpu) {
        // The same number for every CPU: zero slot 0's padding, then copy slot 0 along.
        const buf = this.#value;
        buf.fill(0, size, this.#stride);
        for (let i = 1; i < this.#cpus; i++) buf.copyWithin(i * this.#stride, 0, this.#stride);
      }
      return;
    }
    throw new UsageError(
      `${this.#describe()}: value must be a Uint8Array of ${size} bytes${this.#traits.perCpu ? ` (or ${this.#cpus} of them, one per CPU)` : ''}, got ${value instanceof Uint8Array ? `${value.length} bytes` : value === null ? 'null' : typeof value}`,
    );
  }

  /** One value to every CPU's slot, with the padding to 8 bytes zeroed. */
  #broadcast(v: Uint8Array): void {
    const stride = this.#stride;
    const buf = this.#value;
    if (stride !== v.length) buf.fill(0);
    for (let i = 0; i < this.#cpus; i++) buf.set(v, i * stride);
  }

  #readValue(): MapValue<T> {
    if (this.#traits.perCpu) {
      const out: Uint8Array[] = new Array(this.#cpus);
      for (let i = 0; i < this.#cpus; i++) out[i] = copyOut(this.#value, i * this.#stride, this.valueSize);
      return out as MapValue<T>;
    }
    if (this.#traits.fdToId) return this.#valueView.getUint32(0, true) as MapValue<T>;
    return copyOut(this.#value, 0, this.valueSize) as MapValue<T>;
  }

  /** A value as #readValue returns it, from a batch buffer at `offset`. */
  #valueAt(buf: Uint8Array, offset: number): MapValue<T> {
    if (this.#traits.perCpu) {
      const out: Uint8Array[] = new Array(this.#cpus);
      for (let i = 0; i < this.#cpus; i++) out[i] = copyOut(buf, offset + i * this.#stride, this.valueSize);
      return out as MapValue<T>;
    }
    if (this.#traits.fdToId) return (buf[offset]! | (buf[offset + 1]! << 8) | (buf[offset + 2]! << 16) | (buf[offset + 3]! << 24)) >>> 0 as MapValue<T>;
    return copyOut(buf, offset, this.valueSize) as MapValue<T>;
  }

  #getNextKey(cur: Uint8Array | undefined): Uint8Array | undefined {
    this.#open();
    let attr = this.#first;
    if (cur !== undefined) {
      copyInto(this.#key, cur);
      attr = this.#next;
    }
    const r = raw(GET_NEXT_KEY, attr.address, ELEM_SIZE, attr);
    if (r < 0) {
      if (r === -ENOENT) return undefined;
      throw this.#elemError(C.BPF_MAP_GET_NEXT_KEY, -r, 0);
    }
    return copyOut(this.#nextKey, 0, this.keySize);
  }

  #batchAttr(): Attr<keyof typeof MAP_BATCH_ATTR.members> {
    this.#batch ??= new Attr(MAP_BATCH_ATTR).set('map_fd', this.#fd);
    return this.#batch;
  }

  #batchCapacity(keys: Uint8Array, values: Uint8Array | undefined, op: string): number {
    this.#open();
    if (this.#traits.keyless) throw new UsageError(`${this.#describe()} has no keys: ${op} is for maps with keys`);
    if (!(keys instanceof Uint8Array) || keys.length % this.keySize !== 0 || keys.length === 0)
      throw new UsageError(`${this.#describe()}: ${op} keys must be a non-empty Uint8Array of a multiple of ${this.keySize} bytes`);
    if (values !== undefined && (!(values instanceof Uint8Array) || (this.#valueLen > 0 && values.length % this.#valueLen !== 0)))
      throw new UsageError(`${this.#describe()}: ${op} values must be a Uint8Array of a multiple of ${this.#valueLen} bytes`);
    const k = keys.length / this.keySize;
    return values === undefined || this.#valueLen === 0 ? k : Math.min(k, values.length / this.#valueLen);
  }

  #batchCount(keys: Uint8Array, values: Uint8Array | undefined, count: number | undefined, op: string): number {
    const cap = this.#batchCapacity(keys, values, op);
    const n = count ?? cap;
    if (!Number.isInteger(n) || n < 0 || n > cap)
      throw new UsageError(`${this.#describe()}: ${op} count ${n} is more than the buffers hold (${cap})`);
    return n;
  }

  #batchRead(cmd: number, keys: Uint8Array, values: Uint8Array, cursor: BatchCursor, flags: ElemFlags | undefined): number {
    const cap = this.#batchCapacity(keys, values, commandName(cmd));
    if (!(cursor instanceof BatchCursor)) throw new UsageError('a batch read needs a BatchCursor (new BatchCursor())');
    if (cursor.done) return 0;
    // Hash maps keep a u32 bucket index in the token; arrays keep the last key.
    const tokenSize = Math.max(this.keySize, 4);
    if (!cursor._in || cursor._in.length < tokenSize) {
      if (cursor._started) throw new UsageError('this BatchCursor is in the middle of a walk of a map with smaller keys');
      cursor._in = stableBuffer(tokenSize);
      cursor._out = stableBuffer(tokenSize);
    }
    const f = elemFlags(flags);
    const a = this.#batchAttr()
      .setPointer('in_batch', cursor._started ? cursor._in : null)
      .setPointer('out_batch', cursor._out!)
      .setPointer('keys', keys)
      .setPointer('values', values)
      .set('count', cap)
      .set('elem_flags', f)
      .set('flags', 0);
    const r = bpfAttr(cmd, a);
    const n = a.get('count');
    if (r < 0) {
      if (r === -ENOENT) {
        cursor.done = true;
        return n;
      }
      throw this.#batchError(cmd, -r, n, cap, f);
    }
    cursor._in.set(cursor._out!);
    cursor._started = true;
    return n;
  }

  #batchWrite(cmd: number, keys: Uint8Array, values: Uint8Array | undefined, n: number, f: number): number {
    if (n === 0) return 0;
    const a = this.#batchAttr()
      .setPointer('in_batch', null)
      .setPointer('out_batch', null)
      .setPointer('keys', keys)
      .setPointer('values', values)
      .set('count', n)
      .set('elem_flags', f)
      .set('flags', 0);
    const r = bpfAttr(cmd, a);
    if (r < 0) throw this.#batchError(cmd, -r, a.get('count'), n, f);
    return a.get('count');
  }

  #batchError(cmd: number, errno: number, done: number, asked: number, f: number): BpfError {
    const command = commandName(cmd);
    const op = command.replace('BPF_MAP_', '').toLowerCase();
    const context = `${op} on ${this.#describe()}, ${done} of ${asked} done`;
    let why: string | undefined;
    if (errno === ENOTSUPP || errno === EOPNOTSUPP)
      why =
        cmd === C.BPF_MAP_DELETE_BATCH && this.#traits.array
          ? `elements of ${this.type} maps cannot be deleted (every index always exists)`
          : `${this.type} maps do not support this batch operation`;
    else if (errno === ENOSPC && done === 0)
      why = `a hash bucket holds more entries than the batch (${asked}); retry with a larger batch`;
    else if (errno === ENOENT) why = 'a key in the batch does not exist';
    else why = this.#explain(cmd === C.BPF_MAP_UPDATE_BATCH ? C.BPF_MAP_UPDATE_ELEM : cmd === C.BPF_MAP_DELETE_BATCH ? C.BPF_MAP_DELETE_ELEM : C.BPF_MAP_LOOKUP_ELEM, errno, f);
    return new BpfError({ errno, command, context }, why ? `${command} (${context}) failed: ${errnoName(errno)} — ${why}` : undefined);
  }

  #elemError(cmd: number, errno: number, f: number): BpfError {
    const command = commandName(cmd);
    const ops: Record<number, string> = {
      [C.BPF_MAP_LOOKUP_ELEM]: 'lookup',
      [C.BPF_MAP_UPDATE_ELEM]: 'update',
      [C.BPF_MAP_DELETE_ELEM]: 'delete',
      [C.BPF_MAP_LOOKUP_AND_DELETE_ELEM]: 'lookupAndDelete',
      [C.BPF_MAP_GET_NEXT_KEY]: 'next key',
    };
    const context = `${ops[cmd] ?? command} on ${this.#describe()}${f ? ` with flags ${elemFlagText(f)}` : ''}`;
    const why = this.#explain(cmd, errno, f);
    return new BpfError({ errno, command, context }, why ? `${command} (${context}) failed: ${errnoName(errno)} — ${why}` : undefined);
  }

  /** What an errno means for this map type and operation, when we can say more than its name. */
  #explain(cmd: number, errno: number, f: number): string | undefined {
    const t = this.type;
    const tr = this.#traits;
    const fdKind =
      t === 'prog_array'
        ? 'a program'
        : tr.needsInnerMap
          ? 'a map matching the inner map template'
          : t === 'xskmap'
            ? 'an AF_XDP socket'
            : t === 'perf_event_array'
              ? 'a perf event (perf_event_open)'
              : t === 'cgroup_array'
                ? 'a cgroup directory'
                : 'a socket';
    if (errno === EPERM && (cmd === C.BPF_MAP_UPDATE_ELEM || cmd === C.BPF_MAP_DELETE_ELEM))
      return 'the map is frozen, or read-only for user space (created or opened with rdonly)';
    if (errno === EPERM && cmd === C.BPF_MAP_LOOKUP_ELEM) return 'the map is write-only for user space (wronly)';
    if ((errno === ENOTSUPP || errno === EOPNOTSUPP) && cmd === C.BPF_MAP_LOOKUP_ELEM) return `${t} maps cannot be read from user space`;
    if ((errno === ENOTSUPP || errno === EOPNOTSUPP) && cmd === C.BPF_MAP_LOOKUP_AND_DELETE_ELEM)
      return `${t} maps do not support lookup-and-delete (hash, lru and per-CPU hashes, queue and stack do)`;
    if ((errno === ENOTSUPP || errno === EOPNOTSUPP) && cmd === C.BPF_MAP_UPDATE_ELEM) return `${t} maps cannot be updated from user space`;
    if (cmd === C.BPF_MAP_DELETE_ELEM && tr.keyless)
      return t === 'queue' || t === 'stack' ? `${t} maps have no keys: use pop()` : `elements of ${t} maps cannot be deleted`;
    if ((errno === ENOTSUPP || errno === EOPNOTSUPP) && cmd === C.BPF_MAP_DELETE_ELEM) return `elements of ${t} maps cannot be deleted from user space`;
    if (errno === ENOTSOCK && (cmd === C.BPF_MAP_UPDATE_ELEM || cmd === C.BPF_MAP_DELETE_ELEM)) return `the value must be the fd of ${fdKind}`;
    if (errno === EINVAL && cmd === C.BPF_MAP_DELETE_ELEM && tr.array && !tr.fdToId && !tr.fdValue)
      return `elements of ${t} maps cannot be deleted: every index always exists (write zeros instead)`;
    if (errno === EINVAL && f & BPF_F_LOCK)
      return "flags 'lock' needs a map whose value holds a struct bpf_spin_lock described by BTF";
    if (cmd === C.BPF_MAP_UPDATE_ELEM) {
      if (errno === E2BIG)
        return tr.array || t === 'devmap' || t === 'cpumap' || t === 'xskmap'
          ? `the index is out of range: the map has ${this.maxEntries} entries (0..${this.maxEntries - 1})`
          : `the map is full (maxEntries ${this.maxEntries})`;
      if (errno === EEXIST) return "the key already exists and flags say 'noexist'";
      if (errno === ENOENT && (f & 3) === BPF_EXIST) return "the key does not exist and flags say 'exist'";
      if (errno === ENOENT && (t === 'cgroup_storage' || t === 'percpu_cgroup_storage'))
        return `${t} elements exist only for cgroups a program using the map is attached to`;
      if (errno === EINVAL && (t === 'devmap' || t === 'devmap_hash'))
        return 'the ifindex is not a network device in this namespace, or the program fd is not an XDP program for devmaps';
      if (errno === EINVAL && t === 'struct_ops')
        return 'a struct_ops value registers the ops: every function pointer must hold a loaded struct_ops program fd for this struct';
      if (errno === EINVAL && t === 'stack_trace') return 'stack_trace maps are filled by bpf_get_stackid() in programs; user space can read and delete';
      if (errno === EBADF && (tr.fdValue || tr.fdToId || t === 'cpumap')) return `the value must be the open fd of ${fdKind}`;
      if (errno === EINVAL && (tr.fdValue || tr.fdToId))
        return `the value is not ${fdKind} this map accepts (wrong kind of object, or one incompatible with the map)`;
    }
    if (errno === E2BIG && cmd === C.BPF_MAP_LOOKUP_ELEM && tr.array) return `the index is out of range (maxEntries ${this.maxEntries})`;
    return undefined;
  }
}
