// rtnetlink: interfaces and the low-level socket the xdp/ and tc/ modules are built on.
export { ifindex, ifname, listInterfaces, type InterfaceInfo, type XdpState, type XdpMode, type XdpAttached } from './link.js';
export { NetlinkRequestError, type NetlinkFailure } from './errors.js';
export { NetlinkSocket, newRequest, newDump, withSocket, type RequestContext } from './socket.js';
export { MessageBuilder, Attrs, NetlinkProtocolError, parseMessages, parseAck, type Message, type Ack } from './message.js';
export type { ProgramRef } from './programs.js';
