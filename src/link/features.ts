// Whether this kernel has XDP links (5.9) and tcx (6.6), and what a failed BPF_LINK_CREATE
// means. A kernel without the feature answers the real call with EINVAL, the same errno a bad
// program type gets, so EINVAL alone proves nothing: it is confirmed by a cheap probe (tcx) or
// the kernel release (XDP), once per process. No silent fallback to netlink or legacy tc: that
// would change who owns the hook and how long it lives.
import { ERRNO } from '../errno-names.js';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { BpfError, NotSupportedError, errnoName } from '../errors.js';
import { PROG_QUERY_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfRaw } from '../syscall/libc.js';

export const { EPERM, ENOENT, EBADF, EBUSY, EEXIST, ENODEV, EINVAL, ENOSPC, ERANGE, ENOLINK, EOPNOTSUPP, ESTALE } = ERRNO;

export type LinkFeature = 'xdp' | 'tcx';

export const FEATURES: Record<LinkFeature, { name: string; minKernel: string; alternative: string }> = {
  xdp: {
    name: 'XDP links (BPF_LINK_CREATE with BPF_XDP)',
    minKernel: '5.9',
    alternative: 'xdp.attach(ifindex, prog, { mode }) (netlink attach; its lifetime is the interface, not a link fd)',
  },
  tcx: {
    name: 'tcx links (BPF_LINK_CREATE with BPF_TCX_INGRESS/BPF_TCX_EGRESS)',
    minKernel: '6.6',
    alternative: "tc.attach(tc.hookCreate({ ifindex, attachPoint: 'ingress' | 'egress' }), { prog }) (legacy tc: clsact + cls_bpf over netlink; the interface holds it, not a link fd)",
  },
};

/** `"6.1.0-18-amd64"` >= `"5.9"`? Unparseable releases count as new enough (no false "not supported"). */
export function kernelAtLeast(rel: string, min: string): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  const [ma, mi] = min.split('.').map(Number) as [number, number];
  if (!m) return true;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a > ma || (a === ma && b >= mi);
}

/** tcx's probe: BPF_PROG_QUERY of tcx ingress on loopback (ifindex 1 in every netns). A kernel
 * with tcx answers 0; one without rejects the attach type with EINVAL. Nothing is created. */
export function tcxSupportFromQueryResult(r: number): boolean | undefined {
  if (r >= 0) return true;
  if (-r === EINVAL) return false;
  return undefined; // EPERM and the like: the probe could not tell
}

const cache: Partial<Record<LinkFeature, boolean>> = {};

/** Whether the kernel has a function of this name (distribution kernels backport features
 * to older releases; the function that implements one is the evidence). Slow (~0.2 s). */
function kernelHasSymbol(name: string): boolean {
  try {
    return readFileSync('/proc/kallsyms', 'latin1').includes(` ${name}\n`);
  } catch {
    return false;
  }
}

/**
 * Cached per process. XDP links: the kernel release, or on an older release the function that
 * implements them (a real probe would need an attach). tcx: a query of loopback's hook.
 */
export function haveLinkFeature(feature: LinkFeature): boolean {
  const known = cache[feature];
  if (known !== undefined) return known;
  let ok: boolean | undefined;
  if (feature === 'xdp') ok = kernelAtLeast(release(), FEATURES.xdp.minKernel) || kernelHasSymbol('bpf_xdp_link_attach');
  else {
    const attr = new Attr(PROG_QUERY_ATTR).set('target_ifindex', 1).set('attach_type', bpf_attach_type.BPF_TCX_INGRESS);
    ok = tcxSupportFromQueryResult(bpfRaw(bpf_cmd.BPF_PROG_QUERY, attr.address, attr.size));
    // Unknown (no permission to ask): fall back to the release, and don't cache a guess.
    if (ok === undefined) return kernelAtLeast(release(), FEATURES.tcx.minKernel);
  }
  cache[feature] = ok;
  return ok;
}

export function notSupported(feature: LinkFeature, errno?: number): NotSupportedError {
  const f = FEATURES[feature];
  return new NotSupportedError(f.name, `${f.minKernel} or newer`, f.alternative, errno);
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
}

/**
 * What a failed BPF_LINK_CREATE means, as an error to throw. `supported` is whether the
 * kernel has the feature (haveLinkFeature), passed in so the mapping can be tested for a
 * kernel we are not running (6.1 answers a tcx link with EINVAL).
 */
export function linkCreateError(errno: number, ctx: LinkCreateContext, supported: boolean): Error {
  if (errno === EINVAL && !supported) return notSupported(ctx.feature, errno);
  const command = 'BPF_LINK_CREATE';
  const hook =
    ctx.feature === 'xdp'
      ? `XDP on ifindex ${ctx.ifindex}${ctx.where ? ` (mode ${ctx.where})` : ''}`
      : `tcx ${ctx.where ?? ''} on ifindex ${ctx.ifindex}`;
  const code = errnoName(errno);
  const say = (why: string): BpfError => new BpfError({ errno, command }, `${command} (${hook}) failed: ${code} — ${why}`);
  if (ctx.feature === 'xdp') {
    switch (errno) {
      case EBUSY:
        return say(
          'the interface already has an XDP program in this mode (a bpf_link, or one attached over netlink): a link never replaces it. ' +
            'Close or unpin the owning link, or detach the netlink program (xdp.detach / ip link set dev <if> xdp off) first',
        );
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
