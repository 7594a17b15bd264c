// The BTF parser against the running kernel's BTF and the all-kinds fixture, both checked
// type by type against bpftool's raw dump (a second, independent implementation).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BtfError } from '../../src/errors.js';
import { Btf, essentialName } from '../../src/btf/btf.js';
import { loadKernelBtf, KERNEL_BTF_PATH, readWholeFile, setKernelBtfReader } from '../../src/btf/kernel.js';
import type { BtfComposite, BtfDatasec, BtfEnum, BtfEnum64, BtfFunc, BtfInt, BtfVar } from '../../src/btf/types.js';
import { bpftoolDump, fixture, FIXTURES, formatLikeBpftool } from './helpers.js';

const vmlinux = loadKernelBtf();

describe('kernel BTF', () => {
  const dump = bpftoolDump(KERNEL_BTF_PATH);

  it('has as many types as bpftool lists', () => {
    expect(dump.length).toBeGreaterThan(50_000); // any vmlinux: 6.1 has ~95k types, 6.18 ~127k
    expect(vmlinux.typeCount).toBe(dump.length);
    expect(vmlinux.firstTypeId).toBe(1);
    expect(vmlinux.lastTypeId).toBe(dump.length);
  });

  it('decodes every type exactly as bpftool dumps it', () => {
    const diffs: string[] = [];
    for (let id = 1; id <= vmlinux.lastTypeId; id++) {
      const ours = formatLikeBpftool(vmlinux, id);
      if (ours !== dump[id - 1] && diffs.length < 5) diffs.push(`ours:\n${ours}\nbpftool:\n${dump[id - 1]}`);
    }
    expect(diffs).toEqual([]);
  });

  it('measures struct sk_buff and task_struct as the kernel lays them out', () => {
    const skb = vmlinux.requireType('sk_buff', 'struct');
    const raw = dump[skb - 1]!;
    expect(raw).toMatch(/^\[\d+\] STRUCT 'sk_buff' size=(\d+)/);
    expect(vmlinux.sizeOf(skb)).toBe(Number(/size=(\d+)/.exec(raw)![1]));
    for (const name of ['len', 'data_len', 'mac_len', 'head', 'data', 'truesize']) {
      const m = new RegExp(`'${name}' type_id=\\d+ bits_offset=(\\d+)\\n`).exec(raw + '\n');
      expect(m, name).not.toBeNull();
      expect(vmlinux.memberOffset(skb, name)).toBe(Number(m![1]) / 8);
    }
    // A bitfield, and a member inside an anonymous union.
    const cloned = vmlinux.findMember(skb, 'cloned')!;
    expect(cloned.member.bitfieldSize).toBe(1);
    expect(cloned.bitOffset).toBe(Number(/'cloned' type_id=\d+ bits_offset=(\d+)/.exec(raw)![1]));
    expect(() => vmlinux.memberOffset(skb, 'cloned')).toThrow(/bitfield/);
    const dev = vmlinux.findMember(skb, 'dev');
    expect(dev).toBeDefined();
    expect(dev!.path.length).toBeGreaterThan(1);

    const task = vmlinux.requireType('task_struct', 'struct');
    const traw = dump[task - 1]!;
    const pidBits = Number(/\n\t'pid' type_id=\d+ bits_offset=(\d+)/.exec(traw)![1]);
    expect(vmlinux.memberOffset(task, 'pid')).toBe(pidBits / 8);
    // BTF records no alignment attributes: like libbpf's btf__align_of, this is the natural one.
    expect(vmlinux.alignOf(task)).toBe(8);
    expect(vmlinux.sizeOf(vmlinux.typeByName('pid_t')!)).toBe(4);
    expect(vmlinux.type(vmlinux.resolve(vmlinux.typeByName('pid_t')!))).toMatchObject({ kind: 'int', name: 'int', signed: true });
    // Dotted paths go through nested members.
    const sig = vmlinux.findMember(task, 'signal');
    expect(sig).toBeDefined();
  });

  it('finds types by name, kind and essential name', () => {
    const ids = vmlinux.typesByName('task_struct');
    expect(ids.map((id) => vmlinux.kindOf(id))).toContain('struct');
    expect(vmlinux.typeByName('task_struct', 'struct')).toBe(
      dump.findIndex((l) => l.startsWith(`[`) && / STRUCT 'task_struct' /.test(l.split('\n')[0]!)) + 1,
    );
    expect(vmlinux.typeByName('task_struct', 'union')).toBeUndefined();
    expect(vmlinux.typeByName('no_such_type_in_any_kernel')).toBeUndefined();
    expect(() => vmlinux.requireType('no_such_type_in_any_kernel', 'struct')).toThrow(BtfError);
    expect(vmlinux.typesByEssentialName('sk_buff', 'struct')).toEqual([vmlinux.typeByName('sk_buff', 'struct')]);
    // 'pid' is also the tail of 'tgid' and the head of 'pid_t' in the string table.
    for (const name of ['pid', 'pid_type', 'pid_t', 'u32', 'int']) {
      const byBpftool = dump.flatMap((l, i) => (l.split('\n')[0]!.includes(` '${name}'`) ? [i + 1] : []));
      expect(vmlinux.typesByName(name), name).toEqual(byBpftool);
    }
  });

  it('answers the same after switching from in-place search to the name index', () => {
    const fresh = Btf.parse(readWholeFile(KERNEL_BTF_PATH));
    const names = ['task_struct', 'sk_buff', 'pid_type', 'u32', 'bpf_map_type', 'perf_callchain_context'];
    const before = names.map((n) => fresh.typesByName(n));
    for (let i = 0; i < 40; i++) fresh.typesByName(`warm_${i}`); // pushes it past the threshold
    expect(names.map((n) => fresh.typesByName(n))).toEqual(before);
    expect(fresh.typeByName('task_struct', 'struct')).toBe(vmlinux.typeByName('task_struct', 'struct'));
  });

  it('is loaded once per process', () => {
    expect(loadKernelBtf()).toBe(vmlinux);
  });

  it('takes its bytes from a reader a system layer may install (e.g. mmap)', () => {
    const asked: string[] = [];
    setKernelBtfReader((path) => {
      asked.push(path);
      return fixture('kinds.btf');
    });
    try {
      const btf = loadKernelBtf('/fake/btf/path');
      expect(asked).toEqual(['/fake/btf/path']);
      expect(btf.typeByName('all', 'struct')).toBeDefined();
      expect(loadKernelBtf('/fake/btf/path')).toBe(btf);
      expect(asked.length).toBe(1);
    } finally {
      setKernelBtfReader(undefined);
    }
  });

  it('decodes the kernel kinds ENUM64 and kind_flag TYPE_TAG', () => {
    const id = vmlinux.requireType('perf_callchain_context', 'enum64');
    const t = vmlinux.type(id) as BtfEnum64;
    expect(t.values.find((v) => v.name === 'PERF_CONTEXT_HV')!.value).toBe(BigInt.asUintN(64, -32n));
    const tags = vmlinux.typesByName('address_space(1)', 'type_tag');
    if (tags.length) expect(vmlinux.type(tags[0]!)).toMatchObject({ kind: 'type_tag', attribute: true });
  });
});

describe('all-kinds fixture', () => {
  const btf = Btf.parse(fixture('kinds.btf'));
  const dump = bpftoolDump(`${FIXTURES}/kinds.o`);

  it('matches bpftool type by type', () => {
    expect(btf.typeCount).toBe(dump.length);
    for (let id = 1; id <= btf.lastTypeId; id++) expect(formatLikeBpftool(btf, id)).toBe(dump[id - 1]);
  });

  it('covers every kind', () => {
    const kinds = new Set([...btf.entries()].map(([, t]) => t.kind));
    expect([...kinds].sort()).toEqual(
      ['array', 'const', 'datasec', 'decl_tag', 'enum', 'enum64', 'float', 'func', 'func_proto', 'fwd', 'int', 'ptr', 'restrict', 'struct', 'type_tag', 'typedef', 'union', 'var', 'volatile'].sort(),
    );
  });

  it('decodes each kind into its fields', () => {
    const bits = btf.type(btf.requireType('bits', 'struct')) as BtfComposite;
    expect(bits.members.map((m) => [m.name, m.bitOffset, m.bitfieldSize])).toEqual([
      ['a', 0, 3],
      ['b', 3, 5],
      ['c', 8, 20],
      ['d', 64, 0],
    ]);
    expect((btf.type(btf.requireType('neg', 'enum')) as BtfEnum).values).toEqual([
      { name: 'NEG_A', value: -5 },
      { name: 'NEG_B', value: 7 },
    ]);
    expect(btf.type(btf.requireType('small', 'enum'))).toMatchObject({ signed: false, size: 4 });
    expect(btf.type(btf.requireType('big', 'enum64'))).toMatchObject({ signed: false, values: [{ name: 'BIG_A', value: 0x123456789n }, { name: 'BIG_B', value: 1n }] });
    expect((btf.type(btf.requireType('bigneg', 'enum64')) as BtfEnum64).values[0]!.value).toBe(-0x123456789n);
    expect(btf.type(btf.requireType('fwd_union'))).toEqual({ kind: 'fwd', name: 'fwd_union', fwdKind: 'union' });
    expect(btf.type(btf.requireType('fwd_only'))).toEqual({ kind: 'fwd', name: 'fwd_only', fwdKind: 'struct' });
    expect((btf.type(btf.requireType('helper', 'func')) as BtfFunc).linkage).toBe('static');
    expect((btf.type(btf.requireType('prog', 'func')) as BtfFunc).linkage).toBe('global');
    expect((btf.type(btf.requireType('bpf_tsbpf_kfunc', 'func')) as BtfFunc).linkage).toBe('extern');
    expect((btf.type(btf.requireType('static_counter', 'var')) as BtfVar).linkage).toBe('static');
    expect((btf.type(btf.requireType('LINUX_KERNEL_VERSION', 'var')) as BtfVar).linkage).toBe('extern');
    expect(btf.type(btf.requireType('param_tag', 'decl_tag'))).toMatchObject({ componentIdx: 0, type: btf.requireType('helper', 'func') });
    expect(btf.type(btf.requireType('bits_tag', 'decl_tag'))).toMatchObject({ componentIdx: -1 });
    expect(btf.type(btf.requireType('user', 'type_tag'))).toMatchObject({ kind: 'type_tag', attribute: false });
    expect(btf.type(btf.requireType('double', 'float'))).toEqual({ kind: 'float', name: 'double', size: 8 });
    const i = btf.type(btf.requireType('char', 'int')) as BtfInt;
    expect([i.size, i.bits, i.signed]).toEqual([1, 8, true]);
    const data = btf.type(btf.requireType('.data', 'datasec')) as BtfDatasec;
    expect(data.vars.map((v) => btf.name(v.type))).toEqual(['global_data', 'second_data', 'static_counter']);
    const fp = btf.type(btf.resolve(btf.findMember(btf.requireType('all'), 'fp')!.member.type));
    expect(fp.kind).toBe('ptr');
  });

  it('computes sizes, alignments and offsets like the C compiler did', () => {
    const all = btf.requireType('all', 'struct');
    expect(btf.sizeOf(all)).toBe(152);
    expect(btf.alignOf(all)).toBe(8);
    expect(btf.memberOffset(all, 'arr2')).toBe(96);
    expect(btf.sizeOf(btf.findMember(all, 'arr2')!.member.type)).toBe(48);
    expect(btf.memberOffset(all, 'bits.d')).toBe(64 + 8);
    expect(btf.sizeOf(btf.requireType('u', 'union'))).toBe(8);
    expect(btf.sizeOf(btf.requireType('global_all', 'var'))).toBe(152);
    expect(btf.alignOf(btf.requireType('u', 'union'))).toBe(8);
    expect(() => btf.sizeOf(btf.requireType('prog', 'func'))).toThrow(/func .*has no size/);
    expect(() => btf.sizeOf(btf.requireType('fwd_only'))).toThrow(BtfError);
    expect(() => btf.memberOffset(all, 'nope')).toThrow(/no member 'nope'/);
  });

  it('resolves modifiers to the type underneath', () => {
    const cv = btf.findMember(btf.requireType('all'), 'cv')!.member.type;
    expect(btf.kindOf(cv)).toBe('const');
    expect(btf.resolved(cv)).toMatchObject({ kind: 'int', name: 'int' });
    expect(btf.resolve(btf.requireType('u64', 'typedef'))).toBe(btf.requireType('unsigned long long'));
  });
});

describe('split BTF', () => {
  it('continues the base ids and string offsets, and searches the base first', () => {
    const base = Btf.parse(fixture('kinds.btf'));
    const split = Btf.create({ base });
    const int = base.requireType('int', 'int');
    const s = split.add({ kind: 'struct', name: 'mod_struct', size: 8, members: [{ name: 'x', type: int, bitOffset: 0, bitfieldSize: 0 }, { name: 'p', type: 0, bitOffset: 32, bitfieldSize: 0 }] });
    expect(s).toBe(base.typeEnd);
    split.add({ kind: 'typedef', name: 'int', type: int });
    const bytes = split.encode();
    const back = Btf.parse(bytes, { base });
    expect(back.firstTypeId).toBe(base.typeEnd);
    expect(back.typeCount).toBe(2);
    expect(back.type(s)).toEqual(split.type(s));
    expect(back.type(int)).toBe(base.type(int));
    expect(back.typesByName('int')).toEqual([int, s + 1]);
    expect(back.typeByName('int')).toBe(int);
    expect(back.memberOffset(s, 'p')).toBe(4);
    // The split string table holds only its own names ('' is the base's offset 0); names the
    // base also has are not shared with it.
    expect(back.header!.strLen).toBe('mod_struct\0x\0p\0int\0'.length);
    expect(() => Btf.parse(bytes)).toThrow(BtfError); // without its base it is not valid BTF
  });
});

describe('split BTF naming types with base strings', () => {
  it('finds and decodes a split type whose name lives in the base string table', () => {
    const base = Btf.parse(fixture('kinds.btf'));
    const intOff = base.strings.offsetsOf('int')[0]!;
    const int = base.requireType('int', 'int');
    // [base.typeEnd] typedef <base's 'int' string> -> int ; [+1] typedef 'own' -> int
    const words = [intOff, 8 << 24, int, base.strings.end, 8 << 24, int];
    const strs = new TextEncoder().encode('own\0');
    const b = new Uint8Array(24 + words.length * 4 + strs.length);
    const dv = new DataView(b.buffer);
    dv.setUint16(0, 0xeb9f, true);
    dv.setUint8(2, 1);
    dv.setUint32(4, 24, true);
    dv.setUint32(12, words.length * 4, true);
    dv.setUint32(16, words.length * 4, true);
    dv.setUint32(20, strs.length, true);
    words.forEach((v, i) => dv.setUint32(24 + i * 4, v, true));
    b.set(strs, 24 + words.length * 4);
    const split = Btf.parse(b, { base });
    expect(split.type(base.typeEnd)).toEqual({ kind: 'typedef', name: 'int', type: int });
    expect(split.typesByName('int')).toEqual([int, base.typeEnd]);
    expect(split.typesByName('int', 'typedef')).toEqual([base.typeEnd]);
    expect(split.typeByName('own')).toBe(base.typeEnd + 1);
    expect(Buffer.compare(Buffer.from(split.encode()), Buffer.from(b))).toBe(0);
  });
});

describe('readWholeFile', () => {
  it('reads sysfs files page by page into one buffer', () => {
    const a = readWholeFile(KERNEL_BTF_PATH);
    expect(Buffer.compare(Buffer.from(a), readFileSync(KERNEL_BTF_PATH))).toBe(0);
    expect(() => readWholeFile('/nonexistent/btf')).toThrow(/cannot open \/nonexistent\/btf: ENOENT/);
  });
});

describe('essentialName', () => {
  it('drops the last ___flavour suffix only', () => {
    expect(essentialName('sk_buff___old')).toBe('sk_buff');
    expect(essentialName('a___b___c')).toBe('a___b');
    expect(essentialName('task_struct')).toBe('task_struct');
    expect(essentialName('x____y')).toBe('x____y');
    expect(essentialName('___x')).toBe('___x');
    expect(essentialName('a___')).toBe('a___');
  });
});
