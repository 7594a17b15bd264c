// The one home of rtnetlink's ABI, named exactly as in the uapi headers. Groups whose members
// are enumerators in the kernel are checked against the running kernel's BTF; the #define
// groups are checked by compiling them against the installed headers
// (test/netlink/abi.test.ts). Never write a netlink constant or offset anywhere else.
import { struct } from '../syscall/abi/layout.js';

// ---- enums (in the kernel's BTF) ----

/** enum { RTM_* } from linux/rtnetlink.h (the subset tsbpf speaks). */
export const rtm = {
  RTM_NEWLINK: 16,
  RTM_DELLINK: 17,
  RTM_GETLINK: 18,
  RTM_SETLINK: 19,
  RTM_NEWQDISC: 36,
  RTM_DELQDISC: 37,
  RTM_GETQDISC: 38,
  RTM_NEWTFILTER: 44,
  RTM_DELTFILTER: 45,
  RTM_GETTFILTER: 46,
} as const;

/** enum { IFLA_* } from linux/if_link.h (the subset tsbpf reads or writes). */
export const ifla = {
  IFLA_UNSPEC: 0,
  IFLA_ADDRESS: 1,
  IFLA_IFNAME: 3,
  IFLA_MTU: 4,
  IFLA_LINK: 5,
  IFLA_OPERSTATE: 16,
  IFLA_LINKINFO: 18,
  IFLA_NET_NS_FD: 28,
  IFLA_EXT_MASK: 29,
  IFLA_XDP: 43,
} as const;

/** enum { IFLA_XDP_* }: the attributes nested in IFLA_XDP. EXPECTED_FD is 5.7+. */
export const ifla_xdp = {
  IFLA_XDP_UNSPEC: 0,
  IFLA_XDP_FD: 1,
  IFLA_XDP_ATTACHED: 2,
  IFLA_XDP_FLAGS: 3,
  IFLA_XDP_PROG_ID: 4,
  IFLA_XDP_DRV_PROG_ID: 5,
  IFLA_XDP_SKB_PROG_ID: 6,
  IFLA_XDP_HW_PROG_ID: 7,
  IFLA_XDP_EXPECTED_FD: 8,
} as const;

/** enum { IFLA_INFO_* }: the attributes nested in IFLA_LINKINFO. */
export const ifla_info = {
  IFLA_INFO_UNSPEC: 0,
  IFLA_INFO_KIND: 1,
  IFLA_INFO_DATA: 2,
} as const;

/** enum { IFLA_NETKIT_* } (6.7+): netkit's attributes in IFLA_INFO_DATA. PEER_INFO holds an
 * ifinfomsg and the peer's own IFLA_* attributes. */
export const ifla_netkit = {
  IFLA_NETKIT_UNSPEC: 0,
  IFLA_NETKIT_PEER_INFO: 1,
  IFLA_NETKIT_PRIMARY: 2,
  IFLA_NETKIT_POLICY: 3,
  IFLA_NETKIT_PEER_POLICY: 4,
  IFLA_NETKIT_MODE: 5,
} as const;

/** enum netkit_action (6.7+): a netkit program's verdicts, and the device policies (PASS = forward, DROP = blackhole). */
export const netkit_action = {
  NETKIT_NEXT: -1,
  NETKIT_PASS: 0,
  NETKIT_DROP: 2,
  NETKIT_REDIRECT: 7,
} as const;

/** enum netkit_mode (6.7+). */
export const netkit_mode = {
  NETKIT_L2: 0,
  NETKIT_L3: 1,
} as const;

/** enum { XDP_ATTACHED_* }: the value of IFLA_XDP_ATTACHED. */
export const xdp_attached = {
  XDP_ATTACHED_NONE: 0,
  XDP_ATTACHED_DRV: 1,
  XDP_ATTACHED_SKB: 2,
  XDP_ATTACHED_HW: 3,
  XDP_ATTACHED_MULTI: 4,
} as const;

/** enum { TCA_* } from linux/rtnetlink.h: attributes of qdisc and filter messages. */
export const tca = {
  TCA_UNSPEC: 0,
  TCA_KIND: 1,
  TCA_OPTIONS: 2,
  TCA_STATS: 3,
  TCA_XSTATS: 4,
  TCA_RATE: 5,
  TCA_FCNT: 6,
  TCA_STATS2: 7,
  TCA_STAB: 8,
  TCA_PAD: 9,
  TCA_DUMP_INVISIBLE: 10,
  TCA_CHAIN: 11,
  TCA_HW_OFFLOAD: 12,
  TCA_INGRESS_BLOCK: 13,
  TCA_EGRESS_BLOCK: 14,
  TCA_DUMP_FLAGS: 15,
  TCA_EXT_WARN_MSG: 16,
} as const;

/** enum { TCA_BPF_* } from linux/pkt_cls.h: cls_bpf's options. */
export const tca_bpf = {
  TCA_BPF_UNSPEC: 0,
  TCA_BPF_ACT: 1,
  TCA_BPF_POLICE: 2,
  TCA_BPF_CLASSID: 3,
  TCA_BPF_OPS_LEN: 4,
  TCA_BPF_OPS: 5,
  TCA_BPF_FD: 6,
  TCA_BPF_NAME: 7,
  TCA_BPF_FLAGS: 8,
  TCA_BPF_FLAGS_GEN: 9,
  TCA_BPF_TAG: 10,
  TCA_BPF_ID: 11,
} as const;

/** enum nlmsgerr_attrs from linux/netlink.h: the extended-ack TLVs after an error. */
export const nlmsgerr_attrs = {
  NLMSGERR_ATTR_UNUSED: 0,
  NLMSGERR_ATTR_MSG: 1,
  NLMSGERR_ATTR_OFFS: 2,
  NLMSGERR_ATTR_COOKIE: 3,
  NLMSGERR_ATTR_POLICY: 4,
  NLMSGERR_ATTR_MISS_TYPE: 5,
  NLMSGERR_ATTR_MISS_NEST: 6,
} as const;

// ---- #defines (not in BTF; checked against the installed headers) ----

/** Socket-level constants (sys/socket.h, linux/netlink.h, asm-generic/socket.h). */
export const sock = {
  AF_UNSPEC: 0,
  AF_NETLINK: 16,
  SOCK_RAW: 3,
  SOCK_CLOEXEC: 0o2000000,
  SOL_SOCKET: 1,
  SO_RCVTIMEO: 20,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SOL_NETLINK: 270,
  MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40,
} as const;

/** linux/netlink.h. */
export const netlink = {
  NETLINK_ROUTE: 0,
  NETLINK_ADD_MEMBERSHIP: 1,
  NETLINK_CAP_ACK: 10,
  NETLINK_EXT_ACK: 11,
  NETLINK_GET_STRICT_CHK: 12,
  NLMSG_ALIGNTO: 4,
  NLA_ALIGNTO: 4,
  NLMSG_NOOP: 1,
  NLMSG_ERROR: 2,
  NLMSG_DONE: 3,
  NLMSG_OVERRUN: 4,
  NLA_F_NESTED: 1 << 15,
  NLA_F_NET_BYTEORDER: 1 << 14,
  NLA_TYPE_MASK: ~((1 << 15) | (1 << 14)) & 0xffff,
} as const;

/** nlmsg_flags (linux/netlink.h). Several share bits: the meaning depends on the request. */
export const nlm_f = {
  NLM_F_REQUEST: 0x01,
  NLM_F_MULTI: 0x02,
  NLM_F_ACK: 0x04,
  NLM_F_ECHO: 0x08,
  NLM_F_DUMP_INTR: 0x10,
  NLM_F_DUMP_FILTERED: 0x20,
  // GET requests
  NLM_F_ROOT: 0x100,
  NLM_F_MATCH: 0x200,
  NLM_F_ATOMIC: 0x400,
  NLM_F_DUMP: 0x300,
  // NEW requests
  NLM_F_REPLACE: 0x100,
  NLM_F_EXCL: 0x200,
  NLM_F_CREATE: 0x400,
  NLM_F_APPEND: 0x800,
  // DELETE requests
  NLM_F_NONREC: 0x100,
  // acknowledgements
  NLM_F_CAPPED: 0x100,
  NLM_F_ACK_TLVS: 0x200,
} as const;

/** linux/rtnetlink.h. */
export const rtext = {
  RTEXT_FILTER_VF: 1 << 0,
  RTEXT_FILTER_SKIP_STATS: 1 << 3,
} as const;

/** XDP_FLAGS_* (linux/if_link.h), the value of IFLA_XDP_FLAGS. */
export const xdp_flags = {
  XDP_FLAGS_UPDATE_IF_NOEXIST: 1 << 0,
  XDP_FLAGS_SKB_MODE: 1 << 1,
  XDP_FLAGS_DRV_MODE: 1 << 2,
  XDP_FLAGS_HW_MODE: 1 << 3,
  XDP_FLAGS_REPLACE: 1 << 4,
  XDP_FLAGS_MODES: (1 << 1) | (1 << 2) | (1 << 3),
  XDP_FLAGS_MASK: (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4),
} as const;

/** Traffic-control handles (linux/pkt_sched.h). Handles are u32: major:minor. */
export const tc_h = {
  TC_H_MAJ_MASK: 0xffff0000,
  TC_H_MIN_MASK: 0x0000ffff,
  TC_H_UNSPEC: 0,
  TC_H_ROOT: 0xffffffff,
  TC_H_INGRESS: 0xfffffff1,
  TC_H_CLSACT: 0xfffffff1,
  TC_H_MIN_PRIORITY: 0xffe0,
  TC_H_MIN_INGRESS: 0xfff2,
  TC_H_MIN_EGRESS: 0xfff3,
} as const;

/** linux/pkt_cls.h. */
export const tc_cls = {
  TCA_BPF_FLAG_ACT_DIRECT: 1 << 0,
  TC_ACT_UNSPEC: -1,
  TC_ACT_OK: 0,
  TC_ACT_RECLASSIFY: 1,
  TC_ACT_SHOT: 2,
  TC_ACT_PIPE: 3,
  TC_ACT_REDIRECT: 7,
} as const;

/** Ethernet protocol numbers (linux/if_ether.h), host byte order. */
export const eth_p = {
  ETH_P_ALL: 0x0003,
  ETH_P_IP: 0x0800,
  ETH_P_ARP: 0x0806,
  ETH_P_8021Q: 0x8100,
  ETH_P_IPV6: 0x86dd,
} as const;

/** IFNAMSIZ (linux/if.h): names are at most 15 bytes plus the NUL. */
export const IFNAMSIZ = 16;

// ---- structs (offsets derived by C rules; checked against the kernel's BTF) ----

export const NLMSGHDR = struct('nlmsghdr', [
  ['nlmsg_len', 'u32'],
  ['nlmsg_type', 'u16'],
  ['nlmsg_flags', 'u16'],
  ['nlmsg_seq', 'u32'],
  ['nlmsg_pid', 'u32'],
]);

export const NLATTR = struct('nlattr', [
  ['nla_len', 'u16'],
  ['nla_type', 'u16'],
]);

/** struct nlmsgerr: `error` then the header of the request it answers. */
export const NLMSGERR = struct('nlmsgerr', [
  ['error', 's32'],
  ['msg', 'u32[4]'],
]);

export const SOCKADDR_NL = struct('sockaddr_nl', [
  ['nl_family', 'u16'],
  ['nl_pad', 'u16'],
  ['nl_pid', 'u32'],
  ['nl_groups', 'u32'],
]);

export const IFINFOMSG = struct('ifinfomsg', [
  ['ifi_family', 'u8'],
  ['__ifi_pad', 'u8'],
  ['ifi_type', 'u16'],
  ['ifi_index', 's32'],
  ['ifi_flags', 'u32'],
  ['ifi_change', 'u32'],
]);

export const TCMSG = struct('tcmsg', [
  ['tcm_family', 'u8'],
  ['tcm__pad1', 'u8'],
  ['tcm__pad2', 'u16'],
  ['tcm_ifindex', 's32'],
  ['tcm_handle', 'u32'],
  ['tcm_parent', 'u32'],
  ['tcm_info', 'u32'],
]);

/** TC_H_MAKE: a handle from a major (already shifted) and a minor. */
export function tcHandle(major: number, minor: number): number {
  return ((major & tc_h.TC_H_MAJ_MASK) | (minor & tc_h.TC_H_MIN_MASK)) >>> 0;
}

/** The rtnetlink message type's uapi name, for errors. */
export function rtmName(type: number): string {
  for (const [name, v] of Object.entries(rtm)) if (v === type) return name;
  return `rtnetlink message ${type}`;
}
