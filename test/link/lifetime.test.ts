// Who keeps an attachment alive: a process that dies takes its links with it (the kernel
// closes its fds), a pin outlives it, and another process can reopen and end it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Link } from '../../src/link/index.js';
import { query as tcxQuery } from '../../src/tcx/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { VethNs, run, sh } from './net.js';

const CHILD = new URL('./fixtures/attach-child.ts', import.meta.url).pathname;

interface Child {
  proc: ChildProcess;
  linkId: number;
  progId: number;
}

const children = new Set<ChildProcess>();

async function startChild(kind: 'xdp' | 'tcx', ifindex: number, verdict: 'pass' | 'drop', pin = '-'): Promise<Child> {
  const proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, kind, String(ifindex), verdict, pin], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  proc.once('close', () => children.delete(proc));
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: proc.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    proc.once('close', (code) => reject(new Error(`child exited (${code}) before attaching: ${stderr}`)));
  });
  lines.close();
  return { proc, ...(JSON.parse(first) as { linkId: number; progId: number }) };
}

async function sigkill(c: Child): Promise<void> {
  const exited = new Promise((r) => c.proc.once('close', r));
  c.proc.kill('SIGKILL');
  await exited;
}

function linkIds(): number[] {
  return (JSON.parse(sh('bpftool', ['link', 'show', '-j'])) as { id: number }[]).map((l) => l.id);
}

describe.runIf(isRoot)('link lifetime across processes', () => {
  guardFdLeaks();
  let net: VethNs;
  const pinDir = `/sys/fs/bpf/tsbpf-link-life-${process.pid}`;
  beforeAll(() => {
    net = new VethNs();
    sh('mkdir', ['-p', pinDir]);
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL'); // only after a failed test
    net?.cleanup();
    run('rm', ['-rf', pinDir]);
  });

  it('an XDP link dies with its process: SIGKILL empties the hook', async () => {
    const child = await startChild('xdp', net.ifindex, 'drop');
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: child.progId } });
    expect(net.ping(1)).toBe(0);
    await sigkill(child);
    expect(net.linkJson().xdp).toBeUndefined();
    expect(linkIds()).not.toContain(child.linkId);
    expect(net.ping(2)).toBe(2);
  });

  it('a tcx link dies with its process too', async () => {
    const child = await startChild('tcx', net.ifindex, 'drop');
    expect(tcxQuery(net.ifindex, 'ingress').programs).toEqual([{ progId: child.progId, linkId: child.linkId }]);
    expect(net.ping(1)).toBe(0);
    await sigkill(child);
    expect(tcxQuery(net.ifindex, 'ingress').programs).toEqual([]);
    expect(net.ping(2)).toBe(2);
  });

  it('garbage collection never detaches: an unreferenced, collected Link keeps the hook until exit', async () => {
    const child = await startChild('xdp', net.ifindex, 'drop', 'gc');
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: child.progId } });
    expect(net.ping(1)).toBe(0);
    expect(linkIds()).toContain(child.linkId);
    await sigkill(child);
    expect(net.linkJson().xdp).toBeUndefined();
  });

  it('a pinned link outlives its process; the parent finds it with fromPin, unpins and closes it', async () => {
    const path = `${pinDir}/child-xdp`;
    const child = await startChild('xdp', net.ifindex, 'drop', path);
    await sigkill(child);
    // Still attached, still dropping, though its creator is gone.
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: child.progId } });
    expect(net.ping(1)).toBe(0);

    const link = Link.fromPin(path);
    expect(link.info()).toMatchObject({ id: child.linkId, type: 'xdp', ifindex: net.ifindex, progId: child.progId });
    link.unpin();
    expect(net.linkJson().xdp).toBeDefined(); // our fd still holds it
    link.close();
    expect(net.linkJson().xdp).toBeUndefined();
    expect(linkIds()).not.toContain(child.linkId);
    expect(net.ping(2)).toBe(2);
  });

  it("another process's link, opened by id, is shared: closing ours leaves theirs; holding ours outlives theirs", async () => {
    const child = await startChild('xdp', net.ifindex, 'drop');
    const theirs = Link.fromId(child.linkId);
    expect(theirs.info()).toMatchObject({ id: child.linkId, type: 'xdp', progId: child.progId, detached: false });
    theirs.close();
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: child.progId } });

    const held = Link.fromId(child.linkId);
    await sigkill(child);
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: child.progId } }); // our fd keeps it
    expect(net.ping(1)).toBe(0);
    held.close();
    expect(net.linkJson().xdp).toBeUndefined();
    expect(net.ping(2)).toBe(2);
  });

  it('detach() through a reopened link ends it for its owner too', async () => {
    const child = await startChild('tcx', net.ifindex, 'drop');
    const link = Link.fromId(child.linkId);
    link.detach();
    expect(tcxQuery(net.ifindex, 'ingress').programs).toEqual([]);
    expect(net.ping(2)).toBe(2);
    expect(link.info()).toMatchObject({ type: 'tcx', ifindex: 0, detached: true });
    link.close();
    await sigkill(child);
  });
});
