// bpf links: the attachments whose lifetime is a file descriptor (or a pin), not the hook.
export { Link, type ProgramRef, type LinkUpdateOptions } from './link.js';
export { linkInfo, type LinkInfo, type LinkTypeName } from './info.js';
export { attachXdpLink, type XdpLinkOptions, type XdpMode } from './xdp.js';
export { attachTcxLink, type TcxLinkOptions, type TcxRelative, type TcxDirection } from './tcx.js';
export { attachRawTracepointLink } from './raw-tracepoint.js';
export {
  attachTracingLink,
  attachFreplaceLink,
  TRACE_ATTACH_TYPES,
  type TraceAttachType,
  type TraceLinkOptions,
  type FreplaceTarget,
} from './tracing.js';
export { attachIterLink, openIter, IterReader, type IterLink, type IterLinkOptions, type CgroupIterOrder } from './iter.js';
export {
  attachKprobeLink,
  attachKprobeLegacy,
  attachKprobeMultiLink,
  resolveKprobePattern,
  PerfEventAttachment,
  type KprobeOptions,
  type KprobeMultiOptions,
} from './kprobe.js';
export { findKernelTarget, findProgramTarget, type KernelTarget, type ProgramTarget } from './targets.js';
