// XDP over rtnetlink with real packets: pings from a private namespace to the host end of a
// veth pair, where the programs are attached. Checks safety semantics (no silent replace,
// compare-and-exchange, force), the kernel's own sentences, and agreement with ip/bpftool.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError, UsageError } from '../../src/errors.js';
import { NetlinkRequestError } from '../../src/netlink/errors.js';
import { Attr, bpf_attach_type, bpf_cmd, bpfCall, closeFd, LINK_CREATE_ATTR } from '../../src/syscall/index.js';
import * as xdp from '../../src/xdp/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { createVethPair, sh, type VethPair } from '../helpers/netns.js';
import {
  actionProgram,
  compileBpf,
  type Counter,
  counterMap,
  countingProgram,
  removeObject,
  type TinyProg,
  XDP_DROP,
  XDP_PASS,
} from '../helpers/tiny-prog.js';
import { thrown as thrownAs } from '../helpers/thrown.js';
import { inPrivateBpffs, libxdpEnv } from '../helpers/reference-tools.js';
const thrown = (fn: () => unknown) => thrownAs<NetlinkRequestError>(fn);


interface IpXdp {
  mode: number;
  prog?: { id: number; name: string };
  attached?: { mode: number; prog: { id: number } }[];
}

function ipXdp(dev: string): IpXdp | undefined {
  return (JSON.parse(sh('ip', ['-d', '-j', 'link', 'show', 'dev', dev])) as { xdp?: IpXdp }[])[0]!.xdp;
}

function bpftoolXdp(dev: string): { devname: string; ifindex: number; mode: string; id: number }[] {
  const j = JSON.parse(sh('bpftool', ['net', 'show', 'dev', dev, '-j'])) as { xdp: [] }[];
  return j[0]!.xdp;
}

describe.runIf(isRoot)('xdp over netlink', () => {
  guardFdLeaks();
  let v: VethPair;
  let counter: Counter;
  let drop: TinyProg;
  let pass: TinyProg;
  let countPass: TinyProg;
  let otherObj: string;

  beforeAll(() => {
    v = createVethPair();
    counter = counterMap('xdp_count');
    drop = countingProgram('xdp', XDP_DROP, counter, 'ts_xdp_drop');
    countPass = countingProgram('xdp', XDP_PASS, counter, 'ts_xdp_cntpass');
    pass = actionProgram('xdp', XDP_PASS, 'ts_xdp_pass');
    otherObj = compileBpf(new URL('./fixtures/xdp_other.c', import.meta.url).pathname);
  });

  afterEach(() => {
    // Whatever a test left behind, in any mode, by any tool: the hook is ours (we made the veth).
    for (const mode of ['xdpgeneric', 'xdpdrv'])
      spawnSync('ip', ['link', 'set', 'dev', v.host, mode, 'off'], { stdio: 'ignore' });
  });

  afterAll(() => {
    for (const p of [drop, pass, countPass]) p?.close();
    counter?.close();
    v?.destroy();
    if (otherObj) removeObject(otherObj);
  });

  it('a drop program stops pings and counts every one; a pass program lets them through', () => {
    expect(v.ping(2).received).toBe(2);
    const before = counter.read();
    const a = xdp.attach(v.hostIndex, drop);
    // Default mode: the kernel picks native on a driver that has it (veth does).
    expect(a).toEqual({ ifindex: v.hostIndex, mode: 'drv', progId: drop.id });
    expect(v.ping(5)).toEqual({ sent: 5, received: 0 });
    // Static neighbours and no IPv6: the five echo requests are the only packets.
    expect(counter.read() - before).toBe(5n);

    xdp.attach(v.host, countPass, { replace: drop });
    expect(v.ping(4)).toEqual({ sent: 4, received: 4 });
    expect(counter.read() - before).toBe(9n);
  });

  it('query reports the mode and ids, matching ip -d link and bpftool net', () => {
    expect(xdp.query(v.host)).toEqual({ attached: 'none', progId: 0, skbProgId: 0, drvProgId: 0, hwProgId: 0 });
    xdp.attach(v.host, pass, { mode: 'skb' });
    const q = xdp.query(v.hostIndex);
    expect(q).toEqual({ attached: 'skb', progId: pass.id, skbProgId: pass.id, drvProgId: 0, hwProgId: 0 });
    expect(ipXdp(v.host)).toMatchObject({ mode: 2, prog: { id: pass.id, name: 'ts_xdp_pass' } });
    expect(bpftoolXdp(v.host)).toEqual([{ devname: v.host, ifindex: v.hostIndex, mode: 'generic', id: pass.id }]);
    xdp.detach(v.host);

    xdp.attach(v.host, drop, { mode: 'drv' });
    expect(xdp.query(v.host)).toEqual({ attached: 'drv', progId: drop.id, skbProgId: 0, drvProgId: drop.id, hwProgId: 0 });
    expect(ipXdp(v.host)).toMatchObject({ mode: 1, prog: { id: drop.id } });
    expect(bpftoolXdp(v.host)).toEqual([{ devname: v.host, ifindex: v.hostIndex, mode: 'driver', id: drop.id }]);
  });

  it('both skb and drv modes carry real traffic on veth', () => {
    for (const mode of ['skb', 'drv'] as const) {
      const before = counter.read();
      xdp.attach(v.host, drop, { mode });
      expect(v.ping(3).received, mode).toBe(0);
      expect(counter.read() - before, mode).toBe(3n);
      xdp.detach(v.host, { mode });
      expect(v.ping(2).received, mode).toBe(2);
    }
  });

  it('never replaces silently: a taken hook fails, naming the program there, and stays as it was', () => {
    xdp.attach(v.host, drop);
    const e = thrown(() => xdp.attach(v.host, pass));
    expect(e).toBeInstanceOf(NetlinkError);
    expect(e.errno).toBe(16);
    expect(e.code).toBe('EBUSY');
    expect(e.command).toBe('RTM_SETLINK');
    expect(e.extack).toBe('XDP program already attached');
    expect(e.message).toContain(`program ${drop.id} "ts_xdp_drop" in drv mode`);
    expect(e.message).toContain('attached through netlink (no bpf_link)');
    expect(e.message).toContain('{ replace: <that program> }');
    expect(e.context).toContain(v.host);
    expect(xdp.query(v.host).drvProgId).toBe(drop.id);
    expect(v.ping(2).received).toBe(0);
    // Attaching the program that is already there is still refused, and said plainly.
    const same = thrown(() => xdp.attach(v.host, drop));
    expect(same.code).toBe('EBUSY');
    expect(same.message).toContain(`program ${drop.id} "ts_xdp_drop" is already attached there`);
  });

  it('names a program that ip(8) attached in generic mode', () => {
    inPrivateBpffs('ip', ['link', 'set', 'dev', v.host, 'xdpgeneric', 'obj', otherObj, 'sec', 'xdp']);
    const theirs = xdp.query(v.host);
    expect(theirs.attached).toBe('skb');
    const e = thrown(() => xdp.attach(v.host, pass, { mode: 'skb' }));
    expect(e.code).toBe('EBUSY');
    expect(e.extack).toBe('XDP program already attached');
    expect(e.message).toContain(`program ${theirs.skbProgId} "other_tool" in skb mode`);
    expect(xdp.query(v.host).skbProgId).toBe(theirs.skbProgId);
  });

  it('names a program that xdp-loader attached in skb mode', () => {
    // libxdp's state (its lock, and on kernels with freplace the dispatcher's pins) in a
    // directory of this test's, not /sys/fs/bpf/xdp.
    const env = libxdpEnv(`/sys/fs/bpf/tsbpf-xdp-loader-${process.pid}`);
    const r = spawnSync('xdp-loader', ['load', '-m', 'skb', v.host, otherObj], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`xdp-loader load failed: ${r.stderr}`);
    try {
      const theirs = xdp.query(v.host);
      expect(theirs.attached).toBe('skb');
      const e = thrown(() => xdp.attach(v.host, pass, { mode: 'skb' }));
      expect(e.code).toBe('EBUSY');
      expect(e.message).toMatch(new RegExp(`program ${theirs.skbProgId} "[^"]+" in skb mode`));
      // Mixing modes is refused by the kernel in its own words.
      const m = thrown(() => xdp.attach(v.host, pass, { mode: 'drv' }));
      expect(m.code).toBe('EEXIST');
      expect(m.extack).toBe("Native and generic XDP can't be active at the same time");
      expect(m.message).toContain(`program ${theirs.skbProgId}`);
      expect(m.message).toContain('skb mode');
    } finally {
      spawnSync('xdp-loader', ['unload', v.host, '--all'], { stdio: 'ignore', env });
      rmSync(env.LIBXDP_BPFFS!, { recursive: true, force: true });
    }
  });

  it('replace is a compare-and-exchange: a stale expected program changes nothing', () => {
    xdp.attach(v.host, drop, { mode: 'skb' });
    const e = thrown(() => xdp.attach(v.host, countPass, { mode: 'skb', replace: pass }));
    expect(e.code).toBe('EEXIST');
    expect(e.extack).toBe('Active program does not match expected');
    expect(e.message).toContain(`expected program ${pass.id} "ts_xdp_pass" but the hook holds program ${drop.id} "ts_xdp_drop"`);
    expect(xdp.query(v.host)).toMatchObject({ attached: 'skb', skbProgId: drop.id });
    expect(v.ping(2).received).toBe(0);

    const ok = xdp.attach(v.host, pass, { mode: 'skb', replace: drop });
    expect(ok).toEqual({ ifindex: v.hostIndex, mode: 'skb', progId: pass.id });
    expect(v.ping(2).received).toBe(2);
  });

  it('replace against an empty hook fails too (nothing to compare with)', () => {
    const e = thrown(() => xdp.attach(v.host, pass, { replace: drop }));
    expect(e.code).toBe('EEXIST');
    expect(e.extack).toBe('Active program does not match expected');
    expect(xdp.query(v.host).attached).toBe('none');
  });

  it('force overwrites whatever netlink program is there', () => {
    inPrivateBpffs('ip', ['link', 'set', 'dev', v.host, 'xdpdrv', 'obj', otherObj, 'sec', 'xdp']);
    const a = xdp.attach(v.host, drop, { mode: 'drv', force: true });
    expect(a.progId).toBe(drop.id);
    expect(xdp.query(v.host).drvProgId).toBe(drop.id);
    expect(v.ping(2).received).toBe(0);
  });

  it('detach with expected removes only the expected program', () => {
    xdp.attach(v.host, drop, { mode: 'drv' });
    const e = thrown(() => xdp.detach(v.host, { expected: pass }));
    expect(e.code).toBe('EEXIST');
    expect(e.extack).toBe('Active program does not match expected');
    expect(xdp.query(v.host).drvProgId).toBe(drop.id);

    xdp.detach(v.host, { expected: drop });
    expect(xdp.query(v.host).attached).toBe('none');
    expect(v.ping(2).received).toBe(2);
  });

  it('detach without mode finds the mode in use (a generic program on a native-capable driver)', () => {
    xdp.attach(v.host, drop, { mode: 'skb' });
    xdp.detach(v.host);
    expect(xdp.query(v.host).attached).toBe('none');
    // Nothing attached: detach is a no-op, like `ip link set xdp off`.
    xdp.detach(v.host);
    xdp.detach(v.host, { mode: 'drv' });
    expect(xdp.query(v.host).attached).toBe('none');
  });

  it('a bpf_link owns its hook: netlink cannot replace it, and the error says which link', () => {
    const attr = new Attr(LINK_CREATE_ATTR)
      .set('prog_fd', drop.fd)
      .set('target_ifindex', v.hostIndex)
      .set('attach_type', bpf_attach_type.BPF_XDP);
    const linkFd = bpfCall(bpf_cmd.BPF_LINK_CREATE, attr, 'xdp link');
    try {
      const e = thrown(() => xdp.attach(v.host, pass, { force: true }));
      expect(e.code).toBe('EBUSY');
      expect(e.extack).toBe("Can't replace active BPF XDP link");
      expect(e.message).toMatch(new RegExp(`program ${drop.id} "ts_xdp_drop" in drv mode, held by bpf_link \\d+`));
      expect(e.message).toContain('update or close that link');
      const busy = thrown(() => xdp.attach(v.host, pass));
      expect(busy.message).toMatch(/held by bpf_link \d+/);
      expect(xdp.query(v.host).drvProgId).toBe(drop.id);
    } finally {
      closeFd(linkFd);
    }
    expect(xdp.query(v.host).attached).toBe('none');
  });

  it('refuses nonsense before asking the kernel', () => {
    expect(() => xdp.attach(v.host, pass, { mode: 'fast' as never })).toThrow(UsageError);
    expect(() => xdp.attach(v.host, pass, { replace: drop, force: true })).toThrow(/exclude each other/);
    expect(() => xdp.attach(v.host, -1)).toThrow(UsageError);
    expect(() => xdp.attach(v.host, { fd: 1.5 })).toThrow(UsageError);
    expect(() => xdp.attach(0, pass)).toThrow(UsageError);
    const e = thrown(() => xdp.attach('nosuchif0', pass));
    expect(e.code).toBe('ENODEV');
    expect(e.message).toContain('no interface named "nosuchif0"');
  });

  it('a program of the wrong type, or an fd that is no program, is refused before the kernel', () => {
    const tcProg = actionProgram('tc', 0, 'ts_tc_wrong');
    try {
      expect(() => xdp.attach(v.host, tcProg)).toThrow(
        `xdp.attach: program ${tcProg.id} "ts_tc_wrong" is a sched_cls program; xdp.attach needs a xdp program`,
      );
      expect(() => xdp.attach(v.host, counter)).toThrow(/is not a BPF program \(it is a BPF map\)/);
      expect(() => xdp.attach(v.host, pass, { replace: tcProg })).toThrow(/xdp.attach \{ replace \}: .* is a sched_cls program/);
      expect(() => xdp.detach(v.host, { expected: tcProg })).toThrow(/xdp.detach \{ expected \}: .* is a sched_cls program/);
      expect(() => xdp.attach(v.host, 987654)).toThrow(/is not an open file descriptor/);
      expect(() => xdp.attach(v.host, pass, { replace: counter })).toThrow(UsageError);
      expect(xdp.query(v.host).attached).toBe('none');
    } finally {
      tcProg.close();
    }
  });
});
