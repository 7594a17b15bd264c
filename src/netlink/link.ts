// Network interfaces over rtnetlink: names, indexes, and the XDP state the kernel reports in
// IFLA_XDP. All lookups are in the calling process's network namespace.
import { UsageError } from '../errors.js';
import { IFINFOMSG, IFNAMSIZ, ifla, ifla_xdp, rtext, rtm, sock, xdp_attached } from './abi.js';
import { NetlinkRequestError } from './errors.js';
import { type Attrs, type Message, payloadAttrs } from './message.js';
import { type NetlinkSocket, newDump, newRequest, withSocket } from './socket.js';
import { ERRNO } from '../errno-names.js';

const { ENODEV, ENOENT } = ERRNO;

export type XdpMode = 'skb' | 'drv' | 'hw';
export type XdpAttached = 'none' | XdpMode | 'multi';

/** What is attached at an interface's XDP hooks (0 = nothing in that mode). */
export interface XdpState {
  /** `multi` when programs are attached in more than one mode (hw plus skb or drv). */
  attached: XdpAttached;
  /** The program id when exactly one mode is in use; 0 otherwise. */
  progId: number;
  skbProgId: number;
  drvProgId: number;
  hwProgId: number;
}

export interface InterfaceInfo {
  index: number;
  name: string;
  xdp: XdpState;
}


const attachedNames: Record<number, XdpAttached> = {
  [xdp_attached.XDP_ATTACHED_NONE]: 'none',
  [xdp_attached.XDP_ATTACHED_DRV]: 'drv',
  [xdp_attached.XDP_ATTACHED_SKB]: 'skb',
  [xdp_attached.XDP_ATTACHED_HW]: 'hw',
  [xdp_attached.XDP_ATTACHED_MULTI]: 'multi',
};

/** Decodes a nested IFLA_XDP attribute (absent: nothing attached). */
export function parseXdpState(x: Attrs | undefined): XdpState {
  const attached = attachedNames[x?.u8(ifla_xdp.IFLA_XDP_ATTACHED) ?? 0] ?? 'none';
  const skbProgId = x?.u32(ifla_xdp.IFLA_XDP_SKB_PROG_ID) ?? 0;
  const drvProgId = x?.u32(ifla_xdp.IFLA_XDP_DRV_PROG_ID) ?? 0;
  const hwProgId = x?.u32(ifla_xdp.IFLA_XDP_HW_PROG_ID) ?? 0;
  const progId = attached === 'multi' || attached === 'none' ? 0 : (x?.u32(ifla_xdp.IFLA_XDP_PROG_ID) ?? 0);
  return { attached, progId, skbProgId, drvProgId, hwProgId };
}

function parseLink(m: Message): InterfaceInfo {
  const a = payloadAttrs(m.payload, IFINFOMSG.size);
  return {
    index: m.payload.readInt32LE(IFINFOMSG.members.ifi_index.offset),
    name: a.string(ifla.IFLA_IFNAME) ?? '',
    xdp: parseXdpState(a.nested(ifla.IFLA_XDP)),
  };
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) >= IFNAMSIZ || /[\s/\0]/.test(name))
    throw new UsageError(
      `${JSON.stringify(name)} is not a valid interface name (1 to ${IFNAMSIZ - 1} bytes, no spaces or slashes)`,
    );
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index <= 0 || index > 0x7fffffff)
    throw new UsageError(`${String(index)} is not a valid interface index (a positive integer)`);
}

/** RTM_GETLINK for one interface, by index or by name. */
export function getLink(s: NetlinkSocket, which: number | string): InterfaceInfo {
  const byName = typeof which === 'string';
  if (byName) checkName(which);
  else checkIndex(which);
  const req = newRequest(rtm.RTM_GETLINK)
    .header(IFINFOMSG, { ifi_family: sock.AF_UNSPEC, ifi_index: byName ? 0 : which })
    .u32(ifla.IFLA_EXT_MASK, rtext.RTEXT_FILTER_SKIP_STATS);
  if (byName) req.string(ifla.IFLA_IFNAME, which);
  try {
    const replies = s.request(req, {
      context: byName ? `interface ${which}` : `interface index ${which}`,
      ...(byName ? {} : { ifindex: which }),
    });
    const m = replies.find((r) => r.type === rtm.RTM_NEWLINK);
    if (!m) throw new NetlinkRequestError({ errno: ENODEV, command: 'RTM_GETLINK' }, 'the kernel sent no link');
    return parseLink(m);
  } catch (e) {
    if (e instanceof NetlinkRequestError && (e.errno === ENODEV || e.errno === ENOENT))
      throw e.explain(
        byName
          ? `no interface named ${JSON.stringify(which)} in this network namespace`
          : `no interface with index ${which} in this network namespace`,
      );
    throw e;
  }
}

/** The index of the interface called `name`; throws NetlinkError (ENODEV) if there is none. */
export function ifindex(name: string): number {
  return withSocket((s) => getLink(s, name).index);
}

/** The name of the interface with index `index`; throws NetlinkError (ENODEV) if there is none. */
export function ifname(index: number): string {
  return withSocket((s) => getLink(s, index).name);
}

/** Accepts an index or a name; returns the index (names are looked up, indexes trusted). */
export function resolveIfindex(s: NetlinkSocket, iface: number | string): number {
  if (typeof iface === 'string') return getLink(s, iface).index;
  checkIndex(iface);
  return iface;
}

/** Every interface in this network namespace with its XDP state, in index order. */
export function listInterfaces(): InterfaceInfo[] {
  return withSocket((s) => {
    const req = newDump(rtm.RTM_GETLINK)
      .header(IFINFOMSG, { ifi_family: sock.AF_UNSPEC })
      .u32(ifla.IFLA_EXT_MASK, rtext.RTEXT_FILTER_SKIP_STATS);
    return s
      .dump(req, { context: 'list interfaces' })
      .filter((m) => m.type === rtm.RTM_NEWLINK)
      .map(parseLink)
      .sort((a, b) => a.index - b.index);
  });
}
