// Lowercase names for the kernel's enums, as users write them: the uapi name without its
// prefix (`BPF_PROG_TYPE_SCHED_CLS` -> 'sched_cls', `BPF_TCX_INGRESS` -> 'tcx_ingress'). The
// tables are derived from the generated enums, so a new kernel enumerator needs no edit here.
import { bpf_attach_type, bpf_link_type, bpf_map_type, bpf_prog_type } from '../syscall/abi/bpf.js';

interface NameTable {
  readonly byName: ReadonlyMap<string, number>;
  readonly byValue: ReadonlyMap<number, string>;
}

function table(values: Record<string, number>, prefix: string): NameTable {
  const byName = new Map<string, number>();
  const byValue = new Map<number, string>();
  for (const [cName, value] of Object.entries(values)) {
    if (cName.startsWith('__') || !cName.startsWith(prefix)) continue;
    const name = cName.slice(prefix.length).toLowerCase();
    byName.set(name, value);
    if (!byValue.has(value)) byValue.set(value, name);
  }
  return { byName, byValue };
}

const progTypes = table(bpf_prog_type, 'BPF_PROG_TYPE_');
const attachTypes = table(bpf_attach_type, 'BPF_');
const linkTypes = table(bpf_link_type, 'BPF_LINK_TYPE_');
const mapTypes = table(bpf_map_type, 'BPF_MAP_TYPE_');

/** Program-type aliases accepted on input. Only 'tc': every tc/tcx tool calls these programs
 * that, and the uapi name 'sched_cls' is the one reported back. */
const PROG_TYPE_ALIASES: Readonly<Record<string, string>> = { tc: 'sched_cls' };

function nameOf(t: NameTable, value: number): string {
  return t.byValue.get(value) ?? `unknown(${value})`;
}

export function progTypeName(value: number): string {
  return nameOf(progTypes, value);
}
export function attachTypeName(value: number): string {
  return nameOf(attachTypes, value);
}
export function linkTypeName(value: number): string {
  return nameOf(linkTypes, value);
}
export function mapTypeName(value: number): string {
  return nameOf(mapTypes, value);
}

/** The kernel value of a program type name ('xdp', 'sched_cls', alias 'tc'), or undefined. */
export function progTypeValue(name: string): number | undefined {
  const n = name.toLowerCase();
  return progTypes.byName.get(PROG_TYPE_ALIASES[n] ?? n);
}

/** The kernel value of an attach type name ('xdp', 'tcx_ingress', 'trace_fentry'), or undefined. */
export function attachTypeValue(name: string): number | undefined {
  return attachTypes.byName.get(name.toLowerCase());
}

export function progTypeNames(): string[] {
  return [...progTypes.byName.keys()].filter((n) => n !== 'unspec');
}
export function attachTypeNames(): string[] {
  return [...attachTypes.byName.keys()];
}
