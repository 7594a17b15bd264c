// examples/app-traffic.ts: per-cgroup counters agree to the byte with what each demo app says
// it sent and got back, and the example leaves no cgroup behind (also when interrupted).
import { describe, expect, it } from 'vitest';
import { interruptExample, isRoot, leftovers, runExample } from './run.js';

// Needs root (loads programs, makes cgroups); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/app-traffic.ts', () => {
  it('counts each app’s bytes and packets in its own cgroup, both directions', () => {
    const before = leftovers();
    const r = runExample('app-traffic', ['--seconds', '2']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.links).toHaveLength(2);
    for (const name of ['web', 'backup']) {
      const app = out.apps[name];
      const g = app.generated;
      expect(g.sent).toBeGreaterThan(0);
      expect(g.echoed).toBe(g.sent);
      // Each datagram is an IPv4 header (20), a UDP header (8) and the payload.
      expect(app.counted).toEqual({ txPackets: g.sent, txBytes: g.sent * (28 + app.size), rxPackets: g.echoed, rxBytes: g.echoed * (28 + app.size) });
    }
    expect(out.apps.web.generated.sent).toBeGreaterThan(out.apps.backup.generated.sent);
    expect(r.stdout).toMatch(/\[2s\]\ncgroup +tx pkts +tx bytes +rx pkts +rx bytes\n/);
    expect(leftovers()).toEqual(before);
  });

  it('Ctrl-C stops the apps and removes the cgroups', async () => {
    const before = leftovers();
    const r = await interruptExample('app-traffic', ['--seconds', '30'], /\[1s\]/);
    expect(r.status).toBe(130);
    expect(leftovers()).toEqual(before);
  });
});
