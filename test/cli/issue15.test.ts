// The CLI points of issue 15 end to end on a veth pair of our own: --set on attach verbs,
// attaching the same program twice (success), --force's hint when a link holds the hook, the
// unpin verbs, link detach's report of its pin, map dump's keys, and strict argv parsing.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap, BpfProgram } from '../../src/index.js';
import { isRoot } from '../helpers/fd-guard.js';
import { createVethPair, sh, type VethPair } from '../helpers/netns.js';
import { ROOT, ok, pinDir, tsbpf } from './run.js';

const XDP_OBJ = `${ROOT}/examples/bpf/xdp_stats.o`;
const TC_OBJ = `${ROOT}/examples/bpf/tc_rewrite.o`;

/** The .rodata bytes of a loaded program, read in-process (a CLI spawn per map costs seconds
 * on a loaded machine); the CLI's own decoding of them is checked by map dump's tests. */
function rodataOf(progId: number): Buffer {
  using prog = BpfProgram.fromId(progId);
  for (const id of prog.info().mapIds) {
    using m = BpfMap.fromId(id);
    if (m.info().name.endsWith('.rodata')) return Buffer.from(m.lookup(new Uint8Array(4)) as Uint8Array);
  }
  throw new Error(`program ${progId} has no .rodata map`);
}

describe('argv through node:util parseArgs (strict), with the CLI\'s messages', () => {
  it('unknown options, missing values and values given to flags', async () => {
    const cases: [string[], string][] = [
      [['map', 'dump', '1', '--bogus'], 'unknown option --bogus'],
      [['map', 'dump', '1', '-x'], 'unknown option -x'],
      [['obj', 'load', 'x.o', '--pin-dir'], '--pin-dir needs a value'],
      [['obj', 'load', 'x.o', '--pin-dir', '--json'], '--pin-dir needs a value'],
      [['xdp', 'attach', 'lo', 'x.o', '--force=yes'], '--force takes no value'],
    ];
    for (const [args, message] of cases) {
      const r = await tsbpf(...args, '--json');
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.error()).toMatchObject({ name: 'UsageError', message });
    }
    // `--key=value`, repeated options and `--` still work.
    const help = await tsbpf('map', 'dump', '--help');
    expect(help.code).toBe(0);
  });
});

describe.runIf(isRoot)('tsbpf: issue 15 verbs and behaviours', () => {
  const pins = pinDir('i15');
  let net: VethPair;

  beforeAll(() => {
    net = createVethPair();
    sh('mkdir', ['-p', pins.dir]);
  });
  afterAll(() => {
    xdpOff(net?.host);
    net?.destroy();
    pins.cleanup();
  });
  /** Empties the XDP hook in both modes (`xdp off` alone leaves a generic program). */
  function xdpOff(dev: string | undefined): void {
    if (dev) for (const m of ['xdpgeneric', 'xdpdrv']) sh('ip', ['link', 'set', 'dev', dev, m, 'off']);
  }

  it('xdp attach and tc attach take --set NAME=VALUE for an object file, as obj load does', async () => {
    const a = (await ok('xdp', 'attach', net.host, XDP_OBJ, '--mode', 'skb', '--set', 'drop_port=53', '--json')).json();
    expect(rodataOf(a.progId).readUInt16LE(0)).toBe(53); // const volatile __u16 drop_port
    const t = (await ok('tc', 'attach', net.host, 'ingress', TC_OBJ, '--set', 'to_port=4444', '--set=new_ttl=7', '--json')).json();
    // from_port, to_port (__u16), new_ttl (__u8), in declaration order.
    const ro = rodataOf(t.progId);
    expect([ro.readUInt16LE(0), ro.readUInt16LE(2), ro.readUInt8(4)]).toEqual([1111, 4444, 7]);
    // A variable the object lacks is not found (3); --set with a loaded program is usage (2).
    const missing = await tsbpf('xdp', 'attach', net.host, XDP_OBJ, '--mode', 'skb', '--set', 'nope=1', '--json');
    expect(missing.code).toBe(3);
    expect(missing.error().message).toMatch(/--set nope: no global variable 'nope' in .*xdp_stats\.o; variables: drop_port/);
    const loaded = await tsbpf('xdp', 'attach', net.host, String(a.progId), '--set', 'drop_port=1', '--json');
    expect(loaded.code).toBe(2);
    expect(loaded.error().message).toMatch(/--set is for object files/);
    await ok('tc', 'detach', net.host, 'ingress', '--handle', String(t.handle), '--priority', String(t.priority));
    xdpOff(net.host);
  });

  it('attaching the program already there is success (exit 0, unchanged); --link with it is an error', async () => {
    const a = (await ok('xdp', 'attach', net.host, XDP_OBJ, '--mode', 'skb', '--json')).json();
    const again = await tsbpf('xdp', 'attach', net.host, String(a.progId), '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toEqual({ ifindex: net.hostIndex, ifname: net.host, mode: 'skb', progId: a.progId, unchanged: true });
    const human = await ok('xdp', 'attach', net.host, String(a.progId), '--mode', 'skb');
    expect(human.stdout.trim()).toBe(`prog ${a.progId} is already attached to ${net.host} (skb mode); nothing changed`);
    // Another program on the taken hook is still refused, with the netlink remedies.
    const other = await tsbpf('xdp', 'attach', net.host, XDP_OBJ, '--mode', 'skb', '--json');
    expect(other.code).toBe(1);
    expect(other.error().message).toContain('on the command line: --replace ID, --force, or tsbpf xdp detach first');
    xdpOff(net.host);
  });

  it('--force on a hook a bpf_link holds: the hint offers only what can work', async () => {
    const linkPin = `${pins.dir}/xdp_link`;
    const l = (await ok('xdp', 'attach', net.host, XDP_OBJ, '--mode', 'skb', '--link', '--pin', linkPin, '--json')).json();
    const forced = await tsbpf('xdp', 'attach', net.host, XDP_OBJ, '--mode', 'skb', '--force', '--json');
    expect(forced.code).toBe(1);
    const msg = forced.error().message;
    expect(msg).toContain(`held by bpf_link ${l.linkId}`);
    expect(msg).toContain(`on the command line: tsbpf link detach ${l.linkId} first (--replace and --force cannot displace a bpf_link)`);
    expect(msg).not.toMatch(/--replace ID, --force/);
    // The same program over netlink while its link holds the hook: already there, exit 0.
    const same = (await ok('xdp', 'attach', net.host, String(l.progId), '--json')).json();
    expect(same).toMatchObject({ progId: l.progId, unchanged: true, linkId: l.linkId });
    // With --link, the same program again is an error naming it.
    const twice = await tsbpf('xdp', 'attach', net.host, String(l.progId), '--mode', 'skb', '--link', '--pin', `${pins.dir}/xdp_link2`, '--json');
    expect(twice.code).toBe(1);
    expect(twice.error().message).toMatch(/already attached there: program \d+ "xdp_stats" in skb mode, held by bpf_link/);
    expect(existsSync(`${pins.dir}/xdp_link2`)).toBe(false);

    // link detach by PIN says its pin is kept; --unpin removes it.
    const kept = (await ok('link', 'detach', linkPin, '--json')).json();
    expect(kept).toMatchObject({ id: l.linkId, detached: true, pin: linkPin, unpinned: false });
    expect(existsSync(linkPin)).toBe(true);
    const again = await ok('link', 'detach', linkPin, '--unpin');
    expect(again.stdout.trim()).toBe(`detached link ${l.linkId} (xdp, prog ${l.progId}); removed its pin ${linkPin}`);
    expect(existsSync(linkPin)).toBe(false);
    expect((await tsbpf('link', 'show', String(l.linkId), '--json')).code).toBe(3); // gone with its pin
    const byId = await tsbpf('link', 'detach', String(l.linkId), '--unpin', '--json');
    expect(byId.code).toBe(2);
    expect(byId.error().message).toMatch(/--unpin removes the pin the link was named by/);
  });

  it('unpin: maps, programs and links, with what became of the object', async () => {
    const dir = `${pins.dir}/obj`;
    await ok('obj', 'load', XDP_OBJ, '--pin-dir', dir);
    const progPin = `${dir}/progs/xdp_stats`;
    const mapPin = `${dir}/maps/stats`;
    const linkPin = `${pins.dir}/held`;
    const l = (await ok('xdp', 'attach', net.host, progPin, '--mode', 'skb', '--link', '--pin', linkPin, '--json')).json();
    // A pin of another kind is left in place (usage, exit 2); nothing pinned is not found (3).
    const wrong = await tsbpf('map', 'unpin', progPin, '--json');
    expect(wrong.code).toBe(2);
    expect(existsSync(progPin)).toBe(true);
    expect((await tsbpf('prog', 'unpin', `${dir}/progs/none`, '--json')).code).toBe(3);
    // The program lives on: its link holds it.
    const p = (await ok('prog', 'unpin', progPin, '--json')).json();
    expect(p).toEqual({ kind: 'program', id: l.progId, unpinned: progPin, remains: true });
    expect(existsSync(progPin)).toBe(false);
    // The link goes with its only pin, and the hook is empty.
    const k = await ok('link', 'unpin', linkPin);
    expect(k.stdout.trim()).toBe(`removed the pin ${linkPin} of link ${l.linkId}; link ${l.linkId} is gone (nothing else held it): its program is detached`);
    expect((await ok('xdp', 'status', net.host, '--json')).json()[0].programs).toEqual([]);
    // The map goes too once the program (gone with its link) no longer holds it.
    const m = (await ok('map', 'unpin', mapPin, '--json')).json();
    expect(m).toMatchObject({ kind: 'map', unpinned: mapPin, remains: false });
  });

  it('map dump prints every map\'s keys the same way: the bytes, then BTF\'s reading', async () => {
    const dir = `${pins.dir}/dump`;
    await ok('obj', 'load', XDP_OBJ, '--pin-dir', dir, '--set', 'drop_port=9999');
    const stats = (await ok('map', 'dump', `${dir}/maps/stats`)).stdout; // __u32 keys in BTF
    expect(stats).toMatch(/^02 00 00 00 \(2\)\s+cpu0: /m);
    const rodata = (await ok('map', 'dump', `${dir}/maps/rodata`)).stdout; // no key type
    expect(rodata).toMatch(/^00 00 00 00\s+\{drop_port: 9999\}$/m);
    const lookup = await ok('map', 'lookup', `${dir}/maps/stats`, '2');
    expect(lookup.stdout).toMatch(/^key: 02 00 00 00 \(2\)$/m);
  });
});
