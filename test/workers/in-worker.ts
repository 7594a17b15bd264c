// The library inside a worker_thread: loads a program (sync and async), creates a map, attaches
// through an XDP link to the interface the main thread names, and hands the fds over. fds are
// per process, so the main thread can use them; this thread keeps its objects open until told
// to close them, then reports what it closed.
import { parentPort, workerData } from 'node:worker_threads';
import { BpfMap } from '../../src/maps/index.js';
import { BpfProgram } from '../../src/programs/index.js';
import { attachXdpLink } from '../../src/link/index.js';
import { constInsns, XDP_DROP } from '../link/progs.js';

const { ifindex } = workerData as { ifindex: number };
const port = parentPort!;

const map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'worker_map' });
for (let i = 0; i < 4; i++) {
  const v = new Uint8Array(8);
  new DataView(v.buffer).setUint32(0, i * 100, true);
  map.update(new Uint8Array([i, 0, 0, 0]), v);
}
const drop = BpfProgram.load({ type: 'xdp', license: 'GPL', instructions: constInsns(XDP_DROP), name: 'worker_drop' });
// koffi's asynchronous calls work from a worker too.
const asyncProg = await BpfProgram.loadAsync({ type: 'socket_filter', license: 'GPL', instructions: constInsns(7), name: 'worker_async' });
const link = attachXdpLink(ifindex, drop, { mode: 'skb' });
const got = map.lookup(new Uint8Array([3, 0, 0, 0]));

port.postMessage({
  kind: 'ready',
  mapFd: map.fd,
  progFd: drop.fd,
  asyncFd: asyncProg.fd,
  linkFd: link.fd,
  progId: drop.info().id,
  lookup3: got ? new DataView(got.buffer, got.byteOffset).getUint32(0, true) : -1,
  asyncRetval: asyncProg.testRun({ data: new Uint8Array(64) }).retval,
});
port.once('message', () => {
  for (const o of [link, asyncProg, drop, map]) o.close();
  port.postMessage({ kind: 'closed' });
});
