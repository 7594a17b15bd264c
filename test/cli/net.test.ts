// xdp, tc, tcx and link verbs end to end on a veth pair of our own: attachments checked with
// traffic, with bpftool net show, and with the library's own queries.
import { existsSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tcxLib from '../../src/tcx/index.js';
import { BpfProgram } from '../../src/index.js';
import { Attr, PROG_ATTACH_ATTR, bpf_cmd, bpfCall } from '../../src/syscall/index.js';
import { TCX_ATTACH_TYPE } from '../../src/tcx/direction.js';
import { isRoot } from '../helpers/fd-guard.js';
import { createVethPair, sh, type VethPair } from '../helpers/netns.js';
import { ROOT, bpftool, fixture, ok, pinDir, tsbpf } from './run.js';

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('tsbpf xdp, tc, tcx and link verbs', () => {
  const pins = pinDir('net');
  let net: VethPair;
  let xdpPin = '';
  let xdpProg = 0;
  let tcPin = '';
  let tcProg = 0;
  let otherXdp = 0;
  const dropped = async (): Promise<number> => (await ok('map', 'dump', `${pins.dir}/xdp/maps/bss`, '--json')).json()[0].formatted.value.dropped;
  const seen = async (): Promise<number> => (await ok('map', 'dump', `${pins.dir}/tc/maps/data`, '--json')).json()[0].formatted.value.seen;
  const netShow = (): { xdp: any[]; tc: any[] } => bpftool<any[]>('net', 'show', 'dev', net.host)[0];

  beforeAll(async () => {
    net = createVethPair();
    const x = (await ok('obj', 'load', `${ROOT}/examples/bpf/xdp_stats.o`, '--pin-dir', `${pins.dir}/xdp`, '--set', 'drop_port=9999', '--json')).json();
    xdpPin = `${pins.dir}/xdp/progs/xdp_stats`;
    xdpProg = x.pinned.find((p: any) => p.kind === 'prog').id;
    const t = (await ok('obj', 'load', fixture('globals.o'), '--pin-dir', `${pins.dir}/tc`, '--json')).json();
    tcPin = `${pins.dir}/tc/progs/tc_globals`;
    tcProg = t.pinned.find((p: any) => p.kind === 'prog').id;
    const o = (await ok('obj', 'load', `${ROOT}/test/cli/fixtures/cli_bad.o`, '--program', 'fine', '--pin-dir', `${pins.dir}/other`, '--json')).json();
    otherXdp = o.pinned.find((p: any) => p.kind === 'prog').id;
  });
  afterAll(() => {
    net?.destroy();
    pins.cleanup();
  });

  it('xdp attach/status/detach over netlink, seen by bpftool and by traffic', async () => {
    const a = (await ok('xdp', 'attach', net.host, xdpPin, '--mode', 'skb', '--json')).json();
    expect(a).toEqual({ ifindex: net.hostIndex, ifname: net.host, mode: 'skb', progId: xdpProg });
    const status = (await ok('xdp', 'status', '--json')).json();
    const mine = status.find((s: any) => s.ifindex === net.hostIndex);
    expect(mine).toEqual({ ifindex: net.hostIndex, ifname: net.host, attached: 'skb', programs: [{ mode: 'skb', id: xdpProg, name: 'xdp_stats' }] });
    // Every interface bpftool reports with XDP is in our status, with the same program and mode.
    const bt = bpftool<any[]>('net', 'show')[0].xdp as any[];
    const modeName: Record<string, string> = { generic: 'skb', driver: 'drv', offload: 'hw' };
    for (const e of bt) {
      const s = status.find((x: any) => x.ifindex === e.ifindex);
      expect(s?.programs).toContainEqual(expect.objectContaining({ mode: modeName[e.mode], id: e.id }));
    }
    expect(netShow().xdp).toEqual([{ devname: net.host, ifindex: net.hostIndex, mode: 'generic', id: xdpProg }]);

    net.sendUdp(9999, 3);
    net.sendUdp(7777, 2);
    expect(await dropped()).toBe(3);

    // The hook is taken: a plain attach fails with the kernel's sentence (exit 1).
    const taken = (await tsbpf('xdp', 'attach', net.host, `${ROOT}/examples/bpf/xdp_stats.o`, '--mode', 'skb', '--json'));
    expect(taken.code).toBe(1);
    expect(taken.error()).toMatchObject({ code: 'EBUSY', command: 'RTM_SETLINK', extack: 'XDP program already attached' });
    // Compare-and-exchange against the wrong program is refused; against the right one it swaps.
    const wrong = (await tsbpf('xdp', 'attach', net.host, `${ROOT}/examples/bpf/xdp_stats.o`, '--mode', 'skb', '--replace', String(otherXdp), '--json'));
    expect(wrong.code).toBe(1);
    expect(wrong.error()).toMatchObject({ code: 'EEXIST', extack: 'Active program does not match expected' });
    const swapped = (await ok('xdp', 'attach', net.host, `${ROOT}/examples/bpf/xdp_stats.o`, '--mode', 'skb', '--replace', String(xdpProg), '--json')).json();
    expect(swapped).toMatchObject({ mode: 'skb', replaced: xdpProg });
    expect(swapped.progId).not.toBe(xdpProg);
    expect(netShow().xdp[0].id).toBe(swapped.progId);

    // --force overwrites blindly: the pinned program is back.
    const forced = (await ok('xdp', 'attach', net.host, xdpPin, '--mode', 'skb', '--force', '--json')).json();
    expect(forced).toMatchObject({ mode: 'skb', progId: xdpProg });
    expect(netShow().xdp[0].id).toBe(xdpProg);
    const humanStatus = (await ok('xdp', 'status', net.host)).stdout;
    expect(humanStatus).toMatch(new RegExp(`^${net.host}\\s+${net.hostIndex}\\s+skb\\s+${xdpProg}\\s+xdp_stats\\s+-$`, 'm'));

    const wrongDetach = (await tsbpf('xdp', 'detach', net.host, '--expected', String(otherXdp)));
    expect(wrongDetach.code).toBe(1);
    const d = (await ok('xdp', 'detach', net.host, '--json')).json();
    expect(d).toEqual({ ifindex: net.hostIndex, ifname: net.host, detached: [{ mode: 'skb', progId: xdpProg }] });
    expect(netShow().xdp).toEqual([]);
    expect((await ok('xdp', 'status', net.host, '--json')).json()).toEqual([{ ifindex: net.hostIndex, ifname: net.host, attached: 'none', programs: [] }]);
    expect((await tsbpf('xdp', 'status', 'tsbpf-no-such0')).code).toBe(3);
  });

  it('xdp attach --link needs --pin; link list/show/pin/detach manage it', async () => {
    const noPin = (await tsbpf('xdp', 'attach', net.host, xdpPin, '--link'));
    expect(noPin.code).toBe(2);
    expect(noPin.stderr).toContain('needs --pin PATH');
    expect(netShow().xdp).toEqual([]);

    const p1 = `${pins.dir}/xdp-link`;
    const p2 = `${pins.dir}/xdp-link-2`;
    const a = (await ok('xdp', 'attach', net.host, xdpPin, '--link', '--pin', p1, '--mode', 'skb', '--json')).json();
    expect(a).toMatchObject({ ifindex: net.hostIndex, mode: 'skb', progId: xdpProg, pinned: p1 });
    const linkId = a.linkId as number;
    const status = (await ok('xdp', 'status', net.host, '--json')).json();
    expect(status[0].programs).toEqual([{ mode: 'skb', id: xdpProg, name: 'xdp_stats', linkId }]);
    expect((await ok('link', 'list', '--json')).json().find((l: any) => l.id === linkId)).toEqual({ id: linkId, typeId: expect.any(Number), type: 'xdp', progId: xdpProg, ifindex: net.hostIndex, ifname: net.host, mode: 'skb', detached: false });
    const bt = bpftool('link', 'show', 'id', String(linkId));
    expect(bt).toMatchObject({ id: linkId, type: 'xdp', prog_id: xdpProg }); // bpftool 7.1 prints no ifindex for xdp links

    // A second pin keeps it alive after the first is removed.
    expect((await ok('link', 'pin', String(linkId), p2, '--json')).json()).toEqual({ id: linkId, pinned: p2 });
    rmSync(p1);
    expect((await ok('link', 'show', p2, '--json')).json()).toMatchObject({ id: linkId, type: 'xdp', detached: false });
    expect(netShow().xdp).toEqual([{ devname: net.host, ifindex: net.hostIndex, mode: 'generic', id: xdpProg }]);
    const before = await dropped();
    net.sendUdp(9999, 2);
    expect((await dropped()) - before).toBe(2);

    // Netlink cannot remove a link's program.
    const nl = (await tsbpf('xdp', 'detach', net.host, '--json'));
    expect(nl.code).toBe(1);
    expect(nl.error()).toMatchObject({ code: 'EBUSY', extack: "Can't replace active BPF XDP link" });

    const d = (await ok('link', 'detach', p2, '--json')).json();
    expect(d).toEqual({ id: linkId, type: 'xdp', progId: xdpProg, detached: true, pin: p2, unpinned: false }); // the pin is kept
    expect(netShow().xdp).toEqual([]);
    expect((await ok('link', 'show', String(linkId), '--json')).json()).toMatchObject({ id: linkId, detached: true });
    rmSync(p2);
    expect((await tsbpf('link', 'show', String(linkId))).code).toBe(3);
  });

  it('tc hook create/attach/list/detach/destroy, matching bpftool and counting packets', async () => {
    expect((await ok('tc', 'hook', 'create', net.host, 'ingress', '--json')).json()).toEqual({ ifindex: net.hostIndex, ifname: net.host, direction: 'ingress', created: true });
    expect((await ok('tc', 'hook', 'create', net.host, 'ingress', '--json')).json()).toMatchObject({ created: false });
    const a = (await ok('tc', 'attach', net.host, 'ingress', tcPin, '--json')).json();
    expect(a).toMatchObject({ ifindex: net.hostIndex, direction: 'ingress', progId: tcProg, hookCreated: false });
    const b = (await ok('tc', 'attach', net.host, 'ingress', fixture('globals.o'), '--handle', '7', '--priority', '3', '--json')).json();
    expect(b).toMatchObject({ handle: 7, priority: 3 });
    const list = (await ok('tc', 'list', net.host, 'ingress', '--json')).json();
    expect(list.map((f: any) => [f.priority, f.handle, f.progId, f.name, f.directAction])).toEqual([
      [3, 7, b.progId, 'tc_globals', true],
      [a.priority, a.handle, tcProg, 'tc_globals', true],
    ]);
    expect(netShow().tc.map((f: any) => [f.kind, f.id]).sort()).toEqual([['clsact/ingress', b.progId], ['clsact/ingress', tcProg]].sort());

    // An occupied handle/priority: refused; --replace swaps the program in place.
    const dup = (await tsbpf('tc', 'attach', net.host, 'ingress', tcPin, '--handle', '7', '--priority', '3', '--json'));
    expect(dup.code).toBe(1);
    expect(dup.error()).toMatchObject({ code: 'EEXIST' });
    (await ok('tc', 'attach', net.host, 'ingress', tcPin, '--handle', '7', '--priority', '3', '--replace'));
    expect((await ok('tc', 'list', net.host, 'ingress', '--json')).json().map((f: any) => f.progId)).toEqual([tcProg, tcProg]);

    // Priority 3 runs first and returns TC_ACT_OK: our program counts each packet once.
    const before = await seen();
    net.sendUdp(5000, 4);
    expect((await seen()) - before).toBe(4);

    const d = (await ok('tc', 'detach', net.host, 'ingress', '--handle', '7', '--priority', '3', '--json')).json();
    expect(d).toMatchObject({ handle: 7, priority: 3, progId: tcProg });
    expect((await tsbpf('tc', 'detach', net.host, 'ingress', '--handle', '7', '--priority', '3')).code).toBe(3);
    expect((await tsbpf('tc', 'detach', net.host, 'ingress')).code).toBe(2);

    const refuse = (await tsbpf('tc', 'hook', 'destroy', net.host, 'ingress'));
    expect(refuse.code).toBe(2);
    expect(refuse.stderr).toContain('--force');
    expect(netShow().tc).toHaveLength(1);
    const gone = (await ok('tc', 'hook', 'destroy', net.host, 'ingress', '--force', '--json')).json();
    expect(gone.flushed).toEqual([{ handle: a.handle, priority: a.priority, progId: tcProg }]);
    expect(netShow().tc).toEqual([]);
    expect(sh('tc', ['qdisc', 'show', 'dev', net.host])).not.toContain('clsact');
    expect((await ok('tc', 'list', net.host, 'ingress')).stdout).toContain('no bpf filters');
  });

  it('tcx attach (pinned links, ordering), list and detach by link, by program, and without a link', async () => {
    const noPin = (await tsbpf('tcx', 'attach', net.host, 'ingress', tcPin));
    expect(noPin.code).toBe(2);
    expect(noPin.stderr).toContain('needs --pin PATH');

    const t1 = `${pins.dir}/tcx-1`;
    const t2 = `${pins.dir}/tcx-2`;
    const a = (await ok('tcx', 'attach', net.host, 'ingress', tcPin, '--pin', t1, '--json')).json();
    expect(a).toMatchObject({ ifindex: net.hostIndex, direction: 'ingress', progId: tcProg, pinned: t1, position: 0 });
    const b = (await ok('tcx', 'attach', net.host, 'ingress', fixture('globals.o'), '--program', 'tc_globals', '--first', '--pin', t2, '--json')).json();
    expect(b.position).toBe(0);
    const chain = tcxLib.query(net.hostIndex, 'ingress');
    expect(chain.programs).toEqual([
      { progId: b.progId, linkId: b.linkId },
      { progId: tcProg, linkId: a.linkId },
    ]);
    const list = (await ok('tcx', 'list', net.host, 'ingress', '--json')).json();
    expect(list).toEqual({
      ifindex: net.hostIndex,
      ifname: net.host,
      direction: 'ingress',
      revision: chain.revision,
      programs: [
        { position: 0, progId: b.progId, name: 'tc_globals', linkId: b.linkId },
        { position: 1, progId: tcProg, name: 'tc_globals', linkId: a.linkId },
      ],
    });
    expect((await ok('link', 'show', t1, '--json')).json()).toMatchObject({ id: a.linkId, type: 'tcx', attachType: 'tcx_ingress', ifindex: net.hostIndex });
    // A program can be in a chain once: a fresh instance from the object file goes after b.
    const after = (await ok('tcx', 'attach', net.host, 'ingress', fixture('globals.o'), '--after', `link:${b.linkId}`, '--pin', `${pins.dir}/tcx-3`, '--json')).json();
    expect(after.position).toBe(1);

    (await ok('tcx', 'detach', net.host, 'ingress', '--link', String(b.linkId)));
    expect((await tsbpf('tcx', 'detach', net.host, 'ingress', '--link', String(b.linkId))).code).toBe(3);
    (await ok('tcx', 'detach', net.host, 'ingress', '--link', String(after.linkId)));
    (await ok('tcx', 'detach', net.host, 'ingress', '--prog', String(tcProg)));
    expect(tcxLib.query(net.hostIndex, 'ingress').programs).toEqual([]);
    for (const p of [t1, t2, `${pins.dir}/tcx-3`]) rmSync(p);

    // A program attached without a link (BPF_PROG_ATTACH): listed without a link, detached by id.
    using prog = BpfProgram.fromPin(tcPin);
    const attr = new Attr(PROG_ATTACH_ATTR).set('target_ifindex', net.hostIndex).set('attach_bpf_fd', prog.fd).set('attach_type', TCX_ATTACH_TYPE.egress);
    bpfCall(bpf_cmd.BPF_PROG_ATTACH, attr, 'test: tcx prog attach');
    expect((await ok('tcx', 'list', net.host, 'egress', '--json')).json().programs).toEqual([{ position: 0, progId: tcProg, name: 'tc_globals' }]);
    expect((await ok('tcx', 'detach', net.host, 'egress', '--prog', String(tcProg), '--json')).json()).toEqual({ ifindex: net.hostIndex, ifname: net.host, direction: 'egress', progId: tcProg });
    expect(tcxLib.query(net.hostIndex, 'egress').programs).toEqual([]);
    expect(existsSync(t1)).toBe(false);
  });
});
