// Lowercase names for the kernel's enums, as users write them: the uapi name without its
// prefix (`BPF_PROG_TYPE_SCHED_CLS` -> 'sched_cls', `BPF_TCX_INGRESS` -> 'tcx_ingress').
// Derived from the generated enums, so a new kernel enumerator needs no edit anywhere. Pure
// data: the parsers (src/elf) use it as well as the kernel-object layers.
import { bpf_attach_type, bpf_link_type, bpf_map_type, bpf_prog_type } from './enums.js';

type Strip<K, P extends string> = K extends `${P}${infer R}` ? Lowercase<R> : never;

/** 'xdp', 'sched_cls'…: `BPF_PROG_TYPE_*` in lower case without the prefix. */
export type ProgramType = Exclude<Strip<keyof typeof bpf_prog_type, 'BPF_PROG_TYPE_'>, 'unspec'>;
/** 'xdp', 'tcx_ingress', 'trace_fentry'…: `enum bpf_attach_type` without `BPF_`. */
export type AttachType = Strip<keyof typeof bpf_attach_type, 'BPF_'>;
/** 'hash', 'array', 'percpu_array'…: `BPF_MAP_TYPE_*` without the prefix (deprecated aliases left out). */
export type MapType = Exclude<Strip<keyof typeof bpf_map_type, 'BPF_MAP_TYPE_'>, 'unspec' | `${string}_deprecated`>;

export interface EnumNames {
  readonly byName: ReadonlyMap<string, number>;
  /** The current name of each value (a `_deprecated` alias only when it is the sole name). */
  readonly byValue: ReadonlyMap<number, string>;
}

export function enumNames(values: Readonly<Record<string, number>>, prefix: string): EnumNames {
  const byName = new Map<string, number>();
  for (const [cName, value] of Object.entries(values))
    if (cName.startsWith(prefix) && !cName.startsWith('__')) byName.set(cName.slice(prefix.length).toLowerCase(), value);
  const byValue = new Map<number, string>();
  for (const [n, v] of byName) if (!byValue.has(v) && !n.endsWith('_deprecated')) byValue.set(v, n);
  for (const [n, v] of byName) if (!byValue.has(v)) byValue.set(v, n);
  return { byName, byValue };
}

export const PROG_TYPE_NAMES = enumNames(bpf_prog_type, 'BPF_PROG_TYPE_');
export const ATTACH_TYPE_NAMES = enumNames(bpf_attach_type, 'BPF_');
export const LINK_TYPE_NAMES = enumNames(bpf_link_type, 'BPF_LINK_TYPE_');
export const MAP_TYPE_NAMES = enumNames(bpf_map_type, 'BPF_MAP_TYPE_');
