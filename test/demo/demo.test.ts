// The README's main job, run as CI runs it: a short non-interactive demo whose JSON counters
// must match the traffic it sent, and that leaves no namespace or interface behind.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const tsx = `${root}node_modules/.bin/tsx`;

function leftovers(): string[] {
  const ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('tsbpf-demo-'));
  const links = execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).split('\n').filter((l) => /: tsd\d+h[@:]/.test(l));
  return [...ns, ...links];
}

describe('npm run demo', () => {
  const before = leftovers();

  it('counts exactly the traffic it sent, drops the configured port, and cleans up', () => {
    const r = spawnSync(tsx, ['examples/demo.ts', '--seconds', '2', '--drop-port', '7777'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const last = r.stdout.trim().split('\n').at(-1)!;
    const out = JSON.parse(last) as {
      packets: Record<string, number>;
      bytes: Record<string, number>;
      dropped: number;
      sent: { icmp: number; udp: number; udpToDropPort: number; tcpConnections: number };
    };
    expect(out.sent.icmp).toBe(6);
    expect(out.packets.icmp).toBe(out.sent.icmp);
    expect(out.packets.udp).toBe(out.sent.udp);
    expect(out.dropped).toBe(out.sent.udpToDropPort);
    expect(out.dropped).toBeGreaterThan(0);
    // Each connection is at least SYN, ACK and FIN from the namespace side.
    expect(out.packets.tcp).toBeGreaterThanOrEqual(3 * out.sent.tcpConnections);
    expect(out.bytes.icmp).toBe(out.packets.icmp! * 98); // 84-byte IP packets in 14-byte frames
    expect(out.packets.ipv6).toBe(0);
    expect(leftovers()).toEqual(before);
  });

  it('a demo killed with SIGKILL leaves its namespace; the next run clears it (its process is gone)', async () => {
    const killed = spawn(tsx, ['examples/demo.ts', '--seconds', '30', '--json'], { cwd: root, stdio: 'ignore', detached: true });
    // The demo's own node process names the namespace after its pid: wait for it to appear.
    const started = Date.now();
    let ns: string | undefined;
    while (!ns && Date.now() - started < 30_000) {
      ns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
        .split('\n')
        .map((l) => l.split(' ')[0]!)
        .find((n) => n.startsWith('tsbpf-demo-') && !before.includes(n));
      if (!ns) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ns, 'the demo never created its namespace').toBeDefined();
    // Kill the whole process group (tsx and the demo under it): nothing gets to clean up.
    process.kill(-killed.pid!, 'SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    await new Promise((r) => setTimeout(r, 200));
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).toContain(ns!);
    const r = spawnSync(tsx, ['examples/demo.ts', '--seconds', '1'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(ns!);
    expect(leftovers()).toEqual(before);
  });

  it('without root it says exactly what is missing', () => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', tsx, 'examples/demo.ts', '--seconds', '1'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, HOME: '/tmp' },
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing root \(CAP_SYS_ADMIN to create a network namespace, CAP_BPF and CAP_NET_ADMIN/);
    expect(r.stderr).toMatch(/sudo npm run demo/);
  });

  it('rejects unknown arguments', () => {
    const r = spawnSync(tsx, ['examples/demo.ts', '--bogus'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument --bogus/);
  });
});
