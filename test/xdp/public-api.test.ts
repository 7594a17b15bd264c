// The public surface end to end: a program built with the assembler, loaded as a BpfProgram,
// counting into a BpfMap, attached with xdp.* and tc.* from 'tsbpf' exactly as users write it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProgramBuilder, R0, R1, R2, R10 } from '../../src/asm/index.js';
import { BpfMap, BpfProgram, ifindex, ifname, listInterfaces, NetlinkError, tc, xdp } from '../../src/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { createVethPair, type VethPair } from '../helpers/netns.js';

/** Counts every packet in map[0], then returns `action`. */
function counting(type: 'xdp' | 'sched_cls', map: BpfMap, action: number, name: string): BpfProgram {
  const { resolveMaps } = new ProgramBuilder()
    .st('w', R10, -4, 0)
    .mov64(R2, R10)
    .add64(R2, -4)
    .ldMapFd(R1, 'counter')
    .call('map_lookup_elem')
    .jeq(R0, 0, 'out')
    .mov64(R1, 1)
    .atomicAdd('dw', R0, 0, R1)
    .label('out')
    .mov64(R0, action)
    .exit()
    .assemble();
  return BpfProgram.load({ type, instructions: resolveMaps({ counter: map.fd }), license: 'GPL', name });
}

const count = (map: BpfMap): bigint => Buffer.from(map.lookup(new Uint8Array(4)) as Uint8Array).readBigUInt64LE(0);

describe.runIf(isRoot)("public API: tsbpf's xdp and tc with BpfProgram and BpfMap", () => {
  guardFdLeaks();
  let v: VethPair;
  let map: BpfMap;
  beforeAll(() => {
    v = createVethPair();
    map = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'api_count' });
  });
  afterAll(() => {
    map?.close();
    v?.destroy();
  });

  it('xdp.attach takes a BpfProgram; drops and counts real pings; detach restores traffic', () => {
    const prog = counting('xdp', map, 1 /* XDP_DROP */, 'api_xdp_drop');
    try {
      expect(ifindex(v.host)).toBe(v.hostIndex);
      expect(ifname(v.hostIndex)).toBe(v.host);
      const before = count(map);
      const a = xdp.attach(ifindex(v.host), prog, { mode: 'skb' });
      expect(a.progId).toBe(prog.info().id);
      expect(listInterfaces().find((i) => i.index === v.hostIndex)?.xdp).toMatchObject({ attached: 'skb', skbProgId: a.progId });
      expect(v.ping(4).received).toBe(0);
      expect(count(map) - before).toBe(4n);
      expect(() => xdp.attach(v.hostIndex, prog)).toThrow(NetlinkError);
      xdp.detach(v.hostIndex, { expected: prog });
      expect(v.ping(2).received).toBe(2);
    } finally {
      prog.close();
    }
  });

  it('tc.attach takes a BpfProgram; counts and passes real pings', () => {
    const prog = counting('sched_cls', map, 0 /* TC_ACT_OK */, 'api_tc_ok');
    const hook = tc.hookCreate({ ifindex: v.hostIndex, attachPoint: 'ingress' });
    try {
      const before = count(map);
      const f = tc.attach(hook, { prog });
      expect(v.ping(3).received).toBe(3);
      expect(count(map) - before).toBe(3n);
      expect(tc.list(hook)).toEqual([expect.objectContaining({ ...f, name: 'api_tc_ok', directAction: true })]);
    } finally {
      tc.hookDestroy(hook);
      prog.close();
    }
  });
});
