// `tsbpf obj inspect`, help and usage errors: no privileges needed (nothing is loaded).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ElfFile } from '../../src/elf/index.js';
import { loadKernelBtf } from '../../src/btf/index.js';
import { ROOT, fixture, tsbpf } from './run.js';

const CORE_O = `${ROOT}/test/btf/fixtures/core.o`;
/** core.o's programs sit in custom `tsbpf/...` sections: their types are given by section name. */
const coreTypes = (): string[] =>
  new ElfFile(readFileSync(CORE_O)).sections.filter((s) => s.name.startsWith('tsbpf/')).flatMap((s) => ['--type', `${s.name}=kprobe`]);

describe('tsbpf help and usage errors', () => {
  it('prints help for tsbpf, an object and a verb; exits 2 on bad usage', async () => {
    const top = (await tsbpf('--help'));
    expect(top.code).toBe(0);
    for (const g of ['obj', 'prog', 'map', 'link', 'xdp', 'tc', 'tcx']) expect(top.stdout).toMatch(new RegExp(`^  ${g} `, 'm'));
    expect(top.stdout).toContain('Exit codes');

    const group = (await tsbpf('map', '--help'));
    expect(group.code).toBe(0);
    for (const v of ['list', 'show', 'dump', 'lookup', 'update', 'delete']) expect(group.stdout).toContain(`tsbpf map ${v}`);

    const verb = (await tsbpf('tcx', 'attach', '--help'));
    expect(verb.code).toBe(0);
    expect(verb.stdout).toMatch(/^usage: tsbpf tcx attach IFACE ingress\|egress FILE\|PIN\|ID --pin PATH/m);

    const none = (await tsbpf());
    expect(none.code).toBe(2);

    const unknownVerb = (await tsbpf('prog', 'frobnicate'));
    expect(unknownVerb.code).toBe(2);
    expect(unknownVerb.stderr).toContain("unknown verb 'prog frobnicate'");

    const unknownOpt = (await tsbpf('prog', 'list', '--bogus', '--json'));
    expect(unknownOpt.code).toBe(2);
    expect(unknownOpt.error()).toMatchObject({ name: 'UsageError', exitCode: 2, message: 'unknown option --bogus' });
  });
});

describe('tsbpf obj inspect', () => {
  it('describes xdp_stats.o: sections, program, maps with BTF types, globals, BTF summary', async () => {
    const file = `${ROOT}/examples/bpf/xdp_stats.o`;
    const elf = new ElfFile(readFileSync(file));
    const r = (await tsbpf('obj', 'inspect', file, '--json'));
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j).toMatchObject({ name: 'xdp_stats', license: 'GPL' });
    // Sections as the ELF has them (the null section aside).
    expect(j.sections.map((s: any) => [s.name, s.size])).toEqual(elf.sections.slice(1).map((s) => [s.name, s.size]));
    const xdpSection = j.sections.find((s: any) => s.name === 'xdp');
    expect(xdpSection).toMatchObject({ type: 'PROGBITS', flags: 'AX' });
    expect(j.programs).toEqual([
      { name: 'xdp_stats', section: 'xdp', type: 'xdp', attachType: 'xdp', insns: xdpSection.size / 8, linkedInsns: xdpSection.size / 8, autoload: true },
    ]);
    expect(j.maps).toEqual([
      expect.objectContaining({ name: 'stats', type: 'percpu_array', keySize: 4, valueSize: 16, maxEntries: 6, keyType: '__u32', valueType: 'struct counters', pinning: 'none' }),
      expect.objectContaining({ name: '.rodata', kernelName: 'xdp_stat.rodata', kind: 'data', valueSize: 2, flagNames: ['rdonly_prog', 'mmapable'] }),
      expect.objectContaining({ name: '.bss', kernelName: 'xdp_stat.bss', kind: 'data', valueSize: 8 }),
    ]);
    expect(j.globals).toEqual([
      { name: 'drop_port', section: '.rodata', offset: 0, size: 2, type: 'const volatile __u16', constant: true, global: true, hex: '0000', value: 0 },
      { name: 'dropped', section: '.bss', offset: 0, size: 8, type: '__u64', constant: false, global: true, hex: '0000000000000000', value: 0 },
    ]);
    expect(j.btf).toMatchObject({ funcInfo: 1, coreRelos: 0 });
    expect(j.btf.lineInfo).toBeGreaterThan(20);
    expect(j.btf.byKind.struct).toBeGreaterThanOrEqual(1);
    expect(j.core).toEqual([]);

    const human = (await tsbpf('obj', 'inspect', file));
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^xdp_stats\s+xdp\s+xdp\s+xdp\s+110\s+110\s+yes$/m);
    expect(human.stdout).toMatch(/^stats\s+percpu_array\s+__u32 \(4\)\s+struct counters \(16\)\s+6/m);
  });

  it('shows global values decoded through BTF (ints, arrays, strings, custom sections)', async () => {
    const j = (await tsbpf('obj', 'inspect', fixture('globals.o'), '--json')).json();
    const g = Object.fromEntries(j.globals.map((v: any) => [v.name, v]));
    expect(g.cfg_mode).toMatchObject({ constant: true, value: 1, size: 4 });
    expect(g.cfg_limit).toMatchObject({ constant: true, value: 1000, size: 8 });
    expect(g.cfg_mac).toMatchObject({ value: [2, 0, 0, 0, 0, 1], hex: '020000000001' });
    expect(g.seen).toMatchObject({ section: '.data', constant: false, value: 7 });
    expect(g.hits).toMatchObject({ section: '.data.counters', value: [1, 2, 3, 4] });
    expect(g.greeting).toMatchObject({ section: '.rodata.strings', value: 'hello' });
    expect(g.hidden_count).toMatchObject({ global: false });
  });

  it('lists subprograms and computes CO-RE relocations against the running kernel', async () => {
    const kernel = loadKernelBtf();
    const calls = (await tsbpf('obj', 'inspect', fixture('calls.o'), '--json')).json();
    expect(calls.subprograms.map((s: any) => s.name).sort()).toEqual(['global_fn', 'leaf', 'loop_cb', 'middle']);
    const first = calls.programs.find((p: any) => p.name === 'xdp_first');
    expect(first.linkedInsns).toBeGreaterThan(first.insns);
    const skbLen = kernel.memberOffset(kernel.typeByName('__sk_buff', 'struct')!, 'len');
    expect(calls.core).toEqual([
      expect.objectContaining({ program: 'tcx_calls', kind: 'field_byte_offset', result: 'ok', value: `${skbLen}` }),
    ]);
    expect(calls.core[0].local).toContain('struct __sk_buff___view.len');
    expect(calls.core[0].target).toContain('struct __sk_buff.len');

    const types = coreTypes();
    const core = (await tsbpf('obj', 'inspect', CORE_O, ...types, '--json')).json();
    expect(core.core).toHaveLength(core.btf.coreRelos);
    const pid = kernel.memberOffset(kernel.typeByName('task_struct', 'struct')!, 'pid');
    const loads = core.core.filter((c: any) => c.program === 'loads');
    expect(loads[0]).toMatchObject({ kind: 'field_byte_offset', result: 'ok', value: `4 -> ${pid}` });
    // A field the kernel does not have: the access is poisoned, its existence check is 0.
    const missing = core.core.filter((c: any) => c.program === 'missing');
    expect(missing.map((c: any) => [c.kind, c.result])).toEqual([
      ['field_exists', 'ok'],
      ['field_byte_offset', 'poison'],
      ['field_byte_offset', 'ok'],
    ]);
    expect(missing[0].value).toBe('1 -> 0');
    const human = (await tsbpf('obj', 'inspect', CORE_O, ...types));
    expect(human.stdout).toContain('CO-RE relocations against this kernel:');
    expect(human.stdout).toMatch(/^missing\s+2\s+field_byte_offset\s+.*gone_field.*poison/m);
  });

  it('exit codes: 3 for a missing file, 5 for a file that is not a usable object; untyped programs are shown', async () => {
    const missing = (await tsbpf('obj', 'inspect', '/nonexistent/x.o', '--json'));
    expect(missing.code).toBe(3);
    expect(missing.error()).toMatchObject({ exitCode: 3, message: '/nonexistent/x.o: no such file' });

    const notElf = (await tsbpf('obj', 'inspect', `${ROOT}/package.json`));
    expect(notElf.code).toBe(5);
    expect(notElf.stderr).toContain('not an ELF file');

    // Programs in sections no SEC() convention knows open untyped, as libbpf opens them.
    const untyped = await tsbpf('obj', 'inspect', CORE_O, '--json');
    expect(untyped.code).toBe(0);
    const progs = untyped.json<{ programs: { name: string; section: string; type: string | null }[] }>().programs;
    expect(progs.length).toBeGreaterThan(3);
    for (const p of progs) expect(p, p.name).toMatchObject({ type: null });
    expect(progs.every((p) => p.section.startsWith('tsbpf/'))).toBe(true);
    const human = await tsbpf('obj', 'inspect', CORE_O);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`^\\s*${progs[0]!.name}\\s+${progs[0]!.section.replace(/[/]/g, '\\/')}\\s+-\\s`, 'm'));

    const badType = (await tsbpf('obj', 'inspect', CORE_O, '--type', 'loads=nonsense'));
    expect(badType.code).toBe(2);
    expect(badType.stderr).toContain("'nonsense' is not a program type");
  });
});
