// examples/xdp-drop.ts: the firewall drops exactly the blocked traffic, passes the rest,
// follows a live map change, and leaves nothing behind (also when interrupted).
import { describe, expect, it } from 'vitest';
import { interruptExample, isRoot, leftovers, runExample } from './run.js';

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/xdp-drop.ts', () => {
  it('drops the blocked port, passes the rest, and lets the port through once unblocked', () => {
    const before = leftovers();
    const r = runExample('xdp-drop', ['--seconds', '2', '--port', '7777']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.sent).toEqual({ pings: 8, pingReplies: 8, udpOpen: 6, udpBlocked: 4 });
    expect(out.received).toEqual({ udpOpen: 6, udpBlocked: 0 });
    // Neighbours are static and IPv6 is off: the program sees only the traffic sent.
    expect(out.counters).toEqual({ passed: 8 + 6, droppedPort: 4, droppedIcmp: 0, portHits: 4, receivedBlocked: 0 });
    expect(out.afterUnblock).toEqual({ sent: 3, received: 3, droppedPort: 4 });
    expect(r.stdout).toMatch(/\[2s\] passed 14 {2}dropped: port 7777 4, icmp 0/);
    expect(leftovers()).toEqual(before);
  });

  it('drops ICMP when the .rodata constant says so', () => {
    const before = leftovers();
    const r = runExample('xdp-drop', ['--seconds', '1', '--icmp', '--port', '4000']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.sent).toEqual({ pings: 4, pingReplies: 0, udpOpen: 3, udpBlocked: 2 });
    expect(out.counters).toEqual({ passed: 3, droppedPort: 2, droppedIcmp: 4, portHits: 2, receivedBlocked: 0 });
    expect(leftovers()).toEqual(before);
  });

  it('cleans up on Ctrl-C', async () => {
    const before = leftovers();
    const r = await interruptExample('xdp-drop', ['--seconds', '30'], /\[1s\]/);
    expect(r.status).toBe(130);
    expect(leftovers()).toEqual(before);
  });

  it('rejects unknown arguments', () => {
    const r = runExample('xdp-drop', ['--bogus']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument --bogus/);
  });
});
