// What the network examples share: argument parsing, cleanup on exit or Ctrl-C, and a private
// network namespace joined to this one by a veth pair that only the example's traffic uses.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { runTag, sweepDeadRuns } from './leftovers.js';

/** Parses `--name value` pairs (and bare `--flag`s) against defaults; exits 2 on anything else. */
export function parseArgs<T extends Record<string, number | boolean | string>>(
  example: string,
  defaults: T,
  argv = process.argv.slice(2),
): T {
  const opts: Record<string, number | boolean | string> = { ...defaults };
  const usage = Object.entries(defaults)
    .map(([k, v]) => (typeof v === 'boolean' ? `[--${k}]` : `[--${k} ${typeof v === 'number' ? 'N' : 'VALUE'}]`))
    .join(' ');
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const key = arg.replace(/^--/, '');
    if (arg === '--help' || arg === '-h') {
      console.log(`usage: npx tsx examples/${example}.ts ${usage}`);
      process.exit(0);
    }
    if (!arg.startsWith('--') || !(key in defaults)) fail(example, `unknown argument ${arg} (try --help)`);
    const kind = typeof defaults[key];
    if (kind === 'boolean') opts[key] = true;
    else {
      const raw = argv[++i];
      if (raw === undefined) fail(example, `${arg} needs a value`);
      if (kind === 'number') {
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 0) fail(example, `${arg} needs a whole number, got ${raw}`);
        opts[key] = n;
      } else opts[key] = raw;
    }
  }
  return opts as T;
}

export function fail(example: string, message: string): never {
  console.error(`${example}: ${message}`);
  process.exit(2);
}

export function requireRoot(
  example: string,
  why = 'CAP_BPF and CAP_NET_ADMIN to load and attach, CAP_SYS_ADMIN for the network namespace',
): void {
  if (process.getuid?.() !== 0) fail(example, `needs root (${why}): sudo npx tsx examples/${example}.ts`);
}

/**
 * Runs `cleanup` exactly once: on normal exit, on an uncaught error, and on SIGINT/SIGTERM/
 * SIGHUP (after which the process exits with 128 + signal number, as shells expect).
 * Returns the cleanup, to call when the work is done.
 */
export function onExit(cleanup: () => void): () => void {
  let done = false;
  const once = (): void => {
    if (done) return;
    done = true;
    cleanup();
  };
  process.once('exit', once);
  for (const [sig, n] of [['SIGINT', 2], ['SIGTERM', 15], ['SIGHUP', 1]] as const)
    process.once(sig, () => {
      once();
      process.exit(128 + n);
    });
  return once;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function ipToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

/**
 * A namespace `tsbpf-ex-<pid>-<start time>` and a veth pair `te<letter><pid>h` (here, where
 * programs attach; its alias is the namespace's name) / `te<letter><pid>n` (inside the
 * namespace, where traffic starts). IPv6 is off and neighbours are static, so the only packets
 * on the link are the ones the example sends. The names let a later run clear what a killed one
 * left (examples/lib/leftovers.ts).
 */
export class Testbed {
  readonly ns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  hostAddr = '';
  nsAddr = '';
  #up = false;

  constructor(letter: string) {
    this.ns = runTag('tsbpf-ex-');
    this.hostIf = `te${letter}${process.pid}h`;
    this.nsIf = `te${letter}${process.pid}n`;
  }

  /**
   * A /30 from TEST-NET-2 or -3 that overlaps no route this machine has. Never TEST-NET-1
   * (192.0.2.0/24): some machines use it for their real uplink.
   */
  #pickSubnet(): void {
    const taken: [number, number][] = [];
    const routes = execFileSync('ip', ['-4', '-o', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
    for (const line of routes.split('\n')) {
      const m = /^(?:\w+ )?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/.exec(line.trim());
      if (!m) continue;
      const size = 2 ** (32 - Number(m[2] ?? 32));
      const start = Math.floor(ipToInt(m[1]!) / size) * size;
      taken.push([start, start + size]);
    }
    for (let i = 0; i < 128; i++) {
      const k = (process.pid + i) % 128;
      const base = k < 64 ? '198.51.100.' : '203.0.113.';
      const n = (k % 64) * 4;
      const lo = ipToInt(base + n);
      if (taken.some(([a, b]) => lo < b && a < lo + 4)) continue;
      this.hostAddr = base + (n + 1);
      this.nsAddr = base + (n + 2);
      return;
    }
    throw new Error('no free /30 in 198.51.100.0/24 or 203.0.113.0/24');
  }

  create(): this {
    this.#pickSubnet();
    this.#up = true;
    // An example killed with SIGKILL left its namespace and veth pair: clear those of dead runs.
    sweepDeadRuns();
    const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    ip('netns', 'add', this.ns);
    ip('link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf, 'netns', this.ns);
    ip('link', 'set', 'dev', this.hostIf, 'alias', this.ns);
    execFileSync('sysctl', ['-qw', `net.ipv6.conf.${this.hostIf}.disable_ipv6=1`]);
    ip('netns', 'exec', this.ns, 'sysctl', '-qw', `net.ipv6.conf.${this.nsIf}.disable_ipv6=1`);
    ip('addr', 'add', `${this.hostAddr}/30`, 'dev', this.hostIf);
    ip('-n', this.ns, 'addr', 'add', `${this.nsAddr}/30`, 'dev', this.nsIf);
    ip('link', 'set', this.hostIf, 'up');
    ip('-n', this.ns, 'link', 'set', this.nsIf, 'up');
    ip('-n', this.ns, 'link', 'set', 'lo', 'up');
    const mac = (out: string): string => (JSON.parse(out) as { address: string }[])[0]!.address;
    const hostMac = mac(ip('-j', 'link', 'show', 'dev', this.hostIf));
    const nsMac = mac(ip('-n', this.ns, '-j', 'link', 'show', 'dev', this.nsIf));
    ip('neigh', 'replace', this.nsAddr, 'lladdr', nsMac, 'dev', this.hostIf, 'nud', 'permanent');
    ip('-n', this.ns, 'neigh', 'replace', this.hostAddr, 'lladdr', hostMac, 'dev', this.nsIf, 'nud', 'permanent');
    return this;
  }

  /** Idempotent: deleting the namespace deletes its veth end, which takes ours with it. */
  destroy(): void {
    if (!this.#up) return;
    this.#up = false;
    spawnSync('ip', ['netns', 'del', this.ns], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', this.hostIf], { stdio: 'ignore' });
  }

  /** Pings the host end from inside the namespace; resolves with echo requests sent and answered. */
  ping(count: number, intervalS = 0.1): Promise<{ sent: number; received: number }> {
    return this.#run('ping', ['-n', '-q', '-c', String(count), '-i', String(intervalS), '-W', '1', this.hostAddr]).then((out) => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      if (!m) throw new Error(`ping in ${this.ns} printed no summary: ${out}`);
      return { sent: Number(m[1]), received: Number(m[2]) };
    });
  }

  /** Sends `count` UDP datagrams from inside the namespace to the host end; resolves when sent. */
  sendUdp(port: number, count: number, payload = 'tsbpf example'): Promise<number> {
    const script =
      "const d=require('dgram').createSocket('udp4');const [a,p,c,m]=process.argv.slice(1);" +
      'let n=0;const next=()=>{if(n>=+c)return d.close(()=>console.log(n));n++;d.send(m,+p,a,next)};next();';
    return this.#run(process.execPath, ['-e', script, this.hostAddr, String(port), String(count), payload]).then(Number);
  }

  #run(cmd: string, args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const p = spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', reject);
      // ping exits 1 when nothing was answered; its summary still says what happened.
      p.on('exit', (code) => (code === 0 || cmd === 'ping' ? resolve(out) : reject(new Error(`${cmd} in ${this.ns} exited ${code}: ${err}`))));
    });
  }
}

/** A UDP socket here that counts what reaches it (port 0: the kernel picks a free one). */
export interface UdpCounter {
  port: number;
  received: number;
  payloads: string[];
  close(): void;
}

export async function udpCounter(address: string, port = 0): Promise<UdpCounter> {
  const { createSocket } = await import('node:dgram');
  const sock = createSocket('udp4');
  const c: UdpCounter = {
    port: 0,
    received: 0,
    payloads: [],
    close: () => {
      try {
        sock.close();
      } catch {
        /* already closed */
      }
    },
  };
  sock.on('message', (msg) => {
    c.received++;
    if (c.payloads.length < 8) c.payloads.push(msg.toString());
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, address, () => resolve());
  });
  c.port = sock.address().port;
  return c;
}
