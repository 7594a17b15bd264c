// netfilter links with real packets: a program on this namespace's local_in hook drops UDP
// datagrams a test namespace sends across a veth (the socket never sees them; other ports pass),
// and one on a test namespace's prerouting hook (the thread enters it to attach) sees IP
// fragments — or, with defrag (6.6+), one reassembled datagram.
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { BpfError, BpfObject, NotSupportedError, UsageError, type LinkInfo } from '../../src/index.js';
import { lacks, needs } from '../helpers/features.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { createVethPair, type VethPair } from '../helpers/netns.js';
import { thrown } from '../helpers/thrown.js';
import { until } from '../helpers/until.js';

const FIX = new URL('../fixtures/attach_netfilter.o', import.meta.url).pathname;
const count = (obj: BpfObject, name: string): bigint => Buffer.from(obj.global(name)).readBigUInt64LE(0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** An IPv4 address in network order, as the little-endian u32 a BPF program compares with. */
const be32 = (ip: string): number => Buffer.from(ip.split('.').map(Number)).readUInt32LE(0);

// Skip reason: netfilter links came in Linux 6.4; the packet tests skip on kernels without them
// (6.1) and the 'kernel without netfilter links' test asserts that refusal, so it skips where they
// exist (6.12, 6.18). Each skipped title names the feature and kernel.
describe.runIf(isRoot)('netfilter links', () => {
  guardFdLeaks();
  let pair: VethPair;
  let rx: dgram.Socket;
  let port = 0;
  const got: string[] = [];
  beforeAll(async () => {
    pair = createVethPair();
    rx = dgram.createSocket('udp4');
    rx.on('message', (m) => got.push(m.toString()));
    await new Promise<void>((r) => rx.bind(0, pair.hostAddr, r));
    port = rx.address().port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => rx.close(() => r()));
    pair?.destroy();
  });

  // Skip reason: needs netfilter_link; skipped where absent or refused (the title says which).
  needs('netfilter_link')("drops the UDP datagrams to one port that a test namespace sends to this one (local_in); other ports pass; closing the link lets them through", async () => {
    using obj = BpfObject.open(FIX).setConstant('target_addr', be32(pair.hostAddr)).setConstant('drop_port', port).load();
    {
      using link = obj.program('filter_udp').attachNetfilter({ family: 'ipv4', hook: 'local_in', priority: -100 });
      pair.sendUdp(port, 4, 'dropped');
      pair.sendUdp(port + 1, 2, 'other port'); // nobody listens: the kernel answers, the program lets it by
      await until(() => count(obj, 'seen') >= 6n);
      await sleep(50); // a datagram the program let through by mistake would have arrived by now
      expect(got).toEqual([]);
      expect(count(obj, 'dropped')).toBe(4n);
      expect(count(obj, 'seen')).toBe(6n);
      const info = link.info() as Extract<LinkInfo, { type: 'netfilter' }>;
      expect(info).toMatchObject({ type: 'netfilter', progId: obj.program('filter_udp').info().id, family: 'ipv4', hook: 'local_in', priority: -100, defrag: false, flags: 0 });
    }
    pair.sendUdp(port, 2, 'after close');
    for (let i = 0; i < 100 && got.length < 2; i++) await sleep(10);
    expect(got).toEqual(['after close', 'after close']);
    expect(count(obj, 'dropped')).toBe(4n);
    got.length = 0;
  });

  // Skip reason: needs netfilter_link; skipped where absent or refused (the title says which).
  needs('netfilter_link')("in a test namespace's prerouting hook the program sees each IP fragment; with defrag (6.6+) one reassembled datagram", async () => {
    const tx = dgram.createSocket('udp4');
    const big = Buffer.alloc(3000, 'f'); // 3008 bytes of UDP over a 1500-byte MTU: 1480 + 1480 + 48
    const send = () => new Promise<void>((r, j) => tx.send(big, 9, pair.peerAddr, (e) => (e ? j(e) : r())));
    try {
      {
        using obj = BpfObject.open(FIX).setConstant('target_addr', be32(pair.peerAddr)).load();
        using link = obj.program('filter_udp').attachNetfilter({ family: 'ipv4', hook: 'prerouting', priority: -100 }, { netns: pair.ns });
        await send();
        await until(() => count(obj, 'seen') >= 3n);
        expect(count(obj, 'seen')).toBe(3n);
        expect(count(obj, 'largest')).toBe(1500n);
        expect(link.info()).toMatchObject({ type: 'netfilter', family: 'ipv4', hook: 'prerouting', defrag: false });
      }
      using obj = BpfObject.open(FIX).setConstant('target_addr', be32(pair.peerAddr)).load();
      let link;
      try {
        link = obj.program('filter_udp').attachNetfilter({ family: 'ipv4', hook: 'prerouting', priority: -100 }, { netns: pair.ns, defrag: true });
      } catch (e) {
        // A kernel from before 6.6 has netfilter links but not their defrag flag.
        expect(e).toBeInstanceOf(NotSupportedError);
        expect((e as NotSupportedError).minKernel).toBe('6.6');
        return;
      }
      try {
        await send();
        await until(() => count(obj, 'seen') >= 1n);
        await sleep(50); // fragments counted one by one would have been by now
        expect(count(obj, 'seen')).toBe(1n);
        expect(count(obj, 'largest')).toBe(3028n);
        expect(link.info()).toMatchObject({ type: 'netfilter', hook: 'prerouting', defrag: true, flags: 1 });
      } finally {
        link.close();
      }
    } finally {
      await new Promise<void>((r) => tx.close(() => r()));
    }
  });

  // Skip reason: needs netfilter_link; skipped where absent or refused (the title says which).
  needs('netfilter_link')('mistakes are UsageErrors before any call; the kernel refusals are explained', () => {
    using obj = BpfObject.open(FIX).load();
    const p = obj.program('filter_udp');
    expect(() => p.attachNetfilter({ family: 'ipx' as 'ipv4', hook: 'local_in', priority: 0 })).toThrow(/family must be 'ipv4' or 'ipv6'/);
    expect(() => p.attachNetfilter({ family: 'ipv4', hook: 'input' as 'local_in', priority: 0 })).toThrow(/hook must be one of prerouting, local_in, forward, local_out, postrouting/);
    expect(() => p.attachNetfilter({ family: 'ipv4', hook: 'local_in', priority: -2147483648 })).toThrow(UsageError);
    expect(() => p.attachNetfilter({ family: 'ipv4', hook: 'local_in', priority: -500 }, { defrag: true })).toThrow(/with defrag the priority must be above -400/);
    expect(() => p.attachNetfilter({ family: 'ipv4', hook: 'local_in', priority: 0 }, { netns: 'no-such-namespace-tsbpf' })).toThrow(/no namespace named 'no-such-namespace-tsbpf'/);
  });

  // Skip reason: checks the NotSupportedError, so it runs only where netfilter_link is absent.
  lacks('netfilter_link')('a kernel without netfilter links has no netfilter programs either: the load says which Linux has them', () => {
    const e = thrown<NotSupportedError>(() => BpfObject.open(FIX).load());
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e.message).toMatch(/netfilter programs need Linux 6\.4/);
    expect(e).not.toBeInstanceOf(BpfError);
  });
});
