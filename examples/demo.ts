// The tsbpf demo: loads examples/bpf/xdp_stats.o on a veth pair it creates, sends real
// traffic from a network namespace, shows live per-protocol counters, and cleans up.
//
//   npm run demo                    # a live table for 5 seconds, then the drops it caused
//   npm run demo -- --seconds 3     # non-interactive: ends with one JSON line (--json alone too)
//   npm run demo -- --drop-port 9999
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, ifindex, type Link } from 'tsbpf';
import { runTag, sweepDeadRuns } from './lib/leftovers.js';

const here = dirname(fileURLToPath(import.meta.url));
const PROTOCOLS = ['icmp', 'tcp', 'udp', 'arp', 'ipv6', 'other'] as const;

interface Options {
  seconds: number;
  dropPort: number;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const opts: Options = { seconds: 5, dropPort: 9999, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) fail(`${a} needs a whole number`);
      return v;
    };
    if (a === '--seconds') {
      opts.seconds = value();
      opts.json = true;
    } else if (a === '--drop-port') opts.dropPort = value();
    else if (a === '--json') opts.json = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run demo -- [--seconds N] [--drop-port PORT] [--json]');
      process.exit(0);
    } else fail(`unknown argument ${a} (try --help)`);
  }
  if (opts.seconds < 1) fail('--seconds must be at least 1');
  return opts;
}

function fail(message: string): never {
  console.error(`tsbpf demo: ${message}`);
  process.exit(2);
}

function checkPrivileges(): void {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (CAP_SYS_ADMIN to create a network namespace, CAP_BPF and CAP_NET_ADMIN to load and attach XDP)');
  for (const tool of ['ip', 'ping']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      missing.push(`the '${tool}' command (run: bash scripts/setup-system.sh)`);
    }
  }
  if (missing.length) fail(`cannot run: missing ${missing.join('; ')}. Try: sudo npm run demo`);
}

/**
 * The namespace and veth pair, named after this process with an idempotent teardown. The
 * namespace is `tsbpf-demo-<pid>-<start time>` and the host end carries that as its alias, so
 * that a later run can tell a dead demo's leftovers from a live one's (examples/lib/leftovers.ts).
 */
class Testbed {
  readonly ns = runTag('tsbpf-demo-');
  readonly hostIf = `tsd${process.pid}h`;
  readonly nsIf = `tsd${process.pid}n`;
  hostAddr = '';
  nsAddr = '';
  private up = false;

  /** A /30 from TEST-NET-2/-3 that overlaps no route this machine has (its uplink may use TEST-NET-1). */
  private pickSubnet(): void {
    const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
    const taken: [number, number][] = [];
    for (const line of execFileSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).split('\n')) {
      const m = /^(?:\w+ )?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/.exec(line.trim());
      if (!m) continue;
      const size = 2 ** (32 - Number(m[2] ?? 32));
      const start = Math.floor(toInt(m[1]!) / size) * size;
      taken.push([start, start + size]);
    }
    for (let i = 0; i < 128; i++) {
      const k = (process.pid + i) % 128;
      const base = k < 64 ? '198.51.100.' : '203.0.113.';
      const n = (k % 64) * 4;
      const lo = toInt(base + n);
      if (taken.some(([a, b]) => lo < b && a < lo + 4)) continue;
      this.hostAddr = base + (n + 1);
      this.nsAddr = base + (n + 2);
      return;
    }
    throw new Error('no free /30 in 198.51.100.0/24 or 203.0.113.0/24 for the demo');
  }

  create(): void {
    // A demo killed with SIGKILL left its namespace and veth pair: clear those of dead runs.
    sweepDeadRuns();
    this.pickSubnet();
    this.up = true;
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    ip('netns', 'add', this.ns);
    ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf, 'netns', this.ns);
    ip('link', 'set', 'dev', this.hostIf, 'alias', this.ns);
    // IPv6 autoconfiguration would add router/neighbour solicitations nobody asked for.
    execFileSync('sysctl', ['-qw', `net.ipv6.conf.${this.hostIf}.disable_ipv6=1`]);
    ip('addr', 'add', `${this.hostAddr}/30`, 'dev', this.hostIf);
    ip('link', 'set', this.hostIf, 'up');
    ip('netns', 'exec', this.ns, 'sysctl', '-qw', `net.ipv6.conf.${this.nsIf}.disable_ipv6=1`);
    ip('-n', this.ns, 'addr', 'add', `${this.nsAddr}/30`, 'dev', this.nsIf);
    ip('-n', this.ns, 'link', 'set', this.nsIf, 'up');
    ip('-n', this.ns, 'link', 'set', 'lo', 'up');
  }

  destroy(): void {
    if (!this.up) return;
    this.up = false;
    // Deleting the namespace deletes its veth end, which takes the host end with it.
    try {
      execFileSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    try {
      execFileSync('ip', ['link', 'del', this.hostIf], { stdio: 'ignore' });
    } catch {
      /* already gone with the namespace */
    }
  }
}

type Counts = Record<(typeof PROTOCOLS)[number], number>;

function readCounters(obj: BpfObject): { packets: Counts; bytes: Counts; dropped: number } {
  const stats = obj.map('stats');
  const packets = {} as Counts;
  const bytes = {} as Counts;
  PROTOCOLS.forEach((name, i) => {
    const key = new Uint8Array(4);
    new DataView(key.buffer).setUint32(0, i, true);
    const perCpu = stats.lookup(key) as Uint8Array[];
    let p = 0;
    let b = 0;
    for (const v of perCpu) {
      const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
      p += Number(dv.getBigUint64(0, true));
      b += Number(dv.getBigUint64(8, true));
    }
    packets[name] = p;
    bytes[name] = b;
  });
  const bss = obj.map('.bss').lookup(new Uint8Array(4)) as Uint8Array;
  const dropped = Number(new DataView(bss.buffer, bss.byteOffset).getBigUint64(0, true));
  return { packets, bytes, dropped };
}

function render(c: ReturnType<typeof readCounters>, elapsed: number, opts: Options): string {
  const rows = PROTOCOLS.map((p) => `  ${p.padEnd(6)} ${String(c.packets[p]).padStart(9)} ${String(c.bytes[p]).padStart(11)}`);
  return [
    `tsbpf demo — XDP on ${elapsed}s / ${opts.seconds}s, dropping port ${opts.dropPort}`,
    `  ${'proto'.padEnd(6)} ${'packets'.padStart(9)} ${'bytes'.padStart(11)}`,
    ...rows,
    `  dropped by XDP: ${c.dropped}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  checkPrivileges();
  const bed = new Testbed();
  let obj: BpfObject | undefined;
  let link: Link | undefined;
  let server: net.Server | undefined;
  const cleanup = (): void => {
    link?.close();
    obj?.close();
    server?.close();
    bed.destroy();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(sig, () => {
      cleanup();
      process.exit(130);
    });
  process.once('exit', cleanup);

  try {
    bed.create();
    obj = BpfObject.open(join(here, 'bpf', 'xdp_stats.o'));
    obj.setConstant('drop_port', opts.dropPort);
    obj.load();
    link = obj.program('xdp_stats').attachXdp(ifindex(bed.hostIf));

    // A TCP server on the host end so the namespace has something to talk to.
    server = net.createServer((s) => s.on('data', () => s.end()).on('error', () => {}));
    await new Promise<void>((r) => server!.listen(0, bed.hostAddr, r));
    const tcpPort = (server.address() as net.AddressInfo).port;

    const traffic = spawn(
      'ip',
      ['netns', 'exec', bed.ns, process.execPath, join(here, 'demo-traffic.mjs'), bed.hostAddr, String(opts.seconds), String(opts.dropPort), String(tcpPort)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let sentJson = '';
    traffic.stdout.on('data', (d: Buffer) => (sentJson += d.toString()));
    const finished = new Promise<number>((r) => traffic.on('exit', (code) => r(code ?? 1)));

    const live = process.stdout.isTTY && !opts.json;
    let lines = 0;
    const t0 = Date.now();
    const timer = setInterval(() => {
      const text = render(readCounters(obj!), Math.min(opts.seconds, Math.round((Date.now() - t0) / 1000)), opts);
      if (live && lines) process.stdout.write(`\x1b[${lines}A\x1b[J`);
      process.stdout.write(text + '\n');
      lines = text.split('\n').length;
    }, 1000);
    const code = await finished;
    clearInterval(timer);
    if (code !== 0) throw new Error(`the traffic generator in ${bed.ns} exited with ${code}`);
    await new Promise((r) => setTimeout(r, 200)); // let the last packets land

    const final = readCounters(obj);
    const sent = JSON.parse(sentJson.trim());
    if (opts.json) {
      console.log(JSON.stringify({ packets: final.packets, bytes: final.bytes, dropped: final.dropped, sent }));
    } else {
      if (live && lines) process.stdout.write(`\x1b[${lines}A\x1b[J`); // the final table replaces the live one
      console.log(render(final, opts.seconds, opts));
      console.log(`sent from the namespace: ${sent.icmp} pings, ${sent.udp} UDP datagrams (${sent.udpToDropPort} to port ${opts.dropPort}), ${sent.tcpConnections} TCP connections`);
      console.log(`XDP dropped ${final.dropped} packets to port ${opts.dropPort}. Removing the link, the program and the veth pair.`);
    }
  } finally {
    cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(`tsbpf demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
