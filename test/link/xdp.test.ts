// XDP through bpf links, on a real veth pair with packets from another namespace.
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BpfError, UsageError } from '../../src/errors.js';
import { Link, attachXdpLink } from '../../src/link/index.js';
import { objPin } from '../../src/syscall/bpf.js';
import * as xdp from '../../src/xdp/index.js';
import { listLinks } from '../../src/programs/list.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { VethNs, run, sh } from './net.js';
import { Counters, XDP_DROP, XDP_PASS, constInsns, counterInsns, prog, type TestProg } from './progs.js';
import { inPrivateBpffs, runInPrivateBpffs } from '../helpers/reference-tools.js';

const XDP_ATTACHED_DRV = 1;
const XDP_ATTACHED_SKB = 2;
const XDP_OBJ = 'examples/bpf/xdp_stats.o';

describe.runIf(isRoot)('XDP links', () => {
  guardFdLeaks();
  let net: VethNs;
  let counters: Counters;
  let pass0: TestProg;
  let pass1: TestProg;
  let drop: TestProg;
  const open: { close(): void }[] = [];
  const pinDir = `/sys/fs/bpf/tsbpf-link-xdp-${process.pid}`;

  beforeAll(() => {
    net = new VethNs();
    counters = new Counters();
    pass0 = prog('xdp', counterInsns(counters.fd, 0, XDP_PASS), 'count0');
    pass1 = prog('xdp', counterInsns(counters.fd, 1, XDP_PASS), 'count1');
    drop = prog('xdp', constInsns(XDP_DROP), 'drop');
    sh('mkdir', ['-p', pinDir]);
  });
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
    run('ip', ['link', 'set', 'dev', net.hostIf, 'xdp', 'off']);
    counters.reset();
  });
  afterAll(() => {
    pass0?.close();
    pass1?.close();
    drop?.close();
    counters?.close();
    net?.cleanup();
    run('rm', ['-rf', pinDir]);
  });
  const keep = <T extends { close(): void }>(x: T): T => (open.push(x), x);

  it('runs the program on real packets, and closing the link empties the hook', () => {
    const link = keep(attachXdpLink(net.ifindex, pass0));
    expect(net.ping(3)).toBe(3);
    expect(counters.count(0)).toBeGreaterThanOrEqual(3);
    const info = link.info();
    expect(info).toMatchObject({ type: 'xdp', ifindex: net.ifindex, progId: pass0.id, detached: false });
    expect(info.id).toBeGreaterThan(0);
    // iproute2 sees our program in native mode.
    expect(net.linkJson().xdp).toMatchObject({ mode: XDP_ATTACHED_DRV, prog: { id: pass0.id } });

    link.close();
    expect(net.linkJson().xdp).toBeUndefined();
    const before = counters.count(0);
    expect(net.ping(2)).toBe(2);
    expect(counters.count(0)).toBe(before);
    link.close(); // idempotent
    expect(() => link.fd).toThrow(UsageError);
    expect(() => link.info()).toThrow(/link is closed/);
  });

  it('a drop program drops the pings while attached, and only then', () => {
    const link = keep(attachXdpLink(net.ifindex, drop));
    expect(net.ping(2)).toBe(0);
    link.close();
    expect(net.ping(2)).toBe(2);
  });

  it("attaches in generic mode with { mode: 'skb' }", () => {
    keep(attachXdpLink(net.ifindex, pass0, { mode: 'skb' }));
    expect(net.linkJson().xdp).toMatchObject({ mode: XDP_ATTACHED_SKB, prog: { id: pass0.id } });
    expect(net.ping(2)).toBe(2);
    expect(counters.count(0)).toBeGreaterThanOrEqual(2);
  });

  it('while our link is attached, netlink can neither replace nor remove the program', () => {
    keep(attachXdpLink(net.ifindex, pass0));
    const replace = runInPrivateBpffs('ip', ['link', 'set', 'dev', net.hostIf, 'xdp', 'obj', XDP_OBJ, 'sec', 'xdp']);
    expect(replace.status).not.toBe(0);
    expect(replace.stderr).toContain("Can't replace active BPF XDP link");
    const off = run('ip', ['link', 'set', 'dev', net.hostIf, 'xdp', 'off']);
    expect(off.stderr).toContain("Can't replace active BPF XDP link");
    // bpftool's netlink attach is refused the same way.
    const pinned = `${pinDir}/drop`;
    sh('bpftool', ['prog', 'pin', 'id', String(drop.id), pinned]);
    const bt = run('bpftool', ['net', 'attach', 'xdp', 'pinned', pinned, 'dev', net.hostIf, 'overwrite']);
    run('rm', ['-f', pinned]);
    expect(bt.status).not.toBe(0);
    // So is tsbpf's own netlink attach, even with `force`, and its detach.
    for (const opts of [{}, { force: true }]) {
      let err: unknown;
      try {
        xdp.attach(net.ifindex, drop, opts);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BpfError);
      expect((err as Error).message).toContain("Can't replace active BPF XDP link");
    }
    expect(() => xdp.detach(net.ifindex)).toThrow("Can't replace active BPF XDP link");
    // Our program is still the one running.
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: pass0.id } });
    expect(net.ping(2)).toBe(2);
    expect(counters.count(0)).toBeGreaterThanOrEqual(2);
  });

  it('a link cannot take a hook held by a netlink attach, and says why', () => {
    xdp.attach(net.ifindex, drop, { mode: 'drv' });
    let err: unknown;
    try {
      keep(attachXdpLink(net.ifindex, pass0));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ code: 'EBUSY', command: 'BPF_LINK_CREATE' });
    expect((err as Error).message).toContain(`the hook holds program ${drop.id} "drop" in drv mode, attached through netlink (no bpf_link)`);
    expect(xdp.query(net.ifindex).drvProgId).toBe(drop.id); // untouched
    xdp.detach(net.ifindex);
    // ip's attach of an ELF object holds the hook the same way.
    inPrivateBpffs('ip', ['link', 'set', 'dev', net.hostIf, 'xdpdrv', 'obj', XDP_OBJ, 'sec', 'xdp']);
    expect(() => keep(attachXdpLink(net.ifindex, pass0))).toThrow(expect.objectContaining({ code: 'EBUSY' }));
  });

  it('a second link on the same hook fails with EBUSY; native and generic together with EEXIST', () => {
    keep(attachXdpLink(net.ifindex, pass0, { mode: 'drv' }));
    expect(() => keep(attachXdpLink(net.ifindex, pass1, { mode: 'drv' }))).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    expect(() => keep(attachXdpLink(net.ifindex, pass1, { mode: 'skb' }))).toThrow(/EEXIST — .*native \('drv'\) and generic \('skb'\)/);
  });

  it('update() swaps the program atomically, with and without an expected program', () => {
    const link = keep(attachXdpLink(net.ifindex, pass0));
    expect(net.ping(2)).toBe(2);
    const c0 = counters.count(0);
    expect(c0).toBeGreaterThanOrEqual(2);

    link.update(pass1, { expected: pass0 });
    expect(link.info().progId).toBe(pass1.id);
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: pass1.id } });
    expect(net.ping(2)).toBe(2);
    expect(counters.count(0)).toBe(c0); // the old program no longer runs
    expect(counters.count(1)).toBeGreaterThanOrEqual(2);

    // A stale expectation changes nothing and says so.
    let err: unknown;
    try {
      link.update(drop, { expected: pass0 });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'EPERM', command: 'BPF_LINK_UPDATE' });
    expect((err as Error).message).toContain("the link's program is not the expected one");
    expect(link.info().progId).toBe(pass1.id);
    expect(net.ping(1)).toBe(1);

    link.update(drop); // unconditional
    expect(net.ping(2)).toBe(0);
  });

  it('detach() frees the hook; the fd stays open on a defunct link', () => {
    const link = keep(attachXdpLink(net.ifindex, drop));
    expect(net.ping(1)).toBe(0);
    link.detach();
    expect(net.linkJson().xdp).toBeUndefined();
    expect(net.ping(2)).toBe(2);
    expect(link.closed).toBe(false);
    expect(link.info()).toMatchObject({ type: 'xdp', ifindex: 0, detached: true, progId: drop.id });
    expect(() => link.update(pass0)).toThrow(/ENOLINK — the link is detached/);
    // The hook is free for someone else now.
    keep(attachXdpLink(net.ifindex, pass0));
    link.close();
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: pass0.id } });
  });

  it('pin() keeps the attachment past close(); fromPin/fromId reopen it; unpin + close detaches', () => {
    const path = `${pinDir}/xdp-link`;
    const link = attachXdpLink(net.ifindex, pass0);
    const { id } = link.info();
    link.pin(path);
    expect(link.pinnedPath).toBe(path);
    link.close();
    expect(existsSync(path)).toBe(true);
    expect(net.ping(2)).toBe(2);
    expect(counters.count(0)).toBeGreaterThanOrEqual(2);

    const byId = keep(Link.fromId(id));
    expect(byId.info()).toMatchObject({ id, type: 'xdp', ifindex: net.ifindex, progId: pass0.id });
    byId.close();

    const again = keep(Link.fromPin(path));
    expect(again.pinnedPath).toBe(path);
    expect(again.info()).toMatchObject({ id, progId: pass0.id });
    again.unpin();
    expect(existsSync(path)).toBe(false);
    expect(net.linkJson().xdp).toMatchObject({ prog: { id: pass0.id } }); // still held by `again`
    again.close();
    expect(net.linkJson().xdp).toBeUndefined();
    expect(() => Link.fromId(id)).toThrow(new RegExp(`ENOENT — there is no link with id ${id}`));
  });

  it('fromPin refuses a pinned object that is not a link, without leaking its fd', () => {
    const path = `${pinDir}/a-map`;
    objPin(counters.fd, path);
    expect(() => Link.fromPin(path)).toThrow(/the object pinned at .* is not a BPF link \(it is a BPF map\)/);
    expect(() => Link.fromPin(`${pinDir}/nothing`)).toThrow(/ENOENT — nothing is pinned/);
    run('rm', ['-f', path]);
    const link = keep(attachXdpLink(net.ifindex, pass0));
    expect(() => link.unpin()).toThrow(/not pinned/);
  });

  it('Symbol.dispose closes the link (using)', () => {
    {
      using link = attachXdpLink(net.ifindex, pass0);
      expect(link.info().type).toBe('xdp');
      expect(net.linkJson().xdp).toBeDefined();
    }
    expect(net.linkJson().xdp).toBeUndefined();
  });

  it('bpftool and listLinks() see exactly our link and program', () => {
    const link = keep(attachXdpLink(net.ifindex, pass0));
    const { id } = link.info();
    const links = JSON.parse(sh('bpftool', ['link', 'show', '-j'])) as { id: number; type: string; prog_id: number }[];
    expect(links.filter((l) => l.id === id)).toEqual([expect.objectContaining({ id, type: 'xdp', prog_id: pass0.id })]);
    // The programs engineer's system-wide listing uses the same decoder.
    expect(listLinks().filter((l) => l.id === id)).toEqual([link.info()]);
    const netShow = JSON.parse(sh('bpftool', ['net', 'show', '-j'])) as { xdp: { ifindex: number; id: number; mode: string }[] }[];
    expect(netShow[0]!.xdp.filter((x) => x.ifindex === net.ifindex)).toEqual([
      expect.objectContaining({ ifindex: net.ifindex, id: pass0.id, mode: 'driver' }),
    ]);
  });

  it('rejects bad input before the kernel, and explains kernel refusals', () => {
    expect(() => attachXdpLink(0, pass0)).toThrow(UsageError);
    expect(() => attachXdpLink(net.ifindex, pass0, { mode: 'turbo' as 'skb' })).toThrow(/'skb', 'drv' or 'hw'/);
    expect(() => attachXdpLink(net.ifindex, { fd: -1 })).toThrow(UsageError);
    expect(() => attachXdpLink(0x7ffffff0, pass0)).toThrow(/EINVAL — no interface with index/);
    const tc = prog('sched_cls', constInsns(0));
    try {
      expect(() => attachXdpLink(net.ifindex, tc)).toThrow(/EINVAL — the program is not an XDP program/);
    } finally {
      tc.close();
    }
    expect(() => attachXdpLink(net.ifindex, pass0, { mode: 'hw' })).toThrow(/'hw' needs a device that offloads XDP/);
  });
});
