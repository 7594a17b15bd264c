// tsbpf: the public surface. Each concept lives in its own folder; this file only re-exports.
export * from './errors.js';
export * from './maps/index.js';
export * from './programs/index.js';
export * from './link/index.js';
export * from './object/index.js';
/** The base every fd-owning class shares, and what maps, programs, links and BTF objects add to it. */
export { FdOwner } from './syscall/fd.js';
export { KernelObject } from './syscall/kernel-object.js';
/** Feature probes: does this kernel have X (tcx, arena, a program type, a helper…)? */
export { features, type FeatureAnswer, type FeatureInfo, type FeatureQuery, type FeatureStatus } from './features/index.js';
export { Btf, CoreRelocationError, loadKernelBtf } from './btf/index.js';
/** Values through BTF: what typed maps and skeletons decode to and encode from. */
export { BtfValueError, valueCodec, type BtfValue, type Init, type ValueCodec, type ValueShape } from './btf/index.js';
/** Skeletons (`tsbpf gen skeleton`): a typed module per BPF object, and the runtime it calls. */
export * from './skeleton/index.js';
/** BTF: parse, inspect and encode type information; CO-RE. */
export * as btf from './btf/index.js';
export { ifindex, ifname, listInterfaces, type InterfaceInfo, type XdpState, type XdpAttached } from './netlink/index.js';
/** XDP over rtnetlink, the low level: attach/detach/query with every flag. */
export * as xdp from './xdp/index.js';
export { XdpMultiError, type XdpMultiProblem } from './xdp/multi/errors.js';
/** Legacy TC over rtnetlink: clsact hooks and cls_bpf direct-action filters. */
export * as tc from './tc/index.js';
/** tcx (6.6+): link-based TC attachment with ordering and revisions. */
export * as tcx from './tcx/index.js';
/** cgroups, the low level: BPF_PROG_ATTACH/DETACH/QUERY on a cgroup v2 directory (links: prog.attachCgroup). */
export * as cgroup from './cgroup/index.js';
/** netkit devices (6.7+) over rtnetlink, and their chains (attach through links). */
export * as netkit from './netkit/index.js';
/** Socket filters, sockmap hooks and the flow dissector, the low level (held by the socket, map or namespace). */
export { socketFilter, sockmap, flowDissector, socketFd, type SocketRef } from './sockets/index.js';
/** Network namespaces as attach targets: run a synchronous function inside one. */
export { inNetns, type NetnsRef } from './netns/index.js';
