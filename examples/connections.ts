// A live TCP connection table from the sock:inet_sock_set_state tracepoint
// (examples/bpf/tcp_states.c), streamed through a ring buffer.
//
// A tracepoint program attached with prog.attachTracepoint (a perf event and a bpf_link)
// reports every TCP state change — SYN_SENT, ESTABLISHED, FIN_WAIT1, … CLOSE — with both ends
// and the task that was running; this side keeps the table (a socket leaves it at CLOSE) and
// prints it every second. By default the example watches a port of its own: it runs a server
// on it in a network namespace of its own, connects to it from here, and closes one connection
// halfway. With --all it shows every TCP connection of the machine instead.
//
//   sudo npx tsx examples/connections.ts                # 4 s, its own server and 3 connections
//   sudo npx tsx examples/connections.ts --all --seconds 10
//
// The last line of output is JSON with every number the test (test/examples) checks.
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, RingBuffer, type Link } from 'tsbpf';
import { Testbed, fail, onExit, parseArgs, requireRoot, sleep } from './lib/testbed.js';
import { spawn, type ChildProcess } from 'node:child_process';

const opts = parseArgs('connections', { seconds: 4, all: false, connections: 3 });
requireRoot('connections', 'CAP_BPF and CAP_PERFMON to load and attach, CAP_SYS_ADMIN for the network namespace');
if (opts.seconds < 2) fail('connections', '--seconds must be at least 2 (connections open in the first half, one closes in the second)');
const here = dirname(fileURLToPath(import.meta.url));

const STATES = ['?', 'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK', 'LISTEN', 'CLOSING', 'NEW_SYN_RECV'];
const stateName = (s: number): string => STATES[s] ?? String(s);
const PORT = 7474;

const bed = opts.all ? undefined : new Testbed('k');
let obj: BpfObject | undefined;
let link: Link | undefined;
let ring: RingBuffer | undefined;
let server: ChildProcess | undefined;
const clients: net.Socket[] = [];
const cleanup = onExit(() => {
  link?.close(); // detaches the tracepoint program
  ring?.close();
  obj?.close();
  for (const c of clients) c.destroy();
  if (server && server.exitCode === null) server.kill('SIGKILL');
  bed?.destroy();
});

interface Conn {
  local: string;
  remote: string;
  state: string;
  pid: number;
  comm: string;
  since: number;
}
const table = new Map<bigint, Conn>();
const closed: Conn[] = [];
let events = 0;

function addr(family: number, b: Buffer, port: number): string {
  if (family === 2) return `${[...b.subarray(0, 4)].join('.')}:${port}`;
  const words = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
  return `[${words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')}]:${port}`;
}

function onEvent(d: Uint8Array): void {
  const b = Buffer.from(d);
  events++;
  const skaddr = b.readBigUInt64LE(8);
  const family = b.readUInt16LE(28);
  const e = {
    pid: b.readUInt32LE(16),
    newstate: b.readInt32LE(24),
    local: addr(family, b.subarray(34, 50), b.readUInt16LE(30)),
    remote: addr(family, b.subarray(50, 66), b.readUInt16LE(32)),
    comm: b.toString('latin1', 66, 82).replace(/\0.*$/s, ''),
  };
  const c = table.get(skaddr) ?? { local: e.local, remote: e.remote, state: '', pid: e.pid, comm: e.comm, since: Date.now() };
  // The local port is bound after CLOSE -> SYN_SENT: keep the freshest addresses.
  c.local = e.local;
  c.remote = e.remote;
  c.state = stateName(e.newstate);
  if (e.newstate === 7) {
    table.delete(skaddr);
    closed.push(c);
  } else table.set(skaddr, c);
}

obj = BpfObject.open(join(here, 'bpf', 'tcp_states.o')).setConstant('port', opts.all ? 0 : PORT).load();
ring = RingBuffer.open(obj.map('events'));
link = obj.program('on_state').attachTracepoint(); // sock/inet_sock_set_state, from the section
console.log(`sock:inet_sock_set_state -> ring buffer (link ${link.info().id}), ${opts.all ? 'every TCP connection' : `port ${PORT}`}`);

if (bed) {
  bed.create();
  // The server: a process in the namespace that accepts and keeps connections until they close.
  const script = "require('net').createServer((c)=>{c.on('data',()=>{});c.on('end',()=>c.end())}).listen(+process.argv[1],process.argv[2],()=>console.log('ready'))";
  server = spawn('ip', ['netns', 'exec', bed.ns, process.execPath, '-e', script, String(PORT), bed.nsAddr], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.once('data', () => resolve());
    server!.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

let stop = false;
const reader = (async () => {
  while (!stop) for (const r of await ring!.read({ timeoutMs: 100 })) onEvent(r);
})();

function print(): void {
  console.log(`${'local'.padEnd(22)} ${'remote'.padEnd(22)} ${'state'.padEnd(12)} pid/comm`);
  for (const c of table.values()) console.log(`${c.local.padEnd(22)} ${c.remote.padEnd(22)} ${c.state.padEnd(12)} ${c.pid}/${c.comm}`);
  console.log(`(${table.size} open, ${closed.length} closed, ${events} events)`);
}

const half = Math.ceil(opts.seconds / 2);
for (let s = 1; s <= opts.seconds; s++) {
  if (bed && s === 1)
    for (let i = 0; i < opts.connections; i++) {
      const c = net.connect(PORT, bed.nsAddr);
      await new Promise((r) => c.once('connect', r));
      clients.push(c);
    }
  if (bed && s === half + 1 && clients[0]) {
    const c = clients.shift()!;
    c.end();
    await new Promise((r) => c.once('close', r));
  }
  await sleep(1000);
  console.log(`[${s}s]`);
  print();
}
stop = true;
await reader;

const pick = (c: Conn) => ({ local: c.local, remote: c.remote, state: c.state });
console.log(
  JSON.stringify({
    port: opts.all ? null : PORT,
    server: bed ? bed.nsAddr : null,
    events,
    lost: Number(Buffer.from(obj.global('lost')).readBigUInt64LE(0)),
    open: [...table.values()].map(pick),
    closed: closed.map(pick),
  }),
);
cleanup();
