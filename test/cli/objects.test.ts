// obj load, prog list/show/dump/run and map list/show/dump/lookup/update/delete, end to end
// through the CLI, cross-checked with bpftool on the same pinned objects.
import { readFileSync, writeFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/fd-guard.js';
import { ROOT, bpftool, fixture, ok, pinDir, tsbpf } from './run.js';

function udpPacket(dport: number): Buffer {
  const eth = Buffer.from('ffffffffffff0200000000010800', 'hex');
  const ip = Buffer.from([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(1234, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8, 4);
  return Buffer.concat([eth, ip, udp]);
}

const bytesOf = (hexList: string[]): string => hexList.map((h) => h.replace(/^0x/, '')).join('');

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('tsbpf obj load, prog and map verbs', () => {
  const pins = pinDir('objects');
  const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-cli-'));
  let loaded: any;
  let progId = 0;
  const mapId: Record<string, number> = {};
  beforeAll(async () => {
    loaded = (await ok('obj', 'load', `${ROOT}/examples/bpf/xdp_stats.o`, '--pin-dir', pins.dir, '--set', 'drop_port=9999', '--json')).json();
    for (const p of loaded.pinned) if (p.kind === 'map') mapId[p.name] = p.id;
    progId = loaded.pinned.find((p: any) => p.kind === 'prog').id;
  });
  afterAll(() => {
    pins.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('obj load pins programs under progs/ and maps under maps/ (data maps without dots)', async () => {
    expect(loaded).toMatchObject({ name: 'xdp_stats', pinDir: pins.dir });
    expect(loaded.pinned.map((p: any) => [p.kind, p.name, p.path, p.type])).toEqual([
      ['map', 'stats', `${pins.dir}/maps/stats`, 'percpu_array'],
      ['map', '.rodata', `${pins.dir}/maps/rodata`, 'array'],
      ['map', '.bss', `${pins.dir}/maps/bss`, 'array'],
      ['prog', 'xdp_stats', `${pins.dir}/progs/xdp_stats`, 'xdp'],
    ]);
    const viaBpftool = bpftool('prog', 'show', 'pinned', `${pins.dir}/progs/xdp_stats`);
    expect(viaBpftool.id).toBe(progId);
    expect(viaBpftool.map_ids.sort()).toEqual(Object.values(mapId).sort());
    // The constant was set before load: the frozen .rodata holds it.
    expect(bpftool('map', 'dump', 'pinned', `${pins.dir}/maps/rodata`)[0].value).toEqual(['0x0f', '0x27']);

    // Loading into the same directory again is refused before anything is loaded.
    const again = (await tsbpf('obj', 'load', `${ROOT}/examples/bpf/xdp_stats.o`, '--pin-dir', pins.dir));
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`${pins.dir}/progs/xdp_stats already exists`);
    const noDir = (await tsbpf('obj', 'load', `${ROOT}/examples/bpf/xdp_stats.o`));
    expect(noDir.code).toBe(2);
    const badSet = (await tsbpf('obj', 'load', `${ROOT}/examples/bpf/xdp_stats.o`, '--pin-dir', `${pins.dir}/x`, '--set', 'nosuch=1'));
    expect(badSet.code).toBe(3);
    expect(existsSync(`${pins.dir}/x`)).toBe(false);
  });

  it('prog list/show agree with bpftool (tag, type, maps, BTF)', async () => {
    const show = (await ok('prog', 'show', String(progId), '--json')).json();
    const theirs = bpftool('prog', 'show', 'id', String(progId));
    expect(show).toMatchObject({ id: progId, type: 'xdp', name: 'xdp_stats', tag: theirs.tag, btfId: theirs.btf_id, gplCompatible: true });
    expect(show.xlatedBytes).toBe(theirs.bytes_xlated);
    expect(show.mapIds.sort()).toEqual(theirs.map_ids.sort());
    const byPin = (await ok('prog', 'show', `${pins.dir}/progs/xdp_stats`, '--json')).json();
    expect(byPin.tag).toBe(theirs.tag);

    const list = (await ok('prog', 'list', '--json')).json();
    expect(list.find((p: any) => p.id === progId)).toMatchObject({ tag: theirs.tag, name: 'xdp_stats' });
    const human = (await ok('prog', 'list')).stdout;
    expect(human).toMatch(new RegExp(`^${progId}\\s+xdp\\s+xdp_stats\\s+${theirs.tag}\\s`, 'm'));
  });

  it('prog dump: xlated instructions with source lines, as bpftool sees them', async () => {
    const d = (await ok('prog', 'dump', String(progId), '--json')).json();
    const theirs = bpftool<any[]>('prog', 'dump', 'xlated', 'id', String(progId));
    expect(d.lineInfo).toBe(true);
    expect(d.insns).toHaveLength(theirs.length);
    // Same opcodes in the same order (bpftool prints each as "(xx) ...").
    expect(d.insns.map((i: any) => i.bytes.slice(0, 2))).toEqual(theirs.map((t) => /^\((\w\w)\)/.exec(t.disasm)![1]));
    // Source lines at the same instructions, with the same text.
    const ours = d.insns.flatMap((i: any, n: number) => (i.source ? [[n, i.source.text]] : []));
    const bt = theirs.flatMap((t, n) => (t.src !== undefined ? [[n, t.src.trim()]] : []));
    expect(ours).toEqual(bt);
    expect(d.insns[0]).toMatchObject({ func: 'xdp_stats', source: { file: expect.stringContaining('xdp_stats.c'), line: expect.any(Number) } });
    // Map loads name the map by id; helper calls are named.
    expect(d.insns.some((i: any) => i.text === `r1 = map[id:${mapId.stats} stats]`)).toBe(true);
    const human = (await ok('prog', 'dump', `${pins.dir}/progs/xdp_stats`)).stdout;
    expect(human).toMatch(/^xdp_stats:$/m);
    expect(human).toMatch(/^; if \(eth->h_proto == bpf_htons\(ETH_P_ARP\)\) \{ @ xdp_stats\.c:\d+:\d+$/m);
  });

  it('prog run runs the program on a packet file: drop_port drops, others pass', async () => {
    const drop = join(tmp, 'drop.bin');
    const pass = join(tmp, 'pass.bin');
    const out = join(tmp, 'out.bin');
    writeFileSync(drop, udpPacket(9999));
    writeFileSync(pass, udpPacket(80));
    const r1 = (await ok('prog', 'run', String(progId), '--data', drop, '--repeat', '4', '--json')).json();
    expect(r1).toMatchObject({ retval: 1, action: 'XDP_DROP', repeat: 4, dataIn: 42, dataOut: 42, dataChanged: false });
    const r2 = (await tsbpf('prog', 'run', `${pins.dir}/progs/xdp_stats`, '--data', pass, '--data-out', out));
    expect(r2.code).toBe(0);
    expect(r2.stdout).toMatch(/^retval\s+2 \(XDP_PASS\)$/m);
    expect(readFileSync(out)).toEqual(udpPacket(80));
    const noData = (await tsbpf('prog', 'run', String(progId)));
    expect(noData.code).toBe(2);
    expect(noData.stderr).toContain('--data FILE is required');
  });

  it('map list/show/dump decode values through BTF and match bpftool', async () => {
    // Five UDP runs so far: four dropped, one passed.
    const stats = (await ok('map', 'dump', `${pins.dir}/maps/stats`, '--json')).json();
    expect(stats).toHaveLength(6);
    const udp = stats.find((e: any) => e.formatted.key === 2);
    const packets = udp.values.reduce((a: number, v: any) => a + v.formatted.packets, 0);
    const bytes = udp.values.reduce((a: number, v: any) => a + v.formatted.bytes, 0);
    expect([packets, bytes]).toEqual([5, 5 * 42]);
    const theirs = bpftool<any[]>('map', 'dump', 'pinned', `${pins.dir}/maps/stats`);
    expect(stats.map((e: any) => [e.key, e.values.map((v: any) => v.value)])).toEqual(theirs.map((t) => [bytesOf(t.key), t.values.map((v: any) => bytesOf(v.value))]));

    const bss = (await ok('map', 'dump', String(mapId['.bss']), '--json')).json();
    expect(bss).toEqual([{ key: '00000000', value: '0400000000000000', formatted: { value: { dropped: 4 } } }]);
    const rodata = (await ok('map', 'dump', `${pins.dir}/maps/rodata`)).stdout;
    expect(rodata).toMatch(/^00 00 00 00\s+\{drop_port: 9999\}$/m);

    const show = (await ok('map', 'show', String(mapId.stats), '--json')).json();
    expect(show).toMatchObject({ id: mapId.stats, type: 'percpu_array', name: 'stats', keySize: 4, valueSize: 16, maxEntries: 6, keyType: '__u32', valueType: 'struct counters' });
    const list = (await ok('map', 'list', '--json')).json();
    const mine = list.filter((m: any) => Object.values(mapId).includes(m.id));
    expect(mine.map((m: any) => m.name).sort()).toEqual(['stats', 'xdp_stat.bss', 'xdp_stat.rodata']);
    const bt = bpftool<any[]>('map', 'list').filter((m) => Object.values(mapId).includes(m.id));
    expect(mine.map((m: any) => [m.id, m.type, m.keySize, m.valueSize, m.maxEntries])).toEqual(bt.map((m) => [m.id, m.type.replace(/^percpu_array$/, 'percpu_array'), m.bytes_key, m.bytes_value, m.max_entries]));
  });

  it('map update/lookup/delete on a hash map, with bpftool reading what we wrote', async () => {
    const dir = `${pins.dir}/counter`;
    const l = (await ok('obj', 'load', fixture('xdp_counter.o'), '--pin-dir', dir, '--json')).json();
    // LIBBPF_PIN_BY_NAME: pinned by the loader under DIR/maps.
    expect(l.pinned.find((p: any) => p.name === 'proto_counts')).toMatchObject({ path: `${dir}/maps/proto_counts`, reused: false });
    const m = `${dir}/maps/proto_counts`;
    // Key 0x0800 as a __u16 (decimal, little-endian); the value in bpftool's hex form.
    const up = (await ok('map', 'update', m, '2048', 'hex', '03', '00', '00', '00', '00', '00', '00', '00', 'e8', '03', '00', '00', '00', '00', '00', '00', '--json')).json();
    expect(up).toMatchObject({ updated: true, key: '0008', formatted: { key: 2048, value: { packets: 3, bytes: 1000 } } });
    (await ok('map', 'update', m, '0x0608', '0x0100000000000000' + '4000000000000000', '--flags', 'noexist'));
    const dup = (await tsbpf('map', 'update', m, '0x0608', '0x0100000000000000' + '4000000000000000', '--flags', 'noexist'));
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('EEXIST');
    const theirs = bpftool('map', 'lookup', 'pinned', m, 'key', 'hex', '00', '08');
    expect(bytesOf(theirs.value)).toBe('0300000000000000e803000000000000');
    const look = (await ok('map', 'lookup', m, 'hex', '06', '08', '--json')).json();
    expect(look.formatted).toEqual({ key: 0x0806, value: { packets: 1, bytes: 64 } });
    const human = (await ok('map', 'lookup', m, '00 08')).stdout;
    expect(human).toBe('key: 00 08 (2048)\nvalue: {packets: 3, bytes: 1000}\n'); // bytes as typed, then BTF's reading
    const dump = (await ok('map', 'dump', m, '--json')).json();
    // '0x0608' is the bytes 06 08: the little-endian __u16 0x0806.
    expect(dump.map((e: any) => e.formatted.key).sort()).toEqual([0x0800, 0x0806]);

    const del = (await ok('map', 'delete', m, '2048', '--json')).json();
    expect(del).toEqual({ deleted: true, key: '0008' });
    expect((await tsbpf('map', 'lookup', m, '2048')).code).toBe(3);
    expect((await tsbpf('map', 'delete', m, '2048')).code).toBe(3);
    expect(bpftool<any[]>('map', 'dump', 'pinned', m)).toHaveLength(1);

    const wrongSize = (await tsbpf('map', 'lookup', m, '0x010203', '--json'));
    expect(wrongSize.code).toBe(2);
    expect(wrongSize.error().message).toBe('key must be 2 bytes, got 3 (0x010203)');
    const arrayDelete = (await tsbpf('map', 'delete', String(mapId.stats), '1', '--json'));
    expect(arrayDelete.code).toBe(1);
    expect(arrayDelete.error()).toMatchObject({ code: 'EINVAL', command: 'BPF_MAP_DELETE_ELEM' });
  });

  it('errors: unknown ids exit 3; a verifier rejection exits 1 with the summary, the full log with --verbose', async () => {
    const gone = (await tsbpf('prog', 'show', '4294967295', '--json'));
    expect(gone.code).toBe(3);
    expect(gone.error().message).toBe('there is no program with id 4294967295');
    expect((await tsbpf('map', 'dump', '4294967295')).code).toBe(3);
    expect((await tsbpf('link', 'show', '4294967295')).code).toBe(3);
    expect((await tsbpf('prog', 'show', `${pins.dir}/nothing`)).code).toBe(3);

    const bad = `${ROOT}/test/cli/fixtures/cli_bad.o`;
    const r = (await tsbpf('obj', 'load', bad, '--pin-dir', `${pins.dir}/bad`));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the verifier rejected the program');
    expect(r.stderr).toContain('invalid access to packet');
    expect(r.stderr).toMatch(/lines of log: run with --verbose for all of it/);
    expect(existsSync(`${pins.dir}/bad`)).toBe(false);
    const v = (await tsbpf('obj', 'load', bad, '--pin-dir', `${pins.dir}/bad`, '--verbose', '--json'));
    const err = v.error();
    expect(err).toMatchObject({ name: 'VerifierError', code: 'EACCES', command: 'BPF_PROG_LOAD', exitCode: 1 });
    expect(err.verifierSummary).toContain('R1 offset is outside of the packet');
    expect(err.verifierLog!.split('\n').length).toBeGreaterThan(err.verifierSummary!.split('\n').length);
    expect(err.verifierLog).toContain('processed');

    // --program loads only the named program: the good one loads and pins.
    const fine = (await ok('obj', 'load', bad, '--pin-dir', `${pins.dir}/fine`, '--program', 'fine', '--json')).json();
    expect(fine.pinned.map((p: any) => p.name)).toEqual(['fine']);
  });
});
