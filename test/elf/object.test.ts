import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ElfError, UsageError } from '../../src/errors.js';
import { getVariable, internalMapName, linkProgram, objectNameFromPath, openObjectSpec, setVariable } from '../../src/elf/index.js';
import type { LineInfo } from '../../src/btf/index.js';
import { thrown } from '../helpers/thrown.js';
import { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS } from '../../src/syscall/abi/bpf.js';
import { bpf_map_create_flags } from '../../src/syscall/abi/enums.js';
import { fixtureBytes, openFixture } from './helpers.js';

const { BPF_F_RDONLY_PROG, BPF_F_MMAPABLE, BPF_F_NO_PREALLOC } = bpf_map_create_flags;

describe('openObjectSpec: fixtures', () => {
  it('xdp_counter: a program, BTF maps with key/value types, pinning and flags', () => {
    const s = openFixture('xdp_counter.o');
    expect(s.license).toBe('Dual MIT/GPL');
    expect([...s.programs.keys()]).toEqual(['xdp_count']);
    const p = s.programs.get('xdp_count')!;
    expect(p).toMatchObject({ type: 'xdp', expectedAttachType: 'xdp', flags: 0, sectionName: 'xdp', autoload: true, isSubprogram: false, global: true });
    expect(p.instructions.byteLength / 8).toBe(47);
    expect(p.relocations.map((r) => [r.kind, r.insn, 'map' in r ? r.map : ''])).toEqual([
      ['map', 15, 'proto_counts'],
      ['map', 32, 'proto_counts'],
      ['map', 38, 'total'],
    ]);
    const m = s.maps.get('proto_counts')!;
    expect(m).toMatchObject({ kind: 'btf', type: 'hash', keySize: 2, valueSize: 16, maxEntries: 64, flags: BPF_F_NO_PREALLOC, pinning: 'by_name', kernelName: 'proto_counts' });
    expect(s.btf!.type(m.btfKeyType!)).toMatchObject({ kind: 'typedef', name: '__u16' });
    expect(s.btf!.type(m.btfValueType!)).toMatchObject({ kind: 'struct', name: 'counter', size: 16 });
    // key_size/value_size given as numbers: no BTF types
    expect(s.maps.get('total')).toMatchObject({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 1, pinning: 'none', btfKeyType: undefined, btfValueType: undefined });
    expect(s.variables.size).toBe(0);
  });

  it('globals: .data, .bss, .rodata, custom sections, libbpf names and flags, variables', () => {
    const s = openFixture('globals.o');
    const names = [...s.maps.values()].map((m) => [m.name, m.kernelName, m.valueSize, m.flags, m.freeze]);
    expect(names).toEqual([
      ['.rodata', 'globals.rodata', 22, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, true],
      ['.data', 'globals.data', 8, BPF_F_MMAPABLE, false],
      ['.data.counters', '.data.counters', 32, BPF_F_MMAPABLE, false],
      ['.rodata.strings', '.rodata.strings', 6, BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, true],
      ['.bss', 'globals.bss', 24, BPF_F_MMAPABLE, false],
    ]);
    for (const m of s.maps.values()) expect(m).toMatchObject({ kind: 'data', type: 'array', keySize: 4, maxEntries: 1 });
    const v = Object.fromEntries([...s.variables.values()].map((x) => [x.name, [x.map, x.offset, x.size, x.global, x.constant]]));
    expect(v).toEqual({
      cfg_mode: ['.rodata', 0, 4, true, true],
      cfg_limit: ['.rodata', 8, 8, true, true],
      cfg_mac: ['.rodata', 16, 6, true, true],
      seen: ['.data', 0, 8, true, false],
      hits: ['.data.counters', 0, 32, true, false],
      greeting: ['.rodata.strings', 0, 6, true, true],
      last_len: ['.bss', 0, 4, true, false],
      hidden_count: ['.bss', 8, 8, false, false],
      dropped: ['.bss', 16, 8, true, false],
    });
    // initial values come from the section bytes; .bss is zeroes
    expect(getVariable(s, 'cfg_mode')).toEqual(new Uint8Array([1, 0, 0, 0]));
    expect(getVariable(s, 'cfg_limit')).toEqual(new Uint8Array([0xe8, 3, 0, 0, 0, 0, 0, 0]));
    expect(getVariable(s, 'cfg_mac')).toEqual(new Uint8Array([2, 0, 0, 0, 0, 1]));
    expect(getVariable(s, 'seen')[0]).toBe(7);
    expect([...getVariable(s, 'hits')].filter((_, i) => i % 8 === 0)).toEqual([1, 2, 3, 4]);
    expect(new TextDecoder().decode(getVariable(s, 'greeting'))).toBe('hello\0');
    expect(s.maps.get('.bss')!.data).toEqual(new Uint8Array(24));
    // DATASECs in the BTF now carry ELF sizes and offsets, sorted
    const ds = s.btf!.type(s.maps.get('.bss')!.btfValueType!);
    expect(ds).toMatchObject({ kind: 'datasec', name: '.bss', size: 24 });
    expect(ds.kind === 'datasec' && ds.vars.map((x) => x.offset)).toEqual([0, 8, 16]);

    const p = s.programs.get('tc_globals')!;
    expect(p).toMatchObject({ type: 'sched_cls', expectedAttachType: undefined });
    expect(p.relocations).toEqual([
      { kind: 'data', insn: 0, map: '.data', offset: 0 },
      { kind: 'data', insn: 6, map: '.bss', offset: 0 }, // static: against the section, imm = 8
      { kind: 'data', insn: 11, map: '.bss', offset: 0 },
      { kind: 'data', insn: 17, map: '.data.counters', offset: 0 },
      { kind: 'data', insn: 23, map: '.rodata', offset: 0 },
      { kind: 'data', insn: 27, map: '.rodata', offset: 8 },
      { kind: 'data', insn: 31, map: '.bss', offset: 16 },
      { kind: 'data', insn: 38, map: '.rodata', offset: 16 },
    ]);
  });

  it('setVariable writes constants before load, checking sizes', () => {
    const s = openFixture('globals.o');
    setVariable(s, 'cfg_mode', 2);
    setVariable(s, 'cfg_limit', 0x1_0000_0001n);
    setVariable(s, 'cfg_mac', new Uint8Array([1, 2, 3, 4, 5, 6]));
    setVariable(s, 'last_len', -1);
    expect(getVariable(s, 'cfg_mode')).toEqual(new Uint8Array([2, 0, 0, 0]));
    expect(getVariable(s, 'cfg_limit')).toEqual(new Uint8Array([1, 0, 0, 0, 1, 0, 0, 0]));
    expect(getVariable(s, 'cfg_mac')).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6]));
    expect(getVariable(s, 'last_len')).toEqual(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(() => setVariable(s, 'cfg_mode', 2 ** 32)).toThrow(/cannot hold 4294967296/);
    expect(() => setVariable(s, 'cfg_mac', new Uint8Array(5))).toThrow(/6 bytes; got 5/);
    expect(() => setVariable(s, 'nope', 1)).toThrow(UsageError);
    // a fresh open is not affected
    expect(getVariable(openFixture('globals.o'), 'cfg_mode')).toEqual(new Uint8Array([1, 0, 0, 0]));
  });

  it('calls: entry programs per section split by symbol, .text subprograms, call relocations', () => {
    const s = openFixture('calls.o');
    expect([...s.programs.keys()]).toEqual(['xdp_first', 'xdp_second', 'tcx_calls']);
    expect([...s.subprograms.keys()]).toEqual(['global_fn', 'middle', 'leaf', 'loop_cb']);
    const first = s.programs.get('xdp_first')!;
    const second = s.programs.get('xdp_second')!;
    expect([first.sectionInsnOffset, first.instructions.byteLength / 8]).toEqual([0, 12]);
    expect([second.sectionInsnOffset, second.instructions.byteLength / 8]).toEqual([12, 23]);
    expect(first.relocations).toEqual([
      { kind: 'call', insn: 1, symbolOffset: 0 }, // static leaf: against .text, imm carries the target
      { kind: 'call', insn: 4, symbolOffset: 0 }, // global_fn at .text+0
    ]);
    expect(second.relocations).toEqual([
      { kind: 'func', insn: 6, symbolOffset: 0 }, // &loop_cb for bpf_loop
      { kind: 'call', insn: 11, symbolOffset: 0 },
      { kind: 'call', insn: 15, symbolOffset: 0 },
    ]);
    const middle = s.subprograms.get('middle')!;
    expect(middle).toMatchObject({ isSubprogram: true, global: false, type: undefined, sectionInsnOffset: 6 });
    expect(middle.relocations).toEqual([{ kind: 'map', insn: 5, map: 'results' }]);
    expect(s.subprograms.get('global_fn')!.global).toBe(true);
    expect(s.maps.get('.bss')!.kernelName).toBe('calls.bss');
  });

  it('map_in_map: inner map templates and declarative slots for map-in-map and prog arrays', () => {
    const s = openFixture('map_in_map.o');
    const outer = s.maps.get('outer')!;
    expect(outer).toMatchObject({ type: 'array_of_maps', keySize: 4, valueSize: 4, maxEntries: 4 });
    expect(outer.inner).toMatchObject({ name: 'outer.inner', type: 'array', keySize: 4, valueSize: 4, maxEntries: 2 });
    expect(outer.initialSlots).toEqual([
      { index: 0, map: 'inner_a' },
      { index: 3, map: 'inner_b' },
    ]);
    const oh = s.maps.get('outer_hash')!;
    expect(oh.inner).toMatchObject({ type: 'hash', keySize: 8, valueSize: 8, maxEntries: 16 });
    expect(oh.initialSlots).toEqual([]);
    const jumps = s.maps.get('jumps')!;
    expect(jumps).toMatchObject({ type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 3, inner: undefined });
    expect(jumps.initialSlots).toEqual([
      { index: 1, program: 'tail_a' },
      { index: 2, program: 'tail_b' },
    ]);
    expect([...s.programs.keys()]).toEqual(['tail_a', 'tail_b', 'entry']);
    // entry starts at instruction 4 of section tc: llvm-objdump's 9 and 24 are 5 and 20 in it
    expect(s.programs.get('entry')!.sectionInsnOffset).toBe(4);
    expect(s.programs.get('entry')!.relocations).toEqual([
      { kind: 'map', insn: 5, map: 'outer' },
      { kind: 'map', insn: 20, map: 'jumps' },
    ]);
  });

  it('a static legacy map is refused, naming it and its offset; stripped of its symbol, the reference to it is refused', () => {
    const e = thrown<ElfError>(() => openFixture('legacy_static_map.o'));
    expect(e).toBeInstanceOf(ElfError);
    expect(e.section).toBe('maps');
    expect(e.offset).toBe(20);
    expect(e.message).toMatch(/legacy map 'hidden' is static/);
    // Without the local symbol (as a stripped object has it), only the program's reference
    // through the section symbol and offset 20 remains.
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-static-'));
    try {
      const out = join(dir, 'stripped.o');
      execFileSync('llvm-objcopy-19', ['--strip-symbol=hidden', fileURLToPath(new URL('../fixtures/legacy_static_map.o', import.meta.url)), out]);
      const s = thrown<ElfError>(() => openObjectSpec(new Uint8Array(readFileSync(out))));
      expect(s).toBeInstanceOf(ElfError);
      expect(s.offset).toBe(20);
      expect(s.message).toMatch(/program 'sock_count' instruction \d+ refers to a map in maps at offset 20 that has no global symbol/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('legacy_maps: struct bpf_map_def records, no BTF, a version section', () => {
    const s = openFixture('legacy_maps.o');
    expect(s.btf).toBeUndefined();
    expect(s.btfExt).toBeUndefined();
    expect(s.kernelVersion).toBe(0x060c00);
    expect([...s.maps.values()].map((m) => [m.name, m.kind, m.type, m.keySize, m.valueSize, m.maxEntries, m.flags])).toEqual([
      ['counters', 'legacy', 'array', 4, 8, 16, 0],
      ['flows', 'legacy', 'lru_hash', 8, 16, 1024, 0],
    ]);
    expect(s.programs.get('sock_count')).toMatchObject({ type: 'socket_filter' });
    expect(s.programs.get('sock_count')!.relocations).toEqual([{ kind: 'map', insn: 5, map: 'counters' }]);
  });

  it('externs: kconfig offsets in libbpf order, ksyms and kfuncs, BTF rewritten as libbpf does', () => {
    const s = openFixture('externs.o');
    const e = Object.fromEntries([...s.externs.values()].map((x) => [x.name, [x.kind, x.weak, x.isFunction, x.kconfig?.type, x.kconfig?.offset, x.kconfig?.size]]));
    expect(e).toEqual({
      CONFIG_HZ: ['kconfig', true, false, 'int', 0, 8],
      CONFIG_NET_CLS_ACT: ['kconfig', true, false, 'tristate', 8, 4],
      LINUX_KERNEL_VERSION: ['kconfig', false, false, 'int', 12, 4],
      CONFIG_BPF_SYSCALL: ['kconfig', true, false, 'bool', 16, 1],
      CONFIG_DEFAULT_HOSTNAME: ['kconfig', true, false, 'char_array', 17, 16],
      bpf_no_such_kfunc: ['ksym', true, true, undefined, undefined, undefined],
      bpf_prog_active: ['ksym', false, false, undefined, undefined, undefined],
      bpf_rcu_read_lock: ['ksym', false, true, undefined, undefined, undefined],
      bpf_rcu_read_unlock: ['ksym', false, true, undefined, undefined, undefined],
      bpf_stats_enabled_key: ['ksym', true, false, undefined, undefined, undefined],
    });
    expect(s.externs.get('bpf_prog_active')!.typeId).toBe(0); // typeless: resolved by address
    expect(s.btf!.type(s.externs.get('bpf_stats_enabled_key')!.typeId)).toMatchObject({ kind: 'int', size: 4 });
    expect(s.maps.get('.kconfig')).toMatchObject({ kind: 'kconfig', kernelName: 'externs.kconfig', valueSize: 33, flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE, freeze: true });
    const kc = s.btf!.type(s.btf!.typeByName('.kconfig', 'datasec')!);
    expect(kc.kind === 'datasec' && [kc.size, kc.vars.map((v) => v.offset)]).toEqual([33, [0, 8, 12, 16, 17]]);
    const ks = s.btf!.type(s.btf!.typeByName('.ksyms', 'datasec')!);
    expect(ks.kind === 'datasec' && [ks.size, ks.vars.map((v) => [v.offset, v.size, s.btf!.type(v.type).kind])]).toEqual([
      20,
      [[0, 4, 'var'], [4, 4, 'var'], [8, 4, 'var'], [12, 4, 'var'], [16, 4, 'var']],
    ]);
    for (const v of ks.kind === 'datasec' ? ks.vars : []) expect(s.btf!.type(v.type)).toMatchObject({ kind: 'var', linkage: 'global' });
    const rel = s.programs.get('raw_externs')!.relocations.map((r) => (r.kind === 'extern' ? `${r.insn}:${r.extern}${r.call ? '()' : ''}` : `${r.insn}:${r.kind}`));
    expect(rel).toEqual([
      '0:CONFIG_NET_CLS_ACT', '6:CONFIG_HZ', '9:bpf_prog_active', '12:data', '14:bpf_stats_enabled_key', '17:LINUX_KERNEL_VERSION',
      '21:CONFIG_BPF_SYSCALL', '27:CONFIG_DEFAULT_HOSTNAME', '33:bpf_rcu_read_lock()', '34:bpf_no_such_kfunc', '38:bpf_no_such_kfunc()', '45:bpf_rcu_read_unlock()',
    ]);
  });

  it('sections: every convention in one object, attach targets and the ? prefix', () => {
    const s = openFixture('sections.o');
    expect(s.programs.size).toBe(71);
    const get = (n: string) => s.programs.get(n)!;
    expect(get('kp')).toMatchObject({ type: 'kprobe', attachTo: 'do_unlinkat', target: { kind: 'kprobe', function: 'do_unlinkat', offset: 0, retprobe: false } });
    expect(get('kp_off').target).toEqual({ kind: 'kprobe', function: 'tcp_v4_connect', offset: 16, retprobe: false });
    expect(get('tp').target).toEqual({ kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' });
    expect(get('fent')).toMatchObject({ type: 'tracing', expectedAttachType: 'trace_fentry', btfAttach: true, attachTo: 'do_unlinkat' });
    expect(get('fent_s').flags).toBe(BPF_F_SLEEPABLE);
    expect(get('lsm_s')).toMatchObject({ type: 'lsm', expectedAttachType: 'lsm_mac', flags: BPF_F_SLEEPABLE, attachTo: 'bprm_check_security' });
    expect(get('xfdm')).toMatchObject({ type: 'xdp', expectedAttachType: 'xdp_devmap', flags: BPF_F_XDP_HAS_FRAGS });
    expect(get('cgc4')).toMatchObject({ type: 'cgroup_sock_addr', expectedAttachType: 'cgroup_inet4_connect' });
    expect(get('up').target).toEqual({ kind: 'uprobe', binary: '/bin/bash', function: 'readline', offset: 0, retprobe: false });
    expect(get('optional')).toMatchObject({ autoload: false, sectionName: 'raw_tp/sched_process_exit', type: 'raw_tracepoint' });
    expect(get('rtp').autoload).toBe(true);
  });

  it('an unknown section name opens untyped (as libbpf does); programTypes types it by program or section', () => {
    const spec = openFixture('unknown_section.o');
    expect(spec.programs.get('custom')).toMatchObject({ type: undefined, expectedAttachType: undefined, attachTo: 'x', sectionName: 'my_custom_hook/x', isSubprogram: false, autoload: true });
    const byProg = openFixture('unknown_section.o', { programTypes: { custom: { type: 'socket_filter' } } });
    expect(byProg.programs.get('custom')).toMatchObject({ type: 'socket_filter', expectedAttachType: undefined, attachTo: 'x' });
    const bySection = openFixture('unknown_section.o', { programTypes: { 'my_custom_hook/x': { type: 'xdp', expectedAttachType: 'xdp' } } });
    expect(bySection.programs.get('custom')).toMatchObject({ type: 'xdp', expectedAttachType: 'xdp' });
  });

  it('keeps no view of the bytes it opened: overwriting them afterwards changes nothing in the spec', () => {
    // BpfObject.open(path) reads every file into one reused buffer, so a spec must not read its
    // input later (BTF types and names, .BTF.ext records and line strings are decoded lazily).
    const digest = (s: ReturnType<typeof openFixture>) => {
      const out: unknown[] = [s.btf!.encode(), [...s.variables]];
      for (const name of s.programs.keys()) {
        const l = linkProgram(s, name);
        out.push(name, l.instructions, l.relocations, l.funcInfo, l.coreRelos, l.lineInfo.map((r) => [r.insnIndex, (r as LineInfo).fileName, (r as LineInfo).lineText, (r as LineInfo).line]));
      }
      for (const m of s.maps.values()) out.push(m.name, m.data, m.btfKeyType, m.btfValueType);
      return out;
    };
    for (const f of ['calls.o', 'globals.o', 'externs.o', 'map_in_map.o']) {
      const reference = digest(openFixture(f));
      const bytes = fixtureBytes(f).slice();
      const spec = openObjectSpec(bytes, { name: f.replace(/\..*$/, '') });
      bytes.fill(0xa5);
      const after = digest(spec);
      expect(after, f).toEqual(reference);
      expect(JSON.stringify(after).length, f).toBeGreaterThan(1000); // it compared something
    }
  });

  it('every fixture opens', () => {
    const objs = readdirSync(new URL('../fixtures/', import.meta.url)).filter((f) => f.endsWith('.o') && f !== 'legacy_static_map.o');
    expect(objs.length).toBeGreaterThanOrEqual(7);
    for (const f of objs) expect(openFixture(f).license, f).toMatch(/GPL/);
  });
});

describe('names', () => {
  it('derives object names and data map names as libbpf does', () => {
    expect(objectNameFromPath('/x/y/xdp_stats.bpf.o')).toBe('xdp_stats');
    expect(objectNameFromPath('a_very_long_object_name.o')).toBe('a_very_long_obj');
    expect(internalMapName('globals', '.bss')).toBe('globals.bss');
    expect(internalMapName('my_object_name', '.rodata')).toBe('my_objec.rodata');
    expect(internalMapName('my_object_name', '.bss')).toBe('my_objec.bss');
    expect(internalMapName('my_object_name', '.kconfig')).toBe('my_obje.kconfig');
    expect(internalMapName('obj', '.rodata.abracadabra')).toBe('.rodata.abracad');
    expect(internalMapName('obj', '.data.counters')).toBe('.data.counters');
    expect(internalMapName('x-y', '.data')).toBe('x_y.data');
  });
});
