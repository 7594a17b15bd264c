// The one home of the networking ABI that bpf attach points use outside bpf(2) and rtnetlink:
// socket options for socket filters, netfilter's protocol families and hooks (the numbers a
// netfilter link takes), and setns(2)'s namespace type. Enums are checked against the running
// kernel's BTF and #defines against the installed uapi headers (test/syscall/abi.test.ts).

/** #defines from asm-generic/socket.h. SO_DETACH_BPF is SO_DETACH_FILTER; SO_GET_FILTER is
 * SO_ATTACH_FILTER read with getsockopt (0: no filter; EACCES: an eBPF filter is attached). */
export const SOL_SOCKET = 1;
export const SO_ATTACH_FILTER = 26;
export const SO_GET_FILTER = SO_ATTACH_FILTER;
export const SO_DETACH_FILTER = 27;
export const SO_ATTACH_BPF = 50;
export const SO_DETACH_BPF = SO_DETACH_FILTER;

/** enum nf_inet_hooks (linux/netfilter.h). */
export const nf_inet_hooks = {
  NF_INET_PRE_ROUTING: 0,
  NF_INET_LOCAL_IN: 1,
  NF_INET_FORWARD: 2,
  NF_INET_LOCAL_OUT: 3,
  NF_INET_POST_ROUTING: 4,
} as const;

/** The netfilter protocol families (enum, linux/netfilter.h) a netfilter link can name. */
export const nfproto = {
  NFPROTO_IPV4: 2,
  NFPROTO_IPV6: 10,
} as const;

/** NF_IP_PRI_FIRST / NF_IP_PRI_LAST (INT_MIN / INT_MAX): priorities a BPF hook may not take;
 * NF_IP_PRI_CONNTRACK_DEFRAG: a hook asking for defragmentation must run after it. */
export const NF_IP_PRI_FIRST = -2147483648;
export const NF_IP_PRI_LAST = 2147483647;
export const NF_IP_PRI_CONNTRACK_DEFRAG = -400;

/** #define from linux/sched.h: setns(2)'s nstype for a network namespace. */
export const CLONE_NEWNET = 0x40000000;
