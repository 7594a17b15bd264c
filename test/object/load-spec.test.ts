// Loading without changing the spec: load() works on a copy (so one spec loads again, the same
// way), maps come from their specs (BpfMap.fromSpec, with the compatibility check used for pins),
// existing maps replace declared ones, and object BTF is sanitised by what the kernel's probes
// say it lacks.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BpfMap, BpfObject, UsageError, btf as btfApi, features, type FeatureAnswer } from '../../src/index.js';
import type { BtfFeature } from '../../src/features/catalog.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';
import { thrown } from '../helpers/thrown.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const pinRoot = `/sys/fs/bpf/tsbpf-loadspec-${process.pid}`;

guardFdLeaks();
beforeAll(() => mkdirSync(pinRoot, { recursive: true }));
afterAll(() => rmSync(pinRoot, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
});

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer);
const frame = (len: number) => {
  const f = new Uint8Array(len);
  f[12] = 0x08; // IPv4
  return f;
};

/** The u64 a kconfig extern was given, read back from the loaded `.kconfig` map. */
function kconfigValue(obj: BpfObject, name: string): bigint {
  const k = obj.spec.externs.get(name)!.kconfig!;
  const bytes = obj.map('.kconfig').lookup(u32(0)) as Uint8Array;
  let v = 0n;
  for (let i = k.size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[k.offset + i]!);
  return v;
}

describe('load() works on a copy of the spec', () => {
  it('the spec keeps its bytes, and loads again the same way (BpfObject.fromSpec)', () => {
    const opened = BpfObject.open(`${FIX}externs.o`, { kconfig: { CONFIG_HZ: '250' } });
    const kconfig = opened.spec.maps.get('.kconfig')!;
    const pristine = kconfig.data!.slice();
    // Maps only: the point is what load writes into the spec, not the programs' ksyms.
    using first = opened.load({ programs: [] });
    expect(kconfigValue(first, 'CONFIG_HZ')).toBe(250n);
    expect(kconfig.data).toEqual(pristine); // load filled a copy

    using second = BpfObject.fromSpec(opened.spec, { kconfig: { CONFIG_HZ: '1000' } }).load({ programs: [] });
    expect(kconfigValue(second, 'CONFIG_HZ')).toBe(1000n);
    using third = BpfObject.fromSpec(opened.spec, { kconfig: { CONFIG_HZ: '250' } }).load({ programs: [] });
    expect(third.map('.kconfig').lookup(u32(0))).toEqual(first.map('.kconfig').lookup(u32(0)));
    expect(kconfig.data).toEqual(pristine);
    // Three loads, three sets of maps.
    expect(new Set([first, second, third].map((o) => o.map('.kconfig').info().id)).size).toBe(3);
  });

  it('edits to the spec after load do not change what the loaded object does', () => {
    using obj = BpfObject.open(`${FIX}globals.o`).load();
    // Unfrozen in the spec now, but what was loaded is frozen: still refused before the kernel.
    (obj.spec.maps.get('.rodata') as { freeze: boolean }).freeze = false;
    expect(() => obj.setGlobal('cfg_mode', 3)).toThrow(UsageError);
    obj.setGlobal('seen', 42);
    expect(new DataView(obj.global('seen').buffer).getBigUint64(0, true)).toBe(42n);
  });

  it('fromSpec refuses what is not a spec', () => {
    expect(() => BpfObject.fromSpec({} as never)).toThrow(UsageError);
  });
});

describe('BpfMap.fromSpec', () => {
  it('creates the declared map, pins it by name, reuses a compatible pin and refuses another', () => {
    const spec = BpfObject.open(`${FIX}xdp_counter.o`).mapSpec('proto_counts');
    const root = `${pinRoot}/fromspec`;
    mkdirSync(root, { recursive: true });
    using a = BpfMap.fromSpec(spec, { pinRoot: root });
    expect(a.info()).toMatchObject({ type: 'hash', keySize: 2, valueSize: 16, maxEntries: 64, flags: 1 });
    expect(a.pinnedPath).toBe(`${root}/proto_counts`);
    using b = BpfMap.fromSpec(spec, { pinRoot: root }); // the pin, reused
    expect(b.info().id).toBe(a.info().id);
    a.unpin();
    using wrong = BpfMap.create({ type: 'hash', keySize: 2, valueSize: 16, maxEntries: 8 });
    wrong.pin(`${root}/proto_counts`);
    const e = thrown(() => BpfMap.fromSpec(spec, { pinRoot: root }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/pinned at .*proto_counts is not compatible \(max entries 8 vs 64, flags 0x0 vs 0x1\)/);
    wrong.unpin();
  });

  it('global data maps get their initial bytes; .rodata is frozen', () => {
    const spec = BpfObject.open(`${FIX}globals.o`).setConstant('cfg_limit', 50n).spec;
    using ro = BpfMap.fromSpec(spec.maps.get('.rodata')!);
    expect(ro.lookup(u32(0))).toEqual(spec.maps.get('.rodata')!.data);
    expect(() => ro.update(u32(0), spec.maps.get('.rodata')!.data!)).toThrow(/EPERM/);
  });
});

describe('a pinRoot that does not exist yet', () => {
  it('is created on bpffs (mode 0700, every missing level), as libbpf does, and the maps are pinned there', () => {
    const root = `${pinRoot}/missing/a/b`;
    expect(existsSync(`${pinRoot}/missing`)).toBe(false);
    using obj = BpfObject.open(`${FIX}xdp_counter.o`, { pinRoot: root }).load();
    expect(obj.map('proto_counts').pinnedPath).toBe(`${root}/proto_counts`);
    expect(statSync(`${pinRoot}/missing`).mode & 0o777).toBe(0o700);
    using again = BpfMap.fromPin(`${root}/proto_counts`);
    expect(again.info().id).toBe(obj.map('proto_counts').info().id);
    obj.map('proto_counts').unpin();
  });

  it('off bpffs is refused by name before any map is created or any directory made', () => {
    const tmp = mkdtempSync(`${tmpdir()}/tsbpf-notbpffs-`);
    try {
      const e = thrown(() => BpfObject.open(`${FIX}xdp_counter.o`, { pinRoot: `${tmp}/pins` }).load());
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toBe(`cannot pin at ${tmp}/pins/proto_counts: ${tmp} is not on a bpf filesystem (pins live on bpffs: mount -t bpf bpf /sys/fs/bpf, and pin below it)`);
      expect(existsSync(`${tmp}/pins`)).toBe(false);
      // No map outlives the refusal: guardFdLeaks() checks that every fd made was closed.
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('the same holds for programs and links pinned by hand', () => {
    using obj = BpfObject.open(`${FIX}xdp_counter.o`, { pinRoot }).load();
    const path = `${pinRoot}/progs/deeper/xdp_count`;
    obj.program('xdp_count').pin(path);
    expect(existsSync(path)).toBe(true);
    obj.program('xdp_count').unpin();
    expect(thrown(() => obj.program('xdp_count').pin('/tmp/tsbpf-no-such-dir/x')).message).toMatch(/^cannot pin at \/tmp\/tsbpf-no-such-dir\/x: \/tmp is not on a bpf filesystem/);
    expect(existsSync('/tmp/tsbpf-no-such-dir')).toBe(false);
  });
});

describe('map replacements at load', () => {
  it('a compatible map is used instead of a new one, and stays the caller’s', () => {
    const obj = BpfObject.open(`${FIX}xdp_counter.o`, { pinRoot });
    using mine = BpfMap.fromSpec({ ...obj.mapSpec('proto_counts'), pinning: 'none' });
    obj.load({ mapReplacements: { proto_counts: mine } });
    expect(obj.map('proto_counts').info().id).toBe(mine.info().id);
    obj.program('xdp_count').testRun({ data: frame(64) });
    obj.close();
    // The object counted into our map, and closing it left our handle open.
    const v = mine.lookup(new Uint8Array([8, 0]).reverse()) as Uint8Array;
    expect(new DataView(v.buffer, v.byteOffset).getBigUint64(0, true)).toBe(1n);
  });

  it('an incompatible or unknown replacement is refused before anything is created', () => {
    using small = BpfMap.create({ type: 'hash', keySize: 2, valueSize: 16, maxEntries: 8 });
    const e = thrown(() => BpfObject.open(`${FIX}xdp_counter.o`, { pinRoot }).load({ mapReplacements: { proto_counts: small } }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/map 'proto_counts': the replacement map is not compatible \(max entries 8 vs 64, flags 0x0 vs 0x1\)/);
    expect(() => BpfObject.open(`${FIX}xdp_counter.o`, { pinRoot }).load({ mapReplacements: { nope: small } })).toThrow(/no map named 'nope'.*maps: proto_counts, total/);
    expect(() => BpfObject.open(`${FIX}xdp_counter.o`, { pinRoot }).load({ mapReplacements: { total: 999_999 } })).toThrow(/not an open file descriptor/);
  });
});

// ---- BTF sanitised by probed features ----

const SANITIZED: BtfFeature[] = ['float', 'decl_tag', 'type_tag', 'enum64', 'func_global'];

/** Makes the probes say the kernel lacks `missing` (as a kernel older than 5.13 would). */
function pretendKernelLacks(missing: readonly BtfFeature[]): void {
  const real = features.btfKind.bind(features);
  vi.spyOn(features, 'btfKind').mockImplementation((kind): FeatureAnswer => {
    const a = real(kind);
    return missing.includes(kind) ? { ...a, status: 'absent' } : a;
  });
}

/** The BTF the kernel holds for a loaded program, as bpftool dumps it (a reader that is not ours). */
function loadedBtf(btfId: number): string {
  return execFileSync('bpftool', ['btf', 'dump', 'id', String(btfId)], { encoding: 'utf8' });
}

describe('object BTF is sanitised by what the kernel lacks', () => {
  it('finds the kinds an object uses (only those are probed)', () => {
    const spec = BpfObject.open(`${FIX}btf_kinds.o`).spec;
    expect(btfApi.btfFeaturesUsed(spec.btf!).sort()).toEqual(['datasec', 'declTag', 'enum64', 'float', 'func', 'funcGlobal', 'typeTag']); // datasec: the .maps section
  });

  it('on this kernel, the kinds it has are loaded as they are', () => {
    using obj = BpfObject.open(`${FIX}btf_kinds.o`).load();
    const dump = loadedBtf(obj.program('btf_kinds').info().btfId);
    const kinds: [BtfFeature, RegExp][] = [
      ['float', /FLOAT 'float'/],
      ['decl_tag', /DECL_TAG 'counter'/],
      ['type_tag', /TYPE_TAG 'tagged'/],
      ['enum64', /ENUM64 'big'/],
      ['func_global', /FUNC 'twice' type_id=\d+ linkage=global/],
    ];
    for (const [kind, re] of kinds) if (features.btfKind(kind).status === 'present') expect(dump).toMatch(re);
    expect(obj.program('btf_kinds').testRun({ data: frame(64) }).retval).toBe(2);
  });

  it('kinds the probes call absent are rewritten; the program loads and runs the same', () => {
    pretendKernelLacks(SANITIZED);
    using obj = BpfObject.open(`${FIX}btf_kinds.o`).load();
    const prog = obj.program('btf_kinds');
    const dump = loadedBtf(prog.info().btfId);
    expect(dump).not.toMatch(/FLOAT|DECL_TAG|TYPE_TAG|ENUM64/);
    expect(dump).toMatch(/FUNC 'twice' type_id=\d+ linkage=static/);
    expect(dump).toMatch(/UNION 'big' size=8 vlen=2/); // enum64 → a union of the same size
    expect(dump).toMatch(/STRUCT 'float' size=4 vlen=0/); // float → an empty struct of its size
    // The map's value type is still the struct, its size unchanged.
    expect(obj.map('samples').info().btfValueTypeId).toBeGreaterThan(0);
    expect(prog.testRun({ data: frame(64) }).retval).toBe(2); // XDP_PASS: the first hit
    expect(prog.testRun({ data: frame(64) }).retval).toBe(1); // XDP_DROP after
    expect(features.btfKind).toHaveBeenCalledWith('enum64');
  });

  it('without BTF functions, programs load without func_info and line_info', () => {
    pretendKernelLacks([...SANITIZED, 'func']);
    using obj = BpfObject.open(`${FIX}btf_kinds.o`).load();
    const prog = obj.program('btf_kinds');
    expect(prog.info().btfId).toBe(0);
    expect(prog.testRun({ data: frame(64) }).retval).toBe(2);
  });
});
