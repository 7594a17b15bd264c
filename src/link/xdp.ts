// XDP through a bpf_link (BPF_LINK_CREATE, attach type BPF_XDP, 5.9+). Unlike a netlink
// attach, the hook belongs to the link: nobody can replace the program over netlink, and it
// is detached when the last holder of the link (fd or pin) lets go — including when the
// owning process dies.
import { UsageError } from '../errors.js';
import { xdp_flags } from '../netlink/abi.js';
import { LINK_CREATE_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfStep, runSteps, runStepsAsync, type Steps } from '../syscall/steps.js';
import { interfaceName } from '../syscall/libc.js';
import { EINVAL, haveLinkFeature, linkCreateError } from './features.js';
import { resolveIface, type Iface } from './iface.js';
import { Link, progFd, type ProgramRef } from './link.js';
import { describeHolders, readHolders } from '../xdp/occupant.js';
import { programIdentity } from '../netlink/programs.js';

function programIdOf(fd: number): number | undefined {
  try {
    return programIdentity(fd).id;
  } catch {
    return undefined;
  }
}

export type XdpMode = 'skb' | 'drv' | 'hw';

export interface XdpLinkOptions {
  /** 'skb' (generic), 'drv' (native) or 'hw' (offload). Unset: native if the driver has it,
   * generic otherwise — the kernel's choice. */
  mode?: XdpMode;
}

// The if_link.h mode bits: BPF_LINK_CREATE takes the same ones as IFLA_XDP_FLAGS.
const MODE_FLAGS: Record<XdpMode, number> = {
  skb: xdp_flags.XDP_FLAGS_SKB_MODE,
  drv: xdp_flags.XDP_FLAGS_DRV_MODE,
  hw: xdp_flags.XDP_FLAGS_HW_MODE,
};

/** Attaches an XDP program to an interface through a link and returns the Link that owns it. */
export function attachXdpLink(iface: Iface, prog: ProgramRef, opts: XdpLinkOptions = {}): Link {
  return runSteps(xdpLinkSteps(iface, prog, opts));
}

/** attachXdpLink with BPF_LINK_CREATE (which waits for RCU) off the main thread; the same
 * Link and the same errors, as a rejection. The link is detached with `closeAsync()`. */
export function attachXdpLinkAsync(iface: Iface, prog: ProgramRef, opts: XdpLinkOptions = {}): Promise<Link> {
  return runStepsAsync(xdpLinkSteps(iface, prog, opts), [prog]);
}

function* xdpLinkSteps(iface: Iface, prog: ProgramRef, opts: XdpLinkOptions): Steps<Link> {
  const fd = progFd(prog);
  const ifindex = resolveIface(iface);
  let flags = 0;
  if (opts.mode !== undefined) {
    const f = MODE_FLAGS[opts.mode];
    if (f === undefined) throw new UsageError(`XDP mode must be 'skb', 'drv' or 'hw'; got ${String(opts.mode)}`);
    flags = f;
  }
  const attr = new Attr(LINK_CREATE_ATTR)
    .set('prog_fd', fd)
    .set('target_ifindex', ifindex)
    .set('attach_type', bpf_attach_type.BPF_XDP)
    .set('flags', flags);
  const r = yield bpfStep(bpf_cmd.BPF_LINK_CREATE, attr);
  if (r < 0) {
    const ctx = {
      feature: 'xdp' as const,
      ifindex,
      interfaceExists: interfaceName(ifindex) !== undefined,
      ...(opts.mode ? { where: opts.mode } : {}),
      xdpHolder: () => {
        const list = readHolders(ifindex, opts.mode);
        const who = describeHolders(list);
        if (!who) return undefined;
        const selfId = programIdOf(fd);
        return { who, linkId: list.find((h) => h.linkId !== undefined)?.linkId, self: list.some((h) => h.progId === selfId) };
      },
    };
    // Only EINVAL can mean "no XDP links here" (the release is checked only then: distribution
    // kernels backport links, so the real call decides first).
    throw linkCreateError(-r, ctx, -r === EINVAL ? haveLinkFeature('xdp') : true);
  }
  return Link.adopt(r);
}
