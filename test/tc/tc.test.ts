// Legacy tc (clsact + direct-action cls_bpf) over rtnetlink with real packets: pings from a
// private namespace cross the host end's ingress (requests) and egress (replies).
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError, UsageError } from '../../src/errors.js';
import { NetlinkRequestError } from '../../src/netlink/errors.js';
import * as tc from '../../src/tc/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { createVethPair, sh, type VethPair } from '../helpers/netns.js';
import {
  actionProgram,
  compileBpf,
  type Counter,
  counterMap,
  countingProgram,
  removeObject,
  TC_ACT_OK,
  TC_ACT_SHOT,
  type TinyProg,
  XDP_PASS,
} from '../helpers/tiny-prog.js';
import { thrown as thrownAs } from '../helpers/thrown.js';
import { inPrivateBpffs } from '../helpers/reference-tools.js';
const thrown = (fn: () => unknown) => thrownAs<NetlinkRequestError>(fn);


function qdiscs(dev: string): { kind: string; handle: string }[] {
  return JSON.parse(sh('tc', ['-j', 'qdisc', 'show', 'dev', dev])) as { kind: string; handle: string }[];
}

const hasClsact = (dev: string): boolean => qdiscs(dev).some((q) => q.kind === 'clsact');

describe.runIf(isRoot)('tc (clsact + cls_bpf) over netlink', () => {
  guardFdLeaks();
  let v: VethPair;
  let counter: Counter;
  let drop: TinyProg;
  let ok: TinyProg;
  let countOk: TinyProg;
  let otherObj: string;

  beforeAll(() => {
    v = createVethPair();
    counter = counterMap('tc_count');
    drop = countingProgram('tc', TC_ACT_SHOT, counter, 'ts_tc_drop');
    countOk = countingProgram('tc', TC_ACT_OK, counter, 'ts_tc_cntok');
    ok = actionProgram('tc', TC_ACT_OK, 'ts_tc_ok');
    otherObj = compileBpf(new URL('./fixtures/tc_other.c', import.meta.url).pathname);
  });

  afterEach(() => {
    // Our veth, our qdiscs: start every test from a bare interface.
    spawnSync('tc', ['qdisc', 'del', 'dev', v.host, 'clsact'], { stdio: 'ignore' });
    spawnSync('tc', ['qdisc', 'del', 'dev', v.host, 'ingress'], { stdio: 'ignore' });
  });

  afterAll(() => {
    for (const p of [drop, ok, countOk]) p?.close();
    counter?.close();
    v?.destroy();
    if (otherObj) removeObject(otherObj);
  });

  it('hookCreate adds a clsact qdisc, and an existing one is not an error', () => {
    expect(hasClsact(v.host)).toBe(false);
    const ingress = tc.hookCreate({ ifindex: v.hostIndex, attachPoint: 'ingress' });
    expect(ingress).toEqual({ ifindex: v.hostIndex, attachPoint: 'ingress', parent: 0xfffffff2, existed: false });
    expect(hasClsact(v.host)).toBe(true);
    const egress = tc.hookCreate({ ifindex: v.host, attachPoint: 'egress' });
    expect(egress).toEqual({ ifindex: v.hostIndex, attachPoint: 'egress', parent: 0xfffffff3, existed: true });
  });

  it('an ingress drop filter stops pings and counts them; the kernel picks handle and priority', () => {
    const hook = tc.hookCreate({ ifindex: v.host, attachPoint: 'ingress' });
    expect(v.ping(2).received).toBe(2);
    const before = counter.read();
    const a = tc.attach(hook, { prog: drop });
    expect(a).toEqual({ handle: 1, priority: 0xc000, progId: drop.id });
    expect(v.ping(5)).toEqual({ sent: 5, received: 0 });
    expect(counter.read() - before).toBe(5n);

    // tc(8) sees our filter as we made it.
    const shown = sh('tc', ['filter', 'show', 'dev', v.host, 'ingress']);
    expect(shown).toContain(`pref ${0xc000} bpf chain 0 handle 0x1 ts_tc_drop direct-action`);
    expect(shown).toContain(`id ${drop.id} name ts_tc_drop`);

    tc.detach(hook, a);
    expect(v.ping(2).received).toBe(2);
    expect(tc.list(hook)).toEqual([]);
  });

  it('an egress filter sees the replies', () => {
    const hook = tc.hookCreate({ ifindex: v.host, attachPoint: 'egress' });
    const before = counter.read();
    tc.attach(hook, { prog: drop, handle: 7, priority: 3, protocol: 'ip' });
    expect(v.ping(3).received).toBe(0);
    expect(counter.read() - before).toBe(3n); // three echo requests in, three replies dropped out
    expect(tc.list(hook)).toEqual([
      expect.objectContaining({ handle: 7, priority: 3, protocol: 0x0800, progId: drop.id, name: 'ts_tc_drop', directAction: true }),
    ]);
  });

  it('never replaces silently; replace: true swaps the program at (handle, priority)', () => {
    const hook = tc.hookCreate({ ifindex: v.host, attachPoint: 'ingress' });
    tc.attach(hook, { prog: drop, handle: 1, priority: 1 });
    const e = thrown(() => tc.attach(hook, { prog: ok, handle: 1, priority: 1 }));
    expect(e).toBeInstanceOf(NetlinkError);
    expect(e.code).toBe('EEXIST');
    expect(e.command).toBe('RTM_NEWTFILTER');
    expect(e.extack).toBe('Filter already exists');
    expect(e.message).toContain(`handle 1 priority 1 already holds a bpf filter running program ${drop.id} "ts_tc_drop"`);
    expect(tc.query(hook, { handle: 1, priority: 1 }).progId).toBe(drop.id);
    expect(v.ping(2).received).toBe(0);

    const before = counter.read();
    expect(tc.attach(hook, { prog: countOk, handle: 1, priority: 1, replace: true })).toEqual({
      handle: 1,
      priority: 1,
      progId: countOk.id,
    });
    expect(v.ping(3).received).toBe(3);
    expect(counter.read() - before).toBe(3n);
    expect(tc.list(hook)).toHaveLength(1);
  });

  it('query describes a filter; a missing one is a clear error that keeps errno and extack', () => {
    const hook = tc.hookCreate({ ifindex: v.host, attachPoint: 'ingress' });
    // No filters at all: the kernel speaks of the chain, with EINVAL.
    const none = thrown(() => tc.query(hook, { handle: 1, priority: 1 }));
    expect(none.code).toBe('EINVAL');
    expect(none.extack).toBe('Cannot find specified filter chain');
    expect(none.message).toContain('no filter with handle 1 and priority 1 on');
    expect(none.message).toContain('the hook has no filters at all');

    const a = tc.attach(hook, { prog: ok, handle: 2, priority: 5 });
    const f = tc.query(hook, a);
    expect(f).toMatchObject({ handle: 2, priority: 5, protocol: 3, kind: 'bpf', progId: ok.id, name: 'ts_tc_ok', filterName: 'ts_tc_ok', directAction: true });
    expect(f.tag).toMatch(/^[0-9a-f]{16}$/);

    const wrongPrio = thrown(() => tc.query(hook, { handle: 2, priority: 6 }));
    expect(wrongPrio.code).toBe('ENOENT');
    expect(wrongPrio.extack).toBe('Filter with specified priority/protocol not found');
    const wrongHandle = thrown(() => tc.query(hook, { handle: 3, priority: 5 }));
    expect(wrongHandle.code).toBe('ENOENT');
    expect(wrongHandle.extack).toBe('Specified filter handle not found');
    expect(wrongHandle.message).toContain('no filter with handle 3 and priority 5');

    tc.detach(hook, a);
    const gone = thrown(() => tc.detach(hook, a));
    expect(gone).toBeInstanceOf(NetlinkError);
    expect(gone.message).toContain('no filter with handle 2 and priority 5');
  });

  it("list sees other tools' filters (tc filter add ... bpf da obj) next to ours", () => {
    const hook = tc.hookCreate({ ifindex: v.host, attachPoint: 'ingress' });
    inPrivateBpffs('tc', ['filter', 'add', 'dev', v.host, 'ingress', 'pref', '10', 'handle', '5', 'bpf', 'da', 'obj', otherObj, 'sec', 'tc']);
    tc.attach(hook, { prog: ok, handle: 1, priority: 20 });
    const all = tc.list(hook);
    expect(all).toHaveLength(2);
    expect(all[0]).toMatchObject({ handle: 5, priority: 10, name: 'tc_other_tool', filterName: 'tc_other.o:[tc]', directAction: true });
    expect(all[0]!.progId).toBeGreaterThan(0);
    expect(all[1]).toMatchObject({ handle: 1, priority: 20, progId: ok.id, name: 'ts_tc_ok' });
    // The egress side is a different hook.
    expect(tc.list(tc.hookCreate({ ifindex: v.host, attachPoint: 'egress' }))).toEqual([]);
  });

  it("hookDestroy of a hook we did not create needs force, and then flushes everyone's filters", () => {
    sh('tc', ['qdisc', 'add', 'dev', v.host, 'clsact']);
    inPrivateBpffs('tc', ['filter', 'add', 'dev', v.host, 'ingress', 'pref', '10', 'handle', '5', 'bpf', 'da', 'obj', otherObj, 'sec', 'tc']);
    const hook = tc.hookCreate({ ifindex: v.host, attachPoint: 'ingress' });
    expect(hook.existed).toBe(true);
    tc.attach(hook, { prog: drop, handle: 1, priority: 1 });
    expect(() => tc.hookDestroy(hook)).toThrow(UsageError);
    expect(() => tc.hookDestroy(hook)).toThrow(/including other applications'/);
    expect(tc.list(hook)).toHaveLength(2);

    tc.hookDestroy(hook, { force: true });
    expect(tc.list(hook)).toEqual([]);
    expect(hasClsact(v.host)).toBe(true); // not ours: the qdisc stays
    expect(v.ping(2).received).toBe(2);
  });

  it('hookDestroy of our own hook removes the qdisc once both directions are empty', () => {
    const ingress = tc.hookCreate({ ifindex: v.host, attachPoint: 'ingress' });
    const egress = tc.hookCreate({ ifindex: v.host, attachPoint: 'egress' });
    tc.attach(egress, { prog: ok, handle: 1, priority: 1 });
    tc.attach(ingress, { prog: drop, handle: 1, priority: 1 });
    tc.hookDestroy(ingress);
    expect(tc.list(ingress)).toEqual([]);
    expect(hasClsact(v.host)).toBe(true); // egress still has a filter
    tc.detach(egress, { handle: 1, priority: 1 });
    tc.hookDestroy(ingress);
    expect(hasClsact(v.host)).toBe(false);
    tc.hookDestroy(ingress); // idempotent once the qdisc is gone
    expect(tc.list(ingress)).toEqual([]);
    expect(v.ping(2).received).toBe(2);
    // After the qdisc is gone, attaching says how to get it back.
    const e = thrown(() => tc.attach(ingress, { prog: ok }));
    expect(e).toBeInstanceOf(NetlinkError);
  });

  it('an ingress qdisc has no egress hook, and hookCreate says so', () => {
    sh('tc', ['qdisc', 'add', 'dev', v.host, 'ingress']);
    const e = thrown(() => tc.hookCreate({ ifindex: v.host, attachPoint: 'egress' }));
    expect(e.code).toBe('EEXIST');
    expect(e.message).toContain("'ingress' qdisc");
    const ing = tc.hookCreate({ ifindex: v.host, attachPoint: 'ingress' });
    expect(ing.existed).toBe(true);
    tc.attach(ing, { prog: drop, handle: 1, priority: 1 });
    expect(v.ping(2).received).toBe(0);
  });

  it('refuses nonsense before asking the kernel', () => {
    const hook = tc.hookCreate({ ifindex: v.host, attachPoint: 'ingress' });
    const xdpProg = actionProgram('xdp', XDP_PASS, 'ts_xdp_wrong');
    try {
      expect(() => tc.attach(hook, { prog: xdpProg })).toThrow(/is a xdp program; tc.attach needs a sched_cls program/);
      expect(() => tc.attach(hook, { prog: counter })).toThrow(/not a BPF program/);
    } finally {
      xdpProg.close();
    }
    expect(() => tc.attach(hook, { prog: ok, replace: true })).toThrow(/non-zero handle and priority/);
    expect(() => tc.attach(hook, { prog: ok, priority: 70000 })).toThrow(UsageError);
    expect(() => tc.attach(hook, { prog: ok, protocol: 'ipx' as never })).toThrow(UsageError);
    expect(() => tc.detach(hook, { handle: 0, priority: 0 })).toThrow(/would match every filter/);
    expect(() => tc.hookCreate({ ifindex: v.host, attachPoint: 'sideways' as never })).toThrow(UsageError);
    expect(() => tc.hookCreate({ ifindex: v.host, attachPoint: 'custom' })).toThrow(/needs `parent`/);
    const custom = tc.hookCreate({ ifindex: v.host, attachPoint: 'custom', parent: 0xfffffff2 });
    expect(custom.existed).toBe(true);
    expect(() => tc.hookDestroy(custom, { force: true })).toThrow(UsageError);
    // A custom parent can be clsact's ingress too: filters land where the user says.
    tc.attach(custom, { prog: ok, handle: 9, priority: 9 });
    expect(tc.list(hook).map((f) => f.handle)).toEqual([9]);
  });
});
