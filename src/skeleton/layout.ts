// What a skeleton knows about an object, derived the same way by the generator (to write the
// module) and by the runtime (to check that the object it opens is the one the module was
// generated from): which maps get a typed view, which globals each data section exposes, and a
// digest of every decoded shape, so a changed struct layout is caught at open, not misread.
import { createHash } from 'node:crypto';
import { BtfError, UsageError } from '../errors.js';
import { valueCodec, type ValueShape } from '../btf/codec.js';
import type { Btf } from '../btf/btf.js';
import type { MapSpec, ObjectSpec } from '../elf/spec.js';
import { traitsOf, parseMapType } from '../maps/types.js';

export type MapView = 'typed' | 'percpu' | 'bytes';

export interface SkeletonMap {
  /** The map's name in the object (`obj.map(name)`). */
  readonly name: string;
  /** The property under `skel.maps`. */
  readonly prop: string;
  readonly view: MapView;
  /** Typed views: the digest of the key and value shapes. */
  readonly digest?: string;
  /** Byte-level views: why the map has no typed one. */
  readonly why?: string;
}

export interface SkeletonSection {
  /** The data map ('.rodata', '.bss', '.data.counters'). */
  readonly map: string;
  /** The property on the skeleton ('rodata', 'bss', 'data_counters'). */
  readonly prop: string;
  /** `.rodata*`: set before load, read-only after. */
  readonly constant: boolean;
  /** Variables with their shape digests. */
  readonly vars: readonly { readonly name: string; readonly digest: string }[];
}

/** Everything the generated module passes to the runtime. */
export interface SkeletonDesc {
  readonly name: string;
  readonly maps: readonly SkeletonMap[];
  readonly programs: readonly string[];
  readonly sections: readonly SkeletonSection[];
  /** Global variables left out because their type has no JavaScript form (read them with
   * `skel.object.global(name)`). */
  readonly untyped?: readonly { readonly name: string; readonly why: string }[];
  /** Types asked for by name (`--type event`): codecs under `skel.types`, e.g. for ring buffer
   * records, which BTF does not tie to their map. */
  readonly types?: readonly { readonly name: string; readonly digest: string }[];
}

/** The BTF type a skeleton's `types` entry names: a struct or union by tag, else a typedef or
 * an enum; a UsageError naming what there is when nothing matches. */
export function namedType(btf: Btf, name: string): number {
  for (const kind of ['struct', 'union', 'typedef', 'enum', 'enum64'] as const) {
    const id = btf.typeByName(name, kind);
    if (id !== undefined) return id;
  }
  throw new UsageError(`no struct, union, typedef or enum named '${name}' in the object's BTF`);
}

/** A stable digest of shapes (which include sizes, names and member order). */
export function shapeDigest(...shapes: (ValueShape | undefined)[]): string {
  return createHash('sha256').update(JSON.stringify(shapes)).digest('hex').slice(0, 16);
}

/** How a skeleton exposes a map, and why not typed when it is not. */
function viewOf(btf: Btf, spec: MapSpec): { view: MapView; why?: string } {
  if (spec.kind === 'data') return { view: 'bytes', why: 'its globals are the section object' };
  if (spec.kind === 'kconfig') return { view: 'bytes', why: 'kconfig values, filled at load' };
  if (spec.btfValueType === undefined) return { view: 'bytes', why: 'declared without BTF key/value types' };
  const traits = traitsOf(parseMapType(spec.type));
  if (traits.fdToId || traits.fdValue || spec.type === 'struct_ops') return { view: 'bytes', why: 'its values are file descriptors (ids when read)' };
  if (traits.ringSize || spec.type === 'perf_event_array' || spec.type === 'arena') return { view: 'bytes', why: 'it holds events or memory, not values' };
  if (spec.keySize > 0 && !spec.btfKeyType) return { view: 'bytes', why: 'declared without a BTF key type' };
  try {
    mapCodecs(btf, spec);
  } catch (e) {
    // A type no value can be made of (a forward declaration, a function): stated in the module.
    if (!(e instanceof BtfError)) throw e;
    return { view: 'bytes', why: `its types have no JavaScript form: ${e.message}` };
  }
  return { view: traits.perCpu ? 'percpu' : 'typed' };
}

/** 'data.counters' → 'data_counters': section names as properties. */
export function sectionProp(section: string): string {
  return section.replace(/^\./, '').replace(/[^A-Za-z0-9_$]/g, '_');
}

/** The key/value codecs of a typed map. */
export function mapCodecs(btf: Btf, spec: MapSpec) {
  return {
    key: spec.keySize > 0 && spec.btfKeyType ? valueCodec(btf, spec.btfKeyType) : undefined,
    value: valueCodec(btf, spec.btfValueType!),
  };
}

/** What a skeleton of `spec` holds. */
export function describeObject(spec: ObjectSpec, typeNames: readonly string[] = []): SkeletonDesc {
  const btf = spec.btf;
  const declared = new Set([...spec.maps.values()].filter((m) => m.kind !== 'data' && m.kind !== 'kconfig').map((m) => m.name));
  const maps: SkeletonMap[] = [];
  for (const m of spec.maps.values()) {
    let prop = m.name;
    if (m.kind === 'data' || m.kind === 'kconfig') {
      // libbpf's skel->maps.bss; the section name itself if a declared map took that name.
      prop = sectionProp(m.name);
      if (declared.has(prop)) prop = m.name;
    }
    const { view, why } = btf ? viewOf(btf, m) : { view: 'bytes' as const, why: 'the object has no BTF' };
    if (view === 'bytes' || !btf) maps.push({ name: m.name, prop, view, ...(why ? { why } : {}) });
    else {
      const c = mapCodecs(btf, m);
      maps.push({ name: m.name, prop, view, digest: shapeDigest(c.key?.shape, c.value.shape) });
    }
  }
  const sections: SkeletonSection[] = [];
  const untyped: { name: string; why: string }[] = [];
  if (btf) {
    const byMap = new Map<string, { name: string; digest: string }[]>();
    for (const v of spec.variables.values()) {
      // As bpftool's skeletons: global variables only (static and __hidden ones stay private).
      if (!v.global || v.btfType === undefined) continue;
      let digest: string;
      try {
        digest = shapeDigest(valueCodec(btf, v.btfType).shape);
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
        untyped.push({ name: v.name, why: e.message });
        continue;
      }
      const list = byMap.get(v.map) ?? [];
      list.push({ name: v.name, digest });
      byMap.set(v.map, list);
    }
    for (const [map, vars] of byMap) {
      const m = spec.maps.get(map);
      if (!m || m.kind !== 'data') continue;
      sections.push({ map, prop: sectionProp(map), constant: m.freeze, vars });
    }
  }
  const types = typeNames.map((name) => {
    if (!btf) throw new UsageError(`type '${name}': the object has no BTF`);
    return { name, digest: shapeDigest(valueCodec(btf, namedType(btf, name)).shape) };
  });
  return { name: spec.name, maps, programs: [...spec.programs.keys()], sections, ...(untyped.length ? { untyped } : {}), ...(types.length ? { types } : {}) };
}
