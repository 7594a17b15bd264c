// Loader-side BTF fixes: what clang cannot know (DATASEC sizes and offsets) and what an older
// kernel cannot read (kinds it predates). Both keep every type id stable, because programs,
// func_info and CO-RE records refer to types by id.
import { BtfError } from '../errors.js';
import { Btf } from './btf.js';
import type { BtfDatasec, BtfKind, BtfMember, BtfType } from './types.js';

export interface DatasecFixupSource {
  /** Size in bytes of the ELF section `name`, or undefined if there is no such section. */
  sectionSize(name: string): number | undefined;
  /** Value (offset in its section) of the ELF symbol for variable `varName`, or undefined. */
  symbolOffset(varName: string, sectionName: string): number | undefined;
  /** Whether the symbol has hidden/internal visibility (its VAR then becomes static). */
  symbolHidden?(varName: string, sectionName: string): boolean;
}

/** Sections whose DATASEC the loader itself lays out (externs): only their order is fixed. */
const EXTERN_SECTIONS = new Set(['.kconfig', '.ksyms']);

/**
 * Fills DATASEC sizes and variable offsets from the ELF (clang leaves them 0), sorts each
 * DATASEC's variables by offset, and grows a DATASEC that its last variable overruns (an ELF
 * `.bss` size can stop short of the variable's BTF size: trailing padding). Mutates `btf`;
 * returns the final size of each DATASEC by name.
 */
export function fixupDatasecs(btf: Btf, src: DatasecFixupSource): Map<string, number> {
  const sizes = new Map<string, number>();
  for (let id = btf.firstTypeId; id < btf.typeEnd; id++) {
    if (btf.kindOf(id) !== 'datasec') continue; // without decoding every other type
    const t = btf.type(id);
    if (t.kind !== 'datasec') continue;
    const sec: BtfDatasec = { ...t, vars: t.vars.map((v) => ({ ...v })) };
    if (!EXTERN_SECTIONS.has(sec.name)) {
      let fixOffsets = false;
      if (sec.size === 0) {
        const size = src.sectionSize(sec.name);
        if (size === undefined || size === 0)
          throw new BtfError(`DATASEC [${id}] '${sec.name}': no ELF section size to fill in`);
        sec.size = size;
        fixOffsets = true;
      }
      for (const v of sec.vars) {
        const vt = btf.type(v.type);
        if (vt.kind !== 'var')
          throw new BtfError(`DATASEC [${id}] '${sec.name}': entry type [${v.type}] is ${vt.kind}, not var`);
        if (vt.linkage === 'static' || vt.linkage === 'extern') continue;
        const off = src.symbolOffset(vt.name, sec.name);
        if (off === undefined)
          throw new BtfError(`DATASEC [${id}] '${sec.name}': no ELF symbol for variable '${vt.name}'`);
        if (fixOffsets) v.offset = off;
        if (src.symbolHidden?.(vt.name, sec.name)) btf.replace(v.type, { ...vt, linkage: 'static' });
      }
      let end = 0;
      for (const v of sec.vars) end = Math.max(end, v.offset + v.size);
      if (end > sec.size) sec.size = end;
    }
    if (!sortedByOffset(sec.vars)) sec.vars.sort((a, b) => a.offset - b.offset);
    btf.replace(id, sec);
    sizes.set(sec.name, sec.size);
  }
  return sizes;
}

function sortedByOffset(vars: readonly { offset: number }[]): boolean {
  for (let i = 1; i < vars.length; i++) if (vars[i - 1]!.offset > vars[i]!.offset) return false;
  return true;
}

export interface KconfigExtern {
  name: string;
  /** The VAR's type id (the value's type). */
  type: number;
  /** Byte offset in the .kconfig map value. */
  offset: number;
  size: number;
}

export interface ExternLayout {
  /** `.kconfig` externs in layout order, and the total size of that map's value. */
  kconfig: KconfigExtern[];
  kconfigSize: number;
  /** `.ksyms` externs in DATASEC order: functions (kfuncs) and variables (ksyms). */
  ksyms: { name: string; kind: 'func' | 'var'; type: number }[];
}

const DUMMY_KSYM = 'dummy_ksym';

/**
 * Turns extern declarations into BTF the kernel accepts, as libbpf does: the kernel rejects
 * extern linkage, so `.kconfig` variables become allocated globals laid out by descending
 * alignment, then ascending size, then name; `.ksyms` entries become 4-byte slots (variables
 * retyped to a 32-bit int; functions made global, pointed at by a dummy variable, with
 * unnamed parameters given a name). Mutates `btf`; returns the layout the loader needs.
 */
export function fixupExterns(btf: Btf): ExternLayout {
  const out: ExternLayout = { kconfig: [], kconfigSize: 0, ksyms: [] };
  let int32 = 0;
  const intId = (): number => {
    if (int32) return int32;
    for (let id = 1; id < btf.typeEnd; id++) {
      const t = btf.type(id);
      if (t.kind === 'int' && t.bits === 32) return (int32 = id);
    }
    return (int32 = btf.add({ kind: 'int', name: 'int', size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 }));
  };
  const kcfgId = btf.typeByName('.kconfig', 'datasec');
  if (kcfgId !== undefined && kcfgId >= btf.firstTypeId) {
    const sec = btf.type(kcfgId) as BtfDatasec;
    const items = sec.vars.map((v) => {
      const vt = btf.type(v.type);
      if (vt.kind !== 'var') throw new BtfError(`.kconfig entry [${v.type}] is ${vt.kind}, not var`);
      return { v, vt, name: vt.name, size: btf.sizeOf(vt.type), align: btf.alignOf(vt.type) };
    });
    const order = [...items].sort((a, b) => b.align - a.align || a.size - b.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let off = 0;
    const offsets = new Map<string, number>();
    for (const it of order) {
      const at = Math.ceil(off / it.align) * it.align;
      offsets.set(it.name, at);
      off = at + it.size;
      out.kconfig.push({ name: it.name, type: it.vt.type, offset: at, size: it.size });
    }
    for (const it of items) btf.replace(it.v.type, { ...it.vt, linkage: 'global' });
    btf.replace(kcfgId, { ...sec, size: off, vars: sec.vars.map((v, i) => ({ ...v, offset: offsets.get(items[i]!.name)! })) });
    out.kconfigSize = off;
  }
  const ksymId = btf.typeByName('.ksyms', 'datasec');
  if (ksymId !== undefined && ksymId >= btf.firstTypeId) {
    const sec = btf.type(ksymId) as BtfDatasec;
    let dummy = 0;
    const vars = sec.vars.map((v, i) => {
      const vt = btf.type(v.type);
      if (vt.kind === 'func') {
        if (!dummy) dummy = btf.add({ kind: 'var', name: DUMMY_KSYM, type: intId(), linkage: 'global' });
        const proto = btf.type(vt.type);
        if (proto.kind === 'func_proto' && proto.params.some((p) => p.type !== 0 && p.name === ''))
          btf.replace(vt.type, { ...proto, params: proto.params.map((p) => (p.type !== 0 && p.name === '' ? { ...p, name: DUMMY_KSYM } : p)) });
        btf.replace(v.type, { ...vt, linkage: 'global' });
        out.ksyms.push({ name: vt.name, kind: 'func', type: v.type });
        return { type: dummy, offset: i * 4, size: 4 };
      }
      if (vt.kind !== 'var') throw new BtfError(`.ksyms entry [${v.type}] is ${vt.kind}, not var or func`);
      out.ksyms.push({ name: vt.name, kind: 'var', type: vt.type });
      btf.replace(v.type, { ...vt, linkage: 'global', type: intId() });
      return { type: v.type, offset: i * 4, size: 4 };
    });
    btf.replace(ksymId, { ...sec, size: vars.length * 4, vars });
  }
  return out;
}

/** BTF kinds and forms a kernel may lack (each true = supported). */
export interface BtfFeatures {
  /** FUNC and FUNC_PROTO (4.20+ / 5.0). */
  func: boolean;
  /** FUNC with global linkage (5.6). */
  funcGlobal: boolean;
  /** VAR and DATASEC (5.2). */
  datasec: boolean;
  /** FLOAT (5.13). */
  float: boolean;
  /** DECL_TAG (5.16). */
  declTag: boolean;
  /** TYPE_TAG (5.17). */
  typeTag: boolean;
  /** ENUM64 and signed enums (6.0). */
  enum64: boolean;
}

export const ALL_BTF_FEATURES: Readonly<BtfFeatures> = Object.freeze({
  func: true,
  funcGlobal: true,
  datasec: true,
  float: true,
  declTag: true,
  typeTag: true,
  enum64: true,
});

// The sanitizer switch each BTF kind depends on.
const FEATURE_OF_KIND: Partial<Record<BtfKind, keyof BtfFeatures>> = {
  func: 'func',
  func_proto: 'func',
  var: 'datasec',
  datasec: 'datasec',
  float: 'float',
  decl_tag: 'declTag',
  type_tag: 'typeTag',
  enum64: 'enum64',
};

/**
 * The kinds and forms of `btf` a kernel may lack, i.e. which BtfFeatures matter for loading it:
 * only those need asking the kernel about before sanitizeBtf.
 */
export function btfFeaturesUsed(btf: Btf): (keyof BtfFeatures)[] {
  const used = new Set<keyof BtfFeatures>();
  for (let id = btf.firstTypeId; id <= btf.lastTypeId; id++) {
    const t = btf.type(id);
    const f = FEATURE_OF_KIND[t.kind];
    if (f) used.add(f);
    if (t.kind === 'func' && t.linkage === 'global') used.add('funcGlobal');
    if (t.kind === 'enum' && t.signed) used.add('enum64'); // signed enums came with ENUM64
  }
  return [...used];
}

/**
 * Returns a copy of `btf` that a kernel with only `features` accepts: unsupported kinds are
 * replaced in place by older kinds of the same size (ids never move; at most one helper INT
 * is appended). `btf` itself is not changed.
 */
export function sanitizeBtf(btf: Btf, features: Partial<BtfFeatures>): Btf {
  const f = { ...ALL_BTF_FEATURES, ...features };
  const out = Btf.parse(btf.encode(), btf.base ? { base: btf.base } : {});
  if (Object.values(f).every(Boolean)) return out;
  let helperInt: Map<number, number> | undefined;
  const intOfSize = (size: number): number => {
    helperInt ??= new Map();
    let id = helperInt.get(size);
    if (id === undefined) {
      id = out.add({ kind: 'int', name: `__tsbpf_u${size * 8}`, size, signed: false, char: false, bool: false, bitOffset: 0, bits: size * 8 });
      helperInt.set(size, id);
    }
    return id;
  };
  const byteInt = (name: string): BtfType => ({ kind: 'int', name, size: 1, signed: false, char: false, bool: false, bitOffset: 0, bits: 8 });
  const last = out.lastTypeId;
  for (let id = out.firstTypeId; id <= last; id++) {
    const t = out.type(id);
    let r: BtfType | undefined;
    switch (t.kind) {
      case 'var':
        if (!f.datasec) r = byteInt(t.name);
        break;
      case 'datasec':
        if (!f.datasec) {
          const members: BtfMember[] = t.vars.map((v) => ({
            name: out.type(v.type).name,
            type: v.type,
            bitOffset: v.offset * 8,
            bitfieldSize: 0,
          }));
          r = { kind: 'struct', name: t.name.replace(/[^A-Za-z0-9_]/g, '_'), size: t.size, members };
        }
        break;
      case 'func_proto':
        if (!f.func)
          r = { kind: 'enum', name: '', size: 4, signed: false, values: t.params.map((p) => ({ name: p.name, value: p.type })) };
        break;
      case 'func':
        if (!f.func) r = { kind: 'typedef', name: t.name, type: t.type };
        else if (!f.funcGlobal && t.linkage === 'global') r = { ...t, linkage: 'static' };
        break;
      case 'float':
        if (!f.float) r = { kind: 'struct', name: t.name, size: t.size, members: [] };
        break;
      case 'decl_tag':
        if (!f.declTag) r = byteInt(t.name);
        break;
      case 'type_tag':
        if (!f.typeTag) r = { kind: 'const', name: '', type: t.type };
        break;
      case 'enum64':
        if (!f.enum64) {
          const type = intOfSize(t.size);
          r = {
            kind: 'union',
            name: t.name,
            size: t.size,
            members: t.values.map((v) => ({ name: v.name, type, bitOffset: 0, bitfieldSize: 0 })),
          };
        }
        break;
      case 'enum':
        if (!f.enum64 && t.signed) r = { ...t, signed: false, values: t.values.map((v) => ({ ...v, value: v.value >>> 0 })) };
        break;
    }
    if (r) out.replace(id, r);
  }
  return out;
}
