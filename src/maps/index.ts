export { BpfMap, BatchCursor, MapIterationError } from './map.js';
export type { MapValue, UpdateValue, ElemFlag, ElemFlags, IterateOptions, MapFromOptions } from './map.js';
export type { MapCreateOptions, MapBtfOptions, FdLike } from './create.js';
export type { MapInfo } from './info.js';
export { listMaps, type MapListEntry } from './list.js';
export { possibleCpus } from './cpus.js';
export { MAP_TYPES, MAP_FLAGS, mapTypeName, type MapType, type MapFlagName, type MapFlags } from './types.js';
export { u8, u16, u32, u64, readU16, readU32, readI32, readU64, readU64Number, lpmKey, sumU64 } from './bytes.js';
export { RingBuffer, type RingReadOptions } from './ringbuf.js';
