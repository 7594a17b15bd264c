// BPF_MAP_CREATE: options checked against what each map type demands before the call, and the
// kernel's terse errno turned into a sentence naming the parameters it refused.
import { BpfError, NotSupportedError, UsageError, errnoName } from '../errors.js';
import { mapCreateNotSupported } from '../features/explain.js';
import { Attr, BPF_OBJ_NAME_LEN, MAP_CREATE_ATTR, bpf_cmd, bpf_map_create_flags, bpfAttr } from '../syscall/index.js';
import { possibleCpus } from './cpus.js';
import { E2BIG, EBADF, EINVAL, ENOTSUPP, EOPNOTSUPP, EPERM } from './errno.js';
import {
  PAGE_SIZE,
  checkSize,
  defaultSize,
  mapFlagNames,
  mapTypeName,
  parseMapFlags,
  parseMapType,
  traitsOf,
  type MapFlags,
  type MapType,
} from './types.js';

/** A file descriptor, or anything that owns one (a BpfMap, a BpfProgram, a BTF object). */
export type FdLike = number | { readonly fd: number };

export interface MapBtfOptions {
  /** fd of the BTF object (BPF_BTF_LOAD) describing the key and value types. */
  fd: FdLike;
  keyTypeId?: number;
  valueTypeId?: number;
  /** struct_ops maps: the id of the kernel's `bpf_struct_ops_<name>` type in vmlinux BTF. */
  vmlinuxValueTypeId?: number;
}

export interface MapCreateOptions<T extends MapType = MapType> {
  /** The uapi type name in lower case without `BPF_MAP_TYPE_`: 'hash', 'array', 'lpm_trie'… */
  type: T;
  /** Optional where the type fixes it (4 for arrays, 0 for queue/stack/ringbuf…). */
  keySize?: number;
  /** Optional where the type fixes it (4 for prog_array and map-in-map, 0 for ringbuf). */
  valueSize?: number;
  /** Required, except: perf_event_array defaults to the number of possible CPUs, and local
   * storage maps (sk/task/inode/cgrp/cgroup storage) must have 0, their default. */
  maxEntries?: number;
  /** Creation flags: a number, a name ('no_prealloc') or a list (['rdonly_prog', 'mmapable']). */
  flags?: MapFlags;
  /** Up to 15 characters of [A-Za-z0-9_.]. */
  name?: string;
  /** Map-in-map: a map every inner map must match in type, sizes and flags. */
  innerMap?: FdLike;
  /** Type-specific: the number of hash functions for a bloom filter (0..15, 0 = 5). */
  mapExtra?: number | bigint;
  btf?: MapBtfOptions;
  /** Allocate on this NUMA node (sets BPF_F_NUMA_NODE). */
  numaNode?: number;
  /** Offload the map to this network device. */
  ifindex?: number;
}

/** What a BpfMap needs to know about its map; the kernel's own view after creation. */
export interface MapDesc {
  typeId: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

const F = bpf_map_create_flags;
const STORAGE_TYPES = new Set<MapType>(['cgroup_storage', 'percpu_cgroup_storage', 'sk_storage', 'inode_storage', 'task_storage', 'cgrp_storage']);
/** The kernel's LPM_DATA_SIZE_MAX: 256 bytes of prefix data after the u32 prefix length. */
const LPM_DATA_SIZE_MAX = 256;

export function fdOf(x: FdLike, what: string): number {
  const fd = typeof x === 'number' ? x : x !== null && typeof x === 'object' ? x.fd : NaN;
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff)
    throw new UsageError(`${what} must be a file descriptor or an object with one (got ${String(x)})`);
  return fd;
}

function u32(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new UsageError(`${what} must be an unsigned 32-bit integer, got ${String(v)}`);
  return v;
}

export function validateCreate(opts: MapCreateOptions): MapDesc & { attr: Attr<keyof typeof MAP_CREATE_ATTR.members> } {
  if (opts === null || typeof opts !== 'object') throw new UsageError('BpfMap.create needs an options object');
  const typeId = parseMapType(opts.type);
  const type = mapTypeName(typeId);
  const tr = traitsOf(typeId);

  const keySize = opts.keySize ?? defaultSize(tr.key);
  if (keySize === undefined) throw new UsageError(`${type} map: keySize is required`);
  checkSize(typeId, 'keySize', keySize, tr.key);
  const valueSize = opts.valueSize ?? defaultSize(tr.value);
  if (valueSize === undefined) throw new UsageError(`${type} map: valueSize is required`);
  checkSize(typeId, 'valueSize', valueSize, tr.value);
  if (type === 'lpm_trie' && (keySize < 5 || keySize > 4 + LPM_DATA_SIZE_MAX))
    throw new UsageError(`lpm_trie map: keySize must be 4 (the u32 prefix length) + 1..${LPM_DATA_SIZE_MAX} data bytes, got ${keySize}`);
  if (type === 'stack_trace' && valueSize % 8 !== 0)
    throw new UsageError(`stack_trace map: valueSize must be a multiple of 8 (u64 addresses), got ${valueSize}`);

  let maxEntries: number;
  if (STORAGE_TYPES.has(type)) {
    maxEntries = u32(opts.maxEntries ?? 0, `${type} map: maxEntries`);
    if (maxEntries !== 0) throw new UsageError(`${type} map: maxEntries must be 0 (storage grows with its owners), got ${maxEntries}`);
  } else if (type === 'perf_event_array' && opts.maxEntries === undefined) {
    maxEntries = possibleCpus();
  } else {
    if (opts.maxEntries === undefined) throw new UsageError(`${type} map: maxEntries is required`);
    maxEntries = u32(opts.maxEntries, `${type} map: maxEntries`);
    if (maxEntries === 0) throw new UsageError(`${type} map: maxEntries must be > 0`);
  }
  if (tr.ringSize && (maxEntries % PAGE_SIZE !== 0 || (maxEntries & (maxEntries - 1)) !== 0))
    throw new UsageError(`${type} map: maxEntries is the ring size in bytes and must be a power of 2 and a multiple of ${PAGE_SIZE}, got ${maxEntries}`);

  let flags = parseMapFlags(opts.flags);
  if (opts.numaNode !== undefined) flags |= F.BPF_F_NUMA_NODE;
  if (tr.needsNoPrealloc && !(flags & F.BPF_F_NO_PREALLOC))
    throw new UsageError(`${type} map: needs flags 'no_prealloc' (the kernel allocates its elements on demand)`);

  if (tr.needsInnerMap && opts.innerMap === undefined)
    throw new UsageError(`${type} map: needs innerMap, a map (or its fd) that every inner map must match in type, sizes and flags`);
  if (!tr.needsInnerMap && opts.innerMap !== undefined)
    throw new UsageError(`${type} map: innerMap is only for array_of_maps and hash_of_maps`);
  if (tr.needsBtfValue && opts.btf?.valueTypeId === undefined)
    throw new UsageError(`${type} map: needs btf with a valueTypeId (local storage values are described by BTF)`);
  if (type === 'struct_ops' && opts.btf?.vmlinuxValueTypeId === undefined)
    throw new UsageError(`struct_ops map: needs btf.vmlinuxValueTypeId (the kernel's bpf_struct_ops_<name> type)`);

  const name = opts.name ?? '';
  if (typeof name !== 'string' || name.length >= BPF_OBJ_NAME_LEN || !/^[A-Za-z0-9_.]*$/.test(name))
    throw new UsageError(`map name ${JSON.stringify(name)}: at most ${BPF_OBJ_NAME_LEN - 1} characters of [A-Za-z0-9_.]`);

  let mapExtra: bigint = 0n;
  if (opts.mapExtra !== undefined) {
    const x = opts.mapExtra;
    if ((typeof x !== 'bigint' && (typeof x !== 'number' || !Number.isSafeInteger(x))) || x < 0 || BigInt(x) >= 1n << 64n)
      throw new UsageError(`${type} map: mapExtra must be an unsigned 64-bit integer, got ${String(x)}`);
    mapExtra = BigInt(x);
  }
  if (type === 'bloom_filter' && mapExtra > 15n)
    throw new UsageError(`bloom_filter map: mapExtra is the number of hash functions, 0..15 (0 means 5), got ${mapExtra}`);

  const attr = new Attr(MAP_CREATE_ATTR)
    .set('map_type', typeId)
    .set('key_size', keySize)
    .set('value_size', valueSize)
    .set('max_entries', maxEntries)
    .set('map_flags', flags)
    .setString('map_name', name)
    .set('map_extra', mapExtra);
  if (opts.innerMap !== undefined) attr.set('inner_map_fd', fdOf(opts.innerMap, `${type} map: innerMap`));
  if (opts.numaNode !== undefined) attr.set('numa_node', u32(opts.numaNode, 'numaNode'));
  if (opts.ifindex !== undefined) attr.set('map_ifindex', u32(opts.ifindex, 'ifindex'));
  if (opts.btf !== undefined) {
    attr.set('btf_fd', fdOf(opts.btf.fd, `${type} map: btf.fd`));
    attr.set('btf_key_type_id', u32(opts.btf.keyTypeId ?? 0, 'btf.keyTypeId'));
    attr.set('btf_value_type_id', u32(opts.btf.valueTypeId ?? 0, 'btf.valueTypeId'));
    attr.set('btf_vmlinux_value_type_id', u32(opts.btf.vmlinuxValueTypeId ?? 0, 'btf.vmlinuxValueTypeId'));
  }
  return { typeId, keySize, valueSize, maxEntries, flags, name, attr };
}

/** Creates the map; returns its fd and description. */
export function createMap(opts: MapCreateOptions): { fd: number; desc: MapDesc } {
  const { attr, ...desc } = validateCreate(opts);
  const r = bpfAttr(bpf_cmd.BPF_MAP_CREATE, attr);
  if (r < 0) throw createError(-r, desc, opts);
  return { fd: r, desc };
}

function createError(errno: number, d: MapDesc, opts: MapCreateOptions): BpfError | NotSupportedError {
  const type = mapTypeName(d.typeId);
  // EINVAL and friends from a kernel that lacks the type: say which Linux has it.
  const missing = mapCreateNotSupported(type as MapType, errno);
  if (missing) return missing;
  const flagText = d.flags ? `, flags ${mapFlagNames(d.flags).join('|') || d.flags}` : '';
  const context = `create ${type} map${d.name ? ` '${d.name}'` : ''}: keySize ${d.keySize}, valueSize ${d.valueSize}, maxEntries ${d.maxEntries}${flagText}`;
  let why: string | undefined;
  if (errno === EINVAL)
    why = `the kernel refused this combination of type, sizes and flags${opts.innerMap !== undefined ? ' (or the inner map is not a valid template)' : ''}${opts.btf ? ' (or the BTF type ids do not match the sizes)' : ''}`;
  else if (errno === E2BIG) why = `a size or the entry count is larger than ${type} maps allow`;
  else if (errno === EBADF) why = 'innerMap or btf.fd is not an open fd of the right kind';
  else if (errno === EPERM && process.getuid?.() === 0)
    why = `this machine refuses ${type} maps even for root (kernel configuration or security policy); that is not a matter of kernel version`;
  else if (errno === ENOTSUPP || errno === EOPNOTSUPP)
    why = opts.btf
      ? `${type} maps do not accept BTF key/value types here (create it without btf), or this kernel lacks them`
      : `this kernel does not support ${type} maps with these flags`;
  const command = 'BPF_MAP_CREATE';
  return new BpfError({ errno, command, context }, why ? `${command} (${context}) failed: ${errnoName(errno)} — ${why}` : undefined);
}
