// The lowercase names tsbpf uses for kernel enums: the uapi names without their prefix
// (`BPF_PROG_TYPE_SCHED_CLS` → `'sched_cls'`, `BPF_TCX_INGRESS` → `'tcx_ingress'`). The
// numbers come from the one ABI home (src/syscall/abi/enums.ts, pure data: no koffi).
import { bpf_attach_type, bpf_map_type, bpf_prog_type } from '../syscall/abi/enums.js';

type Strip<K, P extends string> = K extends `${P}${infer R}` ? Lowercase<R> : never;

export type ProgramType = Exclude<Strip<keyof typeof bpf_prog_type, 'BPF_PROG_TYPE_'>, 'unspec'>;
export type AttachType = Strip<keyof typeof bpf_attach_type, 'BPF_'>;
export type MapType = Exclude<Strip<keyof typeof bpf_map_type, 'BPF_MAP_TYPE_'>, 'unspec'>;

function table<P extends string>(src: Record<string, number>, prefix: P): Map<string, number> {
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(src)) if (k.startsWith(prefix)) m.set(k.slice(prefix.length).toLowerCase(), v);
  return m;
}

const PROG = table(bpf_prog_type, 'BPF_PROG_TYPE_');
const ATTACH = table(bpf_attach_type, 'BPF_');
const MAP = table(bpf_map_type, 'BPF_MAP_TYPE_');

function reverse(m: Map<string, number>): Map<number, string> {
  const r = new Map<number, string>();
  // First name wins: the enums list the current name before deprecated aliases.
  for (const [k, v] of m) if (!r.has(v) && !k.endsWith('_deprecated')) r.set(v, k);
  for (const [k, v] of m) if (!r.has(v)) r.set(v, k);
  return r;
}
const PROG_R = reverse(PROG);
const ATTACH_R = reverse(ATTACH);
const MAP_R = reverse(MAP);

export function programTypeNumber(t: ProgramType): number {
  return PROG.get(t)!;
}
export function attachTypeNumber(t: AttachType): number {
  return ATTACH.get(t)!;
}
export function mapTypeNumber(t: MapType): number {
  return MAP.get(t)!;
}
export function isProgramType(s: string): s is ProgramType {
  return s !== 'unspec' && PROG.has(s);
}
export function isAttachType(s: string): s is AttachType {
  return ATTACH.has(s);
}
export function programTypeName(n: number): ProgramType | undefined {
  const s = PROG_R.get(n);
  return s === 'unspec' ? undefined : (s as ProgramType | undefined);
}
export function attachTypeName(n: number): AttachType | undefined {
  return ATTACH_R.get(n) as AttachType | undefined;
}
export function mapTypeName(n: number): MapType | undefined {
  const s = MAP_R.get(n);
  return s === 'unspec' ? undefined : (s as MapType | undefined);
}
