// Test helpers for the BTF suites: fixture paths, a minimal ELF64 section/symbol reader (so
// these tests do not depend on src/elf), and a bpftool-style formatter of our decoded types.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Btf } from '../../src/btf/btf.js';
import type { BtfType } from '../../src/btf/types.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
export const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)));

export interface MiniSection {
  name: string;
  type: number;
  offset: number;
  size: number;
  index: number;
}
export interface MiniSymbol {
  name: string;
  value: number;
  size: number;
  shndx: number;
  info: number;
  other: number;
}

/** Just enough of ELF64 little-endian to get sections and symbols out of a clang BPF object. */
export function readElf(bytes: Uint8Array): { sections: MiniSection[]; symbols: MiniSymbol[]; data(name: string): Uint8Array } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const raw = [...Array(shnum).keys()].map((i) => {
    const at = shoff + i * shentsize;
    return {
      nameOff: dv.getUint32(at, true),
      type: dv.getUint32(at + 4, true),
      offset: Number(dv.getBigUint64(at + 0x18, true)),
      size: Number(dv.getBigUint64(at + 0x20, true)),
      link: dv.getUint32(at + 0x28, true),
      index: i,
    };
  });
  const cstr = (off: number): string => {
    let end = off;
    while (bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(off, end));
  };
  const shstr = raw[shstrndx]!;
  const sections = raw.map((s) => ({ name: cstr(shstr.offset + s.nameOff), type: s.type, offset: s.offset, size: s.size, index: s.index }));
  const symbols: MiniSymbol[] = [];
  const symtab = raw.find((s) => s.type === 2);
  if (symtab) {
    const strtab = raw[symtab.link]!;
    for (let at = symtab.offset; at < symtab.offset + symtab.size; at += 24)
      symbols.push({
        name: cstr(strtab.offset + dv.getUint32(at, true)),
        info: dv.getUint8(at + 4),
        other: dv.getUint8(at + 5),
        shndx: dv.getUint16(at + 6, true),
        value: Number(dv.getBigUint64(at + 8, true)),
        size: Number(dv.getBigUint64(at + 16, true)),
      });
  }
  return {
    sections,
    symbols,
    data(name: string): Uint8Array {
      const s = sections.find((x) => x.name === name);
      if (!s) throw new Error(`no section ${name}`);
      return bytes.slice(s.offset, s.offset + s.size);
    },
  };
}

/** One type in `bpftool btf dump` raw format (the header line and its member lines). */
export function formatLikeBpftool(btf: Btf, id: number, t: BtfType = btf.type(id)): string {
  const q = (s: string): string => `'${s === '' ? '(anon)' : s}'`;
  const K = t.kind.toUpperCase();
  const head = `[${id}] ${K} ${q(t.name)}`;
  switch (t.kind) {
    case 'int': {
      const enc = t.signed ? 'SIGNED' : t.char ? 'CHAR' : t.bool ? 'BOOL' : '(none)';
      return `${head} size=${t.size} bits_offset=${t.bitOffset} nr_bits=${t.bits} encoding=${enc}`;
    }
    case 'ptr':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'typedef':
    case 'type_tag':
      return `${head} type_id=${t.type}`; // bpftool 7.1 prints no kflag
    case 'array':
      return `${head} type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case 'struct':
    case 'union':
      return [
        `${head} size=${t.size} vlen=${t.members.length}`,
        ...t.members.map(
          (m) => `\t${q(m.name)} type_id=${m.type} bits_offset=${m.bitOffset}${m.bitfieldSize ? ` bitfield_size=${m.bitfieldSize}` : ''}`,
        ),
      ].join('\n');
    case 'enum':
      return [
        `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((v) => `\t${q(v.name)} val=${t.signed ? v.value : v.value >>> 0}`),
      ].join('\n');
    case 'enum64':
      return [
        `${head} encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`,
        ...t.values.map((v) => `\t${q(v.name)} val=${v.value}${t.signed ? 'LL' : 'ULL'}`),
      ].join('\n');
    case 'fwd':
      return `${head} fwd_kind=${t.fwdKind}`;
    case 'func':
      return `${head} type_id=${t.type} linkage=${t.linkage}`;
    case 'func_proto':
      return [
        `${head} ret_type_id=${t.returnType} vlen=${t.params.length}`,
        ...t.params.map((p) => `\t${q(p.name)} type_id=${p.type}`),
      ].join('\n');
    case 'var':
      return `${head} type_id=${t.type}, linkage=${t.linkage === 'global' ? 'global' : t.linkage}`;
    case 'datasec':
      return [
        `${head} size=${t.size} vlen=${t.vars.length}`,
        ...t.vars.map((v) => {
          const vt = btf.type(v.type);
          return `\ttype_id=${v.type} offset=${v.offset} size=${v.size} (${vt.kind.toUpperCase()} ${q(vt.name)})`;
        }),
      ].join('\n');
    case 'float':
      return `${head} size=${t.size}`;
    case 'decl_tag':
      return `${head} type_id=${t.type} component_idx=${t.componentIdx}`;
    default:
      return head;
  }
}

/** `bpftool btf dump file <path>` output, one entry per type id. */
export function bpftoolDump(path: string): string[] {
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', path], { maxBuffer: 1 << 30 }).toString();
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('[')) out.push(line);
    else if (line !== '' && out.length) out[out.length - 1] += `\n${line}`;
  }
  return out;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'tsbpf-btf-'));
}
