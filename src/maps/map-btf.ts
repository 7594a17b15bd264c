// The BTF a map was created with, read back from the kernel: what `map.typed()` decodes by when
// the caller does not hand over the object's parsed BTF (a pinned map, a map by id).
import { UsageError } from '../errors.js';
import type { Btf } from '../btf/index.js';
import { btfObjectById } from '../object/btf-handle.js';
import type { MapInfo } from './info.js';

/** A map's key and value types: ids in `btf` (keyType 0 for maps without keys). */
export interface MapBtfTypes {
  readonly btf: Btf;
  readonly keyType: number;
  readonly valueType: number;
}

// The reader of a BTF object by id lives with the BTF handle; maps export it too.
export { btfObjectById };

/** The key/value types the kernel recorded for a map; a UsageError when it has none. */
export function kernelMapBtf(info: MapInfo, what: string): MapBtfTypes {
  if (!info.btfId || !info.btfValueTypeId)
    throw new UsageError(
      `${what} was created without BTF key/value types, so its values cannot be decoded; use the byte API (lookup/update with Uint8Array), or pass the types: typed({ btf, keyType, valueType })`,
    );
  return { btf: btfObjectById(info.btfId), keyType: info.btfKeyTypeId, valueType: info.btfValueTypeId };
}
