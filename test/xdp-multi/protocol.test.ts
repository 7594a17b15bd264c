// The protocol's fixed parts without a kernel: the configuration struct, verdict names, the
// run order libxdp defines, pin names, and the BTF records (XDP_RUN_CONFIG, dispatcher_version)
// read from real objects — ours, and xdp-tools' own (cross-checked with bpftool's BTF dump).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BpfObject, Btf, BtfError, UsageError } from '../../src/index.js';
import { fullFunctionName, xdpMetadataValue, xdpRunConfig } from '../../src/btf/xdp-metadata.js';
import {
  CONFIG_SIZE,
  CONFIG_V1_SIZE,
  DISPATCHER_MAGIC,
  type OrderKey,
  actionsBitmap,
  actionsOf,
  compareComponents,
  configVersion,
  decodeConfig,
  dispatcherDirName,
  encodeConfig,
  parseDispatcherDirName,
  parseTxnDirName,
  slotFunction,
  slotPins,
  txnDirName,
} from '../../src/xdp/multi/protocol.js';
import { FIXTURE } from './helpers.js';

const XDP_TOOLS = '/usr/lib/x86_64-linux-gnu/bpf';

describe('the dispatcher configuration', () => {
  const config = {
    magic: DISPATCHER_MAGIC,
    version: 2,
    numProgsEnabled: 3,
    isXdpFrags: true,
    chainCallActions: [0x80000004, 0x80000006, 0x80000004, 0, 0, 0, 0, 0, 0, 0],
    runPrios: [5, 50, 50, 0, 0, 0, 0, 0, 0, 0],
    programFlags: [32, 32, 32, 0, 0, 0, 0, 0, 0, 0],
  };

  it('encodes to the C layout and back: four u8, then three u32[10], little-endian', () => {
    const bytes = encodeConfig(config);
    expect(bytes.length).toBe(CONFIG_SIZE);
    expect([...bytes.subarray(0, 4)]).toEqual([236, 2, 3, 1]);
    const dv = new DataView(bytes.buffer);
    expect(dv.getUint32(4, true)).toBe(0x80000004);
    expect(dv.getUint32(44, true)).toBe(5);
    expect(dv.getUint32(84, true)).toBe(32);
    expect(configVersion(bytes)).toBe(2);
    expect(decodeConfig(bytes, 2)).toEqual(config);
  });

  it('a version-1 value has no magic (its version is in BTF) and no frags fields', () => {
    const v1 = new Uint8Array(CONFIG_V1_SIZE);
    const dv = new DataView(v1.buffer);
    v1[0] = 2;
    dv.setUint32(4, 0x80000004, true);
    dv.setUint32(8, 0x80000002, true);
    dv.setUint32(44, 10, true);
    dv.setUint32(48, 20, true);
    expect(configVersion(v1)).toBeUndefined();
    const c = decodeConfig(v1, 1);
    expect(c).toMatchObject({ version: 1, numProgsEnabled: 2, isXdpFrags: false });
    expect(c.chainCallActions.slice(0, 2)).toEqual([0x80000004, 0x80000002]);
    expect(c.runPrios.slice(0, 2)).toEqual([10, 20]);
    expect(c.programFlags.every((f) => f === 0)).toBe(true);
  });

  it('verdicts by name, in tsbpf\'s spelling or libxdp\'s, into a bitmap and back', () => {
    expect(actionsBitmap(['pass'], 'x')).toBe(1 << 2);
    expect(actionsBitmap(['XDP_DROP', 'pass', 'Tx'], 'x')).toBe((1 << 1) | (1 << 2) | (1 << 3));
    expect(actionsOf(0x80000000 | (1 << 1) | (1 << 2))).toEqual(['drop', 'pass']);
    expect(() => actionsBitmap(['continue'], 'x')).toThrow(UsageError);
    expect(() => actionsBitmap(['continue'], 'x')).toThrow(/'continue' is not an XDP verdict; use aborted, drop, pass, tx, redirect/);
  });

  it('a single-slot dispatcher has its component replace xdp_dispatcher itself, as libxdp does', () => {
    expect(slotFunction(0, 1)).toBe('xdp_dispatcher');
    expect(slotFunction(0, 2)).toBe('prog0');
    expect(slotFunction(9, 10)).toBe('prog9');
  });

  it('pin names: dispatch-IFINDEX-ID/progN-{prog,link}, and tsbpf\'s txn records apart from them', () => {
    expect(dispatcherDirName(4, 123)).toBe('dispatch-4-123');
    expect(parseDispatcherDirName('dispatch-4-123')).toEqual({ ifindex: 4, dispatcherId: 123 });
    expect(slotPins(3)).toEqual({ prog: 'prog3-prog', link: 'prog3-link' });
    expect(txnDirName(4, 130, 123)).toBe('tsbpf-txn-4-130-123');
    expect(parseTxnDirName('tsbpf-txn-4-130-123')).toEqual({ ifindex: 4, newId: 130, oldId: 123 });
    // libxdp scans for "dispatch-%d-%u": a txn record must never look like one.
    expect(parseDispatcherDirName(txnDirName(4, 130, 123))).toBeUndefined();
    expect(txnDirName(4, 1, 2).startsWith('dispatch-')).toBe(false);
  });
});

describe('run order (libxdp\'s cmp_xdp_programs)', () => {
  const k = (o: Partial<OrderKey>): OrderKey => ({ priority: 50, name: 'p', loaded: false, insnCount: 10, tag: '', loadTimeNs: 0n, id: 0, ...o });
  const sorted = (...keys: OrderKey[]) => [...keys].sort(compareComponents);

  it('lower priority first, then the function name byte by byte', () => {
    const a = k({ priority: 10, name: 'zeta' });
    const b = k({ priority: 50, name: 'Alpha' });
    const c = k({ priority: 50, name: 'alpha' });
    expect(sorted(c, b, a)).toEqual([a, b, c]);
  });

  it('same priority and name: loaded before unloaded; two unloaded by instruction count', () => {
    const loaded = k({ loaded: true, tag: 'ff00000000000000', id: 9 });
    const small = k({ insnCount: 5 });
    const big = k({ insnCount: 50 });
    expect(sorted(big, small, loaded)).toEqual([loaded, small, big]);
  });

  it('two loaded: by tag (memcmp), then load time; the id only breaks what libxdp leaves to chance', () => {
    const t1 = k({ loaded: true, tag: '0a00000000000000', loadTimeNs: 9n, id: 3 });
    const t2 = k({ loaded: true, tag: '0b00000000000000', loadTimeNs: 1n, id: 2 });
    expect(sorted(t2, t1)).toEqual([t1, t2]);
    const early = k({ loaded: true, tag: '0a00000000000000', loadTimeNs: 1n, id: 8 });
    const late = k({ loaded: true, tag: '0a00000000000000', loadTimeNs: 2n, id: 7 });
    expect(sorted(late, early)).toEqual([early, late]);
    const x = k({ loaded: true, tag: '0a00000000000000', loadTimeNs: 1n, id: 5 });
    const y = k({ loaded: true, tag: '0a00000000000000', loadTimeNs: 1n, id: 4 });
    expect(sorted(x, y)).toEqual([y, x]);
  });
});

describe('BTF records of the protocol', () => {
  it('XDP_RUN_CONFIG: declared priority and verdicts; none declared is undefined (defaults apply)', () => {
    const obj = BpfObject.open(FIXTURE);
    expect(xdpRunConfig(obj.btf!, 'mp_tuned')).toEqual({ priority: 5, actions: new Map([[2, true], [1, true]]) });
    expect(xdpRunConfig(obj.btf!, 'mp_alpha')).toBeUndefined();
  });

  it("reads xdp-tools' own xdp-filter objects as bpftool's BTF dump describes them", () => {
    for (const file of ['xdpfilt_alw_all.o', 'xdpfilt_dny_udp.o']) {
      const path = `${XDP_TOOLS}/${file}`;
      const obj = BpfObject.open(path);
      const func = [...obj.spec.programs.keys()][0]!;
      // Independently: bpftool's JSON, following VAR _func -> STRUCT -> PTR -> ARRAY nr_elems.
      const types = (JSON.parse(execFileSync('bpftool', ['btf', 'dump', 'file', path, '-j'], { encoding: 'utf8' })) as { types: any[] }).types;
      const byId = new Map(types.map((t) => [t.id, t]));
      const v = types.find((t) => t.kind === 'VAR' && t.name === `_${func}`);
      const want = new Map<string, number>();
      for (const m of byId.get(v.type_id).members) want.set(m.name, byId.get(byId.get(m.type_id).type_id).nr_elems);
      const got = xdpRunConfig(obj.btf!, func)!;
      expect(got.priority).toBe(want.get('priority'));
      const names = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
      for (const [action, on] of got.actions) expect(on).toBe(want.get(names[action]!) !== 0);
      expect(got.actions.size).toBe([...want.keys()].filter((n) => n !== 'priority').length);
    }
  });

  it('a run configuration libxdp would refuse is a BtfError naming the member', () => {
    const btf = Btf.create();
    const int = btf.add({ kind: 'int', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 });
    const arr = btf.add({ kind: 'array', name: '', type: int, indexType: int, nelems: 1 });
    const ptr = btf.add({ kind: 'ptr', name: '', type: arr });
    const def = btf.add({ kind: 'struct', name: '', size: 16, members: [{ name: 'priority', type: ptr, bitOffset: 0, bitfieldSize: 0 }, { name: 'XDP_CONTINUE', type: ptr, bitOffset: 64, bitfieldSize: 0 }] });
    const v = btf.add({ kind: 'var', name: '_f', type: def, linkage: 'global' });
    btf.add({ kind: 'datasec', name: '.xdp_run_config', size: 16, vars: [{ type: v, offset: 0, size: 16 }] });
    expect(() => xdpRunConfig(btf, 'f')).toThrow(BtfError);
    expect(() => xdpRunConfig(btf, 'f')).toThrow(/member 'XDP_CONTINUE' is neither 'priority' nor an XDP action/);
    const plain = btf.add({ kind: 'struct', name: '', size: 4, members: [{ name: 'priority', type: int, bitOffset: 0, bitfieldSize: 0 }] });
    const v2 = btf.add({ kind: 'var', name: '_g', type: plain, linkage: 'global' });
    btf.replace(btf.typeByName('.xdp_run_config', 'datasec')!, { kind: 'datasec', name: '.xdp_run_config', size: 20, vars: [{ type: v, offset: 0, size: 16 }, { type: v2, offset: 16, size: 4 }] });
    expect(() => xdpRunConfig(btf, 'g')).toThrow(/priority: expected a pointer to an array \(__uint\(name, N\)\), got int/);
  });

  it('names the kernel cut to 15 characters are found again in BTF, when exactly one function fits', () => {
    const btf = Btf.create();
    const proto = btf.add({ kind: 'func_proto', name: '', returnType: 0, params: [] });
    btf.add({ kind: 'func', name: 'filter_ipv4_and_count', type: proto, linkage: 'global' });
    btf.add({ kind: 'func', name: 'twins_are_named_a', type: proto, linkage: 'global' });
    btf.add({ kind: 'func', name: 'twins_are_named_b', type: proto, linkage: 'global' });
    expect(fullFunctionName(btf, 'filter_ipv4_and')).toBe('filter_ipv4_and_count');
    expect(fullFunctionName(btf, 'twins_are_named')).toBe('twins_are_named');
    expect(fullFunctionName(btf, 'short')).toBe('short');
    expect(fullFunctionName(undefined, 'filter_ipv4_and')).toBe('filter_ipv4_and');
  });
});
