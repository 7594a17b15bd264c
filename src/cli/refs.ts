// Naming kernel objects and bytes on the command line. An object is an id (`42`) or a pin
// path (anything with a '/'); bytes are `hex 01 02 …` (bpftool's form, one byte a word),
// one word of hex bytes (`0x0a000001`, `"0a 00 00 01"`, `0a:00:00:01`), or a decimal integer
// written little-endian in the size the map wants.
import { closeSync, openSync, readSync } from 'node:fs';
import { BpfMap, BpfProgram, Link } from '../index.js';
import { BpfError } from '../errors.js';
import { CliUsageError, NotFoundError } from './errors.js';

export type Ref = { id: number } | { pin: string };

export function parseRef(s: string | undefined, what: string, usage?: string): Ref {
  if (s === undefined || s === '') throw new CliUsageError(`missing ${what} (an id or a pin path)`, usage);
  if (/^\d+$/.test(s)) {
    const id = Number(s);
    if (id <= 0 || id > 0xffffffff) throw new CliUsageError(`${what} id must be 1..4294967295, got ${s}`, usage);
    return { id };
  }
  if (s.includes('/')) return { pin: s };
  throw new CliUsageError(`${what} must be an id (a number) or a pin path (with a '/'), got '${s}'`, usage);
}

function notFound<T>(ref: Ref, what: string, open: () => T): T {
  try {
    return open();
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT')
      throw new NotFoundError('id' in ref ? `there is no ${what} with id ${ref.id}` : `nothing is pinned at ${ref.pin}`);
    throw e;
  }
}

export function openProgram(ref: Ref): BpfProgram {
  return notFound(ref, 'program', () => ('id' in ref ? BpfProgram.fromId(ref.id) : BpfProgram.fromPin(ref.pin)));
}

export function openMap(ref: Ref): BpfMap {
  return notFound(ref, 'map', () => ('id' in ref ? BpfMap.fromId(ref.id) : BpfMap.fromPin(ref.pin)));
}

export function openLink(ref: Ref): Link {
  return notFound(ref, 'link', () => ('id' in ref ? Link.fromId(ref.id) : Link.fromPin(ref.pin)));
}

/** Whether a path names an ELF file (the BPF object to load) rather than a bpffs pin. */
export function isElfFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return false; // bpffs pins cannot be opened with open(2); missing files are reported later
  }
  try {
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads bytes of `size` from `args[at…]`; returns them and how many words were used.
 * `hex` consumes `size` following words (bpftool style); otherwise one word.
 */
export function parseBytes(args: readonly string[], at: number, size: number, what: string, usage?: string): { bytes: Uint8Array; used: number } {
  const first = args[at];
  if (first === undefined) throw new CliUsageError(`missing ${what} (${size} bytes)`, usage);
  if (first === 'hex') {
    const words = args.slice(at + 1, at + 1 + size);
    if (words.length < size) throw new CliUsageError(`${what}: 'hex' needs ${size} byte words, got ${words.length}`, usage);
    const bytes = Uint8Array.from(words, (w) => hexByte(w, what, usage));
    return { bytes, used: 1 + size };
  }
  return { bytes: parseBytesWord(first, size, what, usage), used: 1 };
}

function hexByte(w: string, what: string, usage?: string): number {
  const m = /^(?:0x)?([0-9a-f]{1,2})$/i.exec(w);
  if (!m) throw new CliUsageError(`${what}: '${w}' is not a hex byte`, usage);
  return parseInt(m[1]!, 16);
}

export function parseBytesWord(w: string, size: number, what: string, usage?: string): Uint8Array {
  let bytes: Uint8Array;
  if (/^-?\d+$/.test(w)) {
    // A decimal integer: little-endian, as the program sees a __u32/__u64 key.
    const v = BigInt(w);
    if (size === 0 || size > 16) throw new CliUsageError(`${what}: a decimal number needs a 1..16-byte ${what}, this one is ${size} bytes; give hex bytes`, usage);
    const bits = BigInt(size * 8);
    if (v < -(1n << (bits - 1n)) || v >= 1n << bits) throw new CliUsageError(`${what}: ${w} does not fit in ${size} bytes`, usage);
    let u = BigInt.asUintN(size * 8, v);
    bytes = new Uint8Array(size);
    for (let i = 0; i < size; i++) {
      bytes[i] = Number(u & 0xffn);
      u >>= 8n;
    }
    return bytes;
  }
  const hexWord = /^0x([0-9a-f]*)$/i.exec(w);
  if (hexWord) {
    const digits = hexWord[1]!;
    if (digits.length % 2) throw new CliUsageError(`${what}: ${w} has an odd number of hex digits; write whole bytes (0x0a, not 0xa)`, usage);
    bytes = Uint8Array.from(Buffer.from(digits, 'hex'));
  } else {
    const parts = w.trim().split(/[\s:,]+/).filter(Boolean);
    if (!parts.length) throw new CliUsageError(`${what}: no bytes in '${w}'`, usage);
    bytes = Uint8Array.from(parts, (p) => hexByte(p, what, usage));
  }
  if (bytes.length !== size) throw new CliUsageError(`${what} must be ${size} bytes, got ${bytes.length} (${w})`, usage);
  return bytes;
}

/** `--set NAME=VALUE`: integers (decimal, 0x, negative), true/false, str:TEXT, or hex bytes. */
export function parseSetting(s: string): { name: string; raw: string } {
  const eq = s.indexOf('=');
  if (eq <= 0) throw new CliUsageError(`--set wants NAME=VALUE, got '${s}'`);
  return { name: s.slice(0, eq), raw: s.slice(eq + 1) };
}

export function settingValue(name: string, raw: string, size: number): number | bigint | boolean | Uint8Array {
  if (raw === 'true' || raw === 'false') return raw === 'true';
  if (raw.startsWith('str:')) {
    const text = Buffer.from(raw.slice(4), 'utf8');
    if (text.length > size) throw new CliUsageError(`--set ${name}: '${raw.slice(4)}' is ${text.length} bytes, the variable holds ${size}`);
    const out = new Uint8Array(size);
    out.set(text);
    return out;
  }
  if (/^-?\d+$/.test(raw)) return BigInt(raw);
  if (/^0x[0-9a-f]+$/i.test(raw)) return size <= 8 ? BigInt(raw) : parseBytesWord(raw, size, `--set ${name}`);
  if (raw.startsWith('hex:')) return parseBytesWord(raw.slice(4), size, `--set ${name}`);
  throw new CliUsageError(`--set ${name}: '${raw}' is not a value (an integer, true/false, str:TEXT or hex:BYTES)`);
}
