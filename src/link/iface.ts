// An interface as callers name it: every attach and query call takes an index or a name, the
// way xdp.attach and tc.hookCreate always have, so no user has to remember which one needs
// ifindex('eth0') first.
import { ifindex as indexOfName } from '../netlink/link.js';
import { checkIfindex } from '../tcx/direction.js';

/** An interface by index (`3`) or by name (`'eth0'`). */
export type Iface = number | string;

/** The index of `iface`: a name is looked up (NetlinkError ENODEV naming it if there is none);
 * an index is checked (UsageError) and trusted. */
export function resolveIface(iface: Iface): number {
  if (typeof iface === 'string') return indexOfName(iface);
  checkIfindex(iface);
  return iface;
}
