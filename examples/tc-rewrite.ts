// Packet rewriting with a legacy tc program (examples/bpf/tc_rewrite.c), attached with the
// low-level netlink API: tc.hookCreate (a clsact qdisc) + tc.attach (a direct-action cls_bpf
// filter), then tc.detach + tc.hookDestroy.
//
// The program turns UDP datagrams to port 1111 into datagrams to port 2222 with TTL 42, fixing
// both checksums with bpf_l4_csum_replace / bpf_l3_csum_replace. Two proofs:
//   1. testRun on a hand-made frame: the output bytes have the new port and TTL, and both
//      checksums verify.
//   2. On a veth pair: datagrams sent from a network namespace to port 1111 arrive at a socket
//      listening on port 2222 while the filter is attached, and at port 1111 once it is gone.
//
//   sudo npx tsx examples/tc-rewrite.ts [--seconds 3] [--from 1111] [--to 2222] [--ttl 42]
//
// The last line of output is JSON with every number the test (test/examples) checks.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, ifindex, readU64Number, tc } from 'tsbpf';
import { Testbed, fail, onExit, parseArgs, requireRoot, sleep, udpCounter, type UdpCounter } from './lib/testbed.js';

const opts = parseArgs('tc-rewrite', { seconds: 3, from: 1111, to: 2222, ttl: 42 });
requireRoot('tc-rewrite');
if (opts.seconds < 1 || opts.ttl < 1 || opts.ttl > 255) fail('tc-rewrite', '--seconds must be at least 1, --ttl in 1..255');
for (const p of [opts.from, opts.to]) if (p < 1 || p > 65535 || opts.from === opts.to) fail('tc-rewrite', '--from and --to must be two different ports');
const here = dirname(fileURLToPath(import.meta.url));

// ---- checksums, as the receiver's stack would verify them ----

function sum16(bytes: Uint8Array, start = 0): number {
  let s = start;
  for (let i = 0; i < bytes.length; i += 2) s += (bytes[i]! << 8) | (bytes[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The UDP pseudo header: addresses, protocol, UDP length. */
const pseudo = (ip: Uint8Array, udpLen: number): number =>
  sum16(Uint8Array.of(...ip.subarray(12, 20), 0, 17, udpLen >> 8, udpLen & 0xff));

/** An Ethernet + IPv4 + UDP frame with correct checksums. */
function udpFrame(dport: number, payload: string): Uint8Array {
  const body = new TextEncoder().encode(payload);
  const f = new Uint8Array(14 + 20 + 8 + body.length);
  const dv = new DataView(f.buffer);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
  f.set([0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 198, 51, 100, 2, 198, 51, 100, 1], 14);
  dv.setUint16(16, 20 + 8 + body.length);
  dv.setUint16(24, ~sum16(f.subarray(14, 34)) & 0xffff);
  dv.setUint16(34, 40000);
  dv.setUint16(36, dport);
  dv.setUint16(38, 8 + body.length);
  f.set(body, 42);
  dv.setUint16(40, ~sum16(f.subarray(34), pseudo(f.subarray(14, 34), 8 + body.length)) & 0xffff);
  return f;
}

/** A header verifies if summing it, checksum included, gives 0xffff. */
function inspect(f: Uint8Array) {
  const dv = new DataView(f.buffer, f.byteOffset);
  const udpLen = dv.getUint16(38);
  return {
    dport: dv.getUint16(36),
    ttl: f[22]!,
    ipChecksumOk: sum16(f.subarray(14, 34)) === 0xffff,
    udpChecksumOk: sum16(f.subarray(34, 34 + udpLen), pseudo(f.subarray(14, 34), udpLen)) === 0xffff,
  };
}

// ---- the example ----

const bed = new Testbed('r');
let obj: BpfObject | undefined;
let hook: tc.TcHook | undefined;
const sockets: UdpCounter[] = [];
const cleanup = onExit(() => {
  // Our own clsact qdisc on our own veth: destroying the hook removes our filter and the qdisc.
  try {
    if (hook) tc.hookDestroy(hook);
  } catch (e) {
    console.error(`tc-rewrite: removing the tc hook failed (${String(e)}); deleting the namespace removes it anyway`);
  }
  obj?.close();
  for (const s of sockets) s.close();
  bed.destroy();
});

obj = BpfObject.open(join(here, 'bpf', 'tc_rewrite.o'))
  .setConstant('from_port', opts.from)
  .setConstant('to_port', opts.to)
  .setConstant('new_ttl', opts.ttl)
  .load();
const prog = obj.program('rewrite_port');
const counters = (): { seen: number; rewritten: number } => ({ seen: readU64Number(obj!.global('seen')), rewritten: readU64Number(obj!.global('rewritten')) });

// 1. In the kernel, no device: BPF_PROG_TEST_RUN hands the program our frame and returns its output.
const input = udpFrame(opts.from, 'checksum me');
const run = prog.testRun({ data: input });
const testRun = { retval: run.retval, before: inspect(input), after: inspect(run.data), other: inspect(prog.testRun({ data: udpFrame(53, 'leave me') }).data) };
console.log(`testRun: port ${testRun.before.dport} -> ${testRun.after.dport}, TTL ${testRun.before.ttl} -> ${testRun.after.ttl}, ` +
  `IP checksum ${testRun.after.ipChecksumOk ? 'ok' : 'BAD'}, UDP checksum ${testRun.after.udpChecksumOk ? 'ok' : 'BAD'}; port 53 left alone: ${testRun.other.dport === 53}`);
obj.setGlobal('seen', 0).setGlobal('rewritten', 0); // .bss is live: start the real traffic from zero

// 2. On a real interface: the filter runs on our veth end's ingress, before the IP stack.
bed.create();
const oldPort = await udpCounter(bed.hostAddr, opts.from);
const newPort = await udpCounter(bed.hostAddr, opts.to);
sockets.push(oldPort, newPort);
hook = tc.hookCreate({ ifindex: ifindex(bed.hostIf), attachPoint: 'ingress' });
const filter = tc.attach(hook, { prog });
const [listed] = tc.list(hook);
console.log(`attached to ${bed.hostIf} ingress: ${listed?.kind} filter '${listed?.filterName}' handle ${filter.handle} priority ${filter.priority}, prog id ${filter.progId}, direct action ${listed?.directAction}`);

let sent = 0;
for (let s = 1; s <= opts.seconds; s++) {
  sent += await bed.sendUdp(opts.from, 5, `datagram for port ${opts.from}`);
  await sleep(1000);
  const c = counters();
  console.log(`[${s}s] sent ${sent} to port ${opts.from}: received on ${opts.to}: ${newPort.received}, on ${opts.from}: ${oldPort.received}; program saw ${c.seen}, rewrote ${c.rewritten}`);
}
const attached = { sent, receivedOnNew: newPort.received, receivedOnOld: oldPort.received, ...counters(), payload: newPort.payloads[0] };

tc.detach(hook, filter);
const remaining = tc.list(hook).length;
const sentAfter = await bed.sendUdp(opts.from, 3);
await sleep(200);
const detached = { sent: sentAfter, receivedOnOld: oldPort.received - attached.receivedOnOld, receivedOnNew: newPort.received - attached.receivedOnNew, filtersLeft: remaining };
console.log(`filter detached: ${detached.receivedOnOld} of ${sentAfter} datagrams arrive on port ${opts.from} again`);
tc.hookDestroy(hook);
hook = undefined;

console.log(JSON.stringify({ from: opts.from, to: opts.to, ttl: opts.ttl, testRun, filter, attached, detached }));
cleanup();
