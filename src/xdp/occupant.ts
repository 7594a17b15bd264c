// Who holds an XDP hook, in words ("program 42 "fw" in drv mode, held by bpf_link 7"). Both
// attach paths (netlink's xdp.attach and the bpf_link's attachXdp) name what is in the way
// with this, so a refusal reads the same whichever call met it.
import { getLink, type XdpMode, type XdpState } from '../netlink/link.js';
import { describeProgram, programNameById, xdpLinksOn } from '../netlink/programs.js';
import { withSocket } from '../netlink/socket.js';

export const XDP_MODES: readonly XdpMode[] = ['skb', 'drv', 'hw'];

export function idInMode(state: XdpState, mode: XdpMode): number {
  return mode === 'skb' ? state.skbProgId : mode === 'drv' ? state.drvProgId : state.hwProgId;
}

export function modesInUse(state: XdpState): XdpMode[] {
  return XDP_MODES.filter((m) => idInMode(state, m) !== 0);
}

export interface XdpHolder {
  mode: XdpMode;
  progId: number;
  /** The bpf_link that holds the hook; undefined for a netlink attachment. */
  linkId: number | undefined;
}

/** The programs on an interface's XDP hook (in `mode`, or in every mode in use). */
export function holders(ifindex: number, state: XdpState, mode?: XdpMode): XdpHolder[] {
  const inUse = modesInUse(state);
  const m = mode ?? (inUse.length === 1 ? inUse[0] : undefined);
  const out: XdpHolder[] = [];
  let links: ReturnType<typeof xdpLinksOn> | undefined;
  for (const each of m ? [m] : inUse) {
    const progId = idInMode(state, each);
    if (!progId) continue;
    links ??= xdpLinksOn(ifindex);
    out.push({ mode: each, progId, linkId: links.find((l) => l.progId === progId)?.linkId });
  }
  return out;
}

export function describeHolders(list: readonly XdpHolder[]): string | undefined {
  if (list.length === 0) return undefined;
  return list
    .map(
      (h) =>
        `${describeProgram(h.progId, programNameById(h.progId))} in ${h.mode} mode, ${h.linkId !== undefined ? `held by bpf_link ${h.linkId}` : 'attached through netlink (no bpf_link)'}`,
    )
    .join('; ');
}

/** The mode an XDP link's program runs in on its interface: one netlink query (the links are
 * listed only when the program is in two modes at once); undefined if it cannot be read. */
export function linkMode(ifindex: number, linkId: number, progId: number): XdpMode | undefined {
  try {
    return withSocket((s) => {
      const state = getLink(s, ifindex).xdp;
      const modes = XDP_MODES.filter((m) => idInMode(state, m) === progId);
      if (modes.length <= 1) return modes[0];
      return holders(ifindex, state).find((h) => h.linkId === linkId)?.mode;
    });
  } catch {
    return undefined; // gone, or in another network namespace
  }
}

/** The holders of an interface's hook, read now; empty when the interface cannot be read. */
export function readHolders(ifindex: number, mode?: XdpMode): XdpHolder[] {
  try {
    return withSocket((s) => holders(ifindex, getLink(s, ifindex).xdp, mode));
  } catch {
    return []; // the interface may be gone: the caller keeps the kernel's words
  }
}
