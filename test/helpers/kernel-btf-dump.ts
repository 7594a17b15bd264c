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
