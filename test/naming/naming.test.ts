// One way to name things (issue 15): every interface argument takes a name or an index, an XDP
// link reports its mode, both XDP attach paths name the program in the way, a missing or
// non-ELF object file is named with its errno, and a tc replace keeps the filter's protocol.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/object/index.js';
import { BpfProgram } from '../../src/programs/index.js';
import { BpfError, ElfError, NetlinkError, UsageError } from '../../src/errors.js';
import * as xdp from '../../src/xdp/index.js';
import * as tc from '../../src/tc/index.js';
import * as tcx from '../../src/tcx/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { needs } from '../helpers/features.js';
import { VethNs, run } from '../link/net.js';
import { TCX_PASS, XDP_PASS, constInsns, prog, type TestProg } from '../link/progs.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('BpfObject.open names the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-naming-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a missing file: UsageError with code 'ENOENT' and the path", () => {
    const path = join(dir, 'missing.o');
    const e = thrown(() => BpfObject.open(path));
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).code).toBe('ENOENT');
    expect(e.message).toContain(path);
  });

  it("a directory: UsageError with code 'EISDIR'", () => {
    const e = thrown(() => BpfObject.open(dir));
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).code).toBe('EISDIR');
  });

  it('a file that is not ELF: ElfError naming the file', () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'not an object file at all, just some text');
    const e = thrown(() => BpfObject.open(path));
    expect(e).toBeInstanceOf(ElfError);
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/not an ELF file/);
    // Bytes have no file name, and the message does not invent one.
    const b = thrown(() => BpfObject.open(new TextEncoder().encode('nope')));
    expect(b).toBeInstanceOf(ElfError);
    expect(b.message).not.toContain(dir);
  });
});

describe.runIf(isRoot)('interfaces by name or index, and what holds a hook', () => {
  guardFdLeaks();
  let net: VethNs;
  let pass: TestProg;
  let other: TestProg;
  let cls: TestProg;
  const open: { close(): void }[] = [];
  const keep = <T extends { close(): void }>(x: T): T => (open.push(x), x);

  beforeAll(() => {
    net = new VethNs();
    pass = prog('xdp', constInsns(XDP_PASS), 'pass_a');
    other = prog('xdp', constInsns(XDP_PASS), 'pass_b');
    cls = prog('sched_cls', constInsns(TCX_PASS), 'cls_a');
  });
  afterEach(() => {
    for (const o of open.splice(0).reverse()) o.close();
    run('ip', ['link', 'set', 'dev', net.hostIf, 'xdp', 'off']);
  });
  afterAll(() => {
    pass?.close();
    other?.close();
    cls?.close();
    net?.cleanup();
  });

  // Skip reason: needs xdp_link; skipped where absent or refused (the title says which).
  needs('xdp_link')('prog.attachXdp takes a name; Link.info() reports the mode the kernel chose', () => {
    using p = BpfProgram.fromFd(pass.fd);
    const skb = keep(p.attachXdp(net.hostIf, { mode: 'skb' }));
    expect(skb.info()).toMatchObject({ type: 'xdp', ifindex: net.ifindex, mode: 'skb', progId: pass.id });
    expect(xdp.query(net.hostIf).skbProgId).toBe(pass.id);
    skb.close();
    // Unset mode: the kernel picks native on a veth; info says so, as xdp.query does.
    const chosen = keep(p.attachXdp(net.ifindex));
    expect(chosen.info()).toMatchObject({ mode: 'drv' });
    expect(xdp.query(net.ifindex).drvProgId).toBe(pass.id);
  });

  // Skip reason: needs xdp_link; skipped where absent or refused (the title says which).
  needs('xdp_link')('an unknown interface name is the same NetlinkError ENODEV on every path', () => {
    using p = BpfProgram.fromFd(pass.fd);
    for (const call of [() => p.attachXdp('tsbpf-nope0'), () => xdp.attach('tsbpf-nope0', pass)]) {
      const e = thrown(call);
      expect(e).toBeInstanceOf(NetlinkError);
      expect((e as NetlinkError).code).toBe('ENODEV');
      expect(e.message).toContain('no interface named "tsbpf-nope0"');
    }
    expect(thrown(() => p.attachXdp(0))).toBeInstanceOf(UsageError);
  });

  // Skip reason: needs xdp_link; skipped where absent or refused (the title says which).
  needs('xdp_link')('EBUSY of attachXdp names the program in the way, as the netlink path does', () => {
    using p = BpfProgram.fromFd(other.fd);
    // A netlink program there: the link path names it and says to detach it.
    xdp.attach(net.hostIf, pass, { mode: 'skb' });
    const viaLink = thrown(() => p.attachXdp(net.hostIf, { mode: 'skb' }));
    expect(viaLink).toBeInstanceOf(BpfError);
    expect((viaLink as BpfError).code).toBe('EBUSY');
    expect(viaLink.message).toContain(`program ${pass.id} "pass_a" in skb mode, attached through netlink (no bpf_link)`);
    expect(viaLink.message).toMatch(/detach it first/);
    const viaNetlink = thrown(() => xdp.attach(net.hostIf, other, { mode: 'skb' }));
    expect(viaNetlink.message).toContain(`program ${pass.id} "pass_a" in skb mode, attached through netlink (no bpf_link)`);
    xdp.detach(net.hostIf);
    // A link there: both paths name the link, and the link path says to update or close it.
    using q = BpfProgram.fromFd(pass.fd);
    const link = keep(q.attachXdp(net.hostIf, { mode: 'skb' }));
    const held = `program ${pass.id} "pass_a" in skb mode, held by bpf_link ${link.info().id}`;
    const e = thrown(() => p.attachXdp(net.hostIf, { mode: 'skb' }));
    expect(e.message).toContain(held);
    expect(e.message).toMatch(/update that link .* or close or unpin it/);
    expect(e.message).not.toMatch(/xdp\.detach/);
    expect(thrown(() => xdp.attach(net.hostIf, other, { mode: 'skb', force: true })).message).toContain(held);
    // The same program again: said plainly.
    const again = thrown(() => q.attachXdp(net.hostIf, { mode: 'skb' }));
    expect(again.message).toMatch(/already attached there: program \d+ "pass_a"/);
  });

  // Skip reason: needs tcx; skipped where absent or refused (the title says which).
  needs('tcx')('tcx.attach, prog.attachTcx and tcx.query take a name', () => {
    using p = BpfProgram.fromFd(cls.fd);
    const cls2 = keep(prog('sched_cls', constInsns(TCX_PASS), 'cls_b'));
    const a = keep(p.attachTcx(net.hostIf, 'ingress'));
    const b = keep(tcx.attach(net.hostIf, 'ingress', cls2, { after: p }));
    const byName = tcx.query(net.hostIf, 'ingress');
    expect(byName).toEqual(tcx.query(net.ifindex, 'ingress'));
    expect(byName.programs).toEqual([
      { progId: cls.id, linkId: a.info().id },
      { progId: cls2.id, linkId: b.info().id },
    ]);
    expect(thrown(() => tcx.query('tsbpf-nope0', 'ingress'))).toBeInstanceOf(NetlinkError);
  });

  it('tc: a replace keeps the protocol; a different one is explained', () => {
    const hook = tc.hookCreate({ ifindex: net.hostIf, attachPoint: 'ingress' });
    try {
      const f = tc.attach(hook, { prog: cls, protocol: 'ip' });
      // Defaults count down from 49152: the first default filter gets it, the next one less.
      const g = tc.attach(hook, { prog: cls });
      expect(f.priority).toBe(49152);
      expect(g.priority).toBe(49151);
      tc.attach(hook, { prog: cls, replace: true, handle: f.handle, priority: f.priority });
      expect(tc.query(hook, f).protocol).toBe(0x0800);
      const e = thrown(() => tc.attach(hook, { prog: cls, replace: true, handle: f.handle, priority: f.priority, protocol: 'ipv6' }));
      expect(e).toBeInstanceOf(NetlinkError);
      expect((e as NetlinkError).code).toBe('EINVAL');
      expect(e.message).toContain(`the filter at handle ${f.handle} priority ${f.priority} matches protocol 'ip', and a replace cannot change it (asked for 'ipv6')`);
      expect(tc.query(hook, f).protocol).toBe(0x0800);
    } finally {
      tc.hookDestroy(hook);
    }
  });
});
