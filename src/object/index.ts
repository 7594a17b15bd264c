export { BpfObject, type BpfObjectOptions, type LoadOptions } from './object.js';
export { BtfHandle, type BtfInfo } from './btf-handle.js';
export { kernelConfig, kernelVersionCode } from './kconfig.js';
