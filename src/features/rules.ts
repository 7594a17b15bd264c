// How each errno-answered probe reads the kernel's reply: the errnos that prove a feature is
// there (the kernel got past the point where an older one stops). Pure data, shared by the
// probes and by the tests that check answers for kernels we are not running.
import { ERRNO } from '../errno-names.js';
import { fromResult, type ErrnoRule, type FeatureAnswer } from './answer.js';
import { NAMED_FEATURES, type NamedFeature } from './catalog.js';

const { EBADF, EAFNOSUPPORT, ENXIO, ENODEV, EFAULT } = ERRNO;

export const PROBE_RULES = {
  /** BPF_PROG_QUERY of loopback's tcx ingress: 0 (an empty chain), or EINVAL without tcx. */
  tcx: { command: 'BPF_PROG_QUERY' },
  /** The same for BPF_NETKIT_PRIMARY: loopback is no netkit device (ENXIO). */
  netkit: { command: 'BPF_PROG_QUERY', present: [ENXIO, ENODEV] },
  /** A netfilter link for protocol family 0: EAFNOSUPPORT. */
  netfilter_link: { command: 'BPF_LINK_CREATE', present: [EAFNOSUPPORT] },
  /** A kprobe_multi link whose address list is at an unmapped address: EFAULT. */
  kprobe_multi: { command: 'BPF_LINK_CREATE', present: [EFAULT] },
  /** A uprobe_multi link on "/" (not a regular file): EBADF. */
  uprobe_multi: { command: 'BPF_LINK_CREATE', present: [EBADF] },
  /** A perf_event link to fd -1: EBADF. */
  perf_link: { command: 'BPF_LINK_CREATE', present: [EBADF] },
  /** A sockmap link to map fd -1: EBADF. */
  sockmap_link: { command: 'BPF_LINK_CREATE', present: [EBADF] },
  /** A cgroup link to cgroup fd -1: EBADF. */
  cgroup_link: { command: 'BPF_LINK_CREATE', present: [EBADF] },
  /** The same with BPF_F_BEFORE: EBADF; a kernel without cgroup mprog refuses the flag (EINVAL). */
  cgroup_mprog: { command: 'BPF_LINK_CREATE', present: [EBADF] },
  /** BPF_TOKEN_CREATE from bpffs fd -1: EBADF; the unknown command is EINVAL. */
  bpf_token: { command: 'BPF_TOKEN_CREATE', present: [EBADF] },
  /** An mmapable arena of one page. */
  arena: { command: 'BPF_MAP_CREATE' },
  /** fentry on bpf_fentry_test1. */
  trampoline: { command: 'BPF_PROG_LOAD' },
  /** An XDP program loaded with BPF_F_XDP_HAS_FRAGS. */
  xdp_frags: { command: 'BPF_PROG_LOAD' },
} as const satisfies Partial<Record<NamedFeature, ErrnoRule>>;

export type ErrnoProbed = keyof typeof PROBE_RULES;

/**
 * The answer a kernel gives a named feature's probe when the call returns `r` (a result or
 * -errno): what `features.probe()` would say on that kernel. Pure.
 */
export function answerFromResult(feature: ErrnoProbed, r: number, kernel: string): FeatureAnswer {
  return { id: feature, ...NAMED_FEATURES[feature], ...fromResult(r, PROBE_RULES[feature]), kernel };
}
