// examples/pinned-maps.ts: a second process opens the pinned map by path and both see each
// other's writes; a second load reuses the pin; the pin is gone afterwards.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interruptExample, isRoot, leftovers, runExample } from './run.js';

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/pinned-maps.ts', () => {
  it('shares one map between two processes through its pin, then unpins', () => {
    const before = leftovers();
    const r = runExample('pinned-maps', ['--seconds', '2']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.pinPath).toMatch(/^\/sys\/fs\/bpf\/tsbpf-ex-\d+-\d+\/shared_counts$/);
    expect(out.fromB).toMatchObject({ mapId: out.mapId, mapName: 'shared_counts', readOnlyUpdate: 'EPERM' });
    // B writes one update every 250 ms for 2 s; A reads exactly what B wrote.
    expect(out.fromB.updates).toBeGreaterThanOrEqual(6);
    expect(out.seenByA).toEqual({ runs: out.aRuns, bUpdates: out.fromB.updates, bSaw: out.fromB.lastSeen });
    // B read counts that A's program made.
    expect(out.fromB.lastSeen).toBeGreaterThan(0);
    expect(out.fromB.lastSeen).toBeLessThanOrEqual(out.aRuns);
    expect(out.reuse).toEqual({ sameMap: true, runsBefore: out.aRuns, runsAfter: out.aRuns + 1 });
    expect(out.unpinned).toBe(true);
    expect(existsSync(out.pinPath)).toBe(false);
    expect(leftovers()).toEqual(before);
  });

  it('removes its pins on Ctrl-C', async () => {
    const before = leftovers();
    // Interrupted once B has the pin open (B starts its own tsx: on a busy machine that can take
    // longer than A's first second), so that both processes are running when Ctrl-C comes.
    const r = await interruptExample('pinned-maps', ['--seconds', '30'], /\| B \(pid \d+\) opened[^]*\[\d+s\]/);
    expect(r.status).toBe(130);
    expect(leftovers()).toEqual(before);
  });
});
