// What tsbpf can ask the kernel about: each feature's words, the Linux version that introduced
// it and what to use instead. Pure data; the probes that answer live in ./probes.ts.
import type { MapType, ProgramType } from '../syscall/abi/names.js';

export interface FeatureInfo {
  /** The query that names it: 'tcx', 'map:arena', 'prog:lsm', 'helper:xdp:bpf_xdp_adjust_tail'. */
  readonly id: string;
  /** What it is, in words that take a plural verb: 'tcx links', 'arena maps'. */
  readonly title: string;
  /** The Linux version that introduced it; absent where no single version did (helpers, kfuncs). */
  readonly minKernel?: string;
  /** What to use instead on a kernel without it, when there is something. */
  readonly alternative?: string;
}

/** The named features (`features.has('tcx')`). */
export const NAMED_FEATURES = {
  xdp_link: {
    title: 'XDP links (BPF_LINK_CREATE with BPF_XDP)',
    minKernel: '5.9',
    alternative: 'xdp.attach(ifindex, prog, { mode }) (netlink attach; its lifetime is the interface, not a link fd)',
  },
  tcx: {
    title: 'tcx links (BPF_LINK_CREATE with BPF_TCX_INGRESS/BPF_TCX_EGRESS)',
    minKernel: '6.6',
    alternative:
      "tc.attach(tc.hookCreate({ ifindex, attachPoint: 'ingress' | 'egress' }), { prog }) (legacy tc: clsact + cls_bpf over netlink; the interface holds it, not a link fd)",
  },
  netkit: {
    title: 'netkit links (BPF_NETKIT_PRIMARY/BPF_NETKIT_PEER)',
    minKernel: '6.7',
    alternative: 'a veth pair with tcx links (6.6) or legacy tc filters',
  },
  netfilter_link: {
    title: 'netfilter links (BPF_PROG_TYPE_NETFILTER programs on netfilter hooks)',
    minKernel: '6.4',
  },
  kprobe_multi: {
    title: 'kprobe_multi links (BPF_TRACE_KPROBE_MULTI)',
    minKernel: '5.18',
    alternative: 'one perf-event kprobe per function',
  },
  uprobe_multi: {
    title: 'uprobe_multi links (BPF_TRACE_UPROBE_MULTI)',
    minKernel: '6.6',
    alternative: 'one perf-event uprobe per location',
  },
  perf_link: {
    title: 'perf_event links (BPF_LINK_CREATE with BPF_PERF_EVENT)',
    minKernel: '5.15',
    alternative: 'the PERF_EVENT_IOC_SET_BPF ioctl on the perf event (no BPF cookie; the perf event fd holds the program)',
  },
  sockmap_link: {
    title: 'sockmap links (BPF_LINK_CREATE on a sockmap or sockhash)',
    minKernel: '6.10',
    alternative: "sockmap.attach(map, attachType, prog) (BPF_PROG_ATTACH: the map holds the program, not a link fd)",
  },
  cgroup_link: {
    title: 'cgroup links (BPF_LINK_CREATE on a cgroup)',
    minKernel: '5.7',
    alternative: "cgroup.attach(cgroup, attachType, prog) (BPF_PROG_ATTACH in multi mode: the cgroup holds the program, not a link fd)",
  },
  cgroup_mprog: {
    title: 'cgroup links ordered with before/after (mprog, BPF_F_BEFORE/BPF_F_AFTER on cgroups)',
    minKernel: '6.16',
    alternative: 'cgroup links without before/after (programs run in the order they were attached)',
  },
  trampoline: {
    title: 'BPF trampolines (fentry/fexit/fmod_ret programs)',
    minKernel: '5.5',
    alternative: 'kprobe/kretprobe programs',
  },
  lsm: {
    title: 'BPF LSM programs (attached to LSM hooks)',
    minKernel: '5.7',
  },
  xdp_frags: {
    title: 'multi-buffer XDP programs (BPF_F_XDP_HAS_FRAGS)',
    minKernel: '5.18',
    alternative: 'XDP programs without frags, on interfaces whose MTU fits one page',
  },
  arena: {
    title: 'arena maps (BPF_MAP_TYPE_ARENA)',
    minKernel: '6.9',
  },
  bpf_token: {
    title: 'BPF tokens (BPF_TOKEN_CREATE)',
    minKernel: '6.9',
    alternative: 'CAP_BPF (and CAP_NET_ADMIN/CAP_PERFMON as the program types need) in the initial user namespace',
  },
  bpf_cookie: {
    title: 'BPF cookies (bpf_get_attach_cookie)',
    minKernel: '5.15',
    alternative: 'a map keyed by the attach point, filled when attaching',
  },
} as const satisfies Record<string, Omit<FeatureInfo, 'id'>>;

export type NamedFeature = keyof typeof NAMED_FEATURES;

/** When each program type came (the kernel accepting BPF_PROG_LOAD of it). */
export const PROGRAM_TYPE_SINCE = {
  socket_filter: '3.19',
  kprobe: '4.1',
  sched_cls: '4.1',
  sched_act: '4.1',
  tracepoint: '4.7',
  xdp: '4.8',
  perf_event: '4.9',
  cgroup_skb: '4.10',
  cgroup_sock: '4.10',
  lwt_in: '4.10',
  lwt_out: '4.10',
  lwt_xmit: '4.10',
  sock_ops: '4.13',
  sk_skb: '4.14',
  cgroup_device: '4.15',
  sk_msg: '4.17',
  raw_tracepoint: '4.17',
  cgroup_sock_addr: '4.17',
  lwt_seg6local: '4.18',
  lirc_mode2: '4.18',
  sk_reuseport: '4.19',
  flow_dissector: '4.20',
  cgroup_sysctl: '5.2',
  raw_tracepoint_writable: '5.2',
  cgroup_sockopt: '5.3',
  tracing: '5.5',
  struct_ops: '5.6',
  ext: '5.6',
  lsm: '5.7',
  sk_lookup: '5.9',
  syscall: '5.14',
  netfilter: '6.4',
} as const satisfies Record<ProgramType, string>;

/** When each map type came. */
export const MAP_TYPE_SINCE = {
  hash: '3.19',
  array: '3.19',
  prog_array: '4.2',
  perf_event_array: '4.3',
  percpu_hash: '4.6',
  percpu_array: '4.6',
  stack_trace: '4.6',
  cgroup_array: '4.8',
  lru_hash: '4.10',
  lru_percpu_hash: '4.10',
  lpm_trie: '4.11',
  array_of_maps: '4.12',
  hash_of_maps: '4.12',
  devmap: '4.14',
  sockmap: '4.14',
  cpumap: '4.15',
  xskmap: '4.18',
  sockhash: '4.18',
  cgroup_storage: '4.19',
  reuseport_sockarray: '4.19',
  percpu_cgroup_storage: '4.20',
  queue: '4.20',
  stack: '4.20',
  sk_storage: '5.2',
  devmap_hash: '5.4',
  struct_ops: '5.6',
  ringbuf: '5.8',
  inode_storage: '5.10',
  task_storage: '5.11',
  bloom_filter: '5.16',
  user_ringbuf: '6.1',
  cgrp_storage: '6.2',
  arena: '6.9',
} as const satisfies Record<MapType, string>;

/** What to use on a kernel without a map type, where an older one does the job. */
export const MAP_TYPE_ALTERNATIVE: Partial<Record<MapType, string>> = {
  ringbuf: "a 'perf_event_array' map (one buffer per CPU)",
  devmap_hash: "a 'devmap' map indexed by a small integer",
  bloom_filter: "a 'hash' map",
  cgrp_storage: "a 'cgroup_storage' map (per attach point) or a 'hash' map keyed by cgroup id",
  task_storage: "a 'hash' map keyed by pid",
  lru_hash: "a 'hash' map",
  lru_percpu_hash: "a 'percpu_hash' map",
};

/** BTF kinds (and the one linkage) a probe can ask for, by what introduced them. */
export const BTF_FEATURES = {
  func: { title: 'BTF functions (BTF_KIND_FUNC/FUNC_PROTO)', minKernel: '5.0' },
  datasec: { title: 'BTF variables and data sections (BTF_KIND_VAR/DATASEC)', minKernel: '5.2' },
  func_global: { title: 'BTF global functions (BTF_FUNC_GLOBAL linkage)', minKernel: '5.6' },
  float: { title: 'BTF floats (BTF_KIND_FLOAT)', minKernel: '5.13' },
  decl_tag: { title: 'BTF declaration tags (BTF_KIND_DECL_TAG)', minKernel: '5.16' },
  type_tag: { title: 'BTF type tags (BTF_KIND_TYPE_TAG)', minKernel: '5.17' },
  enum64: { title: 'BTF 64-bit enums (BTF_KIND_ENUM64)', minKernel: '6.0' },
} as const satisfies Record<string, Omit<FeatureInfo, 'id'>>;

export type BtfFeature = keyof typeof BTF_FEATURES;
