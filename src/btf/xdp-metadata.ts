// The BTF-encoded records of libxdp's multi-program XDP protocol (xdp-tools,
// lib/libxdp/protocol.org), read as libxdp reads them:
// - a component's run configuration, `struct { __uint(priority, 10); __uint(XDP_PASS, 1); }
//   XDP_RUN_CONFIG(func)`: a variable named `_func` in the `.xdp_run_config` DATASEC;
// - a dispatcher's `__uint(dispatcher_version, 2)` in the `xdp_metadata` DATASEC.
// Both use the encoding of BTF-defined maps: a member or variable of type `int (*)[N]` carries
// the number N in the array's element count. Pure: these read a Btf, never the kernel.
import { BtfError } from '../errors.js';
import type { Btf } from './btf.js';
import type { BtfType } from './types.js';

/** The XDP verdicts a run configuration may name, as libxdp spells them (index = verdict). */
export const XDP_ACTION_NAMES = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'] as const;

/** What a component's `.xdp_run_config` entry declares; absent fields were not written. */
export interface XdpRunConfigRecord {
  priority?: number;
  /** Verdict number → whether it continues the chain, for each verdict the struct names. */
  actions: Map<number, boolean>;
}

function datasec(btf: Btf, name: string): Extract<BtfType, { kind: 'datasec' }> | undefined {
  for (const id of btf.typesByName(name, 'datasec')) {
    const t = btf.type(id);
    if (t.kind === 'datasec') return t;
  }
  return undefined;
}

/** `int (*)[N]` → N, skipping modifiers and typedefs on the way to the pointer. */
function encodedNumber(btf: Btf, typeId: number, what: string): number {
  const p = btf.resolved(typeId);
  if (p.kind !== 'ptr') throw new BtfError(`${what}: expected a pointer to an array (__uint(name, N)), got ${p.kind}`);
  const a = btf.type(p.type);
  if (a.kind !== 'array') throw new BtfError(`${what}: expected a pointer to an array (__uint(name, N)), got a pointer to ${a.kind}`);
  return a.nelems;
}

/** A variable of a DATASEC by name, resolved to its type (libxdp: global or static only). */
function sectionVariable(btf: Btf, section: string, name: string): { typeId: number } | undefined {
  const sec = datasec(btf, section);
  if (!sec) return undefined;
  for (const v of sec.vars) {
    const t = btf.type(v.type);
    if (t.name !== name) continue;
    if (t.kind !== 'var') throw new BtfError(`${section}: '${name}' is a ${t.kind}, not a variable`);
    if (t.linkage === 'extern') throw new BtfError(`${section}: '${name}' is an extern variable; it must be defined here`);
    return { typeId: t.type };
  }
  return undefined;
}

/**
 * The run configuration of XDP function `func`, or undefined when the object declares none
 * (then libxdp's defaults apply: priority 50, XDP_PASS continues). A declaration libxdp would
 * refuse (a member that is neither `priority` nor an XDP action, a value not encoded with
 * `__uint`) is a BtfError naming it.
 */
export function xdpRunConfig(btf: Btf, func: string): XdpRunConfigRecord | undefined {
  const v = sectionVariable(btf, '.xdp_run_config', `_${func}`);
  if (!v) return undefined;
  const def = btf.resolved(v.typeId);
  const what = `.xdp_run_config of ${func}`;
  if (def.kind !== 'struct') throw new BtfError(`${what}: '_${func}' is a ${def.kind}, not a struct`);
  const out: XdpRunConfigRecord = { actions: new Map() };
  for (const m of def.members) {
    if (m.name === 'priority') {
      out.priority = encodedNumber(btf, m.type, `${what}, priority`);
      continue;
    }
    const action = (XDP_ACTION_NAMES as readonly string[]).indexOf(m.name);
    if (action < 0)
      throw new BtfError(`${what}: member '${m.name}' is neither 'priority' nor an XDP action (${XDP_ACTION_NAMES.join(', ')})`);
    out.actions.set(action, encodedNumber(btf, m.type, `${what}, ${m.name}`) !== 0);
  }
  return out;
}

/** A number encoded with `__uint(name, N)` in the `xdp_metadata` section, if there is one. */
export function xdpMetadataValue(btf: Btf, name: string): number | undefined {
  const v = sectionVariable(btf, 'xdp_metadata', name);
  return v ? encodedNumber(btf, v.typeId, `xdp_metadata ${name}`) : undefined;
}

/**
 * The full name of a function whose kernel name was cut to 15 characters (BPF_OBJ_NAME_LEN
 * - 1), found in the program's BTF as libxdp finds it: an exact FUNC name, else the only FUNC
 * that starts with it. Shorter names, and ambiguous or missing ones, come back unchanged.
 */
export function fullFunctionName(btf: Btf | undefined, name: string): string {
  if (!btf || name.length < 15) return name;
  let only: string | undefined;
  let count = 0;
  for (const [, t] of btf.entries()) {
    if (t.kind !== 'func' || !t.name.startsWith(name)) continue;
    if (t.name === name) return name;
    count++;
    only = t.name;
  }
  return count === 1 ? only! : name;
}
