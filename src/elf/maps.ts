// Map definitions: BTF-defined maps in `.maps` (libbpf's parse_btf_map_def), legacy
// `struct bpf_map_def` records in `maps`, and declarative initial values from `.rel.maps`.
import { parseBtfMapDef, type Btf, type BtfDatasec, type BtfMapDef } from '../btf/index.js';
import { ElfError } from '../errors.js';
import { bpf_map_type } from '../syscall/abi/enums.js';
import { mapTypeName, type MapType } from './names.js';
import { STB_LOCAL, STT_SECTION, type ElfFile, type ElfSection, type ElfSymbol } from './reader.js';
import type { MapSpec, Pinning, ProgramSpec } from './spec.js';

const KERNEL_NAME_MAX = 15;

interface MapDef {
  type?: number;
  keySize?: number;
  valueSize?: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  mapExtra: bigint;
  pinning: number;
  keyType?: number;
  valueType?: number;
  inner?: MapDef;
  /** `__array(values, ...)` is present (map-in-map or prog array). */
  hasValues: boolean;
}

function isMapInMap(type: number | undefined): boolean {
  return type === bpf_map_type.BPF_MAP_TYPE_ARRAY_OF_MAPS || type === bpf_map_type.BPF_MAP_TYPE_HASH_OF_MAPS;
}

/**
 * A map definition as src/btf parses it (libbpf's `__uint`/`__type`/`__array` shapes), checked
 * for what only a loader cares about: `values` belongs to map-in-map and prog array maps.
 */
function parseMapDef(btf: Btf, map: string, defTypeId: number, inner: boolean): MapDef {
  return fromBtf(parseBtfMapDef(btf, defTypeId, map, inner), map);
}

function fromBtf(d: BtfMapDef, map: string): MapDef {
  if (d.values) {
    const mim = isMapInMap(d.type);
    const progArray = d.type === bpf_map_type.BPF_MAP_TYPE_PROG_ARRAY;
    if (!mim && !progArray) throw new ElfError(`map '${map}': 'values' is only for map-in-map and prog array maps`, '.maps');
    if (progArray && d.values.kind !== 'programs') throw new ElfError(`map '${map}': prog array 'values' should point to functions`, '.maps');
    if (mim && d.values.kind !== 'maps') throw new ElfError(`map '${map}': map-in-map 'values' should point to an inner map definition`, '.maps');
  }
  // Assigned one by one: conditional spreads are slow in this hot path (one per map per open).
  const out: MapDef = {
    maxEntries: d.maxEntries ?? 0,
    flags: d.mapFlags ?? 0,
    numaNode: d.numaNode ?? 0,
    mapExtra: d.mapExtra ?? 0n,
    pinning: d.pinning === 'byName' ? 1 : 0,
    hasValues: d.values !== undefined,
  };
  if (d.type) out.type = d.type;
  if (d.keySize !== undefined) out.keySize = d.keySize;
  if (d.valueSize !== undefined) out.valueSize = d.valueSize;
  if (d.keyType !== undefined) out.keyType = d.keyType;
  if (d.valueType !== undefined) out.valueType = d.valueType;
  if (d.values?.inner) out.inner = fromBtf(d.values.inner, `${map}.inner`);
  return out;
}

function typeName(map: string, n: number | undefined, section: string): MapType {
  if (n === undefined) throw new ElfError(`map '${map}' has no type`, section);
  const t = mapTypeName(n);
  if (!t) throw new ElfError(`map '${map}' has unknown map type ${n}`, section);
  return t;
}

function toSpec(name: string, d: MapDef, kind: 'btf' | 'legacy', section: ElfSection, offset: number): MapSpec {
  return {
    name,
    kernelName: name.slice(0, KERNEL_NAME_MAX),
    kind,
    type: typeName(name, d.type, section.name),
    keySize: d.keySize ?? 0,
    valueSize: d.valueSize ?? 0,
    maxEntries: d.maxEntries,
    flags: d.flags,
    numaNode: d.numaNode,
    mapExtra: d.mapExtra,
    pinning: (d.pinning === 1 ? 'by_name' : 'none') as Pinning,
    btfKeyType: d.keyType,
    btfValueType: d.valueType,
    inner: d.inner ? toSpec(`${name}.inner`, d.inner, kind, section, offset) : undefined,
    initialSlots: [],
    data: undefined,
    freeze: false,
    sectionName: section.name,
    sectionIndex: section.index,
    sectionOffset: offset,
  };
}

function mapsDatasec(btf: Btf, section: ElfSection): BtfDatasec {
  const id = btf.typeByName('.maps', 'datasec');
  const t = id === undefined ? undefined : btf.type(id);
  if (!t || t.kind !== 'datasec') throw new ElfError('the .maps section has no BTF DATASEC describing it', section.name);
  return t;
}

/** BTF-defined maps, in DATASEC order. Needs the DATASEC offsets already fixed up from the symbol table. */
export function parseBtfMaps(_elf: ElfFile, btf: Btf, section: ElfSection): MapSpec[] {
  const sec = mapsDatasec(btf, section);
  const out: MapSpec[] = [];
  for (const v of sec.vars) {
    const vt = btf.type(v.type);
    if (vt.kind !== 'var') throw new ElfError(`.maps DATASEC member ${v.type} is a ${vt.kind}, not a variable`, section.name);
    const name = vt.name;
    if (name === '') throw new ElfError('a map in .maps has no name', section.name, v.offset);
    if (v.offset > section.size || v.size > section.size - v.offset)
      throw new ElfError(`map '${name}' (${v.size} bytes at ${v.offset}) lies outside the section (${section.size} bytes)`, section.name, v.offset);
    if (vt.linkage !== 'global') throw new ElfError(`map '${name}' has ${vt.linkage} linkage; maps must be global variables`, section.name, v.offset);
    const def = btf.resolved(vt.type);
    if (def.kind !== 'struct') throw new ElfError(`map '${name}' is a ${def.kind}, not a struct map definition`, section.name, v.offset);
    if (def.size > v.size) throw new ElfError(`map '${name}': definition (${def.size} bytes) is larger than its variable (${v.size} bytes)`, section.name, v.offset);
    out.push(toSpec(name, parseMapDef(btf, name, vt.type, false), 'btf', section, v.offset));
  }
  return out;
}

const LEGACY_DEF_SIZE = 20; // type, key_size, value_size, max_entries, map_flags

/** `struct bpf_map_def` records in the `maps` section, one per global object symbol. */
export function parseLegacyMaps(elf: ElfFile, section: ElfSection): MapSpec[] {
  const syms: ElfSymbol[] = [];
  for (let i = 0; i < elf.symbolCount; i++) {
    if (elf.symbolShndx(i) !== section.index || elf.symbolType(i) === STT_SECTION) continue;
    const s = elf.symbol(i);
    if (s.name !== '') syms.push(s);
  }
  // A `static` map definition: programs reach it through the section symbol plus an offset,
  // which no map name answers. libbpf and cilium/ebpf refuse such objects; so do we, rather
  // than guess which map was meant.
  const local = syms.find((s) => s.bind === STB_LOCAL);
  if (local)
    throw new ElfError(`legacy map '${local.name}' is static (a local symbol): maps must be global variables (drop 'static')`, section.name, local.value);
  if (syms.length === 0) return [];
  const evenSize = Math.floor(section.size / syms.length);
  const out: MapSpec[] = [];
  for (const s of syms.sort((a, b) => a.value - b.value)) {
    const size = s.size || evenSize;
    if (s.value > section.size || size > section.size - s.value || size === 0)
      throw new ElfError(`legacy map '${s.name}' (${size} bytes at ${s.value}) lies outside the section (${section.size} bytes)`, section.name, s.value);
    const rec = section.data.subarray(s.value, s.value + size);
    const word = (i: number) => (i * 4 + 4 <= rec.byteLength ? new DataView(rec.buffer, rec.byteOffset + i * 4, 4).getUint32(0, true) : 0);
    for (let i = LEGACY_DEF_SIZE; i < rec.byteLength; i++)
      if (rec[i] !== 0) throw new ElfError(`legacy map '${s.name}' has non-zero bytes past struct bpf_map_def (at byte ${i}) this loader does not understand`, section.name, s.value + i);
    const d: MapDef = {
      type: word(0),
      keySize: word(1),
      valueSize: word(2),
      maxEntries: word(3),
      flags: word(4),
      numaNode: 0,
      mapExtra: 0n,
      pinning: 0,
      hasValues: false,
    };
    out.push(toSpec(s.name, d, 'legacy', section, s.value));
  }
  return out;
}

const PTR_SIZE = 8;

/** `.rel.maps`: pointers in `.values = { [i] = &x }` become initial slots (libbpf's collect_map_relos). */
export function collectMapSlots(
  elf: ElfFile,
  btf: Btf,
  rel: ElfSection,
  mapsShndx: number,
  maps: readonly MapSpec[],
  programs: readonly ProgramSpec[],
): void {
  const sec = mapsDatasec(btf, elf.sections[mapsShndx]!);
  const byName = new Map(maps.map((m) => [m.name, m]));
  for (const r of elf.relocations(rel)) {
    const sym = elf.symbol(r.symbol);
    const v = sec.vars.find((x) => x.offset <= r.offset && r.offset + PTR_SIZE <= x.offset + x.size);
    const vt = v ? btf.type(v.type) : undefined;
    const map = vt ? byName.get(vt.name) : undefined;
    if (!v || !vt || vt.kind !== 'var' || !map || map.kind !== 'btf') throw new ElfError(`relocation at offset ${r.offset} (against '${sym.name}') is not inside any map definition`, rel.name, r.offset);
    const slot: { index: number; map?: string; program?: string } = { index: 0 };
    if (map.type === 'array_of_maps' || map.type === 'hash_of_maps') {
      if (sym.shndx !== mapsShndx) throw new ElfError(`map '${map.name}': initial value '${sym.name}' is not a BTF-defined map`, rel.name, r.offset);
      if (map.type === 'hash_of_maps' && map.keySize !== 4) throw new ElfError(`map '${map.name}': a hash of maps with initial values needs 4-byte keys`, rel.name, r.offset);
      const target = byName.get(sym.name);
      if (!target) throw new ElfError(`map '${map.name}': initial value '${sym.name}' is not a map`, rel.name, r.offset);
      slot.map = target.name;
    } else if (map.type === 'prog_array') {
      const p = programs.find((x) => x.name === sym.name);
      if (!p) throw new ElfError(`map '${map.name}': initial value '${sym.name}' is not a program`, rel.name, r.offset);
      if (p.sectionIndex !== sym.shndx || p.sectionInsnOffset * 8 !== sym.value || p.isSubprogram)
        throw new ElfError(`map '${map.name}': initial value '${sym.name}' is not an entry-point program`, rel.name, r.offset);
      slot.program = p.name;
    } else {
      throw new ElfError(`map '${map.name}' (${map.type}) cannot have initial values`, rel.name, r.offset);
    }
    const def = btf.resolved(vt.type);
    const last = def.kind === 'struct' ? def.members[def.members.length - 1] : undefined;
    if (!last || last.name !== 'values') throw new ElfError(`map '${map.name}': initial values without a 'values' field`, rel.name, r.offset);
    const valuesOff = Math.floor(last.bitOffset / 8);
    const moff = r.offset - v.offset - valuesOff;
    if (moff < 0 || moff % PTR_SIZE) throw new ElfError(`map '${map.name}': relocation at offset ${r.offset} is not on a 'values' slot`, rel.name, r.offset);
    slot.index = moff / PTR_SIZE;
    if (slot.index >= map.maxEntries && map.type !== 'hash_of_maps')
      throw new ElfError(`map '${map.name}': initial value at slot ${slot.index} is past max_entries ${map.maxEntries}`, rel.name, r.offset);
    const slots = map.initialSlots as { index: number; map?: string; program?: string }[];
    const at = slots.findIndex((s) => s.index === slot.index);
    if (at >= 0) slots[at] = slot;
    else slots.push(slot);
    slots.sort((a, b) => a.index - b.index);
  }
}
