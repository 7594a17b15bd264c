// Reads the running kernel's BTF through `bpftool btf dump` (raw format), independently of
// tsbpf's own BTF parser, so the ABI tables are checked against a second implementation.
import { execFileSync } from 'node:child_process';

export interface DumpType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  members: { name: string; typeId: number; bitsOffset: number }[];
  values: { name: string; value: bigint }[];
}

let cache: Map<number, DumpType> | undefined;

export function kernelBtfDump(): Map<number, DumpType> {
  if (cache) return cache;
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], {
    maxBuffer: 1 << 30,
  }).toString();
  const types = new Map<number, DumpType>();
  let cur: DumpType | undefined;
  for (const line of text.split('\n')) {
    const head = /^\[(\d+)\] (\w+) '([^']*)'(?: size=(\d+))?/.exec(line);
    if (head) {
      cur = { id: Number(head[1]), kind: head[2]!, name: head[3]!, members: [], values: [] };
      if (head[4] !== undefined) cur.size = Number(head[4]);
      types.set(cur.id, cur);
      continue;
    }
    if (!cur) continue;
    const mem = /^\t'([^']*)' type_id=(\d+) bits_offset=(\d+)/.exec(line);
    if (mem) {
      cur.members.push({ name: mem[1]!, typeId: Number(mem[2]), bitsOffset: Number(mem[3]) });
      continue;
    }
    const val = /^\t'([^']*)' val=(-?\d+)/.exec(line);
    if (val) cur.values.push({ name: val[1]!, value: BigInt(val[2]!) });
  }
  cache = types;
  return types;
}

/** Every enumerator in the kernel, by name. */
export function kernelEnumerators(): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const t of kernelBtfDump().values())
    if (t.kind === 'ENUM' || t.kind === 'ENUM64') for (const v of t.values) out.set(v.name, v.value);
  return out;
}

export function findNamed(kind: string, name: string): DumpType | undefined {
  for (const t of kernelBtfDump().values()) if (t.kind === kind && t.name === name) return t;
  return undefined;
}

/** Member name -> byte offset, descending into anonymous structs and unions. */
export function flattenMembers(t: DumpType, base = 0, out = new Map<string, number>()): Map<string, number> {
  const types = kernelBtfDump();
  for (const m of t.members) {
    const off = base + m.bitsOffset / 8;
    if (m.name === '(anon)') {
      const inner = types.get(m.typeId);
      if (inner) flattenMembers(inner, off, out);
    } else out.set(m.name, off);
  }
  return out;
}

/** As flattenMembers, then adds members of named nested structs/unions under their own names
 * where the name is still free (link_create's `tcx.relative_fd` is `relative_fd` to us), and
 * always under `outer.name` (`kprobe_multi.flags`, whose plain name link_create's own `flags` has). */
export function flattenDeep(t: DumpType, base = 0): Map<string, number> {
  const out = flattenMembers(t, base);
  const types = kernelBtfDump();
  const visit = (u: DumpType, b: number): void => {
    for (const m of u.members) {
      const inner = types.get(m.typeId);
      const off = b + m.bitsOffset / 8;
      if (!inner || (inner.kind !== 'STRUCT' && inner.kind !== 'UNION')) continue;
      for (const [n, o] of flattenMembers(inner, off)) {
        if (!out.has(n)) out.set(n, o);
        if (m.name !== '(anon)' && !out.has(`${m.name}.${n}`)) out.set(`${m.name}.${n}`, o);
      }
      visit(inner, off);
    }
  };
  visit(t, base);
  return out;
}

/** Byte offset of a (possibly nested-anonymous) member of a kernel struct, as bpftool reads it. */
export function kernelOffsetFromBpftool(struct: string, member: string): number {
  const s = findNamed('STRUCT', struct);
  if (!s) throw new Error(`struct ${struct} is not in the kernel BTF`);
  const off = flattenMembers(s).get(member);
  if (off === undefined) throw new Error(`struct ${struct} has no member ${member} in the kernel BTF`);
  return off;
}

// Our ABI tables are generated from the newest kernel we develop on; an older kernel has a
// subset. uapi only ever appends (new enumerators get new values, new struct members go at the
// end), so on an older kernel the check is: whatever the kernel has agrees with us exactly, and
// whatever it lacks is provably newer — an enumerator value the kernel's enum does not use, a
// member that starts at or after the end of the kernel's struct.

export interface EnumComparison {
  /** `name: ours vs kernel` for every disagreement (always a failure). */
  mismatches: string[];
  /** Names the kernel lacks whose values it does not use: newer than this kernel. */
  newer: string[];
  /** Names the kernel lacks whose value it gives to another name (a failure). */
  collisions: string[];
  /** True when the kernel BTF has none of the group's names (unused enums are not in BTF). */
  absent: boolean;
}

/** uapi's count enumerators: __MAX_BPF_CMD, __BPF_FUNC_MAX_ID, MAX_BPF_… */
const SENTINEL = /^__|^MAX_/;

export function compareEnumGroup(group: Record<string, number>): EnumComparison {
  const kernel = kernelEnumerators();
  const out: EnumComparison = { mismatches: [], newer: [], collisions: [], absent: true };
  const present = Object.keys(group).find((n) => kernel.has(n));
  if (present === undefined) return out;
  out.absent = false;
  const home = [...kernelBtfDump().values()].find(
    (t) => (t.kind === 'ENUM' || t.kind === 'ENUM64') && t.values.some((v) => v.name === present),
  )!;
  // The kernel's own count (__MAX_BPF_CMD…) sits on the next free value: not a real name.
  const used = new Map(home.values.filter((v) => !SENTINEL.test(v.name)).map((v) => [Number(v.value), v.name]));
  for (const [name, value] of Object.entries(group)) {
    // Counts such as __MAX_BPF_CMD and __BPF_FUNC_MAX_ID grow with every kernel by design.
    if (SENTINEL.test(name)) continue;
    const k = kernel.get(name);
    const holder = used.get(value);
    if (k !== undefined) {
      if (Number(k) !== value) out.mismatches.push(`${name}: ours ${value} vs kernel ${k}`);
    } else if (holder !== undefined && group[holder] !== value) out.collisions.push(`${name} = ${value}, which this kernel gives to ${holder}`);
    else out.newer.push(name); // a new value, or a new alias of one (…_DEPRECATED = the old name's value)
  }
  return out;
}

export interface LayoutComparison {
  mismatches: string[];
  /** Members the kernel lacks, in a hole or past its end: newer than this kernel. */
  newer: string[];
  /** Members the kernel lacks that would sit among its members (a failure). */
  misplaced: string[];
}

/**
 * Our members (name → offset) against the kernel's (name → offset). New members are appended
 * or fill a hole the old struct had (bpf_map_info.btf_vmlinux_id took a padding hole), so a
 * member the kernel lacks must not start where the kernel has a member of another name —
 * unless ours has that member there too (a new name in a union: target_fd / target_ifindex).
 */
export function compareLayout(ours: readonly { name: string; offset: number }[], kernel: Map<string, number>): LayoutComparison {
  const out: LayoutComparison = { mismatches: [], newer: [], misplaced: [] };
  const ourOffset = new Map(ours.map((m) => [m.name, m.offset]));
  const atOffset = new Map<number, string[]>();
  for (const [name, off] of kernel) atOffset.set(off, [...(atOffset.get(off) ?? []), name]);
  for (const m of ours) {
    const k = kernel.get(m.name);
    if (k !== undefined) {
      if (k !== m.offset) out.mismatches.push(`${m.name}: ours ${m.offset} vs kernel ${k}`);
      continue;
    }
    const there = atOffset.get(m.offset) ?? [];
    if (there.length === 0 || there.some((n) => ourOffset.get(n) === m.offset)) out.newer.push(m.name);
    else out.misplaced.push(`${m.name} at ${m.offset}, where the kernel has ${there.join(', ')}`);
  }
  return out;
}
