// tsbpf xdp attach --multi / detach --multi / status with dispatchers, on the host: what the
// command line decides (usage, exit codes, JSON errors), the NotSupportedError where freplace is
// refused, someone else's program refused, and a hand-made dispatcher (no extension needed)
// listed and removed. The dispatcher's real behaviour is in test/xdp-multi, run in the guests.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, xdp } from '../../src/index.js';
import { dispatcherObjectPath } from '../../src/xdp/multi/dispatcher.js';
import { DISPATCHER_MAGIC, encodeConfig } from '../../src/xdp/multi/protocol.js';
import { refuses } from '../helpers/features.js';
import { isRoot } from '../helpers/fd-guard.js';
import { createVethPair, type VethPair } from '../helpers/netns.js';
import { actionProgram, XDP_PASS } from '../helpers/tiny-prog.js';
import { privateBpffs, type PrivateBpffs } from '../xdp-multi/helpers.js';
import { fixture, ok, tsbpf } from './run.js';

describe.runIf(isRoot)('tsbpf xdp --multi', () => {
  let fs: PrivateBpffs;
  let net: VethPair;
  const obj = fixture('xdp_multi.o');
  // Loading xdp_multi.o pins its shared clock (mp_clock, LIBBPF_PIN_BY_NAME) under the pin root,
  // /sys/fs/bpf unless told otherwise: every command that loads it gets --pin-root fs.maps.
  beforeAll(() => {
    fs = privateBpffs(); // the CLI inherits LIBXDP_BPFFS
    net = createVethPair();
  });
  afterAll(() => {
    net?.destroy();
    fs?.unmount();
  });

  // Skip reason: checks the EPERM, so it runs only where this machine refuses trampoline.
  refuses('trampoline')('where freplace is refused: exit 4, NotSupportedError in the JSON report, nothing attached or pinned', async () => {
    const r = await tsbpf('xdp', 'attach', net.host, obj, '--multi', '--program', 'mp_alpha', '--priority', '7', '--chain-call', 'pass,drop', '--mode', 'skb', '--pin-root', fs.maps, '--json');
    expect(r.code).toBe(4);
    expect(r.error()).toMatchObject({ name: 'NotSupportedError', exitCode: 4 });
    expect(r.error().message).toMatch(/XDP dispatchers .* are not available on this kernel/);
    expect((await ok('xdp', 'status', net.host, '--json')).json()).toEqual([{ ifindex: net.hostIndex, ifname: net.host, attached: 'none', programs: [] }]);
    expect(fs.entries()).toEqual([]);
  });

  it('command-line mistakes are usage errors (exit 2); a missing program is not found (exit 3)', async () => {
    const usage = async (re: RegExp, ...args: string[]) => {
      const r = await tsbpf(...args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(re);
    };
    await usage(/--priority is for --multi/, 'xdp', 'attach', net.host, obj, '--program', 'mp_alpha', '--priority', '3');
    await usage(/--chain-call is for --multi/, 'xdp', 'attach', net.host, obj, '--program', 'mp_alpha', '--chain-call', 'pass');
    await usage(/--replace does not go with --multi/, 'xdp', 'attach', net.host, obj, '--multi', '--program', 'mp_alpha', '--replace', '5');
    await usage(/--link does not go with --multi/, 'xdp', 'attach', net.host, obj, '--multi', '--program', 'mp_alpha', '--link');
    await usage(/a dispatcher runs in skb or drv mode/, 'xdp', 'attach', net.host, obj, '--multi', '--program', 'mp_alpha', '--mode', 'hw');
    await usage(/has 4 xdp programs \(mp_alpha, mp_beta, mp_tuned, mp_frags\): choose one with --program NAME/, 'xdp', 'attach', net.host, obj, '--multi');
    await usage(/loads the program from an object file; 12345 is not one/, 'xdp', 'attach', net.host, '12345', '--multi');
    await usage(/--priority must be an integer/, 'xdp', 'attach', net.host, obj, '--multi', '--program', 'mp_alpha', '--priority', 'high');
    await usage(/'onwards' is not an XDP verdict/, 'xdp', 'attach', net.host, obj, '--multi', '--program', 'mp_alpha', '--chain-call', 'pass,onwards');
    await usage(/--multi takes a program id or 'all'/, 'xdp', 'detach', net.host, '--multi', 'first');
    const missing = await tsbpf('xdp', 'attach', net.host, obj, '--multi', '--program', 'nope', '--json');
    expect(missing.code).toBe(3);
    const none = await tsbpf('xdp', 'detach', net.host, '--multi', '4242', '--json');
    expect(none.code).toBe(3);
    expect(none.error().message).toMatch(/has no XDP dispatcher/);
    expect((await ok('xdp', 'detach', net.host, '--multi', 'all', '--json')).json()).toEqual({ ifindex: net.hostIndex, ifname: net.host, removed: [], dispatcher: null });
    expect(fs.entries()).toEqual([]);
  });

  it("someone else's program on the hook: refused (exit 1, problem 'foreign'), untouched", async () => {
    const other = actionProgram('xdp', XDP_PASS, 'cli_other');
    try {
      xdp.attach(net.hostIndex, other, { mode: 'skb' });
      const r = await tsbpf('xdp', 'attach', net.host, obj, '--multi', '--program', 'mp_alpha', '--pin-root', fs.maps, '--json');
      expect(r.code).toBe(1);
      expect(r.error()).toMatchObject({ name: 'XdpMultiError', code: 'EBUSY', problem: 'foreign' });
      expect(r.error().message).toContain(`program ${other.id} "cli_other" in skb mode`);
      expect(xdp.query(net.hostIndex).skbProgId).toBe(other.id);
      // A plain program is still detached the plain way, without making the protocol's
      // directory on bpffs (a plain detach must leave /sys/fs/bpf as it was).
      rmSync(fs.xdpDir, { recursive: true, force: true });
      await ok('xdp', 'detach', net.host);
      expect(xdp.query(net.hostIndex).attached).toBe('none');
      expect(existsSync(fs.xdpDir)).toBe(false);
    } finally {
      other.close();
    }
  });

  it('status lists a dispatcher; a plain detach of it is refused, --multi all removes it with its pins', async () => {
    // A dispatcher with no programs, as a tool could leave one: enough for the listing.
    const d = BpfObject.open(dispatcherObjectPath());
    d.setConstant('conf', encodeConfig({ magic: DISPATCHER_MAGIC, version: 2, numProgsEnabled: 0, isXdpFrags: false, chainCallActions: [], runPrios: [], programFlags: [] }));
    d.load();
    const id = d.program('xdp_dispatcher').info().id;
    mkdirSync(`${fs.xdpDir}/dispatch-${net.hostIndex}-${id}`, { recursive: true });
    xdp.attach(net.hostIndex, d.program('xdp_dispatcher'), { mode: 'skb' });
    d.close();
    try {
      const [s] = (await ok('xdp', 'status', net.host, '--json')).json();
      expect(s).toEqual({
        ifindex: net.hostIndex,
        ifname: net.host,
        attached: 'skb',
        programs: [{ mode: 'skb', id, name: 'xdp_dispatcher' }],
        dispatcher: { id, version: 2, mode: 'skb', frags: false, builtBy: 'tsbpf', pinDir: `${fs.xdpDir}/dispatch-${net.hostIndex}-${id}` },
        components: [],
      });
      expect((await ok('xdp', 'status', net.host)).stdout).toContain(`dispatcher ${id}: protocol version 2, skb mode, built and pinned by tsbpf at ${fs.xdpDir}/dispatch-${net.hostIndex}-${id}`);
      const plain = await tsbpf('xdp', 'detach', net.host);
      expect(plain.code).toBe(2);
      expect(plain.stderr).toMatch(/holds an XDP dispatcher with 0 program\(s\)/);
      expect(xdp.query(net.hostIndex).skbProgId).toBe(id);
      expect((await ok('xdp', 'detach', net.host, '--multi', 'all', '--json')).json()).toEqual({ ifindex: net.hostIndex, ifname: net.host, removed: [], dispatcher: null });
      expect(xdp.query(net.hostIndex).attached).toBe('none');
      expect(fs.entries()).toEqual([]);
    } finally {
      xdp.detach(net.hostIndex);
    }
  });
});
