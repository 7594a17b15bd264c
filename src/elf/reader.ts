// A bounds-checked reader for ELF64 little-endian relocatable BPF objects. Every read is
// checked against the buffer before the DataView sees it, so malformed input surfaces as an
// ElfError naming the section and offset, never as a RangeError.
import { Buffer, isAscii } from 'node:buffer';
import { ElfError } from '../errors.js';

export const EM_BPF = 247;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_GNU_IFUNC = 10;

export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;

/** BPF relocation types (llvm's ELFRelocs/BPF.def). */
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;
const KNOWN_RELOCATION_TYPES = new Set([
  R_BPF_NONE,
  R_BPF_64_64,
  R_BPF_64_ABS64,
  R_BPF_64_ABS32,
  R_BPF_64_NODYLD32,
  R_BPF_64_32,
]);

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;
/** A BPF object has dozens of sections; this bounds work on hostile headers. */
const MAX_SECTIONS = 65_536;

export interface ElfSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  /** Size in the section header (for SHT_NOBITS, the size in memory: no file bytes). */
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  /** sh_addr: where the section is loaded (0 in relocatable BPF objects). */
  readonly addr: number;
  /** The file bytes (a view, not a copy). Empty for SHT_NOBITS. */
  readonly data: Uint8Array;
}

export interface ElfSymbol {
  readonly index: number;
  readonly name: string;
  readonly value: number;
  readonly size: number;
  readonly bind: number;
  readonly type: number;
  readonly visibility: number;
  /** Section index (SHN_* values for special ones). */
  readonly shndx: number;
}

export interface ElfRelocation {
  /** Byte offset in the target section. */
  readonly offset: number;
  readonly symbol: number;
  readonly type: number;
}

/**
 * A u64 field as a number. Runs for every symbol and section header, so: two 32-bit reads
 * instead of a BigInt, and the error's wording is only put together on error. `section` is a
 * name, or a section index (shown as `#i`); `index` numbers the item (`symbol #3 value`).
 */
function u64(view: DataView, at: number, what: string, section?: string | number, index?: number): number {
  const lo = view.getUint32(at, true);
  const hi = view.getUint32(at + 4, true);
  if (hi > 0x1fffff)
    throw new ElfError(`${describe(what, index)} ${view.getBigUint64(at, true)} is out of range`, typeof section === 'number' ? `#${section}` : section, at);
  return hi * 0x1_0000_0000 + lo;
}

function rangeName(what: number): string {
  return what === -1 ? 'the ELF header' : what === -2 ? 'the section header table' : `section #${what}`;
}

/** `symbol #3 value` from ('symbol value', 3): the indexed wording of an error message. */
function describe(what: string, index: number | undefined): string {
  if (index === undefined) return what;
  const sp = what.indexOf(' ');
  return sp < 0 ? what : `${what.slice(0, sp)} #${index}${what.slice(sp)}`;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

// Section header fields in ElfFile's scratch array, RAW_FIELDS per section.
const R_NAME = 0, R_TYPE = 1, R_FLAGS = 2, R_ADDR = 3, R_OFFSET = 4, R_SIZE = 5, R_LINK = 6, R_INFO = 7, R_ALIGN = 8, R_ENTSIZE = 9;
const RAW_FIELDS = 10;
const NO_BYTES = new Uint8Array(0);

// Scratch arrays reused by every ElfFile (parsing is synchronous): a typed array of this size
// lives outside the JavaScript heap, and allocating one per file costs more than the reads.
const SCRATCH_KEEP = 1024 * RAW_FIELDS;
let rawScratch: Float64Array = new Float64Array(64 * RAW_FIELDS);
let rangeScratch: Float64Array = new Float64Array(3 * 66);
function scratch(cur: Float64Array, need: number): Float64Array {
  if (cur.length >= need) return cur;
  return new Float64Array(need);
}

/**
 * A section header. `data` is made on first use: most sections of an object (DWARF, the
 * relocations of DWARF) are never read, and a typed-array view costs more than the header.
 */
class Section implements ElfSection {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly addralign: number;
  readonly entsize: number;
  readonly addr: number;
  #data: Uint8Array | undefined;
  readonly #file: Uint8Array;

  constructor(file: Uint8Array, readonly index: number, readonly name: string, raw: Float64Array, r: number) {
    this.#file = file;
    this.type = raw[r + R_TYPE]!;
    this.flags = raw[r + R_FLAGS]!;
    this.addr = raw[r + R_ADDR]!;
    this.offset = raw[r + R_OFFSET]!;
    this.size = raw[r + R_SIZE]!;
    this.link = raw[r + R_LINK]!;
    this.info = raw[r + R_INFO]!;
    this.addralign = raw[r + R_ALIGN]!;
    this.entsize = raw[r + R_ENTSIZE]!;
  }

  get data(): Uint8Array {
    if (this.#data === undefined)
      this.#data = this.type === SHT_NOBITS || this.type === SHT_NULL ? NO_BYTES : this.#file.subarray(this.offset, this.offset + this.size);
    return this.#data;
  }
}

/** The object for entry `i` of a symbol table that checkSymbols accepted (so nothing here throws). */
function symbolAt(d: Uint8Array, view: DataView, i: number, names: ElfStrings, table: string): ElfSymbol {
  const at = i * SYM_SIZE;
  const info = d[at + 4]!;
  return new Sym(
    i,
    names,
    view.getUint32(at, true),
    info >> 4,
    info & 0xf,
    d[at + 5]! & 0x3,
    view.getUint16(at + 6, true),
    u64(view, at + 8, 'symbol value', table, i),
    u64(view, at + 16, 'symbol size', table, i),
  );
}

/**
 * A symbol. Its name is checked when the table is read but made into a string on first use:
 * most symbols of a BPF object are jump labels and section symbols nobody asks the name of.
 */
class Sym implements ElfSymbol {
  #name: string | undefined;
  readonly #names: ElfStrings;
  readonly #nameOff: number;

  constructor(
    readonly index: number,
    names: ElfStrings,
    nameOff: number,
    readonly bind: number,
    readonly type: number,
    readonly visibility: number,
    readonly shndx: number,
    readonly value: number,
    readonly size: number,
  ) {
    this.#names = names;
    this.#nameOff = nameOff;
  }

  get name(): string {
    if (this.#name === undefined) this.#name = this.#names.get(this.#nameOff, 'symbol name', this.index);
    return this.#name;
  }
}

/** Refuses section file ranges that overlap each other or the headers. */
function checkOverlaps(raw: Float64Array, shoff: number, shnum: number): void {
  // Ranges as (start, end, what) triples in one scratch array: what is -1 for the ELF header,
  // -2 for the section header table, else a section index (put in words only for the error).
  const t = scratch(rangeScratch, 3 * (shnum + 2));
  if (t.length <= 3 * SCRATCH_KEEP) rangeScratch = t;
  t[0] = 0;
  t[1] = EHDR_SIZE;
  t[2] = -1;
  t[3] = shoff; // shoff >= EHDR_SIZE was checked: the two are in order
  t[4] = shoff + shnum * SHDR_SIZE;
  t[5] = -2;
  let count = 2;
  for (let i = 1; i < shnum; i++) {
    const r = i * RAW_FIELDS;
    const type = raw[r + R_TYPE]!;
    const size = raw[r + R_SIZE]!;
    if (type === SHT_NOBITS || type === SHT_NULL || size === 0) continue;
    // Insertion by (start, end): objects list their sections mostly in file order, so this is
    // close to one pass.
    const s = raw[r + R_OFFSET]!;
    const e = s + size;
    let j = count++;
    while (j > 0 && (t[3 * j - 3]! > s || (t[3 * j - 3] === s && t[3 * j - 2]! > e))) {
      t[3 * j] = t[3 * j - 3]!;
      t[3 * j + 1] = t[3 * j - 2]!;
      t[3 * j + 2] = t[3 * j - 1]!;
      j--;
    }
    t[3 * j] = s;
    t[3 * j + 1] = e;
    t[3 * j + 2] = i;
  }
  for (let i = 1; i < count; i++) {
    const cs = t[3 * i]!;
    if (cs >= t[3 * i - 2]!) continue;
    throw new ElfError(
      `${rangeName(t[3 * i + 2]!)} (bytes ${cs}..${t[3 * i + 1]}) overlaps ${rangeName(t[3 * i - 1]!)} (bytes ${t[3 * i - 3]}..${t[3 * i - 2]})`,
      undefined,
      cs,
    );
  }
}

/**
 * A parsed ELF file. Sections, section names and the symbol table are read and checked eagerly;
 * symbol objects are made on demand (`symbol(i)`, or all of them through `symbols`), relocations
 * when asked for.
 */
export class ElfFile {
  readonly bytes: Uint8Array;
  readonly sections: readonly ElfSection[];
  /** The symbol table (index 0 is the null symbol); empty when the file has none. */
  readonly symtabIndex: number;
  /** Number of entries in the symbol table (index 0 is the null symbol); 0 without one. */
  readonly symbolCount: number;
  // The symbol table, read in place: field readers below and `symbol(i)` decode entries.
  readonly #sym: Uint8Array;
  readonly #symView: DataView;
  readonly #symNames: ElfStrings | undefined;
  readonly #symCache: (ElfSymbol | undefined)[];
  #allSymbols: readonly ElfSymbol[] | undefined;
  /** Sections by name, built on the first lookup in a file with many sections. */
  private byName: Map<string, ElfSection> | undefined;

  /**
   * `native: true` reads a host executable or shared library (ET_EXEC/ET_DYN of any machine:
   * for uprobes, which need its symbols and section addresses) instead of a BPF object.
   */
  constructor(bytes: Uint8Array, opts: { native?: boolean } = {}) {
    this.bytes = bytes;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.byteLength < 16) throw new ElfError(`file is ${bytes.byteLength} bytes, too short for an ELF identification`, undefined, 0);
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46)
      throw new ElfError('not an ELF file (bad magic)', undefined, 0);
    if (bytes[4] !== 2)
      throw new ElfError(`ELF class ${bytes[4]} is not ELFCLASS64 (${bytes[4] === 1 ? '32-bit objects are' : 'it is'} not BPF)`, undefined, 4);
    if (bytes[5] !== 1)
      throw new ElfError(
        bytes[5] === 2
          ? 'big-endian BPF objects are not supported (compile with -target bpfel or -target bpf on a little-endian host)'
          : `bad ELF data encoding ${bytes[5]}`,
        undefined,
        5,
      );
    if (bytes[6] !== 1) throw new ElfError(`unsupported ELF version ${bytes[6]}`, undefined, 6);
    if (bytes.byteLength < EHDR_SIZE) throw new ElfError(`file is ${bytes.byteLength} bytes, too short for an ELF64 header`, undefined, 0);
    const eType = view.getUint16(16, true);
    const machine = view.getUint16(18, true);
    if (opts.native) {
      if (eType !== ET_EXEC && eType !== ET_DYN) throw new ElfError(`e_type is ${eType}, not ET_EXEC or ET_DYN: not an executable or shared library`, undefined, 16);
    } else {
      // Old LLVMs wrote EM_NONE; libbpf accepts it too.
      if (machine !== EM_BPF && machine !== 0) throw new ElfError(`e_machine is ${machine}, not EM_BPF (247): not a BPF object`, undefined, 18);
      if (eType !== ET_REL) throw new ElfError(`e_type is ${eType}, not ET_REL: BPF objects are relocatable files`, undefined, 16);
    }
    const shoff = u64(view, 40, 'e_shoff');
    const shentsize = view.getUint16(58, true);
    let shnum = view.getUint16(60, true);
    let shstrndx = view.getUint16(62, true);
    if (shoff === 0) throw new ElfError('no section header table (e_shoff is 0)', undefined, 40);
    if (shentsize !== SHDR_SIZE) throw new ElfError(`e_shentsize is ${shentsize}, expected ${SHDR_SIZE}`, undefined, 58);
    if (shoff > bytes.byteLength - SHDR_SIZE || shoff < EHDR_SIZE)
      throw new ElfError(`section header table at ${shoff} is outside the file (${bytes.byteLength} bytes)`, undefined, 40);
    if (shnum === 0 || shstrndx === SHN_XINDEX) {
      // Extended numbering: the real values live in section header 0.
      if (shnum === 0) shnum = u64(view, shoff + 32, 'extended section count');
      if (shstrndx === SHN_XINDEX) shstrndx = view.getUint32(shoff + 40, true);
    }
    if (shnum === 0) throw new ElfError('the file has no sections', undefined, 60);
    if (shnum > MAX_SECTIONS) throw new ElfError(`${shnum} sections is more than this reader accepts (${MAX_SECTIONS})`, undefined, 60);
    if (shoff + shnum * SHDR_SIZE > bytes.byteLength)
      throw new ElfError(`section header table (${shnum} entries at ${shoff}) runs past the end of the file (${bytes.byteLength} bytes)`, undefined, shoff);
    if (shstrndx >= shnum) throw new ElfError(`section name table index ${shstrndx} is not a section (${shnum} sections)`, undefined, 62);

    // Header fields as numbers first (no object per section until the names are known).
    const raw = scratch(rawScratch, shnum * RAW_FIELDS);
    if (raw.length <= SCRATCH_KEEP) rawScratch = raw;
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * SHDR_SIZE;
      const r = i * RAW_FIELDS;
      const type = view.getUint32(at + 4, true);
      const offset = u64(view, at + 24, 'sh_offset', i);
      const size = u64(view, at + 32, 'sh_size', i);
      raw[r + R_NAME] = view.getUint32(at, true);
      raw[r + R_TYPE] = type;
      raw[r + R_FLAGS] = u64(view, at + 8, 'sh_flags', i);
      raw[r + R_ADDR] = u64(view, at + 16, 'sh_addr', i);
      raw[r + R_OFFSET] = offset;
      raw[r + R_SIZE] = size;
      raw[r + R_LINK] = view.getUint32(at + 40, true);
      raw[r + R_INFO] = view.getUint32(at + 44, true);
      raw[r + R_ALIGN] = u64(view, at + 48, 'sh_addralign', i);
      raw[r + R_ENTSIZE] = u64(view, at + 56, 'sh_entsize', i);
      if (i > 0 && type !== SHT_NOBITS && type !== SHT_NULL && size > 0) {
        if (offset > bytes.byteLength || size > bytes.byteLength - offset)
          throw new ElfError(`section #${i} (${size} bytes at ${offset}) runs past the end of the file (${bytes.byteLength} bytes)`, `#${i}`, at + 24);
      }
    }
    checkOverlaps(raw, shoff, shnum);

    const sr = shstrndx * RAW_FIELDS;
    if (raw[sr + R_TYPE] !== SHT_STRTAB) throw new ElfError(`section name table #${shstrndx} has type ${raw[sr + R_TYPE]}, not SHT_STRTAB`, `#${shstrndx}`);
    const shstr = new ElfStrings(bytes.subarray(raw[sr + R_OFFSET]!, raw[sr + R_OFFSET]! + raw[sr + R_SIZE]!), '.shstrtab');
    const sections: ElfSection[] = new Array(shnum);
    for (let i = 0; i < shnum; i++) {
      const r = i * RAW_FIELDS;
      const name = i === 0 ? '' : shstr.get(raw[r + R_NAME]!, 'section name', i);
      const s = new Section(bytes, i, name, raw, r);
      sections[i] = s;
    }
    this.sections = sections;

    let symtab: ElfSection | undefined;
    for (const s of sections) {
      if (s.type !== SHT_SYMTAB) continue;
      if (symtab) throw new ElfError(`more than one symbol table (${symtab.name} and ${s.name})`, s.name);
      symtab = s;
    }
    this.symtabIndex = symtab?.index ?? 0;
    if (symtab) {
      // clang puts section and symbol names in one table: decode it once.
      this.#symNames = this.checkSymbols(symtab, symtab.link === shstrndx ? shstr : undefined);
      this.#sym = symtab.data;
    } else this.#sym = NO_BYTES;
    this.#symView = new DataView(this.#sym.buffer, this.#sym.byteOffset, this.#sym.byteLength);
    this.symbolCount = this.#sym.byteLength / SYM_SIZE;
    this.#symCache = new Array(this.symbolCount);
  }

  /** Every symbol of the symbol table (index 0 is the null symbol); empty when the file has none. */
  get symbols(): readonly ElfSymbol[] {
    if (this.#allSymbols === undefined) {
      const all: ElfSymbol[] = new Array(this.symbolCount);
      for (let i = 0; i < all.length; i++) all[i] = this.symbol(i);
      this.#allSymbols = all;
    }
    return this.#allSymbols;
  }

  /** Symbol `i` of the symbol table (0 <= i < symbolCount). */
  symbol(i: number): ElfSymbol {
    let s = this.#symCache[i];
    if (s === undefined) {
      if (!(i >= 0 && i < this.symbolCount)) throw new ElfError(`symbol #${i} does not exist (the symbol table has ${this.symbolCount})`, this.sectionName(this.symtabIndex));
      this.#symCache[i] = s = symbolAt(this.#sym, this.#symView, i, this.#symNames!, '');
    }
    return s;
  }

  // Fields of symbol i without making its object (i is in range: callers loop to symbolCount).
  symbolType(i: number): number {
    return this.#sym[i * SYM_SIZE + 4]! & 0xf;
  }
  symbolBind(i: number): number {
    return this.#sym[i * SYM_SIZE + 4]! >> 4;
  }
  symbolShndx(i: number): number {
    return this.#symView.getUint16(i * SYM_SIZE + 6, true);
  }

  /** The symbols of a symbol table section (SHT_SYMTAB or SHT_DYNSYM), checked like `symbols`. */
  symbolsOf(table: ElfSection): ElfSymbol[] {
    if (table.type !== SHT_SYMTAB && table.type !== SHT_DYNSYM) throw new ElfError(`section type ${table.type} is not a symbol table`, table.name);
    if (table.index === this.symtabIndex && this.symtabIndex !== 0) return [...this.symbols];
    const names = this.checkSymbols(table);
    const d = table.data;
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const out: ElfSymbol[] = new Array(d.byteLength / SYM_SIZE);
    for (let i = 0; i < out.length; i++) out[i] = symbolAt(d, view, i, names, table.name);
    return out;
  }

  /** Checks a symbol table's entries (sizes, name offsets, value and size ranges); returns its string table. */
  private checkSymbols(symtab: ElfSection, strings?: ElfStrings): ElfStrings {
    if (symtab.entsize !== SYM_SIZE) throw new ElfError(`symbol table entry size is ${symtab.entsize}, expected ${SYM_SIZE}`, symtab.name);
    if (symtab.size % SYM_SIZE !== 0) throw new ElfError(`symbol table size ${symtab.size} is not a multiple of ${SYM_SIZE}`, symtab.name);
    const strSec = this.sections[symtab.link];
    if (!strSec || symtab.link === 0 || strSec.type !== SHT_STRTAB)
      throw new ElfError(`symbol table links to section #${symtab.link}, which is not a string table`, symtab.name);
    const d = symtab.data;
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const names = strings ?? new ElfStrings(strSec.data, strSec.name);
    const n = d.byteLength / SYM_SIZE;
    for (let i = 0; i < n; i++) {
      const at = i * SYM_SIZE;
      names.check(view.getUint32(at, true), 'symbol name', i);
      u64(view, at + 8, 'symbol value', symtab.name, i);
      u64(view, at + 16, 'symbol size', symtab.name, i);
    }
    return names;
  }

  /** The first section named `name`. */
  section(name: string): ElfSection | undefined {
    const all = this.sections;
    if (all.length <= 64) {
      // A BPF object has a few dozen sections: a scan beats hashing every name up front.
      for (let i = 1; i < all.length; i++) if (all[i]!.name === name) return all[i];
      return undefined;
    }
    if (!this.byName) {
      this.byName = new Map();
      for (const s of all) if (s.name !== '' && !this.byName.has(s.name)) this.byName.set(s.name, s);
    }
    return this.byName.get(name);
  }

  /** The name of section `index`, or `#index` when there is no such section. */
  sectionName(index: number): string {
    return this.sections[index]?.name ?? `#${index}`;
  }

  /** Reads a SHT_REL section's entries, checking them against the symbol table and the target section. */
  relocations(rel: ElfSection): ElfRelocation[] {
    if (rel.type !== SHT_REL) throw new ElfError(`section type ${rel.type} is not SHT_REL`, rel.name);
    if (rel.entsize !== REL_SIZE) throw new ElfError(`relocation entry size is ${rel.entsize}, expected ${REL_SIZE}`, rel.name);
    if (rel.size % REL_SIZE !== 0) throw new ElfError(`relocation section size ${rel.size} is not a multiple of ${REL_SIZE}`, rel.name);
    if (rel.link !== this.symtabIndex || this.symtabIndex === 0)
      throw new ElfError(`relocations link to section #${rel.link}, not the symbol table`, rel.name);
    const target = this.sections[rel.info];
    if (!target || rel.info === 0) throw new ElfError(`relocations apply to section #${rel.info}, which does not exist`, rel.name);
    const d = rel.data;
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const n = d.byteLength / REL_SIZE;
    const out: ElfRelocation[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const at = i * REL_SIZE;
      const offset = u64(view, at, 'relocation offset', rel.name, i);
      const type = view.getUint32(at + 8, true);
      const symbol = view.getUint32(at + 12, true);
      if (!KNOWN_RELOCATION_TYPES.has(type)) throw new ElfError(`relocation #${i} has unknown type ${type}`, rel.name, at + 8);
      if (symbol >= this.symbolCount)
        throw new ElfError(`relocation #${i} refers to symbol #${symbol}, but the symbol table has ${this.symbolCount}`, rel.name, at + 12);
      const width = type === R_BPF_64_ABS32 || type === R_BPF_64_NODYLD32 ? 4 : 8;
      const limit = target.type === SHT_NOBITS ? 0 : target.size;
      if (offset > limit || limit - offset < width)
        throw new ElfError(`relocation #${i} at offset ${offset} is outside ${target.name} (${limit} bytes)`, rel.name, at);
      out[i] = { offset, symbol, type };
    }
    return out;
  }
}

/**
 * A string table read as one latin1 string (one native decode per table), so each name is a
 * native indexOf and slice; tables with bytes >= 0x80 decode those names as UTF-8.
 */
export class ElfStrings {
  private text: string | undefined;
  private ascii = false;
  private readonly length: number;
  /** Index of the table's last NUL (-1: none): any offset up to it has a terminator. */
  private readonly lastNul: number;
  constructor(
    private readonly table: Uint8Array,
    private readonly section: string,
  ) {
    this.length = table.byteLength;
    this.lastNul = table.lastIndexOf(0);
  }

  /** Refuses an offset `get` would refuse, without reading the string. */
  check(offset: number, what: string, index?: number): void {
    if (offset >= this.length) {
      if (offset === 0) return;
      throw new ElfError(`${describe(what, index)} at string offset ${offset} is outside the string table (${this.length} bytes)`, this.section, offset);
    }
    if (offset > this.lastNul) throw new ElfError(`${describe(what, index)} at string offset ${offset} is not NUL-terminated`, this.section, offset);
  }

  /** The NUL-terminated string at `offset`; refuses out-of-range or unterminated ones. */
  get(offset: number, what: string, index?: number): string {
    this.check(offset, what, index);
    if (offset >= this.length) return ''; // offset 0 of an empty table
    let text = this.text;
    if (text === undefined) {
      const b = Buffer.from(this.table.buffer, this.table.byteOffset, this.length);
      this.text = text = b.toString('latin1');
      this.ascii = isAscii(b);
    }
    const end = text.indexOf('\0', offset);
    return this.ascii ? text.slice(offset, end) : decoder.decode(this.table.subarray(offset, end));
  }
}

/** Reads one NUL-terminated string at `offset` in a string table (see ElfStrings for many). */
export function readString(table: Uint8Array, offset: number, what: string, section: string, index?: number): string {
  return new ElfStrings(table, section).get(offset, what, index);
}

export function parseElf(bytes: Uint8Array): ElfFile {
  return new ElfFile(bytes);
}
