// Skeletons loaded: for every fixture with BTF (test/fixtures/*.o and bpf/*.o) the generated
// module loads, and reads back through its typed maps and globals exactly the bytes the
// byte-level API sees. skeleton_types.o is also run: its program's counters read through the
// skeleton agree with hand-decoded bytes and with bpftool's BTF-formatted dump.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfMap, BpfObject, BpfProgram, BtfValueError, RingBuffer, Skeleton, TypedMap, UsageError, generateSkeleton, valueCodec, type Btf, type ValueShape } from '../../src/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { thrown } from '../helpers/thrown.js';
import { ROOT, base, withBtf } from './fixtures.js';

const pinRoot = `/sys/fs/bpf/tsbpf-skel-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'tsbpf-skel-'));
const SRC_INDEX = join(ROOT, 'src', 'index.js');

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(pinRoot, { recursive: true, force: true });
});

// ---- values made from shapes: one of every member, in range of its C type ----

/** A value of `shape` (every struct member, one member per union), deterministic in `seed`. */
function sampleOf(shape: ValueShape, seed: number): unknown {
  switch (shape.kind) {
    case 'number': {
      const span = 2 ** Math.min(shape.signed ? shape.bits - 1 : shape.bits, 20);
      const v = (seed * 7919 + 13) % span;
      return shape.signed && seed % 2 ? -v : v;
    }
    case 'bigint':
      if (shape.signed) return (seed % 2 ? -1n : 1n) * (2n ** BigInt(shape.bits - 2) + BigInt(seed));
      return 2n ** BigInt(shape.bits - 1) + BigInt(seed);
    case 'boolean':
      return seed % 2 === 0;
    case 'string':
      return `tsbpf${seed}`.slice(0, shape.length);
    case 'bytes':
      return Uint8Array.from({ length: shape.length }, (_, i) => (seed + i * 31) & 0xff);
    case 'enum':
      return shape.names.length ? shape.names[seed % shape.names.length] : 1;
    case 'array':
      return Array.from({ length: shape.length }, (_, i) => sampleOf(shape.of, seed + i + 1));
    case 'object': {
      const skip = new Set(shape.exclusive.flatMap((g) => g.slice(1)));
      const fields = shape.union ? shape.fields.slice(0, 1) : shape.fields.filter(([n]) => !skip.has(n));
      return Object.fromEntries(fields.map(([n, s], i) => [n, sampleOf(s, seed + i + 1)]));
    }
  }
}

/** `decoded` holds what `input` (a sampleOf value) asked for. */
function expectMatches(shape: ValueShape, input: unknown, decoded: unknown, path: string): void {
  if (shape.kind === 'object') {
    expect(decoded, path).toBeTypeOf('object');
    for (const [n, s] of shape.fields)
      if ((input as Record<string, unknown>)[n] !== undefined) expectMatches(s, (input as Record<string, unknown>)[n], (decoded as Record<string, unknown>)[n], `${path}.${n}`);
  } else if (shape.kind === 'array') {
    expect(Array.isArray(decoded), path).toBe(true);
    (input as unknown[]).forEach((x, i) => expectMatches(shape.of, x, (decoded as unknown[])[i], `${path}[${i}]`));
  } else if (shape.kind === 'bigint') expect(decoded, path).toBe(BigInt(input as number));
  else expect(decoded, path).toEqual(input);
}

const btf = (skel: { object: BpfObject }): Btf => skel.object.btf!;

function dataBytes(obj: BpfObject, section: string): Uint8Array {
  return obj.map(section).lookup(new Uint8Array(4)) as Uint8Array;
}

describe.runIf(isRoot)('skeletons load, and typed values are the bytes the byte-level API sees', () => {
  guardFdLeaks();

  /** The runtime copy of a skeleton: the same module, importing the source tree by path. */
  async function runtimeModule(file: string, opts: { objectPath?: string; suffix?: string; types?: string[] } = {}): Promise<{ open(o?: object): any; load(o?: object, l?: object): any }> {
    const path = join(dir, `${base(file)}${opts.suffix ?? ''}.rt.ts`);
    const extra = { ...(opts.objectPath ? { objectPath: opts.objectPath } : {}), ...(opts.types ? { types: opts.types } : {}) };
    const source = generateSkeleton(readFileSync(file), { fileName: file, importFrom: SRC_INDEX, ...extra });
    const typed = generateSkeleton(readFileSync(file), { fileName: file, ...extra });
    // What is type-checked (generate.test.ts) and what runs differ in the import line only.
    expect(source.replace(JSON.stringify(SRC_INDEX), '"tsbpf"')).toBe(typed);
    writeFileSync(path, source);
    return import(path);
  }

  for (const file of withBtf) {
    it(`${base(file)}: maps, globals and programs through the skeleton`, async () => {
      const mod = await runtimeModule(file);
      const skel = mod.open({ pinRoot });
      try {
        expect(skel).toBeInstanceOf(Skeleton);
        const obj: BpfObject = skel.object;
        const spec = obj.spec;
        const btf = spec.btf!;
        const sections = [...new Set([...spec.variables.values()].filter((v) => v.global && v.btfType !== undefined && spec.maps.get(v.map)?.kind === 'data').map((v) => v.map))];
        const constants = new Map<string, unknown>();
        let seed = 1;
        // .rodata settings before load.
        for (const v of spec.variables.values()) {
          if (!v.global || v.btfType === undefined || !v.constant || spec.maps.get(v.map)?.kind !== 'data') continue;
          const value = sampleOf(valueCodec(btf, v.btfType).shape, seed++);
          skel[v.map.replace(/^\./, '').replace(/[^A-Za-z0-9_$]/g, '_')][v.name] = value;
          constants.set(v.name, value);
        }
        // Load what needs no attach permissions: programs only where a map's slots name them.
        const slotted = [...spec.maps.values()].flatMap((m) => m.initialSlots.flatMap((s) => (s.program ? [s.program] : [])));
        skel.load({ programs: slotted });

        for (const [name, value] of constants) {
          const v = spec.variables.get(name)!;
          const codec = valueCodec(btf, v.btfType!);
          expect(dataBytes(obj, v.map).subarray(v.offset, v.offset + v.size), name).toEqual(codec.toBytes(value as never));
          expectMatches(codec.shape, value, skel[v.map.replace(/^\./, '').replace(/[^A-Za-z0-9_$]/g, '_')][name], name);
          expect(() => (skel[v.map.replace(/^\./, '').replace(/[^A-Za-z0-9_$]/g, '_')][name] = value), name).toThrow(/is a constant .* set it before load\(\)/);
        }
        // .data/.bss globals after load: live in the kernel.
        for (const v of spec.variables.values()) {
          if (!v.global || v.btfType === undefined || v.constant || !sections.includes(v.map)) continue;
          const codec = valueCodec(btf, v.btfType);
          const value = sampleOf(codec.shape, seed++);
          const section = skel[v.map.replace(/^\./, '').replace(/[^A-Za-z0-9_$]/g, '_')];
          section[v.name] = value;
          expect(dataBytes(obj, v.map).subarray(v.offset, v.offset + v.size), v.name).toEqual(codec.toBytes(value as never));
          expectMatches(codec.shape, value, section[v.name], v.name);
        }
        // Static and __hidden variables stay out, as in bpftool's skeletons.
        for (const v of spec.variables.values())
          if (!v.global) for (const s of sections) expect(Object.keys(skel[s.replace(/^\./, '').replace(/[^A-Za-z0-9_$]/g, '_')] ?? {})).not.toContain(v.name);

        // Maps: typed views where BTF types them, BpfMap otherwise; every map of the object is there.
        const maps = skel.maps as Record<string, TypedMap | BpfMap>;
        // (Compared by identity: a deep comparison would iterate the maps.)
        const underneath = Object.values(maps).map((m) => (m instanceof TypedMap ? m.map : m));
        expect(underneath.length).toBe(obj.maps.length);
        for (const m of obj.maps) expect(underneath.includes(m), m.name).toBe(true);
        for (const [prop, m] of Object.entries(maps)) {
          if (!(m instanceof TypedMap)) continue;
          const map = m.map;
          const roundTrip = ['hash', 'lru_hash', 'array', 'percpu_hash', 'percpu_array', 'lru_percpu_hash'].includes(map.type);
          if (!roundTrip && map.type !== 'queue' && map.type !== 'stack') continue;
          const value = sampleOf(m.valueCodec.shape, seed++);
          const valueBytes = m.valueCodec.toBytes(value as never);
          if (map.type === 'queue' || map.type === 'stack') {
            (m as unknown as TypedMap<null, unknown>).push(value as never);
            expect(map.peek(), prop).toEqual(valueBytes);
            expectMatches(m.valueCodec.shape, value, (m as unknown as TypedMap<null, unknown>).pop(), prop);
            continue;
          }
          const key = map.type.includes('array') ? 0 : sampleOf(m.keyCodec!.shape, seed++);
          m.update(key as never, value as never);
          const raw = map.lookup(m.keyBytes(key as never));
          if (map.type.includes('percpu')) {
            expect(raw, prop).toHaveLength(map.cpus);
            for (const slot of raw as Uint8Array[]) expect(slot, prop).toEqual(valueBytes);
            const read = m.lookup(key as never) as unknown[];
            expect(read).toHaveLength(map.cpus);
            for (const r of read) expectMatches(m.valueCodec.shape, value, r, prop);
          } else {
            expect(raw, prop).toEqual(valueBytes);
            expectMatches(m.valueCodec.shape, value, m.lookup(key as never), prop);
          }
          const entries = [...m.entries()];
          const hit = entries.find(([k]) => Buffer.from(m.keyBytes(k as never)).equals(m.keyBytes(key as never)));
          expect(hit, `${prop}: entries() yields the key written`).toBeDefined();
          expect(entries.length).toBe([...map.keys()].length);
        }
        // Programs by name, the object's own handles.
        for (const name of slotted) expect(skel.programs[name]).toBe(obj.program(name));
        for (const name of spec.programs.keys())
          if (!slotted.includes(name)) expect(() => skel.programs[name], name).toThrow(UsageError);
      } finally {
        skel.close();
      }
    });
  }

  it('skeleton_types: the program counts a packet; the skeleton reads what the bytes and bpftool say', async () => {
    const mod = await runtimeModule(join(ROOT, 'test/fixtures/skeleton_types.o'), { suffix: '-run', types: ['event'] });
    const skel = mod.open();
    try {
      expect(() => skel.maps).toThrow(/maps exist after load\(\)/);
      skel.rodata.drop_port = 53;
      skel.rodata.watch = { saddr: 0x0100000a, dport: 7777 };
      expect(skel.rodata.watch).toEqual({ saddr: 0x0100000a, dport: 7777, proto: 0, pad: 0 });
      expect(skel.rodata.banner).toBe('tsbpf');
      expect(skel.data.seeds).toEqual([1, 2, 3]);
      expect(skel.data.default_verdict).toBe('V_PASS');
      skel.load();
      const program: BpfProgram = skel.programs.count_flows;

      // IPv4/UDP from 10.0.0.1 (bytes 0a 00 00 01) to a port, in a 64-byte frame.
      const packet = (dport: number, src = [10, 0, 0, 1]) => {
        const p = new Uint8Array(64);
        const dv = new DataView(p.buffer);
        dv.setUint16(12, 0x0800);
        p[14] = 0x45;
        p[23] = 17;
        p.set(src, 26);
        dv.setUint16(36, dport);
        return p;
      };
      expect(program.testRun({ data: packet(8080) }).retval).toBe(2); // XDP_PASS
      expect(program.testRun({ data: packet(8080) }).retval).toBe(2);
      expect(program.testRun({ data: packet(53) }).retval).toBe(1); // drop_port, set through the skeleton
      expect(program.testRun({ data: packet(7777) }).retval).toBe(1); // watch, a struct constant
      expect(program.testRun({ data: packet(7777, [10, 0, 0, 2]) }).retval).toBe(2);

      // Ring buffer records through the codec of --type event, checked against the bytes.
      using ring = RingBuffer.open(skel.maps.events);
      const records = ring.drain();
      expect(records).toHaveLength(5);
      const events = records.map((r) => skel.types.event.decode(r));
      expect(events.map((e: any) => [e.dport, e.dropped, e.tag, e.len])).toEqual([
        [8080, 0, 'udp', 64n],
        [8080, 0, 'udp', 64n],
        [53, 1, 'udp', 64n],
        [7777, 1, 'udp', 64n],
        [7777, 0, 'udp', 64n],
      ]);
      const first = new DataView(records[0]!.buffer, records[0]!.byteOffset);
      expect(events[0].saddr).toBe(first.getUint32(0, true));
      expect(events[0].len).toBe(first.getBigUint64(btf(skel).memberOffset(btf(skel).requireType('event', 'struct'), 'len'), true));
      expect(skel.types.event.ctype).toBe('struct event');

      // The key as the program wrote it, built by hand: saddr in network order, dport in host order.
      const key = new Uint8Array(8);
      key.set([10, 0, 0, 1], 0);
      new DataView(key.buffer).setUint16(4, 8080, true);
      key[6] = 17;
      const raw = skel.maps.flows.map.lookup(key) as Uint8Array;
      const rawDv = new DataView(raw.buffer, raw.byteOffset);
      expect([rawDv.getBigUint64(0, true), rawDv.getBigUint64(8, true)]).toEqual([2n, 128n]);
      const saddr = new DataView(key.buffer).getUint32(0, true);
      expect(skel.maps.flows.lookup({ saddr, dport: 8080, proto: 17 })).toEqual({ packets: 2n, bytes: 128n });
      const flows = new Map([...skel.maps.flows.entries()].map(([k, v]: [any, any]) => [`${k.saddr}:${k.dport}`, v.packets]));
      expect(flows).toEqual(new Map([[`${saddr}:8080`, 2n], [`${saddr}:53`, 1n], [`${saddr}:7777`, 1n], [`${saddr + 0x01000000}:7777`, 1n]]));
      expect(skel.bss.ipv4_packets).toBe(5n);
      expect(skel.bss.last).toEqual({ packets: 1n, bytes: 64n });
      const perCpu: bigint[] = skel.maps.per_cpu.lookup(0);
      expect(perCpu).toHaveLength(skel.maps.per_cpu.map.cpus);
      expect(perCpu.reduce((a, b) => a + b, 0n)).toBe(5n);

      // Per-CPU: one value per possible CPU, or one for all; a list of the wrong length is refused.
      const cpus = skel.maps.per_cpu.map.cpus;
      const each = Array.from({ length: cpus }, (_, i) => BigInt(i * 10 + 1));
      skel.maps.per_cpu.update(1, each);
      expect(skel.maps.per_cpu.lookup(1)).toEqual(each);
      expect((skel.maps.per_cpu.map.lookup(new Uint8Array([1, 0, 0, 0])) as Uint8Array[]).map((b) => new DataView(b.buffer, b.byteOffset).getBigUint64(0, true))).toEqual(each);
      expect(thrown(() => skel.maps.per_cpu.update(1, [...each, 0n])).message).toMatch(new RegExp(`expected one value per possible CPU \\(${cpus}\\), got ${cpus + 1}`));
      expect(skel.maps.per_cpu.lookup(1)).toEqual(each);

      // keys/values/delete/lookupAndDelete in decoded form.
      expect([...skel.maps.flows.keys()].map((k: any) => k.dport).sort()).toEqual([53, 7777, 7777, 8080]);
      expect([...skel.maps.flows.values()].reduce((n: bigint, v: any) => n + v.packets, 0n)).toBe(5n);
      expect(skel.maps.flows.lookupAndDelete({ saddr, dport: 53, proto: 17 })).toEqual({ packets: 1n, bytes: 64n });
      expect(skel.maps.flows.delete({ saddr, dport: 53, proto: 17 })).toBe(false);
      expect(skel.maps.flows.delete({ saddr, dport: 7777, proto: 17 })).toBe(true);
      expect(skel.maps.flows.lookup({ saddr, dport: 7777, proto: 17 })).toBeUndefined();

      // A typed write the program then reads: the default verdict in .data, live.
      skel.data.default_verdict = 'V_DROP';
      expect(program.testRun({ data: packet(9) }).retval).toBe(1);
      skel.data.default_verdict = 2;
      expect(skel.data.default_verdict).toBe('V_PASS');

      // A value that does not fit: a typed error, and the map keeps its old value.
      const e = thrown(() => skel.maps.flows.update({ saddr, dport: 8080, proto: 17 }, { packets: -1 }));
      expect(e).toBeInstanceOf(BtfValueError);
      expect((e as BtfValueError).path).toBe('value.packets');
      expect((e as Error).message).toBe('value.packets (__u64): -1 is out of range (0..18446744073709551615)');
      expect(skel.maps.flows.lookup({ saddr, dport: 8080, proto: 17 })).toEqual({ packets: 2n, bytes: 128n });
      expect(thrown(() => skel.maps.flows.lookup({ saddr, dport: 1 << 16 }))).toBeInstanceOf(BtfValueError);

      // bpftool decodes the same struct by the same BTF: the typed value agrees with its "formatted" field.
      const value = {
        comm: 'tsbpf',
        mac: new Uint8Array([2, 0, 0, 0, 0, 1]),
        delta: -300,
        verdict: 'V_DROP',
        key: { saddr: 1, dport: 2, proto: 3 },
        range: { lo: 4, hi: 5 },
        addr: { v4: 0x7f000001 },
        as_s32: -7,
        flag_a: 1,
        flag_b: 6,
        level: 11,
        on: true,
        total: -123456789n,
        hist: [1n, 2n, 3n, 4n],
        offsets: [-1, 1],
      };
      skel.maps.samples.update(2, value);
      const dump = JSON.parse(execFileSync('bpftool', ['map', 'lookup', 'id', String(skel.maps.samples.map.info().id), 'key', '2', '0', '0', '0', '-j'], { encoding: 'utf8' }));
      const f = dump.formatted.value;
      const ours = skel.maps.samples.lookup(2);
      expect(ours.comm).toBe(f.comm);
      expect([...ours.mac]).toEqual(f.mac);
      expect(ours.addr.v6 && [...ours.addr.v6]).toEqual(f.addr.v6);
      expect({ ...ours.addr, v6: undefined }).toEqual({ v4: f.addr.v4, v6: undefined });
      for (const k of ['delta', 'verdict', 'key', 'range', 'on', 'offsets'] as const) expect(ours[k], k).toEqual(f[k]);
      expect(ours.total).toBe(BigInt(f.total));
      expect(ours.hist).toEqual(f.hist.map(BigInt));
      // bpftool prints anonymous members under "" and bitfields in hex.
      expect({ as_u64: ours.as_u64, as_s32: ours.as_s32 }).toEqual({ as_u64: BigInt(f[''].as_u64), as_s32: f[''].as_s32 });
      expect([ours.flag_a, ours.flag_b, ours.level]).toEqual([f.flag_a, f.flag_b, f.level].map((x: string) => Number(x)));

      // map.typed() without the object: the BTF the kernel recorded for the map, by its id.
      const byId = BpfMap.fromId(skel.maps.flows.map.info().id);
      try {
        const view = byId.typed<{ saddr: number; dport: number; proto: number }, { packets: bigint; bytes: bigint }>();
        expect(view.lookup({ saddr, dport: 8080, proto: 17 })).toEqual({ packets: 2n, bytes: 128n });
        expect(view.valueCodec.ctype).toBe('struct flow_stats');
        expect(thrown(() => byId.typedPerCpu())).toBeInstanceOf(UsageError);
        expect(thrown(() => skel.maps.per_cpu.map.typed()).message).toMatch(/is per-CPU \(one value per CPU\): use typedPerCpu\(\)/);
      } finally {
        byId.close();
      }
      const plain = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1 });
      try {
        expect(thrown(() => plain.typed()).message).toMatch(/was created without BTF key\/value types/);
      } finally {
        plain.close();
      }
    } finally {
      skel.close();
    }
  });

  it('an object referenced by path is read at open(), and refused when its types changed', async () => {
    const copy = join(dir, 'counter.o');
    copyFileSync(join(ROOT, 'test/fixtures/xdp_counter.o'), copy);
    const mod = await runtimeModule(copy, { objectPath: './counter.o', suffix: '-path' });
    expect(readFileSync(join(dir, 'counter-path.rt.ts'), 'utf8')).not.toMatch(/base64/);
    {
      const skel = mod.open({ pinRoot });
      try {
        skel.load();
        skel.maps.proto_counts.update(0x0800, { packets: 3, bytes: 300 });
        expect(skel.maps.proto_counts.lookup(0x0800)).toEqual({ packets: 3n, bytes: 300n });
        expect(skel.maps.total).toBeInstanceOf(BpfMap); // declared without BTF types: bytes
      } finally {
        skel.close();
        rmSync(pinRoot, { recursive: true, force: true });
      }
    }
    // Rebuilt with other types: btf_kinds.o in its place.
    copyFileSync(join(ROOT, 'test/fixtures/btf_kinds.o'), copy);
    const e = thrown(() => mod.open());
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe(
      `skeleton 'counter': ${copy} does not match the generated module (map 'proto_counts' is gone; map 'total' is gone; program 'xdp_count' is gone); run tsbpf gen skeleton again`,
    );
    rmSync(copy);
    expect(thrown(() => mod.open()).message).toMatch(/^skeleton: cannot read the BPF object .*counter\.o: ENOENT/);
  });
});

