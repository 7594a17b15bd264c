// Attach points on sockets and their namespaces, the low level: socket filters, sockmap hooks
// and the flow dissector (each held by its socket, map or namespace: no fd). Links for sockmaps,
// sk_lookup and the flow dissector are the high level (src/link).
export * as socketFilter from './filter.js';
export * as sockmap from './sockmap.js';
export * as flowDissector from './flow-dissector.js';
export { socketFd, type SocketRef } from './fd.js';
