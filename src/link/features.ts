// What a failed BPF_LINK_CREATE (or tcx query) means for XDP links (5.9) and tcx (6.6). A
// kernel without the feature answers the real call with EINVAL, the same errno a bad program
// or argument gets, so EINVAL alone proves nothing: src/features probes the kernel then (once
// per process) and only an *absent* answer becomes NotSupportedError. A refusal (EPERM) is
// never reported as a missing kernel version. No silent fallback to netlink or legacy tc:
// that would change who owns the hook and how long it lives.
import { ERRNO } from '../errno-names.js';
import { BpfError, NotSupportedError, errnoName } from '../errors.js';
import { fromResult } from '../features/answer.js';
import { features } from '../features/index.js';

export { kernelAtLeast } from '../features/kernel.js';

export const { EPERM, ENOENT, EBADF, EBUSY, EEXIST, ENODEV, EINVAL, ENOSPC, ERANGE, ENOLINK, EOPNOTSUPP, ESTALE } = ERRNO;

export type LinkFeature = 'xdp' | 'tcx';

/** The src/features name of each link feature. */
const FEATURE_ID = { xdp: 'xdp_link', tcx: 'tcx' } as const;

/** tcx's probe is a BPF_PROG_QUERY of loopback's tcx ingress: 0 on a kernel with tcx, EINVAL
 * (unknown attach type) without; undefined when the answer is a refusal (EPERM), which tells
 * nothing about the kernel. */
export function tcxSupportFromQueryResult(r: number): boolean | undefined {
  const o = fromResult(r, { command: 'BPF_PROG_QUERY' });
  return o.status === 'present' ? true : o.status === 'absent' ? false : undefined;
}

/**
 * Whether the kernel may have the feature, probed once per process: false only when the
 * kernel lacks it, so a refusal never turns into "needs Linux X".
 */
export function haveLinkFeature(feature: LinkFeature): boolean {
  return features.probe(FEATURE_ID[feature]).status !== 'absent';
}

/** "tcx links need Linux 6.6; this kernel is ...; use tc.attach(...) instead". */
export function notSupported(feature: LinkFeature, errno?: number, kernel?: string): NotSupportedError {
  const f = features.info(FEATURE_ID[feature]);
  return new NotSupportedError(f.title, f.minKernel, f.alternative, errno, kernel);
}

export interface LinkCreateContext {
  feature: LinkFeature;
  ifindex: number;
  /** 'skb'/'drv'/'hw' for XDP, 'ingress'/'egress' for tcx. */
  where?: string;
  /** tcx: the expected revision we passed, and a way to read the current one. */
  expectedRevision?: number;
  currentRevision?: () => number | undefined;
  /** Whether the ifindex names an interface in this netns (for EINVAL, which also means that). */
  interfaceExists?: boolean;
  /** tcx: a relative program or link was given. */
  relative?: string;
  /** XDP: who holds the hook, read when the kernel said EBUSY (`holder.self`: our program). */
  xdpHolder?: () => { who: string; linkId: number | undefined; self: boolean } | undefined;
}

/**
 * What a failed BPF_LINK_CREATE means, as an error to throw. `supported` is whether the
 * kernel has the feature (haveLinkFeature), passed in so the mapping can be tested for a
 * kernel we are not running (6.1 answers a tcx link with EINVAL); `kernel` words the message
 * for that kernel (default: the running one).
 */
export function linkCreateError(errno: number, ctx: LinkCreateContext, supported: boolean, kernel?: string): Error {
  if (errno === EINVAL && !supported) return notSupported(ctx.feature, errno, kernel);
  const command = 'BPF_LINK_CREATE';
  const hook =
    ctx.feature === 'xdp'
      ? `XDP on ifindex ${ctx.ifindex}${ctx.where ? ` (mode ${ctx.where})` : ''}`
      : `tcx ${ctx.where ?? ''} on ifindex ${ctx.ifindex}`;
  const code = errnoName(errno);
  const say = (why: string): BpfError => new BpfError({ errno, command }, `${command} (${hook}) failed: ${code} — ${why}`);
  if (ctx.feature === 'xdp') {
    switch (errno) {
      case EBUSY: {
        // Name what is in the way as xdp.attach does, and only the remedy that can work for it.
        const h = ctx.xdpHolder?.();
        if (h?.self)
          return say(`the program is already attached there: ${h.who}; a program is on a hook once (a second link to it is refused)`);
        if (h && h.linkId !== undefined)
          return say(`the hook holds ${h.who}: a link never replaces another; update that link (link.update) or close or unpin it first`);
        if (h)
          return say(`the hook holds ${h.who}: a link never replaces it; detach it first (xdp.detach, tsbpf xdp detach, ip link set dev <if> xdp off)`);
        return say(
          'the interface already has an XDP program in this mode (a bpf_link, or one attached over netlink): a link never replaces it. ' +
            'Close or unpin the owning link, or detach the netlink program (xdp.detach / ip link set dev <if> xdp off) first',
        );
      }
      case EEXIST:
        return say(
          "another XDP mode is in use on this interface: native ('drv') and generic ('skb') XDP can't be active at once, " +
            'and with programs in several modes an unset mode is ambiguous (pass { mode })',
        );
      case EOPNOTSUPP:
        return say("the driver has no native XDP for this mode: use { mode: 'skb' } (generic XDP), or check the device's offload support for 'hw'");
      case EINVAL:
        if (ctx.interfaceExists === false) return say(`no interface with index ${ctx.ifindex} in this network namespace`);
        if (ctx.where === 'hw') return say("'hw' needs a device that offloads XDP and a program loaded for that device");
        return say('the program is not an XDP program (or it was loaded for another device)');
      case ENODEV:
        return say(`no interface with index ${ctx.ifindex} in this network namespace`);
      default:
        return new BpfError({ errno, command, context: hook });
    }
  }
  switch (errno) {
    case ESTALE: {
      const now = ctx.currentRevision?.();
      return say(
        `stale revision: expected revision ${ctx.expectedRevision ?? '?'}${now !== undefined ? ` but the chain is at revision ${now}` : ''}; ` +
          'someone changed the chain since it was read. Query it again (tcx.query) and retry; nothing was attached',
      );
    }
    case ENOENT:
      return say(`the relative ${ctx.relative ?? 'program or link'} is not attached to this hook`);
    case EEXIST:
      return say('this program is already attached to this hook (a program can be in a tcx chain only once)');
    case ERANGE:
      return say('the chain is full (64 programs), or before/after name positions that contradict each other');
    case EINVAL:
      return say('the program is not a sched_cls (tc) program, or before/after/flags are invalid');
    case ENODEV:
      return say(`no interface with index ${ctx.ifindex} in this network namespace`);
    case EBADF:
      return say('the program fd (or the relative fd) is not open');
    default:
      return new BpfError({ errno, command, context: hook });
  }
}
