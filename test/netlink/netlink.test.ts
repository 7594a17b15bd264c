// rtnetlink against the running kernel: interfaces by name and index, dumps, and failures that
// carry errno, the command, our context and the kernel's own extended-ack sentence.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError, UsageError } from '../../src/errors.js';
import { IFINFOMSG, ifla, nlm_f, rtm, sock, TCMSG, tca } from '../../src/netlink/abi.js';
import { NetlinkRequestError } from '../../src/netlink/errors.js';
import { ifindex, ifname, listInterfaces } from '../../src/netlink/link.js';
import { NetlinkSocket, newRequest, withSocket } from '../../src/netlink/socket.js';
import { guardFdLeaks, isRoot, openFdCount } from '../helpers/fd-guard.js';
import { createVethPair, type VethPair } from '../helpers/netns.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

describe('interfaces (no root needed)', () => {
  it('finds lo by name and by index', () => {
    expect(ifindex('lo')).toBe(1);
    expect(ifname(1)).toBe('lo');
  });

  it('says plainly that an interface does not exist, with errno ENODEV', () => {
    const e = thrown(() => ifindex('nosuchif0')) as NetlinkRequestError;
    expect(e).toBeInstanceOf(NetlinkError);
    expect(e.errno).toBe(19);
    expect(e.code).toBe('ENODEV');
    expect(e.command).toBe('RTM_GETLINK');
    expect(e.context).toBe('interface nosuchif0');
    expect(e.message).toContain('no interface named "nosuchif0" in this network namespace');
    const f = thrown(() => ifname(0x7ffffff0)) as NetlinkRequestError;
    expect(f.code).toBe('ENODEV');
    expect(f.message).toContain('no interface with index 2147483632');
  });

  it('refuses names and indexes the kernel could never have, without asking it', () => {
    for (const bad of ['', 'a-name-that-is-too-long', 'has space', 'a/b'])
      expect(() => ifindex(bad), bad).toThrow(UsageError);
    for (const bad of [0, -1, 1.5, Number.NaN]) expect(() => ifname(bad), String(bad)).toThrow(UsageError);
  });

  it('lists the same interfaces as ip(8), in index order', () => {
    const ours = listInterfaces();
    const theirs = JSON.parse(execFileSync('ip', ['-j', 'link', 'show']).toString()) as { ifindex: number; ifname: string }[];
    // Other suites may add or remove interfaces meanwhile: compare the ones both saw.
    const byIndex = new Map(ours.map((i) => [i.index, i.name]));
    const common = theirs.filter((t) => byIndex.has(t.ifindex));
    expect(common.length).toBeGreaterThan(0);
    for (const t of common) expect(byIndex.get(t.ifindex)).toBe(t.ifname);
    expect(ours.map((i) => i.index)).toEqual([...ours.map((i) => i.index)].sort((a, b) => a - b));
    expect(ours.find((i) => i.name === 'lo')?.xdp.attached).toBe('none');
  });
});

describe.runIf(isRoot)('netlink socket against the kernel (root)', () => {
  guardFdLeaks();
  let v: VethPair;
  beforeAll(() => {
    v = createVethPair();
  });
  afterAll(() => v?.destroy());

  it('sees the veth pair it made, with index and no XDP program', () => {
    expect(ifindex(v.host)).toBe(v.hostIndex);
    expect(ifname(v.hostIndex)).toBe(v.host);
    const me = listInterfaces().find((i) => i.name === v.host)!;
    expect(me).toEqual({
      index: v.hostIndex,
      name: v.host,
      xdp: { attached: 'none', progId: 0, skbProgId: 0, drvProgId: 0, hwProgId: 0 },
    });
  });

  it('delivers the kernel extended-ack sentence with the errno and command', () => {
    // A qdisc kind the kernel has never heard of: refused with a sentence naming the problem.
    const e = thrown(() =>
      withSocket((s) =>
        s.request(
          newRequest(rtm.RTM_NEWQDISC, nlm_f.NLM_F_CREATE | nlm_f.NLM_F_EXCL)
            .header(TCMSG, { tcm_family: sock.AF_UNSPEC, tcm_ifindex: v.hostIndex, tcm_handle: 0x10000, tcm_parent: 0xffffffff })
            .string(tca.TCA_KIND, 'no_such_qdisc'),
          { context: 'test qdisc', ifindex: v.hostIndex },
        ),
      ),
    ) as NetlinkRequestError;
    expect(e).toBeInstanceOf(NetlinkError);
    expect(e.code).toBe('ENOENT');
    expect(e.command).toBe('RTM_NEWQDISC');
    expect(e.extack).toBe('Specified qdisc kind is unknown');
    expect(e.message).toBe(
      'RTM_NEWQDISC (test qdisc) failed: ENOENT — kernel says: Specified qdisc kind is unknown',
    );
    expect(e.ifindex).toBe(v.hostIndex);
  });

  it('reports attribute policy violations with the kernel sentence', () => {
    // IFLA_IFNAME longer than IFNAMSIZ fails the attribute policy before any lookup.
    const e = thrown(() =>
      withSocket((s) =>
        s.request(
          newRequest(rtm.RTM_GETLINK)
            .header(IFINFOMSG, { ifi_family: sock.AF_UNSPEC })
            .string(ifla.IFLA_IFNAME, 'x'.repeat(40)),
        ),
      ),
    ) as NetlinkRequestError;
    expect(e.code).toBe('ERANGE');
    expect(e.extack).toBe('Attribute failed policy validation');
  });

  it('answers many requests on one socket and closes it once', () => {
    const before = openFdCount();
    const s = NetlinkSocket.open();
    expect(openFdCount()).toBe(before + 1);
    for (let i = 0; i < 50; i++) {
      const replies = s.request(
        newRequest(rtm.RTM_GETLINK).header(IFINFOMSG, { ifi_family: sock.AF_UNSPEC, ifi_index: v.hostIndex }),
      );
      expect(replies).toHaveLength(1);
    }
    s.close();
    s.close();
    expect(openFdCount()).toBe(before);
    expect(() => s.request(newRequest(rtm.RTM_GETLINK).header(IFINFOMSG, { ifi_index: 1 }))).toThrow(/EBADF/);
  });
});
