// tcx links on a real veth pair: chain order, revisions, atomic replace, with pings from
// another namespace and per-program counters that also record the order programs ran in.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BpfError, NotSupportedError, UsageError } from '../../src/errors.js';
import { features } from '../../src/features/index.js';
import { Link, attachTcxLink } from '../../src/link/index.js';
import * as tc from '../../src/tc/index.js';
import * as tcx from '../../src/tcx/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { lacks, needs } from '../helpers/features.js';
import { thrown } from '../helpers/thrown.js';
import { VethNs, sh } from '../link/net.js';
import { Counters, TCX_DROP, TCX_NEXT, TCX_PASS, XDP_PASS, constInsns, counterInsns, prog, type TestProg } from '../link/progs.js';

// Skip reason: tcx links came in Linux 6.6; the tcx tests skip without them (the 6.1 guest) and the
// 'without tcx' test asserts the NotSupportedError, so it skips where tcx exists. Each skipped
// title names the feature and kernel.
describe.runIf(isRoot)('tcx links', () => {
  guardFdLeaks();
  // Every test below needs tcx (6.6); on older kernels they are skipped, naming why, and the
  // last one checks the error those kernels get instead.
  const withTcx = needs('tcx');
  let net: VethNs;
  let counters: Counters;
  const progs: TestProg[] = [];
  const links: Link[] = [];

  beforeAll(() => {
    net = new VethNs();
    counters = new Counters();
    // Programs 0..5 count into their own slot and hand the packet on (TCX_NEXT).
    for (let i = 0; i < 6; i++) progs.push(prog('sched_cls', counterInsns(counters.fd, i, TCX_NEXT), `next${i}`));
  });
  afterEach(() => {
    for (const l of links.splice(0)) l.close();
    counters.reset();
  });
  afterAll(() => {
    for (const p of progs) p.close();
    counters?.close();
    net?.cleanup();
  });
  const keep = (l: Link): Link => (links.push(l), l);
  const p = (i: number): TestProg => progs[i]!;
  const chain = (dir: 'ingress' | 'egress' = 'ingress') => tcx.query(net.ifindex, dir);

  withTcx('orders programs by before/after (link, program, ids, ends) and runs them in that order', () => {
    const a = keep(tcx.attach(net.ifindex, 'ingress', p(0)));
    const b = keep(tcx.attach(net.ifindex, 'ingress', p(1), { after: a })); // after a link
    const c = keep(tcx.attach(net.ifindex, 'ingress', p(2), { before: { progId: p(0).id } })); // before a program, by id
    const d = keep(tcx.attach(net.ifindex, 'ingress', p(3), { before: null })); // first
    const e = keep(tcx.attach(net.ifindex, 'ingress', p(4), { after: null })); // last
    const f = keep(tcx.attach(net.ifindex, 'ingress', p(5), { before: { linkId: b.info().id } })); // before a link, by id
    const order = [d, c, a, f, b, e];
    const progOrder = [3, 2, 0, 5, 1, 4];
    expect(chain().programs).toEqual(order.map((l, i) => ({ progId: p(progOrder[i]!).id, linkId: l.info().id })));

    expect(net.ping(3)).toBe(3);
    const tickets = progOrder.map((i) => counters.ticket(i));
    for (const i of progOrder) expect(counters.count(i)).toBeGreaterThanOrEqual(3);
    // Each packet met the programs in chain order, so the last stamps rise along the chain.
    expect(tickets).toEqual([...tickets].sort((x, y) => x - y));
    expect(new Set(tickets).size).toBe(tickets.length);
  });

  withTcx('a program by fd as the relative, and ordering that decides the verdict', () => {
    const drop = prog('sched_cls', constInsns(TCX_DROP), 'drop');
    const pass = prog('sched_cls', constInsns(TCX_PASS), 'pass');
    try {
      keep(tcx.attach(net.ifindex, 'ingress', p(0)));
      keep(tcx.attach(net.ifindex, 'ingress', drop));
      expect(net.ping(2)).toBe(0);
      expect(counters.count(0)).toBeGreaterThanOrEqual(2); // ran before the drop
      // A PASS verdict ends the chain: placed before the dropper, the pings get through.
      keep(tcx.attach(net.ifindex, 'ingress', pass, { before: drop }));
      expect(chain().programs.map((x) => x.progId)).toEqual([p(0).id, pass.id, drop.id]);
      expect(net.ping(2)).toBe(2);
    } finally {
      for (const l of links.splice(0)) l.close();
      drop.close();
      pass.close();
    }
    expect(net.ping(1)).toBe(1);
  });

  withTcx('the revision changes with every attach, replace and detach; a stale one fails with ESTALE and changes nothing', () => {
    const a = keep(tcx.attach(net.ifindex, 'ingress', p(0)));
    const r1 = chain().revision;
    const b = keep(tcx.attach(net.ifindex, 'ingress', p(1), { expectedRevision: r1 }));
    const r2 = chain().revision;
    expect(r2).toBe(r1 + 1);

    const before = chain();
    let err: unknown;
    try {
      keep(tcx.attach(net.ifindex, 'ingress', p(2), { expectedRevision: r1 }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BpfError);
    expect(err).toMatchObject({ code: 'ESTALE', command: 'BPF_LINK_CREATE' });
    expect((err as Error).message).toContain(`stale revision: expected revision ${r1} but the chain is at revision ${r2}`);
    expect(chain()).toEqual(before);

    b.update(p(3));
    expect(chain().revision).toBe(r2 + 1);
    b.detach();
    expect(chain().revision).toBe(r2 + 2);
    expect(chain().programs).toEqual([{ progId: p(0).id, linkId: a.info().id }]);
    keep(tcx.attach(net.ifindex, 'ingress', p(2), { expectedRevision: r2 + 2 }));
    expect(chain().revision).toBe(r2 + 3);
  });

  withTcx('update() replaces a program in place, atomically: counters switch, position and link stay', () => {
    keep(tcx.attach(net.ifindex, 'ingress', p(0)));
    const mid = keep(tcx.attach(net.ifindex, 'ingress', p(1)));
    keep(tcx.attach(net.ifindex, 'ingress', p(2)));
    const id = mid.info().id;
    expect(net.ping(2)).toBe(2);
    const c1 = counters.count(1);
    expect(c1).toBeGreaterThanOrEqual(2);

    mid.update(p(3), { expected: p(1) });
    expect(chain().programs).toEqual([
      { progId: p(0).id, linkId: expect.any(Number) },
      { progId: p(3).id, linkId: id },
      { progId: p(2).id, linkId: expect.any(Number) },
    ]);
    expect(mid.info()).toMatchObject({ id, type: 'tcx', progId: p(3).id });
    expect(net.ping(2)).toBe(2);
    expect(counters.count(1)).toBe(c1);
    expect(counters.count(3)).toBeGreaterThanOrEqual(2);

    expect(() => mid.update(p(4), { expected: p(1) })).toThrow(/EPERM — the link's program is not the expected one/);
    expect(mid.info().progId).toBe(p(3).id);
  });

  withTcx('tcx runs before legacy tc on the same hook; legacy filters only see what the chain hands on (TCX_NEXT)', () => {
    const drop = prog('sched_cls', constInsns(TCX_DROP), 'legacy_drop');
    const pass = prog('sched_cls', constInsns(TCX_PASS), 'pass');
    const hook = tc.hookCreate({ ifindex: net.ifindex, attachPoint: 'ingress' });
    try {
      tc.attach(hook, { prog: drop });
      expect(net.ping(1)).toBe(0); // legacy drop alone
      keep(tcx.attach(net.ifindex, 'ingress', p(0))); // counts, then TCX_NEXT: legacy still runs
      expect(net.ping(2)).toBe(0);
      expect(counters.count(0)).toBeGreaterThanOrEqual(2);
      const passLink = keep(tcx.attach(net.ifindex, 'ingress', pass)); // TCX_PASS ends it before legacy tc
      expect(net.ping(2)).toBe(2);
      expect(counters.count(0)).toBeGreaterThanOrEqual(4);
      passLink.close();
      expect(net.ping(1)).toBe(0);
    } finally {
      tc.hookDestroy(hook, { force: true });
      drop.close();
      pass.close();
    }
  });

  withTcx('egress: replies leaving our end pass through the egress chain', () => {
    const link = keep(attachTcxLink(net.ifindex, 'egress', p(0)));
    expect(link.info()).toMatchObject({ type: 'tcx', ifindex: net.ifindex, attachType: 'tcx_egress', direction: 'egress' });
    expect(chain('egress').programs).toEqual([{ progId: p(0).id, linkId: link.info().id }]);
    expect(chain('ingress').programs).toEqual([]);
    expect(net.ping(3)).toBe(3);
    expect(counters.count(0)).toBeGreaterThanOrEqual(3);
  });

  withTcx('info, bpftool and Link.fromId agree on our links', () => {
    const a = keep(tcx.attach(net.ifindex, 'ingress', p(0)));
    const info = a.info();
    expect(info).toMatchObject({ type: 'tcx', typeId: 11, ifindex: net.ifindex, attachType: 'tcx_ingress', direction: 'ingress', progId: p(0).id, detached: false });
    const shown = (JSON.parse(sh('bpftool', ['link', 'show', '-j'])) as { id: number; prog_id: number }[]).filter((l) => l.id === info.id);
    expect(shown).toEqual([expect.objectContaining({ id: info.id, prog_id: p(0).id })]);
    const again = Link.fromId(info.id);
    expect(again.info()).toEqual(info);
    again.close();
    expect(chain().programs).toHaveLength(1); // closing a second fd leaves the link
  });

  withTcx('explains refusals: duplicate program, missing relative, wrong program type, no device', () => {
    keep(tcx.attach(net.ifindex, 'ingress', p(0)));
    expect(() => keep(tcx.attach(net.ifindex, 'ingress', p(0)))).toThrow(/EEXIST — this program is already attached/);
    expect(() => keep(tcx.attach(net.ifindex, 'ingress', p(1), { after: { progId: p(2).id } }))).toThrow(
      new RegExp(`ENOENT — the relative program id ${p(2).id} is not attached`),
    );
    const xdp = prog('xdp', constInsns(XDP_PASS));
    try {
      expect(() => keep(tcx.attach(net.ifindex, 'ingress', xdp))).toThrow(/EINVAL — the program is not a sched_cls/);
    } finally {
      xdp.close();
    }
    expect(() => tcx.attach(0x7ffffff0, 'ingress', p(1))).toThrow(/ENODEV — no interface/);
    expect(() => tcx.query(0x7ffffff0, 'ingress')).toThrow(/ENODEV — no interface/);
    expect(() => tcx.attach(net.ifindex, 'sideways' as 'ingress', p(1))).toThrow(UsageError);
    expect(() => tcx.attach(net.ifindex, 'ingress', p(1), { before: { progId: 1 }, after: { progId: 2 } })).toThrow(/not both/);
    expect(() => tcx.attach(net.ifindex, 'ingress', p(1), { expectedRevision: -1 })).toThrow(UsageError);
    expect(chain().programs).toHaveLength(1);
  });

  // Skip reason: checks the NotSupportedError, so it runs only where tcx is absent.
  lacks('tcx')('without tcx, attach and query are NotSupportedError naming Linux 6.6, this kernel and legacy tc', () => {
    const release = features.kernel;
    for (const call of [() => keep(tcx.attach(net.ifindex, 'ingress', p(0))), () => tcx.query(net.ifindex, 'ingress')]) {
      const e = thrown(call);
      expect(e).toBeInstanceOf(NotSupportedError);
      expect((e as NotSupportedError).minKernel).toBe('6.6');
      expect((e as Error).message).toContain(`need Linux 6.6; this kernel is ${release}`);
      expect((e as Error).message).toMatch(/tc\.attach/);
    }
    expect(links).toHaveLength(0);
  });
});
