// prog.attachXdp / prog.attachTcx on a veth pair with real traffic, and listLinks() showing
// (then no longer showing) the links.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgramBuilder, R0, R1, R2, R10 } from '../../src/asm/index.js';
import { BpfMap } from '../../src/maps/index.js';
import { BpfProgram, listLinks } from '../../src/programs/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { needs } from '../helpers/features.js';
import { createVethPair, type VethPair } from '../helpers/netns.js';

const XDP_PASS = 2;
const TCX_PASS = 0;
const UDP_PORT = 40_417;

/** Where the packet pointers are in the context: struct xdp_md, or struct __sk_buff. */
const CTX = { xdp: { data: 0, dataEnd: 4 }, skb: { data: 76, dataEnd: 80 } };

/** counter[0] += 1 for every IPv4 UDP datagram to UDP_PORT (Ethernet, no options), then `verdict`. */
function udpCounter(ctx: 'xdp' | 'skb', verdict: number): ProgramBuilder {
  return new ProgramBuilder()
    .ldxw(R2, R1, CTX[ctx].data)
    .ldxw(R1, R1, CTX[ctx].dataEnd)
    .mov64(R0, R2)
    .add64(R0, 14 + 20 + 8)
    .jgt(R0, R1, 'out')
    .ldxh(R0, R2, 12)
    .jne(R0, 0x0008, 'out') // EtherType 0x0800, read little-endian
    .ldxb(R0, R2, 14 + 9)
    .jne(R0, 17, 'out') // UDP
    .ldxh(R0, R2, 14 + 20 + 2)
    .be(R0, 16)
    .jne(R0, UDP_PORT, 'out')
    .st('w', R10, -4, 0)
    .ldMapFd(R1, 'counter')
    .mov64(R2, R10)
    .add64(R2, -4)
    .call('map_lookup_elem')
    .jeq(R0, 0, 'out')
    .mov64(R1, 1)
    .atomicAdd('dw', R0, 0, R1)
    .label('out')
    .mov64(R0, verdict)
    .exit();
}

function u64(v: Uint8Array | undefined): bigint {
  return v ? new DataView(v.buffer, v.byteOffset).getBigUint64(0, true) : -1n;
}

describe.runIf(isRoot)('attach through BpfProgram', () => {
  guardFdLeaks();
  let veth: VethPair;
  beforeAll(() => {
    veth = createVethPair();
  });
  afterAll(() => veth?.destroy());

  it('attachXdp: the program sees the traffic; listLinks shows the xdp link until it is closed', () => {
    const counter = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'counter' });
    const zero = new Uint8Array(4);
    let prog: BpfProgram | undefined;
    try {
      prog = BpfProgram.load({
        type: 'xdp',
        instructions: udpCounter('xdp', XDP_PASS).assemble().resolveMaps({ counter: counter.fd }),
        license: 'GPL',
        name: 'udp_count_xdp',
      });
      const link = prog.attachXdp(veth.hostIndex, { mode: 'skb' });
      let linkId: number;
      try {
        linkId = link.info().id;
        const ours = listLinks().find((l) => l.id === linkId);
        expect(ours).toMatchObject({ type: 'xdp', progId: prog.info().id, ifindex: veth.hostIndex });
        veth.sendUdp(UDP_PORT, 5);
        expect(u64(counter.lookup(zero))).toBe(5n);
      } finally {
        link.close();
      }
      expect(listLinks().some((l) => l.id === linkId)).toBe(false);
      veth.sendUdp(UDP_PORT, 3);
      expect(u64(counter.lookup(zero))).toBe(5n);
    } finally {
      prog?.close();
      counter.close();
    }
  });

  // Skip reason: needs tcx; skipped where absent or refused (the title says which).
  needs('tcx')('attachTcx: ingress chain runs the program; listLinks shows a tcx link with its direction', () => {
    const counter = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'counter' });
    const zero = new Uint8Array(4);
    let prog: BpfProgram | undefined;
    try {
      prog = BpfProgram.load({
        type: 'sched_cls',
        instructions: udpCounter('skb', TCX_PASS).assemble().resolveMaps({ counter: counter.fd }),
        license: 'GPL',
        name: 'udp_count_tcx',
      });
      const link = prog.attachTcx(veth.hostIndex, 'ingress');
      try {
        const ours = listLinks().find((l) => l.id === link.info().id);
        expect(ours).toMatchObject({ type: 'tcx', progId: prog.info().id, ifindex: veth.hostIndex, attachType: 'tcx_ingress' });
        veth.sendUdp(UDP_PORT, 4);
        expect(u64(counter.lookup(zero))).toBe(4n);
      } finally {
        link.close();
      }
    } finally {
      prog?.close();
      counter.close();
    }
  });
});
