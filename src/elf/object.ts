// ELF bytes → ObjectSpec, following libbpf's bpf_object__open semantics: which sections are
// programs, maps and global data, how programs split by symbol, how relocations are recorded,
// and how the object's BTF is fixed up (DATASEC sizes and offsets, externs) before load.
import { Btf, fixupDatasecs, parseBtfExt } from '../btf/index.js';
import { ElfError } from '../errors.js';
import { BPF_PSEUDO_CALL } from '../syscall/abi/bpf.js';
import { bpf_map_create_flags } from '../syscall/abi/enums.js';

const { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG } = bpf_map_create_flags;
import { INSN_SIZE, insnImm, insnSrc, isCall, isLdImm64 } from './insn.js';
import { type AttachType, type ProgramType, isProgramType, mapTypeName } from './names.js';
import {
  ElfFile,
  type ElfSection,
  type ElfSymbol,
  SHF_EXECINSTR,
  SHN_LORESERVE,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  SHT_REL,
  SHT_STRTAB,
  SHT_SYMTAB,
  STB_GLOBAL,
  STB_LOCAL,
  STB_WEAK,
  STT_FUNC,
  STT_NOTYPE,
  STT_OBJECT,
  STT_SECTION,
  STV_HIDDEN,
  STV_INTERNAL,
} from './reader.js';
import { parseProgramSection } from './sections.js';
import { parseBtfMaps, parseLegacyMaps, collectMapSlots } from './maps.js';
import { collectExterns } from './externs.js';
import type {
  ExternSpec,
  InsnRelocation,
  MapSpec,
  ObjectSpec,
  ProgramSpec,
  VariableSpec,
} from './spec.js';

export interface ProgramTypeOverride {
  type: ProgramType;
  expectedAttachType?: AttachType;
  flags?: number;
}

export interface OpenObjectOptions {
  /**
   * Object name used in data map names (`<name>.rodata`), as libbpf derives it from the file
   * name: up to the first '.', at most 15 characters. Default `'object'`.
   */
  name?: string;
  /**
   * Program types for sections whose names follow no libbpf convention, keyed by program
   * (function) name or by section name; also overrides the conventions.
   */
  programTypes?: Record<string, ProgramTypeOverride>;
}

/** libbpf's object name for a path: the base name up to its first '.', at most 15 characters. */
export function objectNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).slice(0, 15);
  const dot = base.indexOf('.');
  return dot >= 0 ? base.slice(0, dot) : base;
}

const SHT_LLVM_ADDRSIG = 0x6fff4c03;

function isDwarf(name: string): boolean {
  return name.startsWith('.debug_') || name === '.debug';
}

/** Sections libbpf skips outright. */
function ignored(s: ElfSection): boolean {
  if (s.type === SHT_STRTAB || s.type === SHT_LLVM_ADDRSIG) return true;
  if (s.type === SHT_PROGBITS && s.size === 0 && s.name === '.text') return true;
  if (isDwarf(s.name)) return true;
  if (s.name.startsWith('.rel')) {
    const rest = s.name.slice(4);
    if (isDwarf(rest) || rest === '.BTF' || rest === '.BTF.ext') return true;
  }
  return false;
}

type DataKind = 'data' | 'rodata' | 'bss';

interface Layout {
  license: string;
  kernelVersion: number;
  text: number;
  btfMaps: number;
  legacyMaps: number;
  btf: ElfSection | undefined;
  btfExt: ElfSection | undefined;
  programSections: ElfSection[];
  data: { section: ElfSection; kind: DataKind }[];
  rels: ElfSection[];
  mapRels: ElfSection | undefined;
}

const utf8 = new TextDecoder();

function cString(data: Uint8Array, max: number): string {
  let end = data.indexOf(0);
  if (end < 0) end = data.byteLength;
  return utf8.decode(data.subarray(0, Math.min(end, max)));
}

function classify(elf: ElfFile): Layout {
  const l: Layout = {
    license: '',
    kernelVersion: 0,
    text: 0,
    btfMaps: 0,
    legacyMaps: 0,
    btf: undefined,
    btfExt: undefined,
    programSections: [],
    data: [],
    rels: [],
    mapRels: undefined,
  };
  for (const s of elf.sections) {
    if (s.index === 0 || ignored(s)) continue;
    const name = s.name;
    if (name === 'license') {
      // libbpf keeps at most 511 bytes, up to the first NUL.
      l.license = cString(s.data, 511);
    } else if (name === 'version') {
      if (s.data.byteLength !== 4) throw new ElfError(`version section is ${s.data.byteLength} bytes, expected 4`, name);
      l.kernelVersion = new DataView(s.data.buffer, s.data.byteOffset, 4).getUint32(0, true);
    } else if (name === 'maps') {
      l.legacyMaps = s.index;
    } else if (name === '.maps') {
      l.btfMaps = s.index;
    } else if (name === '.BTF') {
      if (s.type !== SHT_PROGBITS) throw new ElfError(`.BTF has section type ${s.type}, not SHT_PROGBITS`, name);
      l.btf = s;
    } else if (name === '.BTF.ext') {
      if (s.type !== SHT_PROGBITS) throw new ElfError(`.BTF.ext has section type ${s.type}, not SHT_PROGBITS`, name);
      l.btfExt = s;
    } else if (s.type === SHT_SYMTAB) {
      // read by ElfFile
    } else if (s.type === SHT_PROGBITS && s.size > 0) {
      if (s.flags & SHF_EXECINSTR) {
        if (name === '.text') l.text = s.index;
        l.programSections.push(s);
      } else if (name === '.data' || name.startsWith('.data.')) {
        l.data.push({ section: s, kind: 'data' });
      } else if (name === '.rodata' || name.startsWith('.rodata.')) {
        l.data.push({ section: s, kind: 'rodata' });
      }
      // Anything else (.struct_ops, arena, xdp-tools' config sections...) is not ours to load.
    } else if (s.type === SHT_REL) {
      const target = elf.sections[s.info];
      if (!target || s.info === 0) throw new ElfError(`relocations apply to section #${s.info}, which does not exist`, name);
      if (name === '.rel.maps') l.mapRels = s;
      else if (target.type === SHT_PROGBITS && target.flags & SHF_EXECINSTR) l.rels.push(s);
    } else if (s.type === SHT_NOBITS && (name === '.bss' || name.startsWith('.bss.'))) {
      if (s.size > 0) l.data.push({ section: s, kind: 'bss' });
    }
  }
  return l;
}

const KERNEL_NAME_OK = /^[A-Za-z0-9_.]*$/;

/** libbpf's kernel-visible name for a data map: see internal_map_name(). */
export function internalMapName(objectName: string, sectionName: string): string {
  const MAX = 15;
  const sfx = Math.min(Math.max(7, sectionName.length), MAX);
  const custom = sectionName.indexOf('.', 1) >= 0;
  const pfx = custom ? 0 : Math.min(MAX - sfx, objectName.length);
  const raw = objectName.slice(0, pfx) + sectionName.slice(0, sfx);
  return KERNEL_NAME_OK.test(raw) ? raw : raw.replace(/[^A-Za-z0-9_.]/g, '_');
}

/** Global or weak STT_OBJECT symbols by name (the first of a name wins, as a scan would find). */
function varSymbols(elf: ElfFile): Map<string, ElfSymbol> {
  const out = new Map<string, ElfSymbol>();
  for (let i = 0; i < elf.symbolCount; i++) {
    const bind = elf.symbolBind(i);
    if (elf.symbolType(i) !== STT_OBJECT || (bind !== STB_GLOBAL && bind !== STB_WEAK)) continue;
    const s = elf.symbol(i);
    if (!out.has(s.name)) out.set(s.name, s);
  }
  return out;
}

/**
 * DATASEC sizes and variable offsets from the symbol table, as libbpf's btf_fixup_datasec
 * finds them: a variable's symbol is the global or weak STT_OBJECT of that name.
 */
function fixupBtf(btf: Btf, elf: ElfFile): Map<string, number> {
  const vars = varSymbols(elf);
  return fixupDatasecs(btf, {
    sectionSize: (name) => elf.section(name)?.size,
    symbolOffset: (varName) => vars.get(varName)?.value,
    symbolHidden: (varName) => {
      const v = vars.get(varName)?.visibility;
      return v === STV_HIDDEN || v === STV_INTERNAL;
    },
  });
}

function datasecByName(btf: Btf | undefined, name: string): number | undefined {
  if (!btf) return undefined;
  const id = btf.typeByName(name, 'datasec');
  return id;
}

function dataMaps(objectName: string, layout: Layout, btf: Btf | undefined, datasecSizes: ReadonlyMap<string, number>): MapSpec[] {
  const maps: MapSpec[] = [];
  for (const { section: s, kind } of layout.data) {
    // The ELF size of .bss can stop short of its last variable's padding; the fixed-up
    // DATASEC covers it, and the map's value must match the BTF value type's size.
    const size = Math.max(s.size, datasecSizes.get(s.name) ?? 0);
    const valueType = datasecByName(btf, s.name);
    let mmapable = false;
    if (btf && valueType !== undefined) {
      const t = btf.type(valueType);
      if (t.kind === 'datasec')
        mmapable = t.vars.some((v) => {
          const vt = btf.type(v.type);
          return vt.kind === 'var' && vt.linkage !== 'static';
        });
    }
    const ro = kind === 'rodata';
    maps.push({
      name: s.name,
      kernelName: internalMapName(objectName, s.name),
      kind: 'data',
      type: 'array',
      keySize: 4,
      valueSize: size,
      maxEntries: 1,
      flags: (ro ? BPF_F_RDONLY_PROG : 0) | (mmapable ? BPF_F_MMAPABLE : 0),
      numaNode: 0,
      mapExtra: 0n,
      pinning: 'none',
      btfKeyType: undefined,
      btfValueType: valueType,
      inner: undefined,
      initialSlots: [],
      data: dataOf(s, kind, size),
      freeze: ro,
      sectionName: s.name,
      sectionIndex: s.index,
      sectionOffset: 0,
    });
  }
  return maps;
}

/**
 * Larger than any data map a kernel creates (array values are capped at KMALLOC_MAX_SIZE:
 * 4 MiB on x86-64), yet safe to allocate: bounds what a hostile section size can cost.
 */
const MAX_DATA_SECTION = 64 << 20;

function dataOf(s: ElfSection, kind: DataKind, size: number): Uint8Array {
  if (size > MAX_DATA_SECTION)
    throw new ElfError(`data section is ${size} bytes, more than any BPF map value can hold (tsbpf's limit: ${MAX_DATA_SECTION})`, s.name);
  const out = new Uint8Array(size);
  if (kind !== 'bss') out.set(s.data);
  return out;
}

function collectVariables(elf: ElfFile, btf: Btf | undefined, maps: readonly MapSpec[]): Map<string, VariableSpec> {
  const out = new Map<string, VariableSpec>();
  const add = (v: VariableSpec) => {
    out.set(out.has(v.name) ? `${v.map}/${v.name}` : v.name, v);
  };
  for (const m of maps) {
    if (m.kind !== 'data') continue;
    const constant = m.name === '.rodata' || m.name.startsWith('.rodata.');
    const sec = m.btfValueType !== undefined && btf ? btf.type(m.btfValueType) : undefined;
    if (sec && sec.kind === 'datasec') {
      for (const v of sec.vars) {
        const vt = btf!.type(v.type);
        if (vt.kind !== 'var') continue;
        if (v.offset > m.valueSize || v.size > m.valueSize - v.offset)
          throw new ElfError(`variable '${vt.name}' (${v.size} bytes at ${v.offset}) lies outside its section (${m.valueSize} bytes)`, m.sectionName);
        add({ name: vt.name, map: m.name, offset: v.offset, size: v.size, btfType: vt.type, global: vt.linkage !== 'static', constant });
      }
      continue;
    }
    // No BTF for this section: the symbol table still names the variables.
    for (let i = 0; i < elf.symbolCount; i++) {
      if (elf.symbolShndx(i) !== m.sectionIndex || elf.symbolType(i) !== STT_OBJECT) continue;
      const s = elf.symbol(i);
      if (s.name === '') continue;
      if (s.value > m.valueSize || s.size > m.valueSize - s.value) continue;
      add({
        name: s.name,
        map: m.name,
        offset: s.value,
        size: s.size,
        btfType: undefined,
        global: s.bind !== STB_LOCAL && s.visibility !== STV_HIDDEN && s.visibility !== STV_INTERNAL,
        constant,
      });
    }
  }
  return out;
}

interface MutableProgram extends ProgramSpec {
  relocations: InsnRelocation[];
}

function programTypeFor(
  sectionName: string,
  progName: string,
  opts: OpenObjectOptions,
): Pick<ProgramSpec, 'type' | 'expectedAttachType' | 'flags' | 'attachTo' | 'target' | 'btfAttach'> {
  const override = opts.programTypes?.[progName] ?? opts.programTypes?.[sectionName];
  const info = parseProgramSection(sectionName);
  if (override) {
    if (!isProgramType(override.type))
      throw new ElfError(`program '${progName}': override names unknown program type '${String(override.type)}'`, sectionName);
    return {
      type: override.type,
      expectedAttachType: override.expectedAttachType ?? (info?.type === override.type ? info.expectedAttachType : undefined),
      flags: override.flags ?? (info?.type === override.type ? info.flags : 0),
      attachTo: info?.attachTo ?? (sectionName.includes('/') ? sectionName.slice(sectionName.indexOf('/') + 1) : undefined),
      target: info?.type === override.type ? info.target : undefined,
      btfAttach: info?.type === override.type ? info.def.btfAttach === true : false,
    };
  }
  // A section no SEC() convention knows: like libbpf, the object still opens, with the
  // program untyped, so it can be inspected and given a type before load (loading it untyped
  // is refused then, naming the program and how to type it).
  if (!info)
    return {
      type: undefined,
      expectedAttachType: undefined,
      flags: 0,
      attachTo: sectionName.includes('/') ? sectionName.slice(sectionName.indexOf('/') + 1) : undefined,
      target: undefined,
      btfAttach: false,
    };
  return {
    type: info.type,
    expectedAttachType: info.expectedAttachType,
    flags: info.flags,
    attachTo: info.attachTo,
    target: info.target,
    btfAttach: info.def.btfAttach === true,
  };
}

/**
 * The bytes a spec keeps, copied out of the input into one buffer: the spec keeps no view of
 * `bytes` (BpfObject.open reuses its read buffer; a caller may reuse theirs; a spec should not
 * keep a whole file alive), and one allocation is cheaper than one per part (a typed array's
 * own buffer costs about a microsecond). BTF first (its words are read in place, 4-aligned),
 * then .BTF.ext, then each program section, whose functions become views of it.
 */
function keptBytes(layout: Layout): { btf?: Uint8Array; btfExt?: Uint8Array; code: Map<number, Uint8Array> } {
  const align = (n: number): number => (n + 7) & ~7;
  let size = 0;
  if (layout.btf) size += align(layout.btf.data.byteLength);
  if (layout.btfExt) size += align(layout.btfExt.data.byteLength);
  for (const s of layout.programSections) size += align(s.data.byteLength);
  const all = new Uint8Array(size);
  let at = 0;
  const take = (src: Uint8Array): Uint8Array => {
    all.set(src, at);
    const view = all.subarray(at, at + src.byteLength);
    at += align(src.byteLength);
    return view;
  };
  const out: { btf?: Uint8Array; btfExt?: Uint8Array; code: Map<number, Uint8Array> } = { code: new Map() };
  if (layout.btf) out.btf = take(layout.btf.data);
  if (layout.btfExt) out.btfExt = take(layout.btfExt.data);
  for (const s of layout.programSections) out.code.set(s.index, take(s.data));
  return out;
}

function collectPrograms(elf: ElfFile, layout: Layout, opts: OpenObjectOptions, code: ReadonlyMap<number, Uint8Array>): MutableProgram[] {
  const progs: MutableProgram[] = [];
  const funcsBySection = new Map<number, ElfSymbol[]>();
  for (let i = 0; i < elf.symbolCount; i++) {
    if (elf.symbolType(i) !== STT_FUNC) continue;
    const sym = elf.symbol(i);
    let l = funcsBySection.get(sym.shndx);
    if (!l) funcsBySection.set(sym.shndx, (l = []));
    l.push(sym);
  }
  for (const s of layout.programSections) {
    const isText = s.index === layout.text;
    const optional = s.name.startsWith('?');
    const sectionName = optional ? s.name.slice(1) : s.name;
    const inSection: MutableProgram[] = [];
    for (const sym of funcsBySection.get(s.index) ?? []) {
      const off = sym.value;
      const size = sym.size;
      if (off > s.size || size > s.size - off)
        throw new ElfError(`program '${sym.name}' (${size} bytes at ${off}) crosses the section boundary (${s.size} bytes)`, s.name, off);
      if (size === 0 || size % INSN_SIZE !== 0 || off % INSN_SIZE !== 0)
        throw new ElfError(`program '${sym.name}' has offset ${off} and size ${size}: not whole instructions`, s.name, off);
      if (sym.name === '') throw new ElfError(`function symbol #${sym.index} has no name`, s.name, off);
      if (!isText && sym.bind === STB_LOCAL)
        throw new ElfError(`program '${sym.name}' is static; entry programs must be global functions`, s.name, off);
      const global = sym.bind !== STB_LOCAL;
      const types = isText
        ? { type: undefined, expectedAttachType: undefined, flags: 0, attachTo: undefined, target: undefined, btfAttach: false }
        : programTypeFor(sectionName, sym.name, opts);
      inSection.push({
        name: sym.name,
        sectionName,
        sectionIndex: s.index,
        type: types.type,
        expectedAttachType: types.expectedAttachType,
        flags: types.flags,
        attachTo: types.attachTo,
        target: types.target,
        btfAttach: types.btfAttach,
        autoload: !optional,
        isSubprogram: isText,
        global,
        hidden: global && (sym.visibility === STV_HIDDEN || sym.visibility === STV_INTERNAL),
        sectionInsnOffset: off / INSN_SIZE,
        instructions: code.get(s.index)!.subarray(off, off + size),
        relocations: [],
      });
    }
    inSection.sort((a, b) => a.sectionInsnOffset - b.sectionInsnOffset);
    for (let i = 1; i < inSection.length; i++) {
      const prev = inSection[i - 1]!;
      const cur = inSection[i]!;
      if (cur.sectionInsnOffset < prev.sectionInsnOffset + prev.instructions.byteLength / INSN_SIZE)
        throw new ElfError(`functions '${prev.name}' and '${cur.name}' overlap`, s.name, cur.sectionInsnOffset * INSN_SIZE);
    }
    progs.push(...inSection);
  }
  return progs;
}

/** The program of `section` containing instruction `insn` (section-relative), as libbpf's find_prog_by_sec_insn. */
export function findProgramAt(bySection: Map<number, ProgramSpec[]>, section: number, insn: number): ProgramSpec | undefined {
  const list = bySection.get(section);
  if (!list) return undefined;
  let lo = 0;
  let hi = list.length - 1;
  while (lo < hi) {
    const mid = lo + ((hi - lo + 1) >> 1);
    if (list[mid]!.sectionInsnOffset <= insn) lo = mid;
    else hi = mid - 1;
  }
  const p = list[lo];
  if (p && insn >= p.sectionInsnOffset && insn < p.sectionInsnOffset + p.instructions.byteLength / INSN_SIZE) return p;
  return undefined;
}

const NO_EXTERNS: ReadonlyMap<number, ExternSpec> = new Map();

function isExternSymbol(s: ElfSymbol): boolean {
  return s.shndx === SHN_UNDEF && (s.bind === STB_GLOBAL || s.bind === STB_WEAK) && s.type === STT_NOTYPE;
}

/** isExternSymbol for symbol `i`, without making its object. */
function isExternAt(elf: ElfFile, i: number): boolean {
  const bind = elf.symbolBind(i);
  return elf.symbolShndx(i) === SHN_UNDEF && (bind === STB_GLOBAL || bind === STB_WEAK) && elf.symbolType(i) === STT_NOTYPE;
}

function isSubprogSymbol(s: ElfSymbol, text: number): boolean {
  if (s.shndx !== text || text === 0) return false;
  if (s.bind === STB_LOCAL && s.type === STT_SECTION) return true;
  return (s.bind === STB_GLOBAL || s.bind === STB_WEAK) && s.type === STT_FUNC;
}

interface RelocContext {
  elf: ElfFile;
  layout: Layout;
  maps: readonly MapSpec[];
  externsBySymbol: ReadonlyMap<number, ExternSpec>;
}

/** One relocation against a program instruction → what it means (libbpf's bpf_program__record_reloc). */
function recordReloc(ctx: RelocContext, prog: ProgramSpec, insn: number, sym: ElfSymbol, relSec: string): InsnRelocation {
  const b = prog.instructions;
  const where = `${relSec}: program '${prog.name}' instruction ${insn}`;
  const call = isCall(b, insn);
  if (!call && !isLdImm64(b, insn))
    throw new ElfError(`${where} has a relocation against '${sym.name}' but is neither a call nor a 64-bit load (opcode 0x${b[insn * 8]!.toString(16)})`, relSec);
  if (isExternSymbol(sym)) {
    const ext = ctx.externsBySymbol.get(sym.index);
    if (!ext) throw new ElfError(`${where} refers to extern '${sym.name}', which has no BTF description (.kconfig/.ksyms)`, relSec);
    return { kind: 'extern', insn, extern: ext.name, call };
  }
  const { layout, elf } = ctx;
  if (call) {
    if (insnSrc(b, insn) !== BPF_PSEUDO_CALL) throw new ElfError(`${where}: call relocation on a helper call (src_reg ${insnSrc(b, insn)})`, relSec);
    if (sym.shndx === 0 || sym.shndx !== layout.text)
      throw new ElfError(`${where} calls '${sym.name}' in section '${elf.sectionName(sym.shndx)}'; subprograms must be in .text`, relSec);
    if (sym.value % INSN_SIZE) throw new ElfError(`${where} calls '${sym.name}' at misaligned offset ${sym.value}`, relSec);
    return { kind: 'call', insn, symbolOffset: sym.value };
  }
  if (sym.shndx === 0 || sym.shndx >= SHN_LORESERVE)
    throw new ElfError(`${where} refers to '${sym.name}' in special section 0x${sym.shndx.toString(16)} (an uninitialised global?)`, relSec);
  if (isSubprogSymbol(sym, layout.text)) {
    if (sym.value % INSN_SIZE || insnImm(b, insn) % INSN_SIZE)
      throw new ElfError(`${where} takes the address of '${sym.name}' at misaligned offset ${sym.value}+${insnImm(b, insn)}`, relSec);
    return { kind: 'func', insn, symbolOffset: sym.value };
  }
  const secName = elf.sectionName(sym.shndx);
  if (sym.shndx === layout.btfMaps || sym.shndx === layout.legacyMaps) {
    // Maps are named by their own global symbols. A reference through the section symbol is a
    // map without one (static, or with its symbol stripped): its offset sits in the instruction,
    // and resolving it by the symbol's value would silently pick the section's first map.
    if (sym.type === STT_SECTION || sym.bind === STB_LOCAL)
      throw new ElfError(
        `${where} refers to a map in ${secName} at offset ${sym.value + insnImm(b, insn)} that has no global symbol (a static map definition): maps must be global variables`,
        secName,
        sym.value + insnImm(b, insn),
      );
    const map = ctx.maps.find((m) => (m.kind === 'btf' || m.kind === 'legacy') && m.sectionIndex === sym.shndx && m.sectionOffset === sym.value);
    if (!map) throw new ElfError(`${where} refers to '${sym.name}' at offset ${sym.value} of ${secName}, where no map is defined`, relSec);
    return { kind: 'map', insn, map: map.name };
  }
  const data = ctx.maps.find((m) => m.kind === 'data' && m.sectionIndex === sym.shndx);
  if (!data) throw new ElfError(`${where} refers to '${sym.name || secName}' in section '${secName}', which is neither a map nor global data`, relSec);
  return { kind: 'data', insn, map: data.name, offset: sym.value };
}

function collectRelocations(ctx: RelocContext, programs: readonly MutableProgram[]): void {
  const bySection = new Map<number, MutableProgram[]>();
  for (const p of programs) {
    let l = bySection.get(p.sectionIndex);
    if (!l) bySection.set(p.sectionIndex, (l = []));
    l.push(p);
  }
  for (const rel of ctx.layout.rels) {
    const target = ctx.elf.sections[rel.info]!;
    for (const r of ctx.elf.relocations(rel)) {
      if (r.offset % INSN_SIZE) throw new ElfError(`relocation at offset ${r.offset} of ${target.name} is not on an instruction boundary`, rel.name, r.offset);
      const sym = ctx.elf.symbol(r.symbol);
      if (sym.shndx >= ctx.elf.sections.length && sym.shndx < SHN_LORESERVE)
        throw new ElfError(`symbol '${sym.name}' (#${sym.index}) points to section #${sym.shndx}, which does not exist`, rel.name, r.offset);
      const sectionInsn = r.offset / INSN_SIZE;
      const prog = findProgramAt(bySection as Map<number, ProgramSpec[]>, rel.info, sectionInsn) as MutableProgram | undefined;
      // libbpf skips these: relocations in code no function symbol covers (an overridden weak function).
      if (!prog) continue;
      const insn = sectionInsn - prog.sectionInsnOffset;
      if (isLdImm64(prog.instructions, insn) && (insn + 1) * INSN_SIZE >= prog.instructions.byteLength)
        throw new ElfError(`program '${prog.name}': 64-bit load at instruction ${insn} is cut off by the end of the function`, target.name, r.offset);
      prog.relocations.push(recordReloc(ctx, prog, insn, sym, rel.name));
    }
  }
  for (const p of programs) if (!sortedByInsn(p.relocations)) p.relocations.sort((a, b) => a.insn - b.insn);
}

/** clang writes a section's relocations in offset order, so sorting is rarely needed. */
function sortedByInsn(relos: readonly InsnRelocation[]): boolean {
  for (let i = 1; i < relos.length; i++) if (relos[i - 1]!.insn > relos[i]!.insn) return false;
  return true;
}

/** libbpf marks hidden global functions static in BTF so the verifier checks them with their callers. */
function markHiddenFuncsStatic(btf: Btf, programs: readonly ProgramSpec[]): void {
  for (const p of programs) {
    if (!p.hidden) continue;
    const id = btf.typeByName(p.name, 'func');
    if (id === undefined) continue;
    const t = btf.type(id);
    if (t.kind === 'func' && t.linkage !== 'static') btf.replace(id, { ...t, linkage: 'static' });
  }
}

/** Parses a BPF ELF object into an ObjectSpec. Throws ElfError/BtfError (TsbpfErrors) on malformed input. */
export function openObjectSpec(bytes: Uint8Array, opts: OpenObjectOptions = {}): ObjectSpec {
  if (!(bytes instanceof Uint8Array)) throw new ElfError('input is not a Uint8Array');
  const elf = new ElfFile(bytes);
  if (elf.symtabIndex === 0) throw new ElfError('no symbol table (a stripped object?): programs and maps cannot be found');
  const name = (opts.name ?? 'object').slice(0, 15);
  const layout = classify(elf);

  const kept = keptBytes(layout);
  const btf = kept.btf ? Btf.parse(kept.btf) : undefined;
  // libbpf's order: externs rewrite .kconfig/.ksyms first, then the other DATASECs are fixed up.
  const externs = btf ? collectExterns(elf, btf) : new Map<string, ExternSpec>();
  const datasecSizes = btf ? fixupBtf(btf, elf) : new Map<string, number>();

  const programs = collectPrograms(elf, layout, opts, kept.code);
  const entry = programs.filter((p) => !p.isSubprogram);

  if (!btf) {
    let ext: ElfSymbol | undefined;
    for (let i = 0; i < elf.symbolCount && !ext; i++) if (isExternAt(elf, i) && elf.symbol(i).name !== '') ext = elf.symbol(i);
    if (ext) throw new ElfError(`extern '${ext.name}' needs BTF to be resolved, but the object has no .BTF section (compile with -g)`);
  }

  const maps: MapSpec[] = [];
  if (layout.legacyMaps) maps.push(...parseLegacyMaps(elf, elf.sections[layout.legacyMaps]!));
  if (layout.btfMaps) {
    if (!btf) throw new ElfError('BTF-defined maps need BTF, but the object has no .BTF section (compile with -g)', '.maps');
    maps.push(...parseBtfMaps(elf, btf, elf.sections[layout.btfMaps]!));
  }
  maps.push(...dataMaps(name, layout, btf, datasecSizes));
  const kconfigSize = [...externs.values()].reduce((end, e) => (e.kconfig ? Math.max(end, e.kconfig.offset + e.kconfig.size) : end), 0);
  if (kconfigSize > 0) {
    maps.push({
      name: '.kconfig',
      kernelName: internalMapName(name, '.kconfig'),
      kind: 'kconfig',
      type: 'array',
      keySize: 4,
      valueSize: kconfigSize,
      maxEntries: 1,
      flags: BPF_F_RDONLY_PROG | BPF_F_MMAPABLE,
      numaNode: 0,
      mapExtra: 0n,
      pinning: 'none',
      btfKeyType: undefined,
      btfValueType: btf?.typeByName('.kconfig', 'datasec'),
      inner: undefined,
      initialSlots: [],
      data: new Uint8Array(kconfigSize),
      freeze: true,
      sectionName: '.kconfig',
      sectionIndex: 0,
      sectionOffset: 0,
    });
  }
  const seen = new Set<string>();
  for (const m of maps) {
    if (seen.has(m.name)) throw new ElfError(`two maps are named '${m.name}'`, m.sectionName);
    seen.add(m.name);
  }

  let externsBySymbol: ReadonlyMap<number, ExternSpec> = NO_EXTERNS;
  if (externs.size > 0) {
    const bySymbol = new Map<number, ExternSpec>();
    for (let i = 0; i < elf.symbolCount; i++) {
      if (!isExternAt(elf, i)) continue;
      const s = elf.symbol(i);
      if (s.name === '') continue;
      const e = externs.get(s.name);
      if (e) bySymbol.set(s.index, e);
    }
    externsBySymbol = bySymbol;
  }
  collectRelocations({ elf, layout, maps, externsBySymbol }, programs);

  if (layout.mapRels) {
    if (!btf || !layout.btfMaps) throw new ElfError('.rel.maps without BTF-defined maps', '.rel.maps');
    collectMapSlots(elf, btf, layout.mapRels, layout.btfMaps, maps, entry);
  }
  if (btf) markHiddenFuncsStatic(btf, programs);

  const progMap = new Map<string, ProgramSpec>();
  const subMap = new Map<string, ProgramSpec>();
  for (const p of programs) {
    const into = p.isSubprogram ? subMap : progMap;
    if (into.has(p.name)) throw new ElfError(`two ${p.isSubprogram ? 'subprograms' : 'programs'} are named '${p.name}'`, p.sectionName);
    into.set(p.name, p);
  }
  return {
    name,
    license: layout.license,
    kernelVersion: layout.kernelVersion,
    programs: progMap,
    subprograms: subMap,
    maps: new Map(maps.map((m) => [m.name, m])),
    variables: collectVariables(elf, btf, maps),
    externs,
    btf,
    btfExt: btf && kept.btfExt ? parseBtfExt(kept.btfExt, btf) : undefined,
  };
}
