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

function rangeName(what: string | number): string {
  return typeof what === 'number' ? `section #${what}` : what;
}

/** `symbol #3 value` from ('symbol value', 3): the indexed wording of an error message. */
function describe(what: string, index: number | undefined): string {
  if (index === undefined) return what;
  const sp = what.indexOf(' ');
  return sp < 0 ? what : `${what.slice(0, sp)} #${index}${what.slice(sp)}`;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A parsed ELF file. Sections, symbols and section names are read eagerly; relocations on demand. */
export class ElfFile {
  readonly bytes: Uint8Array;
  readonly sections: readonly ElfSection[];
  /** The symbol table (index 0 is the null symbol); empty when the file has none. */
  readonly symbols: readonly ElfSymbol[];
  readonly symtabIndex: number;
  private readonly byName = new Map<string, ElfSection>();

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

    interface Raw { name: number; type: number; flags: number; addr: number; offset: number; size: number; link: number; info: number; addralign: number; entsize: number }
    const raws: Raw[] = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * SHDR_SIZE;
      const raw: Raw = {
        name: view.getUint32(at, true),
        type: view.getUint32(at + 4, true),
        flags: u64(view, at + 8, 'sh_flags', i),
        addr: u64(view, at + 16, 'sh_addr', i),
        offset: u64(view, at + 24, 'sh_offset', i),
        size: u64(view, at + 32, 'sh_size', i),
        link: view.getUint32(at + 40, true),
        info: view.getUint32(at + 44, true),
        addralign: u64(view, at + 48, 'sh_addralign', i),
        entsize: u64(view, at + 56, 'sh_entsize', i),
      };
      if (i > 0 && raw.type !== SHT_NOBITS && raw.type !== SHT_NULL && raw.size > 0) {
        if (raw.offset > bytes.byteLength || raw.size > bytes.byteLength - raw.offset)
          throw new ElfError(`section #${i} (${raw.size} bytes at ${raw.offset}) runs past the end of the file (${bytes.byteLength} bytes)`, `#${i}`, at + 24);
      }
      raws.push(raw);
    }
    this.checkOverlaps(raws, shoff, shnum);

    const strtab = raws[shstrndx]!;
    if (strtab.type !== SHT_STRTAB) throw new ElfError(`section name table #${shstrndx} has type ${strtab.type}, not SHT_STRTAB`, `#${shstrndx}`);
    const shstr = new ElfStrings(bytes.subarray(strtab.offset, strtab.offset + strtab.size), '.shstrtab');
    const sections: ElfSection[] = [];
    for (let i = 0; i < shnum; i++) {
      const raw = raws[i]!;
      const name = i === 0 ? '' : shstr.get(raw.name, 'section name', i);
      const data = raw.type === SHT_NOBITS || raw.type === SHT_NULL ? new Uint8Array(0) : bytes.subarray(raw.offset, raw.offset + raw.size);
      const s: ElfSection = { index: i, name, type: raw.type, flags: raw.flags, offset: raw.offset, size: raw.size, link: raw.link, info: raw.info, addralign: raw.addralign, entsize: raw.entsize, addr: raw.addr, data };
      sections.push(s);
      if (name !== '' && !this.byName.has(name)) this.byName.set(name, s);
    }
    this.sections = sections;

    let symtab: ElfSection | undefined;
    for (const s of sections) {
      if (s.type !== SHT_SYMTAB) continue;
      if (symtab) throw new ElfError(`more than one symbol table (${symtab.name} and ${s.name})`, s.name);
      symtab = s;
    }
    this.symtabIndex = symtab?.index ?? 0;
    this.symbols = symtab ? this.readSymbols(symtab) : [];
  }

  /** Refuses section file ranges that overlap each other or the headers. */
  private checkOverlaps(raws: readonly { type: number; offset: number; size: number }[], shoff: number, shnum: number): void {
    // `what` is a section index until an overlap needs it in words.
    const ranges: { start: number; end: number; what: string | number }[] = [
      { start: 0, end: EHDR_SIZE, what: 'the ELF header' },
      { start: shoff, end: shoff + shnum * SHDR_SIZE, what: 'the section header table' },
    ];
    raws.forEach((r, i) => {
      if (i === 0 || r.type === SHT_NOBITS || r.type === SHT_NULL || r.size === 0) return;
      ranges.push({ start: r.offset, end: r.offset + r.size, what: i });
    });
    ranges.sort((a, b) => a.start - b.start || a.end - b.end);
    for (let i = 1; i < ranges.length; i++) {
      const prev = ranges[i - 1]!;
      const cur = ranges[i]!;
      if (cur.start < prev.end)
        throw new ElfError(`${rangeName(cur.what)} (bytes ${cur.start}..${cur.end}) overlaps ${rangeName(prev.what)} (bytes ${prev.start}..${prev.end})`, undefined, cur.start);
    }
  }

  /** The symbols of a symbol table section (SHT_SYMTAB or SHT_DYNSYM), checked like `symbols`. */
  symbolsOf(table: ElfSection): ElfSymbol[] {
    if (table.type !== SHT_SYMTAB && table.type !== SHT_DYNSYM) throw new ElfError(`section type ${table.type} is not a symbol table`, table.name);
    return table.index === this.symtabIndex && this.symtabIndex !== 0 ? [...this.symbols] : this.readSymbols(table);
  }

  private readSymbols(symtab: ElfSection): ElfSymbol[] {
    if (symtab.entsize !== SYM_SIZE) throw new ElfError(`symbol table entry size is ${symtab.entsize}, expected ${SYM_SIZE}`, symtab.name);
    if (symtab.size % SYM_SIZE !== 0) throw new ElfError(`symbol table size ${symtab.size} is not a multiple of ${SYM_SIZE}`, symtab.name);
    const strSec = this.sections[symtab.link];
    if (!strSec || symtab.link === 0 || strSec.type !== SHT_STRTAB)
      throw new ElfError(`symbol table links to section #${symtab.link}, which is not a string table`, symtab.name);
    const d = symtab.data;
    const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const names = new ElfStrings(strSec.data, strSec.name);
    const n = d.byteLength / SYM_SIZE;
    const out: ElfSymbol[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const at = i * SYM_SIZE;
      const info = d[at + 4]!;
      const name = names.get(view.getUint32(at, true), 'symbol name', i);
      out[i] = {
        index: i,
        name,
        bind: info >> 4,
        type: info & 0xf,
        visibility: d[at + 5]! & 0x3,
        shndx: view.getUint16(at + 6, true),
        value: u64(view, at + 8, 'symbol value', symtab.name, i),
        size: u64(view, at + 16, 'symbol size', symtab.name, i),
      };
    }
    return out;
  }

  section(name: string): ElfSection | undefined {
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
      if (symbol >= this.symbols.length)
        throw new ElfError(`relocation #${i} refers to symbol #${symbol}, but the symbol table has ${this.symbols.length}`, rel.name, at + 12);
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
  private readonly text: string;
  private readonly ascii: boolean;
  constructor(
    private readonly table: Uint8Array,
    private readonly section: string,
  ) {
    const b = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
    this.text = b.toString('latin1');
    this.ascii = isAscii(b);
  }

  /** The NUL-terminated string at `offset`; refuses out-of-range or unterminated ones. */
  get(offset: number, what: string, index?: number): string {
    if (offset >= this.table.byteLength) {
      if (offset === 0) return '';
      throw new ElfError(`${describe(what, index)} at string offset ${offset} is outside the string table (${this.table.byteLength} bytes)`, this.section, offset);
    }
    const end = this.text.indexOf('\0', offset);
    if (end < 0) throw new ElfError(`${describe(what, index)} at string offset ${offset} is not NUL-terminated`, this.section, offset);
    return this.ascii ? this.text.slice(offset, end) : decoder.decode(this.table.subarray(offset, end));
  }
}

/** Reads one NUL-terminated string at `offset` in a string table (see ElfStrings for many). */
export function readString(table: Uint8Array, offset: number, what: string, section: string, index?: number): string {
  return new ElfStrings(table, section).get(offset, what, index);
}

export function parseElf(bytes: Uint8Array): ElfFile {
  return new ElfFile(bytes);
}
