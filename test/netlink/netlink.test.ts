// rtnetlink against the running kernel: interfaces by name and index, dumps, and failures that
// carry errno, the command, our context and the kernel's own extended-ack sentence.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClosedError, NetlinkError, UsageError } from '../../src/errors.js';
import { IFINFOMSG, ifla, ifla_xdp, nlm_f, rtm, sock, TCMSG, tca, xdp_attached } from '../../src/netlink/abi.js';
import { NetlinkRequestError } from '../../src/netlink/errors.js';
import { ifindex, ifname, listInterfaces, parseXdpState } from '../../src/netlink/link.js';
import { Attrs, MessageBuilder } from '../../src/netlink/message.js';
import { NetlinkSocket, newRequest, withSocket } from '../../src/netlink/socket.js';
import { guardFdLeaks, isRoot, openFdCount } from '../helpers/fd-guard.js';
import { createVethPair, type VethPair } from '../helpers/netns.js';
import { thrown } from '../helpers/thrown.js';


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

describe('IFLA_XDP decoding', () => {
  const nest = (build: (b: MessageBuilder) => void): Attrs => {
    const b = new MessageBuilder(0, 0);
    build(b);
    return new Attrs(b.finish(0), 16);
  };

  it('reports one mode with its program id, several modes as multi without a single id', () => {
    expect(parseXdpState(undefined)).toEqual({ attached: 'none', progId: 0, skbProgId: 0, drvProgId: 0, hwProgId: 0 });
    const one = nest((b) =>
      b.u8(ifla_xdp.IFLA_XDP_ATTACHED, xdp_attached.XDP_ATTACHED_SKB).u32(ifla_xdp.IFLA_XDP_SKB_PROG_ID, 42).u32(ifla_xdp.IFLA_XDP_PROG_ID, 42),
    );
    expect(parseXdpState(one)).toEqual({ attached: 'skb', progId: 42, skbProgId: 42, drvProgId: 0, hwProgId: 0 });
    // The kernel omits IFLA_XDP_PROG_ID for MULTI: the per-mode ids are the answer.
    const multi = nest((b) =>
      b.u8(ifla_xdp.IFLA_XDP_ATTACHED, xdp_attached.XDP_ATTACHED_MULTI).u32(ifla_xdp.IFLA_XDP_DRV_PROG_ID, 7).u32(ifla_xdp.IFLA_XDP_HW_PROG_ID, 8),
    );
    expect(parseXdpState(multi)).toEqual({ attached: 'multi', progId: 0, skbProgId: 0, drvProgId: 7, hwProgId: 8 });
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

  it('the veth helper leaves nothing behind', () => {
    const p = createVethPair();
    expect(p.host.length).toBeLessThanOrEqual(15);
    expect(p.peer.length).toBeLessThanOrEqual(15);
    expect(p.host).not.toBe(v.host);
    expect(p.hostAddr).not.toBe(v.hostAddr);
    expect(p.ping(1).received).toBe(1);
    p.destroy();
    p.destroy();
    expect(execFileSync('ip', ['netns', 'list']).toString()).not.toContain(p.ns);
    expect(() => ifindex(p.host)).toThrow(/no interface named/);
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
    expect(() => s.request(newRequest(rtm.RTM_GETLINK).header(IFINFOMSG, { ifi_index: 1 }))).toThrow(ClosedError);
  });
});
