// An XDP firewall with live counters (examples/bpf/xdp_firewall.c).
//
// Creates a network namespace and a veth pair, attaches the program to our end with
// prog.attachXdp (a bpf_link: closing it, or exiting, detaches), and sends pings and UDP from
// the namespace every second while printing what the program passed and dropped. Blocked UDP/TCP
// ports live in a hash map, so they can change while the program runs: at the end the port is
// unblocked and a last burst gets through. ICMP is dropped only if asked, through a .rodata
// constant fixed at load time.
//
//   sudo npx tsx examples/xdp-drop.ts                        # 5 s, blocks UDP/TCP port 7777
//   sudo npx tsx examples/xdp-drop.ts --port 53 --icmp --seconds 3
//
// The last line of output is JSON with every number the test (test/examples) checks.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, ifindex, sumU64, u16, u32, u64, type Link } from 'tsbpf';
import { Testbed, onExit, parseArgs, requireRoot, sleep, udpCounter, type UdpCounter } from './lib/testbed.js';

const opts = parseArgs('xdp-drop', { seconds: 5, port: 7777, icmp: false });
requireRoot('xdp-drop');
if (opts.seconds < 1 || opts.port < 1 || opts.port > 65535) {
  console.error('xdp-drop: --seconds must be at least 1 and --port in 1..65535');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));

const bed = new Testbed('x');
let obj: BpfObject | undefined;
let link: Link | undefined;
const sockets: UdpCounter[] = [];
const cleanup = onExit(() => {
  link?.close(); // detaches
  obj?.close();
  for (const s of sockets) s.close();
  bed.destroy();
});

bed.create();
obj = BpfObject.open(join(here, 'bpf', 'xdp_firewall.o'));
obj.setConstant('drop_icmp', opts.icmp ? 1 : 0);
obj.load();
const blocked = obj.map('blocked_ports');
const verdicts = obj.map('verdicts');
blocked.update(u16(opts.port), u64(0));
link = obj.program('xdp_firewall').attachXdp(ifindex(bed.hostIf));
console.log(`XDP firewall on ${bed.hostIf} (link id ${link.info().id}): blocking port ${opts.port}${opts.icmp ? ' and ICMP' : ''}`);

// Listeners on our end: one on the blocked port, one on a port nobody blocks.
const open = await udpCounter(bed.hostAddr);
const closed = await udpCounter(bed.hostAddr, opts.port);
sockets.push(open, closed);

const verdict = (i: number): number => Number(sumU64(verdicts.lookup(u32(i)) as Uint8Array[]));
const portHits = (): number => Number(new DataView((blocked.lookup(u16(opts.port)) as Uint8Array).buffer).getBigUint64(0, true));
const sent = { pings: 0, pingReplies: 0, udpOpen: 0, udpBlocked: 0 };

for (let s = 1; s <= opts.seconds; s++) {
  const t0 = Date.now();
  const [ping, a, b] = await Promise.all([bed.ping(4, 0.15), bed.sendUdp(open.port, 3), bed.sendUdp(opts.port, 2)]);
  sent.pings += ping.sent;
  sent.pingReplies += ping.received;
  sent.udpOpen += a;
  sent.udpBlocked += b;
  await sleep(Math.max(50, 1000 - (Date.now() - t0)));
  console.log(
    `[${s}s] passed ${verdict(0)}  dropped: port ${opts.port} ${verdict(1)}, icmp ${verdict(2)}  ` +
      `| received: udp ${open.received}/${sent.udpOpen}, port ${opts.port} ${closed.received}/${sent.udpBlocked}, ping replies ${sent.pingReplies}/${sent.pings}`,
  );
}

const whileBlocked = { passed: verdict(0), droppedPort: verdict(1), droppedIcmp: verdict(2), portHits: portHits(), receivedBlocked: closed.received };

// The map is live: unblocking the port takes effect for the very next packet.
blocked.delete(u16(opts.port));
const afterSent = await bed.sendUdp(opts.port, 3);
await sleep(200);
console.log(`port ${opts.port} unblocked: ${closed.received - whileBlocked.receivedBlocked} of ${afterSent} datagrams now arrive`);

console.log(
  JSON.stringify({
    blockedPort: opts.port,
    dropIcmp: opts.icmp,
    sent,
    received: { udpOpen: open.received, udpBlocked: whileBlocked.receivedBlocked },
    counters: whileBlocked,
    afterUnblock: { sent: afterSent, received: closed.received - whileBlocked.receivedBlocked, droppedPort: verdict(1) },
  }),
);
cleanup();
