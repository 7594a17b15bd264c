// The lowercase names tsbpf uses for kernel enums: the uapi names without their prefix
// (`BPF_PROG_TYPE_SCHED_CLS` → `'sched_cls'`, `BPF_TCX_INGRESS` → `'tcx_ingress'`). The
// numbers come from the one ABI home (src/syscall/abi/enums.ts, pure data: no koffi).
import { ATTACH_TYPE_NAMES, MAP_TYPE_NAMES, PROG_TYPE_NAMES } from '../syscall/abi/names.js';

export type { AttachType, MapType, ProgramType } from '../syscall/abi/names.js';
import type { AttachType, MapType, ProgramType } from '../syscall/abi/names.js';

const PROG = PROG_TYPE_NAMES.byName;
const ATTACH = ATTACH_TYPE_NAMES.byName;
const MAP = MAP_TYPE_NAMES.byName;
const PROG_R = PROG_TYPE_NAMES.byValue;
const ATTACH_R = ATTACH_TYPE_NAMES.byValue;
const MAP_R = MAP_TYPE_NAMES.byValue;

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
