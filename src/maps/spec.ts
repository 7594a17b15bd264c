// A map from its spec (what an object file declares), as libbpf creates it: a compatible map
// already pinned by name is reused, the inner-map template made and dropped, BTF key/value
// types given (and left out when the kernel refuses them for the type), initial data written,
// `.rodata` frozen, the new map pinned by name. The compatibility check is the one used for
// pinned maps and for map replacements at load.
import { UsageError } from '../errors.js';
import type { MapSpec } from '../elf/spec.js';
import { possibleCpus } from './cpus.js';
import type { FdLike, MapCreateOptions } from './create.js';
import type { MapInfo } from './info.js';
import { parseMapType } from './types.js';

export interface MapFromSpecOptions {
  /** The loaded BTF object the spec's `btfKeyType`/`btfValueType` ids refer to. Without it the
   * map is created without BTF types. */
  btf?: FdLike;
  /** Directory for maps declared with `pinning: 'by_name'`. Default `/sys/fs/bpf` (libbpf's). */
  pinRoot?: string;
}

/** Where a map declared `pinning: 'by_name'` is pinned; undefined for other maps. */
export function pinPathOf(spec: MapSpec, pinRoot = '/sys/fs/bpf'): string | undefined {
  return spec.pinning === 'by_name' ? `${pinRoot}/${spec.name}` : undefined;
}

/** The entries a spec asks for: a perf event array that declares none gets one per possible CPU. */
function specMaxEntries(spec: MapSpec): number {
  return spec.type === 'perf_event_array' && spec.maxEntries === 0 ? possibleCpus() : spec.maxEntries;
}

/**
 * How an existing map differs from a spec, in words ('key size 4 vs 8'); empty when it can
 * stand in for it. The fields libbpf compares before reusing a map: type, key and value
 * sizes, max entries, flags and map_extra.
 */
export function mapSpecDiffs(info: MapInfo, spec: MapSpec): string[] {
  const diffs: string[] = [];
  if (info.typeId !== parseMapType(spec.type)) diffs.push(`type ${info.type} vs ${spec.type}`);
  if (info.keySize !== spec.keySize) diffs.push(`key size ${info.keySize} vs ${spec.keySize}`);
  if (info.valueSize !== spec.valueSize) diffs.push(`value size ${info.valueSize} vs ${spec.valueSize}`);
  const max = specMaxEntries(spec);
  if (info.maxEntries !== max) diffs.push(`max entries ${info.maxEntries} vs ${max}`);
  if (info.flags !== spec.flags) diffs.push(`flags 0x${info.flags.toString(16)} vs 0x${spec.flags.toString(16)}`);
  if (BigInt(info.mapExtra) !== BigInt.asUintN(64, spec.mapExtra)) diffs.push(`map_extra ${info.mapExtra} vs ${spec.mapExtra}`);
  return diffs;
}

/** UsageError unless the map behind `info` can stand in for `spec`. `what` says where it came
 * from ('the map pinned at …'), `advice` what to do instead. */
export function checkMapCompatible(info: MapInfo, spec: MapSpec, what: string, advice: string): void {
  const diffs = mapSpecDiffs(info, spec);
  if (diffs.length) throw new UsageError(`map '${spec.name}': ${what} is not compatible (${diffs.join(', ')}); ${advice}`);
}

/** BpfMap.create's options for a spec (the inner template and BTF given separately). */
export function createOptionsOf(spec: MapSpec): MapCreateOptions {
  return {
    type: spec.type,
    keySize: spec.keySize,
    valueSize: spec.valueSize,
    // libbpf sizes a perf event array that declares no max_entries to the possible CPUs,
    // which is what BpfMap.create does when it is left out.
    ...(spec.type === 'perf_event_array' && spec.maxEntries === 0 ? {} : { maxEntries: spec.maxEntries }),
    flags: spec.flags,
    name: spec.kernelName,
    mapExtra: spec.mapExtra,
    ...(spec.numaNode ? { numaNode: spec.numaNode } : {}),
  };
}

/** Whether the spec's initial bytes are written after creation: global data and .kconfig maps
 * (BTF-defined and legacy maps carry no bytes of their own). */
export function hasInitialData(spec: MapSpec): spec is MapSpec & { data: Uint8Array } {
  return spec.data !== undefined && spec.kind !== 'btf' && spec.kind !== 'legacy';
}
