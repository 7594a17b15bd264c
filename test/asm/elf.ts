// Just enough ELF64 for the disassembler tests: write a relocatable BPF object holding one
// .text section (so llvm-objdump can disassemble arbitrary bytes), and read the sections and
// symbols of the committed fixtures. Test-only; the loader has its own reader in src/elf.

const EM_BPF = 247;
const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHF_ALLOC = 0x2;
const SHF_EXECINSTR = 0x4;

/** A minimal ELF64 little-endian ET_REL object: null, .text, .shstrtab. */
export function bpfObjectWithText(text: Uint8Array): Uint8Array {
  const shstrtab = Buffer.from('\0.text\0.shstrtab\0');
  const textOff = 64;
  const strOff = textOff + text.length;
  const shOff = (strOff + shstrtab.length + 7) & ~7;
  const out = Buffer.alloc(shOff + 3 * 64);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // magic, ELFCLASS64, little-endian, version
  out.writeUInt16LE(1, 16); // ET_REL
  out.writeUInt16LE(EM_BPF, 18);
  out.writeUInt32LE(1, 20);
  out.writeBigUInt64LE(BigInt(shOff), 40);
  out.writeUInt16LE(64, 52); // e_ehsize
  out.writeUInt16LE(64, 58); // e_shentsize
  out.writeUInt16LE(3, 60); // e_shnum
  out.writeUInt16LE(2, 62); // e_shstrndx
  out.set(text, textOff);
  out.set(shstrtab, strOff);
  const section = (i: number, name: number, type: number, flags: number, off: number, size: number, align: number) => {
    const at = shOff + i * 64;
    out.writeUInt32LE(name, at);
    out.writeUInt32LE(type, at + 4);
    out.writeBigUInt64LE(BigInt(flags), at + 8);
    out.writeBigUInt64LE(BigInt(off), at + 24);
    out.writeBigUInt64LE(BigInt(size), at + 32);
    out.writeBigUInt64LE(BigInt(align), at + 48);
  };
  section(1, 1, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, textOff, text.length, 8);
  section(2, 7, SHT_STRTAB, 0, strOff, shstrtab.length, 1);
  return out;
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  data: Uint8Array;
}

export interface ElfSymbol {
  name: string;
  /** STT_*: 0 notype, 1 object, 2 func, 3 section, 4 file. */
  type: number;
  section: number;
  value: number;
}

export function readElf(file: Uint8Array): { sections: ElfSection[]; symbols: ElfSymbol[] } {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const shOff = Number(b.readBigUInt64LE(40));
  const shNum = b.readUInt16LE(60);
  const shStrNdx = b.readUInt16LE(62);
  const raw = Array.from({ length: shNum }, (_, i) => {
    const at = shOff + i * 64;
    return {
      nameOff: b.readUInt32LE(at),
      type: b.readUInt32LE(at + 4),
      flags: Number(b.readBigUInt64LE(at + 8)),
      data: file.subarray(Number(b.readBigUInt64LE(at + 24)), Number(b.readBigUInt64LE(at + 24) + b.readBigUInt64LE(at + 32))),
      link: b.readUInt32LE(at + 40),
    };
  });
  const str = (data: Uint8Array, off: number) => {
    const end = data.indexOf(0, off);
    return Buffer.from(data.subarray(off, end < 0 ? data.length : end)).toString('latin1');
  };
  const names = raw[shStrNdx]!.data;
  const sections = raw.map((s, index) => ({ index, name: str(names, s.nameOff), type: s.type, flags: s.flags, data: s.data }));
  const symbols: ElfSymbol[] = [];
  for (const s of raw) {
    if (s.type !== SHT_SYMTAB) continue;
    const strtab = raw[s.link]!.data;
    const v = Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength);
    for (let at = 24; at + 24 <= v.length; at += 24) {
      symbols.push({ name: str(strtab, v.readUInt32LE(at)), type: v[at + 4]! & 0xf, section: v.readUInt16LE(at + 6), value: Number(v.readBigUInt64LE(at + 8)) });
    }
  }
  return { sections, symbols };
}

export const isExecutable = (s: ElfSection) => s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0;
