// Functions of a host executable or shared library, for uprobes: a uprobe is placed at a file
// offset, so a function name becomes `st_value - sh_addr + sh_offset` of its symbol's section,
// as libbpf computes it. Symbols come from .dynsym, then (if nothing matched there) .symtab,
// libbpf's order; versioned names ('SSL_write@@OPENSSL_3.0.0') match their plain name. Pure.
import { ElfError, UsageError } from '../errors.js';
import { ElfFile, SHN_LORESERVE, SHN_UNDEF, SHT_DYNSYM, SHT_SYMTAB, STB_GLOBAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC, type ElfSymbol } from './reader.js';

export interface NativeFunction {
  name: string;
  /** The file offset a uprobe takes. */
  offset: number;
  /** st_value: the function's address in the file's own address space. */
  address: number;
  size: number;
  /** 'global', 'weak' or 'local'. */
  binding: 'global' | 'weak' | 'local';
}

function binding(b: number): NativeFunction['binding'] {
  return b === STB_GLOBAL ? 'global' : b === STB_WEAK ? 'weak' : 'local';
}

/** The defined functions of one symbol table (.dynsym or .symtab), with file offsets. */
function functionsOf(elf: ElfFile, table: number): NativeFunction[] {
  const sec = elf.sections.find((s) => s.type === table);
  if (!sec) return [];
  const out: NativeFunction[] = [];
  for (const sym of elf.symbolsOf(sec)) {
    if ((sym.type !== STT_FUNC && sym.type !== STT_GNU_IFUNC) || sym.shndx === SHN_UNDEF || sym.shndx >= SHN_LORESERVE || sym.name === '') continue;
    const home = elf.sections[sym.shndx];
    if (!home) throw new ElfError(`symbol ${sym.name} is in section #${sym.shndx}, which does not exist`, sec.name);
    out.push({ name: sym.name, offset: offsetOf(sym, home.addr, home.offset), address: sym.value, size: sym.size, binding: binding(sym.bind) });
  }
  return out;
}

function offsetOf(sym: ElfSymbol, addr: number, fileOffset: number): number {
  return sym.value - addr + fileOffset;
}

function parse(bytes: Uint8Array): ElfFile {
  return new ElfFile(bytes, { native: true });
}

/** Every defined function of the file (.dynsym and .symtab), for listings and patterns. */
export function nativeFunctions(bytes: Uint8Array): NativeFunction[] {
  const elf = parse(bytes);
  return [...functionsOf(elf, SHT_DYNSYM), ...functionsOf(elf, SHT_SYMTAB)];
}

/** 'SSL_write' matches 'SSL_write' and 'SSL_write@@OPENSSL_3.0.0'; a name with '@' only itself. */
function nameMatches(symbol: string, wanted: string): boolean {
  return symbol === wanted || (!wanted.includes('@') && symbol.startsWith(wanted) && symbol[wanted.length] === '@');
}

/** One function's offset among candidates: a global beats a weak one; two different globals are ambiguous. */
function choose(name: string, found: NativeFunction[], file: string): NativeFunction | undefined {
  let best: NativeFunction | undefined;
  for (const f of found) {
    if (!best) best = f;
    else if (f.offset === best.offset) continue;
    else if (best.binding === 'weak' && f.binding === 'global') best = f;
    else if (f.binding === 'weak' && best.binding === 'global') continue;
    else
      throw new UsageError(
        `${file}: '${name}' names more than one function (offsets 0x${best.offset.toString(16)} and 0x${f.offset.toString(16)}); give the offset instead`,
      );
  }
  return best;
}

/**
 * The file offsets of functions `names` in an executable or shared library (`file` only names it
 * in messages). Names not found are a UsageError listing them (and close matches).
 */
export function functionOffsets(bytes: Uint8Array, names: readonly string[], file = 'the binary'): number[] {
  const elf = parse(bytes);
  const tables = [functionsOf(elf, SHT_DYNSYM), functionsOf(elf, SHT_SYMTAB)];
  const missing: string[] = [];
  const offsets = names.map((name) => {
    for (const table of tables) {
      const f = choose(name, table.filter((s) => nameMatches(s.name, name)), file);
      if (f) return f.offset;
    }
    missing.push(name);
    return -1;
  });
  if (missing.length) {
    const all = new Set(tables.flat().map((f) => f.name.replace(/@.*/, '')));
    const near = [...all].filter((n) => missing.some((m) => n.toLowerCase().includes(m.toLowerCase()))).slice(0, 5);
    throw new UsageError(
      `${file} has no function ${missing.map((m) => `'${m}'`).join(', ')}${all.size === 0 ? ' (it has no symbol table: stripped? give offsets instead)' : near.length ? ` (similar: ${near.join(', ')})` : ''}`,
    );
  }
  return offsets;
}
