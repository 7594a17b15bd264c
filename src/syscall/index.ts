export * from './abi/bpf.js';
export { struct, type Layout, type Member, type MemberType } from './abi/layout.js';
export { Attr } from './attr.js';
export { FdOwner } from './fd.js';
export * from './bpf.js';
export {
  bpfRaw,
  bpfRawAsync,
  kernelFd,
  rawSyscall,
  rawSyscallAsync,
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
export { bpfStep, syscallStep, runSteps, runStepsAsync, type SlowCall, type Steps } from './steps.js';
