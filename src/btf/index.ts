// BTF: types, strings, .BTF.ext, CO-RE. Pure (no bpf(2)); see README.md for the API and units.
export * from './types.js';
export { Btf, type BtfHeader, type BtfParseOptions, type MemberLocation, essentialName, POINTER_SIZE } from './btf.js';
export { StringTable } from './strings.js';
export type { EncodeOptions } from './encode.js';
export * from './ext.js';
export * from './fixup.js';
export * from './core.js';
export * from './patch.js';
export * from './kernel.js';
export * from './maps.js';
export { btfTypeName, decodeValue, formatDecoded, type Decoded } from './value.js';
export { valueCodec, BtfValueError, type BtfValue, type Init, type ValueCodec, type ValueShape } from './codec.js';
