// examples/tc-rewrite.ts: the tc filter rewrites port and TTL with valid checksums (checked on
// the test-run output bytes) and redirects real datagrams to the other port while attached.
import { describe, expect, it } from 'vitest';
import { interruptExample, isRoot, leftovers, runExample } from './run.js';

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/tc-rewrite.ts', () => {
  it('rewrites port and TTL with valid checksums, live and in a test run, and cleans up', () => {
    const before = leftovers();
    const r = runExample('tc-rewrite', ['--seconds', '2', '--from', '1111', '--to', '2222', '--ttl', '42']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.testRun).toEqual({
      retval: 0, // TC_ACT_OK
      before: { dport: 1111, ttl: 64, ipChecksumOk: true, udpChecksumOk: true },
      after: { dport: 2222, ttl: 42, ipChecksumOk: true, udpChecksumOk: true },
      other: { dport: 53, ttl: 64, ipChecksumOk: true, udpChecksumOk: true },
    });
    expect(out.filter.handle).toBeGreaterThan(0);
    expect(out.filter.priority).toBeGreaterThan(0);
    expect(out.attached).toEqual({ sent: 10, receivedOnNew: 10, receivedOnOld: 0, seen: 10, rewritten: 10, payload: 'datagram for port 1111' });
    expect(out.detached).toEqual({ sent: 3, receivedOnOld: 3, receivedOnNew: 0, filtersLeft: 0 });
    expect(leftovers()).toEqual(before);
  });

  it('takes other ports and TTLs from the command line', () => {
    const r = runExample('tc-rewrite', ['--seconds', '1', '--from', '5000', '--to', '6000', '--ttl', '7']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.testRun.after).toEqual({ dport: 6000, ttl: 7, ipChecksumOk: true, udpChecksumOk: true });
    expect(out.attached).toMatchObject({ sent: 5, receivedOnNew: 5, receivedOnOld: 0, rewritten: 5 });
  });

  it('cleans up on SIGTERM', async () => {
    const before = leftovers();
    const r = await interruptExample('tc-rewrite', ['--seconds', '30'], /\[1s\]/, 'SIGTERM');
    expect(r.status).toBe(143);
    expect(leftovers()).toEqual(before);
  });
});
