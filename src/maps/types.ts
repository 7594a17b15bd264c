// Map types and creation flags by their uapi names, and what each type demands of its key and
// value sizes — checked here, before the kernel answers a bare EINVAL.
import { UsageError } from '../errors.js';
import { bpf_map_create_flags, bpf_map_type } from '../syscall/index.js';
import { MAP_TYPE_NAMES } from '../syscall/abi/names.js';

type StripFlag<S> = S extends `BPF_F_${infer T}` ? Lowercase<T> : never;

export type { MapType } from '../syscall/abi/names.js';
import type { MapType } from '../syscall/abi/names.js';
/** `'no_prealloc'`, `'mmapable'`…: `BPF_F_*` map creation flags without the prefix, lower case. */
export type MapFlagName = StripFlag<keyof typeof bpf_map_create_flags>;

export const MAP_TYPES: ReadonlyMap<MapType, number> = new Map(
  [...MAP_TYPE_NAMES.byName].filter(([n]) => n !== 'unspec' && !n.endsWith('_deprecated')) as [MapType, number][],
);

/** The name of a kernel map type number (`'hash'` for 1); `'type N'` if this table lacks it. */
export function mapTypeName(type: number): MapType {
  return (MAP_TYPE_NAMES.byValue.get(type) ?? `type ${type}`) as MapType;
}

export const MAP_FLAGS: ReadonlyMap<string, number> = new Map(
  Object.entries(bpf_map_create_flags).map(([n, v]) => [n.slice('BPF_F_'.length).toLowerCase(), v]),
);

export function parseMapType(type: unknown): number {
  if (typeof type === 'number') {
    if (!MAP_TYPE_NAMES.byValue.has(type) || type === 0) throw new UsageError(`unknown map type number ${type}`);
    return type;
  }
  const v = typeof type === 'string' ? MAP_TYPES.get(type.toLowerCase().replace(/^bpf_map_type_/, '') as MapType) : undefined;
  if (v === undefined)
    throw new UsageError(`unknown map type ${JSON.stringify(type)}; expected one of: ${[...MAP_TYPES.keys()].join(', ')}`);
  return v;
}

/** Flags as a number, one name, or a list of names and numbers. */
export type MapFlags = number | MapFlagName | ReadonlyArray<MapFlagName | number>;

export function parseMapFlags(flags: MapFlags | undefined): number {
  if (flags === undefined) return 0;
  const list = Array.isArray(flags) ? flags : [flags];
  let out = 0;
  for (const f of list as ReadonlyArray<string | number>) {
    if (typeof f === 'number') {
      if (!Number.isInteger(f) || f < 0 || f > 0xffffffff) throw new UsageError(`map flags: ${f} is not a u32`);
      out |= f;
      continue;
    }
    const v = MAP_FLAGS.get(String(f).toLowerCase().replace(/^bpf_f_/, ''));
    if (v === undefined)
      throw new UsageError(`unknown map flag ${JSON.stringify(f)}; expected one of: ${[...MAP_FLAGS.keys()].join(', ')}`);
    out |= v;
  }
  return out >>> 0;
}

export function mapFlagNames(flags: number): string[] {
  const out: string[] = [];
  for (const [n, v] of MAP_FLAGS) if (flags & v) out.push(n);
  return out;
}

/** Size rules: a number is the only size allowed, a list the allowed sizes, 'any' means > 0. */
type SizeRule = number | readonly number[] | 'any';

export interface TypeTraits {
  readonly key: SizeRule;
  readonly value: SizeRule;
  /** Values are one slot per possible CPU. */
  readonly perCpu?: boolean;
  /** Keys are u32 indices that always exist: delete is EINVAL, get_next_key walks indices. */
  readonly array?: boolean;
  /** Updates take a file descriptor; a user-space lookup returns the object's id. */
  readonly fdToId?: boolean;
  /** Updates take a file descriptor (and lookups return something else, or nothing). */
  readonly fdValue?: boolean;
  /** No keys at all: queue, stack, bloom filter, ring buffers, arena. */
  readonly keyless?: boolean;
  readonly needsInnerMap?: boolean;
  readonly needsBtfValue?: boolean;
  readonly needsNoPrealloc?: boolean;
  /** max_entries must be a power-of-2 multiple of the page size. */
  readonly ringSize?: boolean;
}

const T = (t: TypeTraits): TypeTraits => t;
const KEYED = T({ key: 'any', value: 'any' });
const ARRAY4 = T({ key: 4, value: 'any', array: true });

/** Every type this kernel's enum has; the default for a type added later is "let the kernel judge". */
export const TYPE_TRAITS: Partial<Record<MapType, TypeTraits>> = {
  hash: KEYED,
  array: ARRAY4,
  prog_array: T({ key: 4, value: 4, array: true, fdToId: true }),
  perf_event_array: T({ key: 4, value: 4, array: true, fdValue: true }),
  percpu_hash: T({ key: 'any', value: 'any', perCpu: true }),
  percpu_array: T({ key: 4, value: 'any', array: true, perCpu: true }),
  stack_trace: T({ key: 4, value: 'any' }),
  cgroup_array: T({ key: 4, value: 4, array: true, fdValue: true }),
  lru_hash: KEYED,
  lru_percpu_hash: T({ key: 'any', value: 'any', perCpu: true }),
  lpm_trie: T({ key: 'any', value: 'any', needsNoPrealloc: true }),
  array_of_maps: T({ key: 4, value: 4, array: true, fdToId: true, needsInnerMap: true }),
  hash_of_maps: T({ key: 'any', value: 4, fdToId: true, needsInnerMap: true }),
  devmap: T({ key: 4, value: [4, 8] }),
  sockmap: T({ key: 4, value: [4, 8], fdValue: true }),
  cpumap: T({ key: 4, value: [4, 8] }),
  xskmap: T({ key: 4, value: 4, fdValue: true }),
  sockhash: T({ key: 'any', value: [4, 8], fdValue: true }),
  cgroup_storage: T({ key: [8, 16], value: 'any' }),
  reuseport_sockarray: T({ key: 4, value: [4, 8], fdValue: true }),
  percpu_cgroup_storage: T({ key: [8, 16], value: 'any', perCpu: true }),
  queue: T({ key: 0, value: 'any', keyless: true }),
  stack: T({ key: 0, value: 'any', keyless: true }),
  sk_storage: T({ key: 4, value: 'any', needsBtfValue: true, needsNoPrealloc: true }),
  devmap_hash: T({ key: 4, value: [4, 8] }),
  struct_ops: T({ key: 4, value: 'any' }),
  ringbuf: T({ key: 0, value: 0, keyless: true, ringSize: true }),
  inode_storage: T({ key: 4, value: 'any', needsBtfValue: true, needsNoPrealloc: true }),
  task_storage: T({ key: 4, value: 'any', needsBtfValue: true, needsNoPrealloc: true }),
  bloom_filter: T({ key: 0, value: 'any', keyless: true }),
  user_ringbuf: T({ key: 0, value: 0, keyless: true, ringSize: true }),
  cgrp_storage: T({ key: 4, value: 'any', needsBtfValue: true, needsNoPrealloc: true }),
  arena: T({ key: 0, value: 0, keyless: true }),
};

export function traitsOf(type: number): TypeTraits {
  return TYPE_TRAITS[mapTypeName(type)] ?? KEYED;
}

/** The size a rule implies when the caller gave none, if there is exactly one. */
export function defaultSize(rule: SizeRule): number | undefined {
  return typeof rule === 'number' ? rule : undefined;
}

export function checkSize(type: number, what: 'keySize' | 'valueSize', size: number, rule: SizeRule): void {
  const name = mapTypeName(type);
  if (!Number.isInteger(size) || size < 0 || size > 0xffffffff)
    throw new UsageError(`${name} map: ${what} ${size} is not a u32`);
  const ok = rule === 'any' ? size > 0 : typeof rule === 'number' ? size === rule : rule.includes(size);
  if (ok) return;
  const want = rule === 'any' ? 'a size > 0' : typeof rule === 'number' ? `${rule}` : rule.join(' or ');
  const why =
    what === 'keySize' && rule === 4
      ? ' (its keys are u32 indices)'
      : what === 'keySize' && rule === 0
        ? ' (it has no keys)'
        : '';
  throw new UsageError(`${name} map: ${what} must be ${want}${why}, got ${size}`);
}

export const PAGE_SIZE = 4096;
