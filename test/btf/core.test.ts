// CO-RE against the running kernel, checked instruction by instruction against libbpf
// relocating the same object (test/btf/fixtures/libbpf_core_dump.c), plus concrete values
// from the kernel's BTF and the failure modes (poison, ambiguity, validation).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Btf } from '../../src/btf/btf.js';
import { CoreRelocationError, CoreRelocator, computeCoreRelocation, typesMatch } from '../../src/btf/core.js';
import { type CoreRelo, parseBtfExt } from '../../src/btf/ext.js';
import { loadKernelBtf } from '../../src/btf/kernel.js';
import { applyCoreRelocation, POISON_CALL_IMM } from '../../src/btf/patch.js';
import type { BtfMember } from '../../src/btf/types.js';
import { FIXTURES, fixture, readElf, tempDir } from './helpers.js';
import { kernelOffsetFromBpftool } from '../helpers/kernel-btf-dump.js';

const kernel = loadKernelBtf();
const local = Btf.parse(fixture('core.btf'));
const ext = parseBtfExt(fixture('core.btf.ext'), local);
const elf = readElf(fixture('core.o'));

/** Our relocation of every tsbpf/* program: section name -> relocated instruction bytes. */
function relocateAll(): Map<string, { name: string; insns: Uint8Array; outcomes: string[] }> {
  const relocator = new CoreRelocator(local, kernel);
  const out = new Map<string, { name: string; insns: Uint8Array; outcomes: string[] }>();
  for (const sec of elf.sections.filter((s) => s.name.startsWith('tsbpf/'))) {
    const insns = elf.data(sec.name);
    const fn = elf.symbols.find((s) => s.shndx === sec.index && (s.info & 0xf) === 2)!;
    const outcomes: string[] = [];
    for (const relo of ext.coreRelos.get(sec.name) ?? []) {
      const res = relocator.compute(relo);
      outcomes.push(applyCoreRelocation(insns, relo.insnIndex, res).action);
    }
    out.set(sec.name, { name: fn.name, insns, outcomes });
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const insnAt = (b: Uint8Array, i: number) => {
  const dv = new DataView(b.buffer, b.byteOffset + i * 8, 8);
  return { code: dv.getUint8(0), off: dv.getInt16(2, true), imm: dv.getInt32(4, true) };
};

describe('CO-RE against the kernel, compared with libbpf', () => {
  let libbpf: Map<string, string>;
  beforeAll(() => {
    const dir = tempDir();
    const exe = join(dir, 'libbpf_core_dump');
    execFileSync('gcc', ['-O2', '-o', exe, join(FIXTURES, 'libbpf_core_dump.c'), '-lbpf']);
    const text = execFileSync(exe, [join(FIXTURES, 'core.o')]).toString();
    libbpf = new Map(text.trim().split('\n').map((l) => l.split(' ') as [string, string]));
  });

  it('relocates every program to the same bytes as libbpf', () => {
    const ours = relocateAll();
    expect(ours.size).toBe(10);
    expect(libbpf.size).toBe(10);
    for (const { name, insns } of ours.values()) expect(hex(insns), name).toBe(libbpf.get(name));
  });

  it('puts the kernel offsets of task_struct fields into loads', () => {
    const loads = relocateAll().get('tsbpf/loads')!.insns;
    const task = kernel.requireType('task_struct', 'struct');
    expect(insnAt(loads, 0).off).toBe(kernel.memberOffset(task, 'pid'));
    expect(insnAt(loads, 1).off).toBe(kernel.memberOffset(task, 'tgid'));
    expect(insnAt(loads, 3).off).toBe(kernel.memberOffset(task, 'flags'));
    const nested = relocateAll().get('tsbpf/nested')!.insns;
    expect(insnAt(nested, 0).off).toBe(kernel.memberOffset(task, 'real_parent'));
    expect(insnAt(nested, 2).off).toBe(kernel.memberOffset(task, 'comm') + 3);
  });

  it('computes field info, type and enum relocations from kernel facts', () => {
    const r = new CoreRelocator(local, kernel);
    const get = (sec: string, i: number): bigint => r.compute(ext.coreRelos.get(sec)![i]!).newValue;
    const skb = kernel.requireType('sk_buff', 'struct');
    const relos = ext.coreRelos.get('tsbpf/fieldinfo')!;
    const byKind = (kind: string, access: string) => r.compute(relos.find((x) => x.kind === kind && x.accessStr === access)!);
    expect(byKind('field_byte_offset', '0:2').newValue).toBe(BigInt(kernel.memberOffset(skb, 'len')));
    expect(byKind('field_byte_size', '0:2').newValue).toBe(4n);
    expect(byKind('field_signed', '0:2').newValue).toBe(0n);
    // fclone: 2 bits at bit 1010 of a u8 -> byte 126, lshift 64-(1010+2-126*8)=60, rshift 62.
    const fclone = kernel.findMember(skb, 'fclone')!;
    expect(fclone.bitOffset).toBe(1010);
    expect(byKind('field_byte_offset', '0:5').newValue).toBe(126n);
    expect(byKind('field_byte_size', '0:5').newValue).toBe(1n);
    expect(byKind('field_lshift_u64', '0:5').newValue).toBe(60n);
    expect(byKind('field_rshift_u64', '0:5').newValue).toBe(62n);
    expect(byKind('field_signed', '0:5').newValue).toBe(0n);

    const types = ext.coreRelos.get('tsbpf/types')!;
    const t = (kind: string, name: string) =>
      r.compute(types.find((x) => x.kind === kind && local.name(x.typeId) === name)!);
    expect(t('type_exists', 'task_struct').newValue).toBe(1n);
    expect(t('type_size', 'task_struct').newValue).toBe(BigInt(kernel.sizeOf(kernel.requireType('task_struct', 'struct'))));
    expect(t('type_exists', 'tsbpf_no_such_struct').newValue).toBe(0n);
    expect(t('type_size', 'tsbpf_no_such_struct').newValue).toBe(0n);
    expect(t('type_matches', 'pid_type').newValue).toBe(1n);
    expect(t('type_matches', 'sk_buff___old').newValue).toBe(0n); // gone_field is not in the kernel
    expect(t('type_id_target', 'task_struct').newValue).toBe(BigInt(kernel.requireType('task_struct', 'struct')));
    expect(t('type_id_local', 'task_struct').newValue).toBe(BigInt(local.requireType('task_struct', 'struct')));

    const enums = ext.coreRelos.get('tsbpf/enums')!;
    const e = (kind: string, typeName: string) => enums.filter((x) => x.kind === kind && local.name(x.typeId) === typeName).map((x) => r.compute(x).newValue);
    const pidType = kernel.type(kernel.requireType('pid_type', 'enum'));
    const kval = (n: string) => BigInt((pidType as { values: { name: string; value: number }[] }).values.find((v) => v.name === n)!.value);
    expect(e('enumval_value', 'pid_type')).toEqual([kval('PIDTYPE_TGID')]);
    expect(e('enumval_exists', 'pid_type')).toEqual([1n]);
    expect(e('enumval_value', 'pid_type___mine')).toEqual([kval('PIDTYPE_PGID')]);
    expect(e('enumval_exists', 'pid_type___mine')).toEqual([0n]);
    expect(e('enumval_value', 'perf_callchain_context')).toEqual([BigInt.asUintN(64, -128n)]);
    expect(get('tsbpf/loads', 0)).toBe(BigInt(kernelOffsetFromBpftool('task_struct', 'pid')));
  });

  it('poisons accesses to fields and enumerators the kernel lacks, leaving the guard to the verifier', () => {
    const ours = relocateAll();
    const missing = ours.get('tsbpf/missing')!;
    expect(missing.outcomes).toContain('poisoned');
    const poisoned = [...Array(missing.insns.length / 8).keys()].filter((i) => insnAt(missing.insns, i).imm === POISON_CALL_IMM);
    expect(poisoned.length).toBe(1);
    expect(insnAt(missing.insns, poisoned[0]!).code).toBe(0x85);
    // The existence check before it became "0".
    expect(insnAt(missing.insns, 0)).toEqual({ code: 0xb7, off: 0, imm: 0 });
    // An ld_imm64 is poisoned in both halves.
    const pe = ours.get('tsbpf/poison_enum')!.insns;
    expect([insnAt(pe, 0), insnAt(pe, 1)]).toEqual([
      { code: 0x85, off: 0, imm: POISON_CALL_IMM },
      { code: 0x85, off: 0, imm: POISON_CALL_IMM },
    ]);
  });

  it('goes through anonymous members, root indices, arrays, and adjusts load sizes', () => {
    const ours = relocateAll();
    const cx = ours.get('tsbpf/complex')!.insns;
    const skb = kernel.requireType('sk_buff', 'struct');
    const nd = kernel.requireType('net_device', 'struct');
    const task = kernel.requireType('task_struct', 'struct');
    const r = new CoreRelocator(local, kernel);
    const relos = ext.coreRelos.get('tsbpf/complex')!;
    const value = (kind: string, access: string): bigint => r.compute(relos.find((x) => x.kind === kind && x.accessStr === access)!).newValue;
    expect(kernel.findMember(skb, 'dev')!.path.length).toBeGreaterThan(1); // anonymous levels
    expect(value('field_byte_offset', '0:0')).toBe(BigInt(kernel.memberOffset(skb, 'dev')));
    expect(value('field_byte_offset', '1:1')).toBe(BigInt(kernel.sizeOf(task) + kernel.memberOffset(task, 'pid')));
    expect(value('field_byte_size', '0:4')).toBe(16n);
    expect(value('field_byte_offset', '0:0:2')).toBe(BigInt(kernel.memberOffset(nd, 'name') + 2));
    expect(relos.some((x) => x.kind === 'type_size')).toBe(true);
    expect(cx.length).toBeGreaterThan(0);
    const mz = ours.get('tsbpf/memsz')!;
    // flags: u64 locally, u32 in the kernel -> the DW load becomes a W load; pid: poisoned.
    const flagsAt = ext.coreRelos.get('tsbpf/memsz')!.find((x) => x.accessStr === '0:0')!.insnIndex;
    expect(insnAt(mz.insns, flagsAt)).toMatchObject({ code: 0x61, off: kernel.memberOffset(task, 'flags') });
    expect(mz.outcomes).toContain('poisoned');
  });

  it('describes the local and target access', () => {
    const r = new CoreRelocator(local, kernel);
    const res = r.compute(ext.coreRelos.get('tsbpf/nested')![2]!);
    expect(res.localSpec).toMatch(/struct task_struct\.comm\[3\] \(0:4:3 @ offset 27\)/);
    const comm = kernelOffsetFromBpftool('task_struct', 'comm') + 3;
    expect(res.targetSpec).toMatch(new RegExp(`struct task_struct\\.comm\\[3\\] \\(0:\\d+:3 @ offset ${comm}\\)`));
  });
});

// ---- synthetic BTFs for the failure modes ----

const INT = { kind: 'int', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 } as const;
const UINT = { ...INT, name: 'unsigned int', signed: false } as const;
const ULONG = { ...INT, name: 'unsigned long', size: 8, bits: 64, signed: false } as const;
const LONG = { ...INT, name: 'long', size: 8, bits: 64 } as const;
const m = (name: string, type: number, bitOffset: number): BtfMember => ({ name, type, bitOffset, bitfieldSize: 0 });

function build(types: Parameters<Btf['add']>[0][]): Btf {
  const b = Btf.create();
  for (const t of types) b.add(t);
  return Btf.parse(b.encode());
}

// local: [1] int, [2] struct foo { int a; int x; }, [3] unsigned int, [4] struct bar { unsigned int u; int s; }
const LOCAL = build([INT, { kind: 'struct', name: 'foo', size: 8, members: [m('a', 1, 0), m('x', 1, 32)] }, UINT, { kind: 'struct', name: 'bar', size: 8, members: [m('u', 3, 0), m('s', 1, 32)] }]);
const relo = (typeId: number, accessStr: string, kind: CoreRelo['kind'] = 'field_byte_offset') => ({ typeId, accessStr, kind, insnIndex: 0 });

describe('CO-RE failure modes', () => {
  it('rejects candidates that disagree (ambiguity) naming both', () => {
    const target = build([INT, { kind: 'struct', name: 'foo', size: 8, members: [m('x', 1, 0)] }, { kind: 'struct', name: 'foo___v2', size: 8, members: [m('a', 1, 0), m('x', 1, 32)] }]);
    const err = (() => {
      try {
        computeCoreRelocation(LOCAL, target, relo(2, '0:1'));
      } catch (e) {
        return e;
      }
    })() as CoreRelocationError;
    expect(err).toBeInstanceOf(CoreRelocationError);
    expect(err.message).toMatch(/^BTF: CO-RE relocation field_byte_offset of struct foo access "0:1" at insn #0 failed: ambiguous: candidates \[2\] and \[3\]/);
    expect([err.reloKind, err.localType, err.accessStr]).toEqual(['field_byte_offset', 'struct foo', '0:1']);
  });

  it('accepts several candidates that agree', () => {
    const target = build([INT, { kind: 'struct', name: 'foo', size: 8, members: [m('pad', 1, 0), m('x', 1, 32)] }, { kind: 'struct', name: 'foo___v2', size: 8, members: [m('a', 1, 0), m('x', 1, 32)] }]);
    expect(computeCoreRelocation(LOCAL, target, relo(2, '0:1')).newValue).toBe(4n);
  });

  it('finds fields inside anonymous members and through typedefs', () => {
    // [2] anon union { int x; }, [3] struct foo { long pad; union {int x;}; }, [4] typedef foo_t
    const target = build([INT, { kind: 'union', name: '', size: 4, members: [m('x', 1, 0)] }, { kind: 'struct', name: 'foo', size: 16, members: [m('pad', 1, 0), m('', 2, 64)] }]);
    const res = computeCoreRelocation(LOCAL, target, relo(2, '0:1'));
    expect(res.newValue).toBe(8n);
    expect(res.targetSpec).toBe('[3] struct foo.x (0:1:0 @ offset 8)');
  });

  it('poisons when no candidate has the field, but answers existence with 0', () => {
    const target = build([INT, { kind: 'struct', name: 'foo', size: 4, members: [m('a', 1, 0)] }]);
    expect(computeCoreRelocation(LOCAL, target, relo(2, '0:1')).poison).toBe(true);
    expect(computeCoreRelocation(LOCAL, target, relo(2, '0:1', 'field_exists'))).toMatchObject({ poison: false, newValue: 0n, origValue: 1n });
    expect(computeCoreRelocation(LOCAL, target, relo(2, '0:0', 'field_exists'))).toMatchObject({ poison: false, newValue: 1n });
  });

  it('treats incompatible field types as absent', () => {
    const target = build([INT, { kind: 'ptr', name: '', type: 1 }, { kind: 'struct', name: 'foo', size: 16, members: [m('a', 1, 0), m('x', 2, 64)] }]);
    expect(computeCoreRelocation(LOCAL, target, relo(2, '0:1')).poison).toBe(true);
  });

  it('widens unsigned loads and poisons signed ones when the field grew', () => {
    const target = build([ULONG, LONG, { kind: 'struct', name: 'bar', size: 16, members: [m('u', 1, 0), m('s', 2, 64)] }]);
    const u = computeCoreRelocation(LOCAL, target, relo(4, '0:0'));
    expect([u.origSize, u.newSize, u.failMemSizeAdjust]).toEqual([4, 8, false]);
    const insns = new Uint8Array([0x61, 0x21, 0, 0, 0, 0, 0, 0]); // r1 = *(u32 *)(r2 + 0)
    applyCoreRelocation(insns, 0, u);
    expect(insns[0]).toBe(0x79); // now *(u64 *)
    const s = computeCoreRelocation(LOCAL, target, relo(4, '0:1'));
    expect(s.failMemSizeAdjust).toBe(true);
    const insns2 = new Uint8Array([0x61, 0x21, 4, 0, 0, 0, 0, 0]);
    expect(applyCoreRelocation(insns2, 0, s)).toMatchObject({ action: 'poisoned', reason: expect.stringMatching(/changed size/) });
    expect(insnAt(insns2, 0).imm).toBe(POISON_CALL_IMM);
  });

  it('refuses to patch an instruction that does not hold the compiled-in value', () => {
    const target = build([INT, { kind: 'struct', name: 'foo', size: 16, members: [m('a', 1, 0), m('x', 1, 96)] }]);
    const res = computeCoreRelocation(LOCAL, target, relo(2, '0:1'));
    expect([res.origValue, res.newValue]).toEqual([4n, 12n]);
    const ok = new Uint8Array([0x61, 0x21, 4, 0, 0, 0, 0, 0]);
    applyCoreRelocation(ok, 0, res);
    expect(insnAt(ok, 0).off).toBe(12);
    expect(() => applyCoreRelocation(new Uint8Array([0x61, 0x21, 8, 0, 0, 0, 0, 0]), 0, res)).toThrow(/offset is 8, expected 4 \(-> 12\)/);
    const alu = new Uint8Array([0xb7, 0x01, 0, 0, 5, 0, 0, 0]);
    expect(() => applyCoreRelocation(alu, 0, res)).toThrow(/immediate is 5, expected 4/);
    alu[4] = 4;
    applyCoreRelocation(alu, 0, res);
    expect(insnAt(alu, 0).imm).toBe(12);
    expect(() => applyCoreRelocation(new Uint8Array([0xbf, 0x21, 0, 0, 4, 0, 0, 0]), 0, res)).toThrow(/register ALU/);
    expect(() => applyCoreRelocation(new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0]), 0, res)).toThrow(/cannot relocate instruction with code 0x95/);
    expect(() => applyCoreRelocation(new Uint8Array(8), 3, res)).toThrow(/outside the program/);
    const big = computeCoreRelocation(LOCAL, build([INT, { kind: 'struct', name: 'foo', size: 0x10000, members: [m('a', 1, 0), m('x', 1, 0x8000 * 8)] }]), relo(2, '0:1'));
    expect(() => applyCoreRelocation(new Uint8Array([0x61, 0x21, 4, 0, 0, 0, 0, 0]), 0, big)).toThrow(/does not fit a 16-bit/);
  });

  it('patches both halves of ld_imm64', () => {
    const target = build([{ kind: 'enum64', name: 'e', size: 8, signed: false, values: [{ name: 'B', value: 0x1234567890n }] }]);
    const loc = build([{ kind: 'enum64', name: 'e', size: 8, signed: false, values: [{ name: 'A', value: 1n }, { name: 'B', value: 2n }] }]);
    const res = computeCoreRelocation(loc, target, { typeId: 1, accessStr: '1', kind: 'enumval_value' });
    const insns = new Uint8Array([0x18, 0x01, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    applyCoreRelocation(insns, 0, res);
    expect([insnAt(insns, 0).imm, insnAt(insns, 1).imm]).toEqual([0x34567890, 0x12]);
    const bad = new Uint8Array([0x18, 0x11, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => applyCoreRelocation(bad, 0, res)).toThrow(/unexpected form/);
  });

  it('says what is wrong with a malformed relocation', () => {
    const target = build([INT]);
    expect(() => computeCoreRelocation(LOCAL, target, relo(2, '0:7'))).toThrow(/member index 7 out of range for struct 'foo'/);
    expect(() => computeCoreRelocation(LOCAL, target, relo(2, '0:x'))).toThrow(/"x" is not a number/);
    expect(() => computeCoreRelocation(LOCAL, target, relo(2, ''))).toThrow(/empty/);
    expect(() => computeCoreRelocation(LOCAL, target, relo(2, '0:1', 'type_size'))).toThrow(/type relocations take the access string "0"/);
    expect(() => computeCoreRelocation(LOCAL, target, relo(2, '0', 'enumval_value'))).toThrow(/not an enum/);
    expect(() => computeCoreRelocation(LOCAL, target, relo(99, '0'))).toThrow(CoreRelocationError);
    expect(() => computeCoreRelocation(LOCAL, target, relo(1, '0:0'))).toThrow(/has no members/);
    const anon = build([INT, { kind: 'struct', name: '', size: 4, members: [m('a', 1, 0)] }]);
    expect(() => computeCoreRelocation(anon, target, relo(2, '0:0'))).toThrow(/anonymous types/);
  });

  it('follows libbpf type-match rules', () => {
    // [1] int [2] struct s { int a; } [3] fwd s [4] ptr->2 [5] ptr->3 [6] union s
    const b = build([INT, { kind: 'struct', name: 's', size: 4, members: [m('a', 1, 0)] }, { kind: 'fwd', name: 's', fwdKind: 'struct' }, { kind: 'ptr', name: '', type: 2 }, { kind: 'ptr', name: '', type: 3 }, { kind: 'union', name: 's', size: 4, members: [m('a', 1, 0)] }, { kind: 'ptr', name: '', type: 6 }]);
    expect(typesMatch(b, 2, b, 2)).toBe(true);
    expect(typesMatch(b, 2, b, 3)).toBe(false); // a struct does not match a fwd by value
    expect(typesMatch(b, 4, b, 5)).toBe(true); // but does behind a pointer
    expect(typesMatch(b, 4, b, 7)).toBe(false); // struct vs union behind a pointer
    expect(typesMatch(b, 2, b, 6)).toBe(false);
  });
});
