// BTF-defined maps: the `.maps` section's variables, whose struct types encode a map's
// attributes in the shape of their members (libbpf's `__uint`, `__type`, `__array` macros):
//   __uint(name, N)      -> `int (*name)[N]`        : a pointer to an array of N elements
//   __type(name, T)      -> `T *name`               : a pointer to the type
//   __array(values, T)   -> `T *values[]`           : a zero-length array of pointers
//   __ulong(name, N)     -> `enum { ... = N } name` : one-enumerator enum (map_extra)
// Pure: map type numbers are reported as found; telling a PROG_ARRAY from a map-in-map is by
// what `values` points to (function prototypes vs map definitions).
import { BtfError } from '../errors.js';
import type { Btf } from './btf.js';
import { type BtfMember, isAnyEnum } from './types.js';

export interface BtfMapValues {
  /** 'programs' (prog array slots) or 'maps' (map-in-map slots). */
  kind: 'programs' | 'maps';
  /** Byte offset of the `values` array inside the map's variable (slot i is at offset + 8 i). */
  offset: number;
  /** The inner map definition, for map-in-map. */
  inner?: BtfMapDef;
}

export interface BtfMapDef {
  /** Variable name (the map's name); `<outer>.inner` for an inner definition. */
  name: string;
  /** The definition's struct type id. */
  defTypeId: number;
  /** BPF_MAP_TYPE_* number as written (0 when absent: an error for top-level maps). */
  type: number;
  maxEntries?: number;
  mapFlags?: number;
  numaNode?: number;
  keySize?: number;
  valueSize?: number;
  keyType?: number;
  valueType?: number;
  pinning?: 'none' | 'byName';
  mapExtra?: bigint;
  values?: BtfMapValues;
}

export interface BtfMapVariable extends BtfMapDef {
  /** The VAR type id, and its byte offset/size in the .maps section (after DATASEC fixup). */
  varTypeId: number;
  sectionOffset: number;
  size: number;
}

/** Every map defined in the DATASEC `section` (default `.maps`), in DATASEC order. */
export function btfMapDefinitions(btf: Btf, section = '.maps'): BtfMapVariable[] {
  const secId = btf.typeByName(section, 'datasec');
  if (secId === undefined) return [];
  const sec = btf.type(secId);
  if (sec.kind !== 'datasec') return [];
  return sec.vars.map((v) => {
    const vt = btf.type(v.type);
    if (vt.kind !== 'var') throw new BtfError(`${section}: entry [${v.type}] is ${vt.kind}, not a variable`);
    const defId = btf.resolve(vt.type);
    const def = parseBtfMapDef(btf, defId, vt.name, false);
    return { ...def, varTypeId: v.type, sectionOffset: v.offset, size: v.size };
  });
}

function failAttr(map: string, attr: string, why: string): never {
  throw new BtfError(`map '${map}': attribute '${attr}' ${why}`);
}

/** `__uint(name, N)`: a pointer to an array of N elements. */
function uintAttr(btf: Btf, map: string, m: BtfMember): number {
  const p = btf.resolved(m.type);
  if (p.kind !== 'ptr') return failAttr(map, m.name, `should be __uint (a pointer to an array), is ${p.kind}`);
  const a = btf.type(p.type);
  if (a.kind !== 'array') return failAttr(map, m.name, `should be __uint (a pointer to an array), points to ${a.kind}`);
  return a.nelems;
}

/** `__type(name, T)`: a pointer to T. */
function typeAttr(btf: Btf, map: string, m: BtfMember): number {
  const p = btf.type(m.type);
  if (p.kind !== 'ptr') return failAttr(map, m.name, `should be __type (a pointer), is ${p.kind}`);
  return p.type;
}

/** Sets keySize/valueSize, refusing a second, different size for the same attribute. */
function sizeAttr(def: BtfMapDef, map: string, attr: 'keySize' | 'valueSize', label: string, v: number): void {
  const had = def[attr];
  if (had !== undefined && had !== v) failAttr(map, label, `conflicts with an earlier size (${had} != ${v})`);
  def[attr] = v;
}

/** Parses one map definition struct. Throws BtfError naming the map and the attribute. */
export function parseBtfMapDef(btf: Btf, defTypeId: number, name: string, inner = false): BtfMapDef {
  const t = btf.resolved(defTypeId);
  if (t.kind !== 'struct') throw new BtfError(`map '${name}': definition is ${t.kind}, not a struct`);
  const def: BtfMapDef = { name, defTypeId: btf.resolve(defTypeId), type: 0 };
  // A loop over module functions, not forEach over closures: this runs for every map of every
  // object opened.
  for (let i = 0; i < t.members.length; i++) {
    const m = t.members[i]!;
    switch (m.name) {
      case 'type':
        def.type = uintAttr(btf, name, m);
        break;
      case 'max_entries':
        def.maxEntries = uintAttr(btf, name, m);
        break;
      case 'map_flags':
        def.mapFlags = uintAttr(btf, name, m);
        break;
      case 'numa_node':
        def.numaNode = uintAttr(btf, name, m);
        break;
      case 'key_size':
        sizeAttr(def, name, 'keySize', m.name, uintAttr(btf, name, m));
        break;
      case 'value_size':
        sizeAttr(def, name, 'valueSize', m.name, uintAttr(btf, name, m));
        break;
      case 'key': {
        const k = typeAttr(btf, name, m);
        sizeAttr(def, name, 'keySize', m.name, btf.sizeOf(k));
        def.keyType = k;
        break;
      }
      case 'value': {
        const v = typeAttr(btf, name, m);
        sizeAttr(def, name, 'valueSize', m.name, btf.sizeOf(v));
        def.valueType = v;
        break;
      }
      case 'pinning': {
        if (inner) failAttr(name, m.name, 'is not allowed on an inner map');
        const v = uintAttr(btf, name, m);
        if (v > 1) failAttr(name, m.name, `has invalid value ${v} (0: none, 1: by name)`);
        def.pinning = v === 1 ? 'byName' : 'none';
        break;
      }
      case 'map_extra': {
        const r = btf.resolved(m.type);
        if (r.kind === 'ptr') def.mapExtra = BigInt(uintAttr(btf, name, m));
        else if (isAnyEnum(r) && r.values.length === 1) def.mapExtra = BigInt.asUintN(64, BigInt(r.values[0]!.value));
        else failAttr(name, m.name, `should be __uint or __ulong, is ${r.kind}`);
        break;
      }
      case 'values': {
        if (inner) failAttr(name, m.name, 'is not supported on an inner map (multi-level map-in-map)');
        if (i !== t.members.length - 1) failAttr(name, m.name, 'must be the last member');
        const arr = btf.type(m.type);
        if (arr.kind !== 'array' || arr.nelems !== 0) failAttr(name, m.name, 'should be __array (a zero-length array of pointers)');
        const ptr = btf.resolved((arr as { type: number }).type);
        if (ptr.kind !== 'ptr') failAttr(name, m.name, `elements should be pointers, are ${ptr.kind}`);
        const target = btf.resolve((ptr as { type: number }).type);
        const tt = btf.type(target);
        sizeAttr(def, name, 'valueSize', m.name, 4);
        if (m.bitOffset % 8 !== 0) failAttr(name, m.name, 'is not byte aligned');
        if (tt.kind === 'func_proto') def.values = { kind: 'programs', offset: m.bitOffset / 8 };
        else if (tt.kind === 'struct')
          def.values = { kind: 'maps', offset: m.bitOffset / 8, inner: parseBtfMapDef(btf, target, `${name}.inner`, true) };
        else failAttr(name, m.name, `elements point to ${tt.kind}, expected a map definition struct or a program prototype`);
        break;
      }
      default:
        failAttr(name, m.name, 'is unknown');
    }
  }
  if (!inner && def.type === 0) throw new BtfError(`map '${name}': no map type given (__uint(type, ...))`);
  return def;
}
