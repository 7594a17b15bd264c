// bpf links: the attachments whose lifetime is a file descriptor (or a pin), not the hook.
export { Link, type ProgramRef, type LinkUpdateOptions } from './link.js';
export { linkInfo, type LinkInfo, type LinkTypeName } from './info.js';
export { attachXdpLink, attachXdpLinkAsync, type XdpLinkOptions, type XdpMode } from './xdp.js';
export { attachTcxLink, attachTcxLinkAsync, type TcxLinkOptions, type TcxRelative, type TcxDirection } from './tcx.js';
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
  type KprobeOptions,
  type KprobeMultiOptions,
} from './kprobe.js';
export { findKernelTarget, findProgramTarget, type KernelTarget, type ProgramTarget } from './targets.js';
export { attachCgroupLink, type CgroupAttachType, type CgroupLinkOptions, type CgroupRelative } from './cgroup.js';
export { attachNetnsLink, type NetnsAttachType } from './netns.js';
export { attachSockmapLink, type SockmapAttachType, type MapRef } from './sockmap.js';
export {
  attachNetfilterLink,
  type NetfilterHook,
  type NetfilterLinkOptions,
  type NetfilterFamily,
  type NetfilterHookName,
} from './netfilter.js';
export { attachNetkitLink, type NetkitSide, type NetkitLinkOptions, type NetkitRelative } from './netkit.js';
export { attachTracepointLink, attachTracepointLegacy, tracepointId, tracefsRoot, type TracepointOptions } from './tracepoint.js';
export {
  attachUprobeLink,
  attachUprobeLegacy,
  attachUprobeMultiLink,
  resolveBinary,
  type UprobeTarget,
  type UprobeOptions,
  type UprobeMultiOptions,
} from './uprobe.js';
export { PerfEventAttachment, type PerfEventKind } from './perf-event.js';
