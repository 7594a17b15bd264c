// A private network for attach tests: a fresh network namespace and a veth pair whose "host"
// end stays in the test's namespace (where tsbpf attaches) and whose "peer" end lives in the
// namespace (where traffic comes from). Names are unique per process and run, addresses are
// a /30 from the documentation ranges (RFC 5737) that is not in use here, IPv6 is off and
// neighbours are static so the only packets on the wire are the ones a test sends.
// Callers destroy() in afterAll; as a last resort everything is removed when the process exits.
// No vitest import: the benchmarks use it too.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';

export interface VethPair {
  /** The namespace holding the peer end. */
  ns: string;
  /** Interface name of the end in the test's own namespace (attach here). */
  host: string;
  /** Interface name of the end inside `ns`. */
  peer: string;
  hostIndex: number;
  hostAddr: string;
  peerAddr: string;
  hostMac: string;
  peerMac: string;
  /** Runs a command inside the namespace; never throws (look at `status`). */
  inNs(cmd: string, args: string[], input?: string): SpawnSyncReturns<string>;
  /** Pings the host end from the namespace; returns packets sent and answered. */
  ping(count: number, opts?: { intervalS?: number; waitS?: number }): { sent: number; received: number };
  /** Sends `count` UDP datagrams from the namespace to hostAddr:port. */
  sendUdp(port: number, count: number, payload?: string): void;
  destroy(): void;
}

const live = new Set<VethPair>();
let counter = 0;
let exitHooked = false;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function quiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore' });
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  const cleanAll = (): void => {
    for (const p of [...live]) p.destroy();
  };
  process.on('exit', cleanAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.once(sig, () => {
      cleanAll();
      process.kill(process.pid, sig);
    });
}

/** Whether a process exists (EPERM: it does, and is someone else's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces left by test processes of ours that died without cleaning up. */
function sweepStale(): void {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^tsbpf-(\d+)-\d+$/.exec(n);
    if (m && !alive(Number(m[1]))) quiet('ip', ['netns', 'del', n]);
  }
}

// /30 subnets from TEST-NET-2 and -3. Some machines use TEST-NET-1 (192.0.2.0/24) for their
// real uplink, so a candidate must not overlap any route the machine already has, default aside.
const RANGES = ['198.51.100', '203.0.113'];

function ipToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function routedPrefixes(): [number, number][] {
  const out: [number, number][] = [];
  for (const line of run('ip', ['-4', '-o', 'route', 'show', 'table', 'all']).split('\n')) {
    const m = /^(?:\w+ )?(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/.exec(line.trim());
    if (!m) continue;
    const bits = Number(m[2] ?? 32);
    const size = 2 ** (32 - bits);
    const start = Math.floor(ipToInt(m[1]!) / size) * size;
    out.push([start, start + size]);
  }
  return out;
}

function pickSubnet(): { host: string; peer: string } {
  const taken = routedPrefixes();
  const slots = RANGES.length * 64;
  const start = (process.pid * 7 + counter * 13) % slots;
  for (let i = 0; i < slots; i++) {
    const k = (start + i) % slots;
    const base = `${RANGES[Math.floor(k / 64)]}.`;
    const n = (k % 64) * 4;
    const lo = ipToInt(base + n);
    if (taken.some(([a, b]) => lo < b && a < lo + 4)) continue;
    return { host: base + (n + 1), peer: base + (n + 2) };
  }
  throw new Error('netns helper: every TEST-NET /30 overlaps a route in use');
}

function macOf(ifname: string, ns?: string): string {
  const args = ['-j', 'link', 'show', 'dev', ifname];
  const out = ns ? run('ip', ['-n', ns, ...args]) : run('ip', args);
  return (JSON.parse(out) as { address: string }[])[0]!.address;
}

export function createVethPair(): VethPair {
  hookExit();
  sweepStale();
  const n = counter++;
  const tag = `${process.pid}${n.toString(36)}`;
  const ns = `tsbpf-${process.pid}-${n}`;
  const host = `tb${tag}h`;
  const peer = `tb${tag}p`;
  if (host.length > 15) throw new Error(`netns helper: interface name ${host} too long`);
  const { host: hostAddr, peer: peerAddr } = pickSubnet();

  let created = false;
  const pair: VethPair = {
    ns,
    host,
    peer,
    hostIndex: 0,
    hostAddr,
    peerAddr,
    hostMac: '',
    peerMac: '',
    inNs(cmd, args, input) {
      return spawnSync('ip', ['netns', 'exec', ns, cmd, ...args], {
        encoding: 'utf8',
        timeout: 30_000,
        ...(input !== undefined ? { input } : {}),
      });
    },
    ping(count, opts = {}) {
      const r = pair.inNs('ping', [
        '-n',
        '-q',
        '-c',
        String(count),
        '-i',
        String(opts.intervalS ?? 0.01),
        '-W',
        String(opts.waitS ?? 1),
        hostAddr,
      ]);
      const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout ?? '');
      if (!m) throw new Error(`ping in ${ns} gave no summary: ${r.stdout}${r.stderr}`);
      return { sent: Number(m[1]), received: Number(m[2]) };
    },
    sendUdp(port, count, payload = 'tsbpf') {
      const script =
        "const d=require('dgram').createSocket('udp4');const [a,p,c,m]=process.argv.slice(1);" +
        'let n=0;const next=()=>{if(n++>=+c)return d.close();d.send(m,+p,a,next)};next();';
      const r = pair.inNs(process.execPath, ['-e', script, hostAddr, String(port), String(count), payload]);
      if (r.status !== 0) throw new Error(`udp sender in ${ns} failed: ${r.stderr}`);
    },
    destroy() {
      if (!live.has(pair)) return;
      live.delete(pair);
      // Deleting the namespace destroys the peer end and with it the whole pair.
      quiet('ip', ['netns', 'del', ns]);
      quiet('ip', ['link', 'del', 'dev', host]);
    },
  };
  live.add(pair);
  try {
    run('ip', ['netns', 'add', ns]);
    created = true;
    run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer, 'netns', ns]);
    writeFileSync(`/proc/sys/net/ipv6/conf/${host}/disable_ipv6`, '1');
    run('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', `net.ipv6.conf.${peer}.disable_ipv6=1`]);
    run('ip', ['addr', 'add', `${hostAddr}/30`, 'dev', host]);
    run('ip', ['-n', ns, 'addr', 'add', `${peerAddr}/30`, 'dev', peer]);
    run('ip', ['link', 'set', 'dev', host, 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'dev', peer, 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    pair.hostMac = macOf(host);
    pair.peerMac = macOf(peer, ns);
    run('ip', ['neigh', 'replace', peerAddr, 'lladdr', pair.peerMac, 'dev', host, 'nud', 'permanent']);
    run('ip', ['-n', ns, 'neigh', 'replace', hostAddr, 'lladdr', pair.hostMac, 'dev', peer, 'nud', 'permanent']);
    pair.hostIndex = (JSON.parse(run('ip', ['-j', 'link', 'show', 'dev', host])) as { ifindex: number }[])[0]!.ifindex;
  } catch (e) {
    pair.destroy();
    throw new Error(`netns helper: setting up ${ns} failed${created ? '' : ' (netns add)'}: ${String(e)}`);
  }
  return pair;
}

/** Runs a command in our namespace and returns stdout; throws with stderr on failure. */
export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}
