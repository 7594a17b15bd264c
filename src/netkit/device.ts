// netkit pairs (6.7+) over rtnetlink: a primary device in this namespace and its peer, usually
// moved into a container's namespace. Unlike a veth, a netkit device runs BPF programs in its
// own transmit path, attached to the primary (src/link/netkit.ts), and its policy decides what
// happens to packets when no program is attached ('forward' or 'blackhole').
import { NotSupportedError, UsageError } from '../errors.js';
import { features } from '../features/index.js';
import { IFINFOMSG, IFNAMSIZ, ifla, ifla_info, ifla_netkit, netkit_action, netkit_mode, nlm_f, rtm, sock } from '../netlink/abi.js';
import { NetlinkRequestError } from '../netlink/errors.js';
import { getLink } from '../netlink/link.js';
import { newRequest, withSocket } from '../netlink/socket.js';
import { openNetns, type NetnsRef } from '../netns/index.js';
import { ERRNO } from '../errno-names.js';

export type NetkitMode = 'l2' | 'l3';
export type NetkitPolicy = 'forward' | 'blackhole';

export interface NetkitCreateOptions {
  /** The primary device's name (here). */
  name: string;
  /** The peer's name (in `peerNetns`). */
  peerName: string;
  /** 'l3' (the kernel's default: no Ethernet header, no ARP) or 'l2'. */
  mode?: NetkitMode;
  /** What the primary does with packets when no program is attached (default 'forward'). */
  policy?: NetkitPolicy;
  /** The same for the peer (default 'forward'). */
  peerPolicy?: NetkitPolicy;
  /** Where the peer goes (default: this thread's namespace, next to the primary). */
  peerNetns?: NetnsRef;
}

export interface NetkitPair {
  name: string;
  /** The primary's ifindex: programs for both sides attach here. */
  ifindex: number;
  peerName: string;
}

const POLICY: Readonly<Record<NetkitPolicy, number>> = { forward: netkit_action.NETKIT_PASS, blackhole: netkit_action.NETKIT_DROP };
const MODE: Readonly<Record<NetkitMode, number>> = { l2: netkit_mode.NETKIT_L2, l3: netkit_mode.NETKIT_L3 };

function checkName(what: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) >= IFNAMSIZ || /[\s/\0]/.test(name))
    throw new UsageError(`netkit.create: ${what} must be an interface name of 1 to ${IFNAMSIZ - 1} bytes without spaces or slashes; got ${JSON.stringify(name)}`);
}

function pick<T extends string>(what: string, v: T | undefined, table: Readonly<Record<T, number>>, dflt: T): number {
  const key = v ?? dflt;
  if (!Object.hasOwn(table, key)) throw new UsageError(`netkit.create: ${what} must be ${Object.keys(table).map((k) => `'${k}'`).join(' or ')}; got ${JSON.stringify(v)}`);
  return table[key];
}

/** Creates a netkit pair (RTM_NEWLINK, kind "netkit"); both ends start down. */
export function create(opts: NetkitCreateOptions): NetkitPair {
  if (!opts || typeof opts !== 'object') throw new UsageError('netkit.create({ name, peerName, mode?, policy?, peerPolicy?, peerNetns? })');
  checkName('name', opts.name);
  checkName('peerName', opts.peerName);
  const mode = pick('mode', opts.mode, MODE, 'l3');
  const policy = pick('policy', opts.policy, POLICY, 'forward');
  const peerPolicy = pick('peerPolicy', opts.peerPolicy, POLICY, 'forward');
  const ns = opts.peerNetns !== undefined ? openNetns(opts.peerNetns, 'netkit.create peerNetns') : undefined;
  try {
    return withSocket((s) => {
      const req = newRequest(rtm.RTM_NEWLINK, nlm_f.NLM_F_CREATE | nlm_f.NLM_F_EXCL)
        .header(IFINFOMSG, { ifi_family: sock.AF_UNSPEC })
        .string(ifla.IFLA_IFNAME, opts.name)
        .begin(ifla.IFLA_LINKINFO)
        .string(ifla_info.IFLA_INFO_KIND, 'netkit')
        .begin(ifla_info.IFLA_INFO_DATA)
        .u32(ifla_netkit.IFLA_NETKIT_MODE, mode)
        .u32(ifla_netkit.IFLA_NETKIT_POLICY, policy)
        .u32(ifla_netkit.IFLA_NETKIT_PEER_POLICY, peerPolicy)
        .begin(ifla_netkit.IFLA_NETKIT_PEER_INFO)
        .header(IFINFOMSG, { ifi_family: sock.AF_UNSPEC })
        .string(ifla.IFLA_IFNAME, opts.peerName);
      if (ns) req.u32(ifla.IFLA_NET_NS_FD, ns.fd);
      req.end().end().end();
      const context = `netkit.create ${opts.name} / ${opts.peerName}`;
      try {
        s.request(req, { context });
      } catch (e) {
        if (e instanceof NetlinkRequestError && e.errno === ERRNO.EOPNOTSUPP && features.probe('netkit').status !== 'present') {
          const f = features.info('netkit');
          throw new NotSupportedError('netkit devices (rtnetlink link kind "netkit")', f.minKernel, f.alternative, e.errno, undefined, { cause: e });
        }
        if (e instanceof NetlinkRequestError && e.errno === ERRNO.EEXIST) throw e.explain(`an interface named ${opts.name} or ${opts.peerName} exists already`);
        throw e;
      }
      return { name: opts.name, ifindex: getLink(s, opts.name).index, peerName: opts.peerName };
    });
  } finally {
    ns?.close();
  }
}

/** Deletes a netkit pair by its primary's name or ifindex (the peer goes with it). */
export function remove(device: string | number): void {
  withSocket((s) => {
    const index = typeof device === 'number' ? device : getLink(s, device).index;
    const req = newRequest(rtm.RTM_DELLINK).header(IFINFOMSG, { ifi_family: sock.AF_UNSPEC, ifi_index: index });
    s.request(req, { context: `netkit.remove ${device}`, ifindex: index });
  });
}
