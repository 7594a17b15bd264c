// Program section names, following libbpf's SEC() conventions: the name decides the program
// type, the expected attach type, load flags, and (after a '/') the attach target.
//
// Matching follows libbpf: a pattern ending in '+' matches the bare name or `name/anything`;
// one ending in '/' needs `name/anything`; any other pattern matches only itself. The first
// match in table order wins, so more specific entries come first.
import { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS } from '../syscall/abi/bpf.js';
import type { AttachType, ProgramType } from './names.js';

/** How the text after the first '/' names what to attach to. */
export type AttachTargetKind =
  | 'kprobe'
  | 'ksyscall'
  | 'uprobe'
  | 'usdt'
  | 'multi'
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'btf'
  | 'struct_ops';

export interface SectionDef {
  /** libbpf's pattern, e.g. `kprobe+`, `xdp.frags/devmap`, `cgroup/connect4`. */
  readonly pattern: string;
  readonly type: ProgramType;
  readonly expectedAttachType?: AttachType;
  readonly sleepable?: boolean;
  readonly xdpFrags?: boolean;
  /** The program needs a BTF attach target (fentry, lsm, iter, tp_btf, freplace). */
  readonly btfAttach?: boolean;
  /** Old kernels may refuse an expected attach type here: a loader may retry without it. */
  readonly attachTypeOptional?: boolean;
  readonly target?: AttachTargetKind;
  readonly retprobe?: boolean;
}

const S = true;
// Table order follows libbpf's section_defs; it matters for first-match semantics.
export const SECTION_DEFS: readonly SectionDef[] = [
  { pattern: 'socket', type: 'socket_filter' },
  { pattern: 'sk_reuseport/migrate', type: 'sk_reuseport', expectedAttachType: 'sk_reuseport_select_or_migrate' },
  { pattern: 'sk_reuseport', type: 'sk_reuseport', expectedAttachType: 'sk_reuseport_select' },
  { pattern: 'kprobe+', type: 'kprobe', target: 'kprobe' },
  { pattern: 'uprobe+', type: 'kprobe', target: 'uprobe' },
  { pattern: 'uprobe.s+', type: 'kprobe', sleepable: S, target: 'uprobe' },
  { pattern: 'kretprobe+', type: 'kprobe', target: 'kprobe', retprobe: true },
  { pattern: 'uretprobe+', type: 'kprobe', target: 'uprobe', retprobe: true },
  { pattern: 'uretprobe.s+', type: 'kprobe', sleepable: S, target: 'uprobe', retprobe: true },
  { pattern: 'kprobe.multi+', type: 'kprobe', expectedAttachType: 'trace_kprobe_multi', target: 'multi' },
  { pattern: 'kretprobe.multi+', type: 'kprobe', expectedAttachType: 'trace_kprobe_multi', target: 'multi', retprobe: true },
  { pattern: 'kprobe.session+', type: 'kprobe', expectedAttachType: 'trace_kprobe_session', target: 'multi' },
  { pattern: 'uprobe.multi+', type: 'kprobe', expectedAttachType: 'trace_uprobe_multi', target: 'uprobe' },
  { pattern: 'uretprobe.multi+', type: 'kprobe', expectedAttachType: 'trace_uprobe_multi', target: 'uprobe', retprobe: true },
  { pattern: 'uprobe.session+', type: 'kprobe', expectedAttachType: 'trace_uprobe_session', target: 'uprobe' },
  { pattern: 'uprobe.multi.s+', type: 'kprobe', expectedAttachType: 'trace_uprobe_multi', sleepable: S, target: 'uprobe' },
  { pattern: 'uretprobe.multi.s+', type: 'kprobe', expectedAttachType: 'trace_uprobe_multi', sleepable: S, target: 'uprobe', retprobe: true },
  { pattern: 'uprobe.session.s+', type: 'kprobe', expectedAttachType: 'trace_uprobe_session', sleepable: S, target: 'uprobe' },
  { pattern: 'ksyscall+', type: 'kprobe', target: 'ksyscall' },
  { pattern: 'kretsyscall+', type: 'kprobe', target: 'ksyscall', retprobe: true },
  { pattern: 'usdt+', type: 'kprobe', target: 'usdt' },
  { pattern: 'usdt.s+', type: 'kprobe', sleepable: S, target: 'usdt' },
  // libbpf treats tc/ingress and tc/egress as aliases of tcx.
  { pattern: 'tc/ingress', type: 'sched_cls', expectedAttachType: 'tcx_ingress' },
  { pattern: 'tc/egress', type: 'sched_cls', expectedAttachType: 'tcx_egress' },
  { pattern: 'tcx/ingress', type: 'sched_cls', expectedAttachType: 'tcx_ingress' },
  { pattern: 'tcx/egress', type: 'sched_cls', expectedAttachType: 'tcx_egress' },
  { pattern: 'tc', type: 'sched_cls' },
  { pattern: 'classifier', type: 'sched_cls' },
  { pattern: 'action', type: 'sched_act' },
  { pattern: 'netkit/primary', type: 'sched_cls', expectedAttachType: 'netkit_primary' },
  { pattern: 'netkit/peer', type: 'sched_cls', expectedAttachType: 'netkit_peer' },
  { pattern: 'tracepoint+', type: 'tracepoint', target: 'tracepoint' },
  { pattern: 'tp+', type: 'tracepoint', target: 'tracepoint' },
  { pattern: 'tracepoint.s+', type: 'tracepoint', sleepable: S, target: 'tracepoint' },
  { pattern: 'tp.s+', type: 'tracepoint', sleepable: S, target: 'tracepoint' },
  { pattern: 'raw_tracepoint+', type: 'raw_tracepoint', target: 'raw_tracepoint' },
  { pattern: 'raw_tp+', type: 'raw_tracepoint', target: 'raw_tracepoint' },
  { pattern: 'raw_tracepoint.s+', type: 'raw_tracepoint', sleepable: S, target: 'raw_tracepoint' },
  { pattern: 'raw_tp.s+', type: 'raw_tracepoint', sleepable: S, target: 'raw_tracepoint' },
  { pattern: 'raw_tracepoint.w+', type: 'raw_tracepoint_writable', target: 'raw_tracepoint' },
  { pattern: 'raw_tp.w+', type: 'raw_tracepoint_writable', target: 'raw_tracepoint' },
  { pattern: 'tp_btf+', type: 'tracing', expectedAttachType: 'trace_raw_tp', btfAttach: true, target: 'btf' },
  { pattern: 'tp_btf.s+', type: 'tracing', expectedAttachType: 'trace_raw_tp', btfAttach: true, sleepable: S, target: 'btf' },
  { pattern: 'fentry+', type: 'tracing', expectedAttachType: 'trace_fentry', btfAttach: true, target: 'btf' },
  { pattern: 'fmod_ret+', type: 'tracing', expectedAttachType: 'modify_return', btfAttach: true, target: 'btf' },
  { pattern: 'fexit+', type: 'tracing', expectedAttachType: 'trace_fexit', btfAttach: true, target: 'btf' },
  { pattern: 'fentry.s+', type: 'tracing', expectedAttachType: 'trace_fentry', btfAttach: true, sleepable: S, target: 'btf' },
  { pattern: 'fmod_ret.s+', type: 'tracing', expectedAttachType: 'modify_return', btfAttach: true, sleepable: S, target: 'btf' },
  { pattern: 'fexit.s+', type: 'tracing', expectedAttachType: 'trace_fexit', btfAttach: true, sleepable: S, target: 'btf' },
  { pattern: 'freplace+', type: 'ext', btfAttach: true, target: 'btf' },
  { pattern: 'lsm+', type: 'lsm', expectedAttachType: 'lsm_mac', btfAttach: true, target: 'btf' },
  { pattern: 'lsm.s+', type: 'lsm', expectedAttachType: 'lsm_mac', btfAttach: true, sleepable: S, target: 'btf' },
  { pattern: 'lsm_cgroup+', type: 'lsm', expectedAttachType: 'lsm_cgroup', btfAttach: true, target: 'btf' },
  { pattern: 'iter+', type: 'tracing', expectedAttachType: 'trace_iter', btfAttach: true, target: 'btf' },
  { pattern: 'iter.s+', type: 'tracing', expectedAttachType: 'trace_iter', btfAttach: true, sleepable: S, target: 'btf' },
  { pattern: 'syscall', type: 'syscall', sleepable: S },
  { pattern: 'xdp.frags/devmap', type: 'xdp', expectedAttachType: 'xdp_devmap', xdpFrags: true },
  { pattern: 'xdp/devmap', type: 'xdp', expectedAttachType: 'xdp_devmap' },
  { pattern: 'xdp.frags/cpumap', type: 'xdp', expectedAttachType: 'xdp_cpumap', xdpFrags: true },
  { pattern: 'xdp/cpumap', type: 'xdp', expectedAttachType: 'xdp_cpumap' },
  { pattern: 'xdp.frags', type: 'xdp', expectedAttachType: 'xdp', xdpFrags: true },
  { pattern: 'xdp', type: 'xdp', expectedAttachType: 'xdp', attachTypeOptional: true },
  { pattern: 'perf_event', type: 'perf_event' },
  { pattern: 'lwt_in', type: 'lwt_in' },
  { pattern: 'lwt_out', type: 'lwt_out' },
  { pattern: 'lwt_xmit', type: 'lwt_xmit' },
  { pattern: 'lwt_seg6local', type: 'lwt_seg6local' },
  { pattern: 'sockops', type: 'sock_ops', expectedAttachType: 'cgroup_sock_ops', attachTypeOptional: true },
  { pattern: 'sk_skb/stream_parser', type: 'sk_skb', expectedAttachType: 'sk_skb_stream_parser', attachTypeOptional: true },
  { pattern: 'sk_skb/stream_verdict', type: 'sk_skb', expectedAttachType: 'sk_skb_stream_verdict', attachTypeOptional: true },
  { pattern: 'sk_skb/verdict', type: 'sk_skb', expectedAttachType: 'sk_skb_verdict', attachTypeOptional: true },
  { pattern: 'sk_skb', type: 'sk_skb' },
  { pattern: 'sk_msg', type: 'sk_msg', expectedAttachType: 'sk_msg_verdict', attachTypeOptional: true },
  { pattern: 'lirc_mode2', type: 'lirc_mode2', expectedAttachType: 'lirc_mode2', attachTypeOptional: true },
  { pattern: 'flow_dissector', type: 'flow_dissector', expectedAttachType: 'flow_dissector', attachTypeOptional: true },
  { pattern: 'cgroup_skb/ingress', type: 'cgroup_skb', expectedAttachType: 'cgroup_inet_ingress', attachTypeOptional: true },
  { pattern: 'cgroup_skb/egress', type: 'cgroup_skb', expectedAttachType: 'cgroup_inet_egress', attachTypeOptional: true },
  { pattern: 'cgroup/skb', type: 'cgroup_skb' },
  { pattern: 'cgroup/sock_create', type: 'cgroup_sock', expectedAttachType: 'cgroup_inet_sock_create' },
  { pattern: 'cgroup/sock_release', type: 'cgroup_sock', expectedAttachType: 'cgroup_inet_sock_release' },
  { pattern: 'cgroup/sock', type: 'cgroup_sock', expectedAttachType: 'cgroup_inet_sock_create', attachTypeOptional: true },
  { pattern: 'cgroup/post_bind4', type: 'cgroup_sock', expectedAttachType: 'cgroup_inet4_post_bind' },
  { pattern: 'cgroup/post_bind6', type: 'cgroup_sock', expectedAttachType: 'cgroup_inet6_post_bind' },
  { pattern: 'cgroup/bind4', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet4_bind' },
  { pattern: 'cgroup/bind6', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet6_bind' },
  { pattern: 'cgroup/connect4', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet4_connect' },
  { pattern: 'cgroup/connect6', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet6_connect' },
  { pattern: 'cgroup/connect_unix', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_unix_connect' },
  { pattern: 'cgroup/sendmsg4', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_udp4_sendmsg' },
  { pattern: 'cgroup/sendmsg6', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_udp6_sendmsg' },
  { pattern: 'cgroup/sendmsg_unix', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_unix_sendmsg' },
  { pattern: 'cgroup/recvmsg4', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_udp4_recvmsg' },
  { pattern: 'cgroup/recvmsg6', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_udp6_recvmsg' },
  { pattern: 'cgroup/recvmsg_unix', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_unix_recvmsg' },
  { pattern: 'cgroup/getpeername4', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet4_getpeername' },
  { pattern: 'cgroup/getpeername6', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet6_getpeername' },
  { pattern: 'cgroup/getpeername_unix', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_unix_getpeername' },
  { pattern: 'cgroup/getsockname4', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet4_getsockname' },
  { pattern: 'cgroup/getsockname6', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet6_getsockname' },
  { pattern: 'cgroup/getsockname_unix', type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_unix_getsockname' },
  { pattern: 'cgroup/sysctl', type: 'cgroup_sysctl', expectedAttachType: 'cgroup_sysctl' },
  { pattern: 'cgroup/getsockopt', type: 'cgroup_sockopt', expectedAttachType: 'cgroup_getsockopt' },
  { pattern: 'cgroup/setsockopt', type: 'cgroup_sockopt', expectedAttachType: 'cgroup_setsockopt' },
  { pattern: 'cgroup/dev', type: 'cgroup_device', expectedAttachType: 'cgroup_device', attachTypeOptional: true },
  { pattern: 'struct_ops+', type: 'struct_ops', target: 'struct_ops' },
  { pattern: 'struct_ops.s+', type: 'struct_ops', sleepable: S, target: 'struct_ops' },
  { pattern: 'sk_lookup', type: 'sk_lookup', expectedAttachType: 'sk_lookup' },
  { pattern: 'netfilter', type: 'netfilter', expectedAttachType: 'netfilter' },
];

/** What the section name says to attach to, parsed per kind. */
export type AttachTarget =
  | { kind: 'kprobe'; function: string; offset: number; retprobe: boolean }
  | { kind: 'ksyscall'; syscall: string; retprobe: boolean }
  | { kind: 'uprobe'; binary: string; function?: string; offset: number; retprobe: boolean }
  | { kind: 'usdt'; binary: string; provider: string; name: string }
  | { kind: 'multi'; pattern: string; retprobe: boolean }
  | { kind: 'tracepoint'; category: string; name: string }
  | { kind: 'raw_tracepoint'; name: string }
  | { kind: 'btf'; name: string }
  | { kind: 'struct_ops'; name: string };

export interface ProgramSectionInfo {
  readonly def: SectionDef;
  readonly type: ProgramType;
  readonly expectedAttachType: AttachType | undefined;
  /** BPF_F_SLEEPABLE and BPF_F_XDP_HAS_FRAGS as the section name implies. */
  readonly flags: number;
  /** The text after the first '/' when the section is `prefix/target`. */
  readonly attachTo: string | undefined;
  /** `attachTo` parsed for the section's kind, when it has a parseable target. */
  readonly target: AttachTarget | undefined;
}

// The table compiled once: what each pattern requires of a name (no string built per match).
const EXACT = 0, PREFIX = 1, PLUS = 2;
const MATCH_KIND = SECTION_DEFS.map((d) => (d.pattern.endsWith('/') ? PREFIX : d.pattern.endsWith('+') ? PLUS : EXACT));
const MATCH_TEXT = SECTION_DEFS.map((d) => (d.pattern.endsWith('+') ? d.pattern.slice(0, -1) : d.pattern));

function matchesAt(i: number, name: string): boolean {
  const text = MATCH_TEXT[i]!;
  switch (MATCH_KIND[i]) {
    case PREFIX:
      return name.startsWith(text);
    case PLUS:
      // `name` or `name/...`
      return name.startsWith(text) && (name.length === text.length || name.charCodeAt(text.length) === 0x2f);
    default:
      return name === text;
  }
}

export function findSectionDef(name: string): SectionDef | undefined {
  for (let i = 0; i < SECTION_DEFS.length; i++) if (matchesAt(i, name)) return SECTION_DEFS[i];
  return undefined;
}

/**
 * Reads a program section name (without libbpf's '?' no-autoload prefix). Returns undefined
 * when the name is not one libbpf knows.
 */
export function parseProgramSection(name: string): ProgramSectionInfo | undefined {
  const def = findSectionDef(name);
  if (!def) return undefined;
  const slash = name.indexOf('/');
  const attachTo = slash >= 0 && slash < name.length - 1 ? name.slice(slash + 1) : undefined;
  let flags = 0;
  if (def.sleepable) flags |= BPF_F_SLEEPABLE;
  if (def.xdpFrags) flags |= BPF_F_XDP_HAS_FRAGS;
  return {
    def,
    type: def.type,
    expectedAttachType: def.expectedAttachType,
    flags,
    attachTo,
    target: def.target && attachTo !== undefined ? parseTarget(def, attachTo) : undefined,
  };
}

function parseOffset(s: string): number | undefined {
  if (!/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(s)) return undefined;
  return Number(s);
}

function parseTarget(def: SectionDef, text: string): AttachTarget | undefined {
  const retprobe = def.retprobe === true;
  switch (def.target) {
    case 'kprobe': {
      // kprobe/func, kprobe/func+0x10
      const plus = text.lastIndexOf('+');
      if (plus > 0) {
        const off = parseOffset(text.slice(plus + 1));
        if (off !== undefined) return { kind: 'kprobe', function: text.slice(0, plus), offset: off, retprobe };
      }
      return { kind: 'kprobe', function: text, offset: 0, retprobe };
    }
    case 'ksyscall':
      return { kind: 'ksyscall', syscall: text, retprobe };
    case 'uprobe': {
      // uprobe/binary:function[+offset] or uprobe/binary:raw_offset
      const colon = text.lastIndexOf(':');
      if (colon <= 0) return undefined;
      const binary = text.slice(0, colon);
      const rest = text.slice(colon + 1);
      const raw = parseOffset(rest);
      if (raw !== undefined) return { kind: 'uprobe', binary, offset: raw, retprobe };
      const plus = rest.lastIndexOf('+');
      if (plus > 0) {
        const off = parseOffset(rest.slice(plus + 1));
        if (off !== undefined) return { kind: 'uprobe', binary, function: rest.slice(0, plus), offset: off, retprobe };
      }
      if (rest === '') return undefined;
      return { kind: 'uprobe', binary, function: rest, offset: 0, retprobe };
    }
    case 'usdt': {
      // usdt/binary:provider:name; the binary path may itself contain ':' only at its start.
      const last = text.lastIndexOf(':');
      const mid = last > 0 ? text.lastIndexOf(':', last - 1) : -1;
      if (mid <= 0) return undefined;
      return { kind: 'usdt', binary: text.slice(0, mid), provider: text.slice(mid + 1, last), name: text.slice(last + 1) };
    }
    case 'multi':
      return { kind: 'multi', pattern: text, retprobe };
    case 'tracepoint': {
      const slash = text.indexOf('/');
      if (slash <= 0 || slash === text.length - 1) return undefined;
      return { kind: 'tracepoint', category: text.slice(0, slash), name: text.slice(slash + 1) };
    }
    case 'raw_tracepoint':
      return { kind: 'raw_tracepoint', name: text };
    case 'btf':
      return { kind: 'btf', name: text };
    case 'struct_ops':
      return { kind: 'struct_ops', name: text };
    default:
      return undefined;
  }
}
