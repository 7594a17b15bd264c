// The README's main job, run as CI runs it: a short non-interactive demo whose JSON counters
// must match the traffic it sent, and that leaves no namespace or interface behind.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { interfacesNamed, namespacesNamed, startExample } from '../examples/run.js';

const root = new URL('../../', import.meta.url).pathname;
const tsx = `${root}node_modules/.bin/tsx`;

function leftovers(): string[] {
  return [...namespacesNamed('tsbpf-demo-'), ...interfacesNamed(/^tsd\d+h$/)];
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

  it('a demo killed with SIGKILL leaves its namespace and veth; the next run clears them and keeps a live demo’s', async () => {
    const killed = await startExample('demo', ['--seconds', '60', '--json'], /tsbpf demo — XDP on/);
    await killed.kill('SIGKILL'); // the whole process group: nothing gets to clean up
    const left = leftovers().filter((l) => !before.includes(l));
    // Its namespace, tagged with the dead demo's pid and start time, and the host end of its pair.
    expect(left).toHaveLength(2);
    expect(left.find((l) => /^tsbpf-demo-\d+-\d+$/.test(l)), left.join()).toBeDefined();
    expect(left.find((l) => /^tsd\d+h$/.test(l)), left.join()).toBeDefined();

    // A demo that is running: the next run must not touch its things.
    const live = await startExample('demo', ['--seconds', '60', '--json'], /tsbpf demo — XDP on/);
    try {
      const liveThings = leftovers().filter((l) => !before.includes(l) && !left.includes(l));
      expect(liveThings).toHaveLength(2);
      const r = spawnSync(tsx, ['examples/demo.ts', '--seconds', '1'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      expect(leftovers().sort()).toEqual([...before, ...liveThings].sort());
    } finally {
      await live.kill('SIGINT');
    }
    expect(leftovers()).toEqual(before);
  }, 180_000);

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
