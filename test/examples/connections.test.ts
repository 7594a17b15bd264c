// examples/connections.ts: the table built from the tracepoint's events shows each connection
// from both ends, ESTABLISHED while open and gone (CLOSE) once closed; nothing left behind.
import { describe, expect, it } from 'vitest';
import { interruptExample, isRoot, leftovers, runExample } from './run.js';

// Needs root (loads programs, makes a namespace); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/connections.ts', () => {
  it('sees three connections open (both ends) and one of them close', () => {
    const before = leftovers();
    const r = runExample('connections', ['--seconds', '2']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    const server = `${out.server}:${out.port}`;
    const established = out.open.filter((c: { state: string }) => c.state === 'ESTABLISHED');
    // Two connections left, each seen from the client and from the server.
    expect(established).toHaveLength(4);
    expect(established.filter((c: { remote: string }) => c.remote === server)).toHaveLength(2);
    expect(established.filter((c: { local: string }) => c.local === server)).toHaveLength(2);
    expect(out.open).toContainEqual({ local: server, remote: '0.0.0.0:0', state: 'LISTEN' });
    // The closed one, from both ends.
    expect(out.closed).toHaveLength(2);
    expect(out.closed.every((c: { state: string }) => c.state === 'CLOSE')).toBe(true);
    const [client] = out.closed.filter((c: { remote: string }) => c.remote === server);
    expect(out.closed).toContainEqual({ local: server, remote: client.local, state: 'CLOSE' });
    expect(out.lost).toBe(0);
    expect(r.stdout).toMatch(/\(5 open, 2 closed, \d+ events\)/);
    expect(leftovers()).toEqual(before);
  });

  it('Ctrl-C detaches and removes the namespace', async () => {
    const before = leftovers();
    const r = await interruptExample('connections', ['--seconds', '30'], /\[1s\]/);
    expect(r.status).toBe(130);
    expect(leftovers()).toEqual(before);
  });
});
