import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ElfError, UsageError } from '../../src/errors.js';
import { linkProgram, type LinkedProgram, type ObjectSpec } from '../../src/elf/index.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE } from '../../src/syscall/abi/bpf.js';
import { FIXTURES, insn, openFixture } from './helpers.js';
import { libbpfTags } from '../helpers/reference-tools.js';

/** Every call/callback in the stream must land on the start of the subprogram the layout says. */
function callTargets(l: LinkedProgram): string[] {
  const out: string[] = [];
  for (let i = 0; i < l.instructions.byteLength / 8; i++) {
    const x = insn(l.instructions, i);
    const call = x.code === 0x85 && x.src === BPF_PSEUDO_CALL;
    const func = x.code === 0x18 && x.src === BPF_PSEUDO_FUNC;
    if (!call && !func) continue;
    const target = i + x.imm + 1;
    const sub = l.layout.find((p) => p.insn === target);
    out.push(`${i}${func ? '&' : '→'}${sub ? sub.name : `?${target}`}`);
  }
  return out;
}

describe('linkProgram', () => {
  const calls = openFixture('calls.o');

  it('appends subprograms depth-first in call order, once each, per entry program', () => {
    const first = linkProgram(calls, 'xdp_first');
    expect(first.layout).toEqual([
      { name: 'xdp_first', insn: 0, count: 12 },
      { name: 'leaf', insn: 12, count: 4 },
      { name: 'global_fn', insn: 16, count: 6 },
      { name: 'middle', insn: 22, count: 20 },
    ]);
    expect(first.instructions.byteLength).toBe(42 * 8);
    expect(callTargets(first)).toEqual(['1→leaf', '4→global_fn', '17→middle', '19→leaf', '35→leaf', '39→leaf']);
    // the call immediates themselves: relative to the next instruction
    expect(insn(first.instructions, 1).imm).toBe(10);
    expect(insn(first.instructions, 4).imm).toBe(11);
    expect(insn(first.instructions, 17).imm).toBe(4);
    expect(insn(first.instructions, 19).imm).toBe(-8);

    const second = linkProgram(calls, 'xdp_second');
    expect(second.layout.map((p) => `${p.name}@${p.insn}`)).toEqual(['xdp_second@0', 'loop_cb@23', 'global_fn@34', 'middle@40', 'leaf@60']);
    expect(second.instructions.byteLength).toBe(64 * 8);
    expect(callTargets(second)).toEqual(['6&loop_cb', '11→global_fn', '15→middle', '35→middle', '37→leaf', '53→leaf', '57→leaf']);

    const tc = linkProgram(calls, 'tcx_calls');
    expect(tc.layout.map((p) => `${p.name}@${p.insn}`)).toEqual(['tcx_calls@0', 'middle@8', 'leaf@28']);
  });

  it('sets pseudo registers for maps and global data, with the data offset in the second half', () => {
    const first = linkProgram(calls, 'xdp_first');
    expect(first.relocations.filter((r) => r.kind === 'map')).toEqual([{ insn: 27, kind: 'map', map: 'results' }]);
    expect(insn(first.instructions, 27)).toMatchObject({ code: 0x18, src: BPF_PSEUDO_MAP_FD, imm: 0 });
    const second = linkProgram(calls, 'xdp_second');
    const data = second.relocations.filter((r) => r.kind === 'data');
    expect(data).toEqual([{ insn: 27, kind: 'data', map: '.bss', offset: 0 }]); // loop_cb's `loops`
    expect(insn(second.instructions, 27)).toMatchObject({ src: BPF_PSEUDO_MAP_VALUE, imm: 0 });
    const g = openFixture('globals.o');
    const l = linkProgram(g, 'tc_globals');
    const byInsn = Object.fromEntries(l.relocations.map((r) => [r.insn, r.kind === 'data' ? `${r.map}+${r.offset}` : r.kind]));
    expect(byInsn).toEqual({ 0: '.data+0', 6: '.bss+8', 11: '.bss+0', 17: '.data.counters+0', 23: '.rodata+0', 27: '.rodata+8', 31: '.bss+16', 38: '.rodata+16' });
    for (const r of l.relocations) {
      expect(insn(l.instructions, r.insn)).toMatchObject({ code: 0x18, src: BPF_PSEUDO_MAP_VALUE, imm: 0 });
      if (r.kind === 'data') expect(insn(l.instructions, r.insn + 1).imm).toBe(r.offset);
    }
  });

  it('leaves kfuncs and ksyms to the loader and places kconfig values', () => {
    const s = openFixture('externs.o');
    const l = linkProgram(s, 'raw_externs');
    const summary = l.relocations.map((r) => `${r.insn}:${r.kind}:${'extern' in r ? r.extern : ''}${r.kind === 'data' ? `@${r.map}+${r.offset}` : ''}`);
    expect(summary).toEqual([
      '0:data:CONFIG_NET_CLS_ACT@.kconfig+8',
      '6:data:CONFIG_HZ@.kconfig+0',
      '9:ksym:bpf_prog_active',
      '12:data:@.bss+0',
      '14:ksym:bpf_stats_enabled_key',
      '17:data:LINUX_KERNEL_VERSION@.kconfig+12',
      '21:data:CONFIG_BPF_SYSCALL@.kconfig+16',
      '27:data:CONFIG_DEFAULT_HOSTNAME@.kconfig+17',
      '33:kfunc:bpf_rcu_read_lock',
      '34:ksym:bpf_no_such_kfunc',
      '38:kfunc:bpf_no_such_kfunc',
      '45:kfunc:bpf_rcu_read_unlock',
    ]);
    expect(insn(l.instructions, 33).src).toBe(BPF_PSEUDO_KFUNC_CALL);
    expect(insn(l.instructions, 17)).toMatchObject({ src: BPF_PSEUDO_MAP_VALUE, imm: 0 });
    expect(insn(l.instructions, 18).imm).toBe(12);
  });

  it('re-bases func_info, line_info and CO-RE records to the linked positions', () => {
    const first = linkProgram(calls, 'xdp_first');
    // one func_info per function, at its first instruction in the stream
    expect(first.funcInfo.map((f) => [f.insnIndex, calls.btf!.name(f.typeId)])).toEqual([
      [0, 'xdp_first'],
      [12, 'leaf'],
      [16, 'global_fn'],
      [22, 'middle'],
    ]);
    expect(first.lineInfo.length).toBeGreaterThan(8);
    expect(first.lineInfo[0]!.insnIndex).toBe(0);
    expect(first.lineInfo.every((li, i, a) => i === 0 || li.insnIndex >= a[i - 1]!.insnIndex || first.layout.some((p) => p.insn === li.insnIndex))).toBe(true);
    expect(first.lineInfo.every((li) => li.insnIndex < 42 && li.fileName.endsWith('calls.c'))).toBe(true);
    expect(first.coreRelos).toEqual([]);
    const tc = linkProgram(calls, 'tcx_calls');
    expect(tc.coreRelos).toMatchObject([{ insnIndex: 0, kind: 'field_byte_offset', accessStr: '0:0' }]);
    expect(calls.btf!.name(tc.coreRelos[0]!.typeId)).toBe('__sk_buff___view');
    // the subprogram's records moved with it: middle sits at 8 here, at 22 in xdp_first
    expect(tc.funcInfo.map((f) => [f.insnIndex, calls.btf!.name(f.typeId)])).toEqual([[0, 'tcx_calls'], [8, 'middle'], [28, 'leaf']]);
  });

  it('is pure: linking twice gives the same bytes and leaves the spec alone', () => {
    const before = calls.subprograms.get('middle')!.instructions.slice();
    const a = linkProgram(calls, 'xdp_second');
    const b = linkProgram(calls, 'xdp_second');
    expect(a.instructions).toEqual(b.instructions);
    expect(calls.subprograms.get('middle')!.instructions).toEqual(before);
  });

  it('names what is wrong', () => {
    expect(() => linkProgram(calls, 'nope')).toThrow(UsageError);
    expect(() => linkProgram(calls, 'middle')).toThrow(/'middle' is a \.text subprogram, not an entry program/);
    // a call whose target lies outside .text's functions
    const broken: ObjectSpec = { ...calls, subprograms: new Map([...calls.subprograms].filter(([k]) => k !== 'leaf')) };
    expect(() => linkProgram(broken, 'xdp_first')).toThrow(ElfError);
    expect(() => linkProgram(broken, 'xdp_first')).toThrow(/calls \.text instruction 26, where no subprogram is/);
  });

  const objdump = ['llvm-objdump-19', 'llvm-objdump'].find((b) => {
    try {
      execFileSync(b, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  });
  // llvm-objdump is an independent reading of the same bytes; CI machines without LLVM skip this.
  // The pure ring runs without llvm or root on a developer's machine; CI has both, and there a
  // missing tool must fail the run rather than skip (CI=true).
  // Skip reason: no llvm-objdump on this machine (outside CI only; under CI it fails).
  it.skipIf(!objdump && process.env.CI !== 'true')('agrees with llvm-objdump on function sizes and relocation sites', () => {
    // legacy_static_map.o is refused at open by design (test/elf/object.test.ts).
    for (const f of readdirSync(FIXTURES).filter((x) => x.endsWith('.o') && x !== 'legacy_static_map.o')) {
      const spec = openFixture(f);
      const text = execFileSync(objdump!, ['-dr', '--no-show-raw-insn', join(FIXTURES, f)], { encoding: 'utf8' });
      let fn = '';
      const counts = new Map<string, number>();
      const relocs: string[] = [];
      let start = 0;
      for (const line of text.split('\n')) {
        const head = /^[0-9a-f]{16} <(.+)>:$/.exec(line);
        if (head) {
          fn = head[1]!;
          start = -1;
          continue;
        }
        const ins = /^\s+(\d+):/.exec(line);
        if (ins && fn) {
          if (start < 0) start = Number(ins[1]);
          counts.set(fn, Number(ins[1]) - start + 1 + (/ ll$/.test(line) ? 1 : 0));
        }
        const rel = /^\s+([0-9a-f]{16}):\s+R_BPF_64_(64|32)\s/.exec(line);
        if (rel && fn) relocs.push(`${fn}:${parseInt(rel[1]!, 16) / 8 - start}`);
      }
      const all = [...spec.programs.values(), ...spec.subprograms.values()];
      for (const p of all) expect(p.instructions.byteLength / 8, `${f} ${p.name}`).toBe(counts.get(p.name));
      const ours = all.flatMap((p) => p.relocations.map((r) => `${p.name}:${r.insn}`));
      expect(ours.sort(), f).toEqual(relocs.sort());
    }
  });

  // The sharpest test: the kernel's tag of libbpf's load of the same object (bpftool, libbpf
  // 1.1) equals the hash of our linked instructions with map fds zeroed, as the kernel
  // computes it (SHA-256 on 6.18; SHA-1 before). Needs root, bpffs and bpftool.
  const canLoad = process.getuid?.() === 0 && existsSync('/sys/fs/bpf') && existsSync('/usr/sbin/bpftool');
  // Skip reason: loading needs root, bpffs and bpftool (outside CI only; under CI it fails).
  it.skipIf(!canLoad && process.env.CI !== 'true')('gives the same program tags as libbpf (bpftool prog loadall)', () => {
    for (const f of ['calls.o', 'globals.o', 'map_in_map.o']) {
      // bpftool in a bpffs of its own (test/helpers/reference-tools.ts): nothing it pins stays.
      const tags = libbpfTags(join(FIXTURES, f));
      const spec = openFixture(f);
      for (const name of spec.programs.keys()) {
        const l = linkProgram(spec, name);
        const b = l.instructions.slice();
        for (const r of l.relocations) if (r.kind === 'map' || r.kind === 'data') b.fill(0, r.insn * 8 + 4, r.insn * 8 + 16);
        const sha256 = createHash('sha256').update(b).digest('hex').slice(0, 16);
        const sha1 = createHash('sha1').update(b).digest('hex').slice(0, 16);
        expect([sha256, sha1], `${f} ${name}`).toContain(tags[name]);
      }
    }
  });
});
