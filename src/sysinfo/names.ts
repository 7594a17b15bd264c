// The kernel's enums by name for user-facing input and output (tables: src/syscall/abi/names.ts),
// with the aliases users type and the 'unknown(N)' wording for values newer than the tables.
import { ATTACH_TYPE_NAMES, LINK_TYPE_NAMES, MAP_TYPE_NAMES, PROG_TYPE_NAMES, type EnumNames } from '../syscall/abi/names.js';

const progTypes = PROG_TYPE_NAMES;
const attachTypes = ATTACH_TYPE_NAMES;
const linkTypes = LINK_TYPE_NAMES;
const mapTypes = MAP_TYPE_NAMES;

/** Program-type aliases accepted on input. Only 'tc': every tc/tcx tool calls these programs
 * that, and the uapi name 'sched_cls' is the one reported back. */
const PROG_TYPE_ALIASES: Readonly<Record<string, string>> = { tc: 'sched_cls' };

function nameOf(t: EnumNames, value: number): string {
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
