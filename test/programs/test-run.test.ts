// Behaviour through BPF_PROG_TEST_RUN: programs built with the assembler, maps read back,
// packets rewritten, retvals per program type.
import { describe, expect, it } from 'vitest';
import { ProgramBuilder, R0, R1, R2, R3, R4, R5, R6, R7, R8, R10 } from '../../src/asm/index.js';
import { BpfError, UsageError } from '../../src/errors.js';
import { BpfMap } from '../../src/maps/index.js';
import { BpfProgram } from '../../src/programs/index.js';
import { BPF_F_SLEEPABLE } from '../../src/syscall/abi/bpf.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { returns } from './insns.js';

const XDP_ABORTED = 0;
const XDP_DROP = 1;
const XDP_PASS = 2;
const XDP_TX = 3;
const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;

const ETH_P_IP = 0x0800;
const ETH_P_ARP = 0x0806;
const ETH_P_8021Q = 0x8100;
const ETH_P_IPV6 = 0x86dd;

const DST = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const SRC = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

/** An Ethernet frame: dst, src, [802.1Q tag], EtherType, payload. */
function frame(etherType: number, opts: { vlan?: number; payload?: number } = {}): Uint8Array {
  const head = [...DST, ...SRC];
  if (opts.vlan !== undefined) head.push(ETH_P_8021Q >> 8, ETH_P_8021Q & 0xff, (opts.vlan >> 8) & 0x0f, opts.vlan & 0xff);
  head.push(etherType >> 8, etherType & 0xff);
  const payload = Array.from({ length: opts.payload ?? 46 }, (_, i) => (i * 7 + 1) & 0xff);
  return new Uint8Array([...head, ...payload]);
}

function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

/**
 * Counts frames per EtherType (the inner one under an 802.1Q tag) in a hash map keyed by the
 * EtherType as a host-order u32; drops IPv6, passes everything else, aborts runts.
 */
function etherTypeCounter(): ProgramBuilder {
  return new ProgramBuilder()
    .ldxw(R2, R1, 0) // data
    .ldxw(R3, R1, 4) // data_end
    .mov64(R4, R2)
    .add64(R4, 14)
    .jgt(R4, R3, 'runt')
    .ldxh(R7, R2, 12) // EtherType, network order
    .be(R7, 16)
    .jne(R7, ETH_P_8021Q, 'count')
    .mov64(R4, R2)
    .add64(R4, 18)
    .jgt(R4, R3, 'runt')
    .ldxh(R7, R2, 16) // inner EtherType
    .be(R7, 16)
    .label('count')
    .stxw(R10, -4, R7) // key
    .ldMapFd(R1, 'counts')
    .mov64(R2, R10)
    .add64(R2, -4)
    .call('map_lookup_elem')
    .jeq(R0, 0, 'first')
    .mov64(R1, 1)
    .atomicAdd('dw', R0, 0, R1)
    .ja('verdict')
    .label('first')
    .st('dw', R10, -16, 1)
    .ldMapFd(R1, 'counts')
    .mov64(R2, R10)
    .add64(R2, -4)
    .mov64(R3, R10)
    .add64(R3, -16)
    .mov64(R4, 0) // BPF_ANY
    .call('map_update_elem')
    .label('verdict')
    .mov64(R0, XDP_PASS)
    .jne(R7, ETH_P_IPV6, 'out')
    .mov64(R0, XDP_DROP)
    .label('out')
    .exit()
    .label('runt')
    .mov64(R0, XDP_ABORTED)
    .exit();
}

/** Swaps source and destination MAC addresses and bounces the frame (XDP_TX). */
function macSwap(): ProgramBuilder {
  return new ProgramBuilder()
    .ldxw(R2, R1, 0)
    .ldxw(R3, R1, 4)
    .mov64(R4, R2)
    .add64(R4, 14)
    .jgt(R4, R3, 'short')
    .ldxw(R4, R2, 0)
    .ldxh(R5, R2, 4)
    .ldxw(R6, R2, 6)
    .ldxh(R8, R2, 10)
    .stxw(R2, 0, R6)
    .stxh(R2, 4, R8)
    .stxw(R2, 6, R4)
    .stxh(R2, 10, R5)
    .mov64(R0, XDP_TX)
    .exit()
    .label('short')
    .mov64(R0, XDP_DROP)
    .exit();
}

describe.runIf(isRoot)('testRun', () => {
  guardFdLeaks();

  it('counts frames per EtherType in a hash map, including under a VLAN tag; drops IPv6', () => {
    const counts = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'counts' });
    const asm = etherTypeCounter().assemble();
    const prog = BpfProgram.load({ type: 'xdp', instructions: asm.resolveMaps({ counts: counts.fd }), license: 'GPL', name: 'ethertypes' });
    try {
      const frames: [Uint8Array, number][] = [
        [frame(ETH_P_IP), XDP_PASS],
        [frame(ETH_P_IP), XDP_PASS],
        [frame(ETH_P_IP, { vlan: 42 }), XDP_PASS],
        [frame(ETH_P_IPV6), XDP_DROP],
        [frame(ETH_P_IPV6, { vlan: 7 }), XDP_DROP],
        [frame(ETH_P_ARP, { payload: 28 }), XDP_PASS],
      ];
      for (const [f, verdict] of frames) {
        const r = prog.testRun({ data: f });
        expect(r.retval).toBe(verdict);
        expect(r.data).toEqual(f);
      }
      // A runt (shorter than an Ethernet header) is aborted and counted nowhere.
      expect(prog.testRun({ data: frame(ETH_P_8021Q, { payload: 0 }) }).retval).toBe(XDP_ABORTED);

      const read = (t: number) => {
        const v = counts.lookup(u32le(t));
        return v === undefined ? undefined : new DataView(v.buffer, v.byteOffset).getBigUint64(0, true);
      };
      expect(read(ETH_P_IP)).toBe(3n);
      expect(read(ETH_P_IPV6)).toBe(2n);
      expect(read(ETH_P_ARP)).toBe(1n);
      expect(read(ETH_P_8021Q)).toBeUndefined();
      expect([...counts.keys()].length).toBe(3);
      expect(prog.info().mapIds).toEqual([counts.info().id]);
    } finally {
      prog.close();
      counts.close();
    }
  });

  it('repeat runs the program that many times and reports a mean duration', () => {
    const counts = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'counts' });
    const prog = BpfProgram.load({
      type: 'xdp',
      instructions: etherTypeCounter().assemble().resolveMaps({ counts: counts.fd }),
      license: 'GPL',
    });
    try {
      const r = prog.testRun({ data: frame(ETH_P_ARP), repeat: 1000 });
      expect(r.retval).toBe(XDP_PASS);
      expect(r.durationNs).toBeGreaterThan(0);
      expect(r.durationNs).toBeLessThan(1_000_000);
      const v = counts.lookup(u32le(ETH_P_ARP))!;
      expect(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)).toBe(1000n);
    } finally {
      prog.close();
      counts.close();
    }
  });

  it('a program that rewrites the packet: the returned data shows the swapped MACs', () => {
    const prog = BpfProgram.load({ type: 'xdp', instructions: macSwap().assemble(), license: 'GPL', name: 'mac_swap' });
    try {
      const f = frame(ETH_P_IP);
      const r = prog.testRun({ data: f });
      expect(r.retval).toBe(XDP_TX);
      expect([...r.data.subarray(0, 6)]).toEqual(SRC);
      expect([...r.data.subarray(6, 12)]).toEqual(DST);
      expect(r.data.subarray(12)).toEqual(f.subarray(12));
      expect(r.data.length).toBe(f.length);
      // The input is untouched.
      expect([...f.subarray(0, 6)]).toEqual(DST);
    } finally {
      prog.close();
    }
  });

  it('a program that grows the packet (bpf_xdp_adjust_head) gets the longer output back', () => {
    // adjust_head(ctx, -4), then write 0xdeadbeef in the 4 new bytes.
    const asm = new ProgramBuilder()
      .mov64(R6, R1)
      .mov64(R2, -4)
      .call('xdp_adjust_head')
      .jne(R0, 0, 'fail')
      .ldxw(R2, R6, 0)
      .ldxw(R3, R6, 4)
      .mov64(R4, R2)
      .add64(R4, 4)
      .jgt(R4, R3, 'fail')
      .st('w', R2, 0, 0xefbeadde | 0)
      .mov64(R0, XDP_PASS)
      .exit()
      .label('fail')
      .mov64(R0, XDP_ABORTED)
      .exit()
      .assemble();
    const prog = BpfProgram.load({ type: 'xdp', instructions: asm, license: 'GPL' });
    try {
      const f = frame(ETH_P_IP);
      const r = prog.testRun({ data: f });
      expect(r.retval).toBe(XDP_PASS);
      expect(r.data.length).toBe(f.length + 4);
      expect([...r.data.subarray(0, 4)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
      expect(r.data.subarray(4)).toEqual(f);
    } finally {
      prog.close();
    }
  });

  it('a dataOutSize too small for the output is grown to what the kernel reports (the program runs again)', () => {
    const counts = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 16, name: 'counts' });
    const prog = BpfProgram.load({
      type: 'xdp',
      instructions: etherTypeCounter().assemble().resolveMaps({ counts: counts.fd }),
      license: 'GPL',
    });
    try {
      const f = frame(ETH_P_IP, { payload: 200 });
      const r = prog.testRun({ data: f, dataOutSize: 16 });
      expect(r.retval).toBe(XDP_PASS);
      expect(r.data).toEqual(f);
      const v = counts.lookup(u32le(ETH_P_IP))!;
      expect(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)).toBe(2n);
    } finally {
      prog.close();
      counts.close();
    }
  });

  it('passes a context in and gets it back: an XDP program returning ctx->ingress_ifindex', () => {
    const asm = new ProgramBuilder().ldxw(R0, R1, 12).exit().assemble();
    const prog = BpfProgram.load({ type: 'xdp', instructions: asm, license: 'GPL' });
    try {
      const f = frame(ETH_P_IP);
      // struct xdp_md { data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex }
      const ctx = new Uint8Array(24);
      const v = new DataView(ctx.buffer);
      v.setUint32(4, f.length, true); // data_end: the kernel requires the packet's length
      v.setUint32(12, 1, true); // ingress_ifindex: lo
      const r = prog.testRun({ data: f, ctx });
      expect(r.retval).toBe(1);
      expect(r.ctx).toBeDefined();
      expect(r.ctx!.length).toBe(24);
      const out = new DataView(r.ctx!.buffer, r.ctx!.byteOffset);
      expect(out.getUint32(4, true)).toBe(f.length);
      expect(out.getUint32(12, true)).toBe(1);
    } finally {
      prog.close();
    }
  });

  it('socket_filter sees skb->len without the Ethernet header', () => {
    // r0 = skb->len (struct __sk_buff offset 0)
    const prog = BpfProgram.load({ type: 'socket_filter', instructions: new ProgramBuilder().ldxw(R0, R1, 0).exit().assemble(), license: 'GPL' });
    try {
      const f = frame(ETH_P_IP, { payload: 100 });
      expect(prog.testRun({ data: f }).retval).toBe(f.length - 14);
    } finally {
      prog.close();
    }
  });

  it('sched_cls reads skb->protocol: shoots IPv6, lets IPv4 through', () => {
    // skb->protocol (offset 16) is in network order.
    const asm = new ProgramBuilder()
      .ldxw(R2, R1, 16)
      .be(R2, 16)
      .mov64(R0, TC_ACT_OK)
      .jne(R2, ETH_P_IPV6, 'out')
      .mov64(R0, TC_ACT_SHOT)
      .label('out')
      .exit()
      .assemble();
    const prog = BpfProgram.load({ type: 'sched_cls', instructions: asm, license: 'GPL', name: 'no_v6' });
    try {
      expect(prog.testRun({ data: frame(ETH_P_IP) }).retval).toBe(TC_ACT_OK);
      expect(prog.testRun({ data: frame(ETH_P_IPV6) }).retval).toBe(TC_ACT_SHOT);
    } finally {
      prog.close();
    }
  });

  it('a raw_tracepoint program runs without data', () => {
    const prog = BpfProgram.load({ type: 'raw_tracepoint', instructions: returns(7), license: 'GPL' });
    try {
      const r = prog.testRun({ ctx: new Uint8Array(8) });
      expect(r.retval).toBe(7);
      expect(r.data.length).toBe(0);
    } finally {
      prog.close();
    }
  });

  it('a syscall program writes its result into the context, which comes back', () => {
    // *(u32 *)(ctx + 4) = *(u32 *)(ctx + 0) * 3; return 0
    const asm = new ProgramBuilder().ldxw(R2, R1, 0).mul64(R2, 3).stxw(R1, 4, R2).mov64(R0, 0).exit().assemble();
    // The verifier's one-line refusal makes the message.
    expect(() => BpfProgram.load({ type: 'syscall', instructions: asm, license: 'GPL' })).toThrow(
      /EINVAL — the verifier rejected the program:\nSyscall programs can only be sleepable/,
    );
    const prog = BpfProgram.load({ type: 'syscall', instructions: asm, license: 'GPL', flags: BPF_F_SLEEPABLE });
    try {
      const ctx = new Uint8Array(8);
      new DataView(ctx.buffer).setUint32(0, 14, true);
      const r = prog.testRun({ ctx });
      expect(r.retval).toBe(0);
      expect(new DataView(r.ctx!.buffer, r.ctx!.byteOffset).getUint32(4, true)).toBe(42);
      expect(new DataView(ctx.buffer).getUint32(4, true)).toBe(0);
    } finally {
      prog.close();
    }
  });

  it('a frame shorter than an Ethernet header is EINVAL with advice', () => {
    const prog = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_PASS), license: 'GPL' });
    try {
      let e: unknown;
      try {
        prog.testRun({ data: new Uint8Array(4) });
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(BpfError);
      expect((e as BpfError).code).toBe('EINVAL');
      expect((e as BpfError).command).toBe('BPF_PROG_TEST_RUN');
      expect((e as Error).message).toContain('data of 4 bytes');
      expect(() => prog.testRun({ data: 'abc' as never })).toThrow(UsageError);
      expect(() => prog.testRun({ data: new Uint8Array(14), repeat: -1 })).toThrow(UsageError);
    } finally {
      prog.close();
    }
  });

  it('assembler output with unresolved map names is refused before the kernel sees fd 0', () => {
    const asm = etherTypeCounter().assemble();
    expect(() => BpfProgram.load({ type: 'xdp', instructions: asm, license: 'GPL' })).toThrow(
      /refers to map 'counts' by name: pass program.resolveMaps\(\{ counts: map.fd \}\)/,
    );
  });
});
