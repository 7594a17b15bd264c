// Bytes and packets per application (per cgroup), from examples/bpf/app_traffic.c — what a
// network monitor shows next to each app or service.
//
// cgroup_skb programs attached with prog.attachCgroup (bpf_links: closing them, or exiting,
// detaches) to one cgroup count every packet its processes — and those of every cgroup below it —
// send and receive, keyed by each socket's own cgroup. By default the example makes its own
// cgroup with two "apps" under it, each a process sending UDP to an echo server here at its own
// pace, and checks the counts against what the apps say they sent. With --cgroup it watches an
// existing cgroup instead (the whole machine: --cgroup /sys/fs/cgroup, or wherever cgroup2 is).
//
//   sudo npx tsx examples/app-traffic.ts                    # 5 s, two demo apps
//   sudo npx tsx examples/app-traffic.ts --seconds 3
//   sudo npx tsx examples/app-traffic.ts --cgroup /sys/fs/cgroup --seconds 10
//
// The last line of output is JSON with every number the test (test/examples) checks.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, cgroup, type Link } from 'tsbpf';
import { runTag, sweepDeadRuns } from './lib/leftovers.js';
import { fail, onExit, parseArgs, requireRoot, sleep } from './lib/testbed.js';

const opts = parseArgs('app-traffic', { seconds: 5, cgroup: '' });
requireRoot('app-traffic', 'CAP_BPF and CAP_NET_ADMIN to load and attach, and to create cgroups');
if (opts.seconds < 1) fail('app-traffic', '--seconds must be at least 1');
const here = dirname(fileURLToPath(import.meta.url));

/** The demo apps: name, datagram size, milliseconds between datagrams. */
const APPS = [
  { name: 'web', size: 200, everyMs: 50 },
  { name: 'backup', size: 1200, everyMs: 200 },
] as const;

// Each app: a process that sends datagrams to the echo server until its stdin closes, then
// prints what it sent and what came back.
const APP_SCRIPT =
  "const d=require('dgram').createSocket('udp4');const [p,s,e]=process.argv.slice(1).map(Number);let sent=0,echoed=0;" +
  "d.on('message',()=>echoed++);const b=Buffer.alloc(s,97);const t=setInterval(()=>d.send(b,p,'127.0.0.1',(x)=>{if(!x)sent++}),e);" +
  "process.stdin.on('end',()=>{clearInterval(t);setTimeout(()=>{console.log(JSON.stringify({sent,echoed}));d.close()},300)});process.stdin.resume();";

const demo = opts.cgroup === '';
// Our cgroup is named after this process and its start time, so that a later run can remove it
// if this one is killed before it can (examples/lib/leftovers.ts).
const root = demo ? join(cgroup.cgroup2Root(), runTag('tsbpf-ex-')) : opts.cgroup;
const made: string[] = [];
const children: ChildProcess[] = [];
let obj: BpfObject | undefined;
const links: Link[] = [];
let echo: dgram.Socket | undefined;

const cleanup = onExit(() => {
  for (const l of links) l.close(); // each close detaches one program
  obj?.close();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  try {
    echo?.close();
  } catch {
    // already closed
  }
  // A cgroup can go once its processes have: wait a little for killed ones.
  for (const dir of made.reverse()) {
    for (let i = 0; i < 100; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EBUSY') break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }
});

if (demo) {
  sweepDeadRuns();
  mkdirSync(root);
  made.push(root);
  for (const app of APPS) {
    mkdirSync(join(root, app.name));
    made.push(join(root, app.name));
  }
}

obj = BpfObject.open(join(here, 'bpf', 'app_traffic.o')).load();
// The attach types come from the sections: cgroup_skb/egress and cgroup_skb/ingress.
links.push(obj.program('count_egress').attachCgroup(root), obj.program('count_ingress').attachCgroup(root));
console.log(`counting traffic of ${root} and every cgroup below it (links ${links.map((l) => l.info().id).join(', ')})`);

interface Traffic {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
}
const counts = (): Map<bigint, Traffic> => {
  const out = new Map<bigint, Traffic>();
  for (const [k, v] of obj!.map('traffic').entries()) {
    const b = Buffer.from(v as Uint8Array);
    out.set(Buffer.from(k).readBigUInt64LE(0), {
      txPackets: Number(b.readBigUInt64LE(0)),
      txBytes: Number(b.readBigUInt64LE(8)),
      rxPackets: Number(b.readBigUInt64LE(16)),
      rxBytes: Number(b.readBigUInt64LE(24)),
    });
  }
  return out;
};
const names = new Map<bigint, string>();
const nameOf = (id: bigint): string => {
  let n = names.get(id);
  if (n === undefined) {
    const path = cgroup.cgroupPath(id, root);
    n = path === undefined ? `cgroup ${id} (gone)` : relative(root, path) || '.';
    names.set(id, n);
  }
  return n;
};

let generated: Record<string, { sent: number; echoed: number }> = {};
if (demo) {
  echo = dgram.createSocket('udp4');
  echo.on('message', (m, r) => echo!.send(m, r.port, r.address));
  await new Promise<void>((r) => echo!.bind(0, '127.0.0.1', r));
  const port = echo.address().port;
  for (const app of APPS) {
    // The shell joins the app's cgroup before it becomes the app: every socket starts there.
    const c = spawn('sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', join(root, app.name), process.execPath, '-e', APP_SCRIPT, String(port), String(app.size), String(app.everyMs)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(c);
  }
  console.log(`apps: ${APPS.map((a) => `${a.name} (${a.size}-byte datagrams every ${a.everyMs} ms)`).join(', ')}; echo server on port ${port}`);
}

const fmt = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n));
function table(): void {
  const rows = [...counts()].sort((a, b) => b[1].txBytes + b[1].rxBytes - (a[1].txBytes + a[1].rxBytes)).slice(0, 10);
  console.log(`${'cgroup'.padEnd(28)} ${'tx pkts'.padStart(8)} ${'tx bytes'.padStart(9)} ${'rx pkts'.padStart(8)} ${'rx bytes'.padStart(9)}`);
  for (const [id, t] of rows)
    console.log(`${nameOf(id).slice(0, 28).padEnd(28)} ${fmt(t.txPackets).padStart(8)} ${fmt(t.txBytes).padStart(9)} ${fmt(t.rxPackets).padStart(8)} ${fmt(t.rxBytes).padStart(9)}`);
}

for (let s = 1; s <= opts.seconds; s++) {
  await sleep(1000);
  console.log(`[${s}s]`);
  table();
}

if (demo) {
  // Stop the apps and collect what each says it sent; every packet is counted by then.
  const outputs = await Promise.all(
    children.map(
      (c) =>
        new Promise<{ sent: number; echoed: number }>((resolve, reject) => {
          let out = '';
          c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          // 'close', not 'exit': the output is complete only once the pipe is closed.
          c.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim()) as { sent: number; echoed: number }) : reject(new Error(`app exited ${code}`))));
          c.stdin!.end();
        }),
    ),
  );
  generated = Object.fromEntries(APPS.map((a, i) => [a.name, outputs[i]!]));
}

const final = counts();
const apps = Object.fromEntries(
  demo
    ? APPS.map((a) => {
        const id = cgroup.cgroupId(join(root, a.name));
        return [a.name, { cgroupId: Number(id), size: a.size, generated: generated[a.name], counted: final.get(id) ?? null }];
      })
    : [...final].map(([id, t]) => [nameOf(id), t]),
);
console.log(JSON.stringify({ cgroup: root, links: links.map((l) => l.info().id), apps }));
cleanup();
