// Links other loaders made: libbpf (C) creates and pins an XDP link and exits; we find it by
// pin and by id, read it, and end it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Link } from '../../src/link/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { VethNs, run, sh } from './net.js';

const SRC = new URL('./fixtures/libbpf_link.c', import.meta.url).pathname;
const haveGcc = spawnSync('gcc', ['--version']).status === 0 && spawnSync('sh', ['-c', 'test -e /usr/include/bpf/bpf.h']).status === 0;

// Needs gcc and libbpf-dev to build the foreign loader; both are in the dev image.
describe.runIf(isRoot && haveGcc)('links made by libbpf', () => {
  guardFdLeaks();
  let net: VethNs;
  let dir: string;
  let bin: string;
  const pinDir = `/sys/fs/bpf/tsbpf-link-foreign-${process.pid}`;
  beforeAll(() => {
    net = new VethNs();
    dir = mkdtempSync(join(tmpdir(), 'tsbpf-libbpf-link-'));
    bin = join(dir, 'libbpf_link');
    execFileSync('gcc', ['-O2', '-o', bin, SRC, '-lbpf']);
    sh('mkdir', ['-p', pinDir]);
  });
  afterAll(() => {
    net?.cleanup();
    rmSync(dir, { recursive: true, force: true });
    run('rm', ['-rf', pinDir]);
  });

  it('a pinned libbpf XDP link: fromPin and fromId read it; unpin + close detaches it', () => {
    const path = `${pinDir}/libbpf-xdp`;
    const made = JSON.parse(sh(bin, [String(net.ifindex), path])) as { linkId: number; progId: number };
    expect(net.ping(1)).toBe(0); // libbpf's drop program, held by the pin alone

    const byId = Link.fromId(made.linkId);
    // The mode as iproute2 reports it (XDP_ATTACHED_DRV 1, XDP_ATTACHED_SKB 2).
    const mode = ({ 1: 'drv', 2: 'skb' } as Record<number, string>)[net.linkJson().xdp?.mode ?? 0];
    expect(byId.info()).toEqual({ id: made.linkId, typeId: 6, type: 'xdp', progId: made.progId, ifindex: net.ifindex, mode, detached: false });
    byId.close();

    const link = Link.fromPin(path);
    expect(link.info().id).toBe(made.linkId);
    link.unpin();
    link.close();
    expect(net.linkJson().xdp).toBeUndefined();
    expect(net.ping(2)).toBe(2);
  });
});
