export * from './abi/bpf.js';
export { struct, type Layout, type Member, type MemberType } from './abi/layout.js';
export { Attr } from './attr.js';
export { FdOwner } from './fd.js';
export * from './bpf.js';
export {
  bpfRaw,
  kernelFd,
  rawSyscall,
  addressOf,
  stableBuffer,
  closeFd,
  flock,
  lastErrno,
  mmapFd,
  interfaceIndex,
  interfaceName,
  PROT_READ,
  PROT_WRITE,
  MAP_SHARED,
  MAP_PRIVATE,
} from './libc.js';
