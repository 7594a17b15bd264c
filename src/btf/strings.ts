// A BTF string table: NUL-terminated strings addressed by byte offset.
//
// Decoding is lazy. The whole table is turned into one latin1 string on first use (one
// native call), so a name is a cheap slice at the same offset; only names with bytes >= 0x80
// go through a real UTF-8 decode.
import { Buffer, isAscii } from 'node:buffer';
import { BtfError } from '../errors.js';

const utf8 = new TextDecoder('utf-8');

/** The table's raw bytes, for src/btf's own searches only (not exported from the package). */
export let tableBytes: (t: StringTable) => Uint8Array;

export class StringTable {
  /** Offset of this table's first byte in the id space of offsets (a split BTF's base size). */
  readonly start: number;
  private latin?: string;
  private ascii = false;
  // Truly private (#): the kernel's BTF is parsed in place from a read-only mapping (src/object/
  // kernel-btf.ts), and a JavaScript write through a view of it would kill the process.
  readonly #bytes: Uint8Array;
  readonly #buf: Buffer;
  /** `end`, kept as a number: it is read for every string looked up. */
  readonly #end: number;

  static {
    tableBytes = (t) => t.#bytes;
  }

  constructor(
    bytes: Uint8Array,
    readonly base?: StringTable,
    /** Where this table sits in the whole file, for error messages. */
    private readonly fileOffset = 0,
  ) {
    this.#bytes = bytes;
    this.start = base ? base.start + base.length : 0;
    this.#buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#end = this.start + bytes.byteLength;
  }

  /** A copy of the table's bytes. */
  get bytes(): Uint8Array {
    return this.#bytes.slice();
  }

  /** Length in bytes of this table alone. */
  get length(): number {
    return this.#bytes.byteLength;
  }

  /** One past the last valid offset, counting the base's strings. */
  get end(): number {
    return this.#end;
  }

  private text(): string {
    if (this.latin === undefined) {
      this.latin = this.#buf.toString('latin1');
      this.ascii = isAscii(this.#bytes);
    }
    return this.latin;
  }

  has(off: number): boolean {
    return off >= 0 && off < this.#end && Number.isInteger(off);
  }

  /** The string at `off`; throws BtfError when it is out of range or unterminated. */
  get(off: number, what = 'string'): string {
    if (off < this.start) {
      if (this.base) return this.base.get(off, what);
      throw new BtfError(`${what} offset ${off} is outside the string table`);
    }
    const rel = off - this.start;
    if (rel >= this.#bytes.byteLength)
      throw new BtfError(
        `${what} offset ${off} is outside the string table (${this.end} bytes)`,
        this.fileOffset,
      );
    const s = this.text();
    const end = s.indexOf('\0', rel);
    if (end < 0) throw new BtfError(`${what} at offset ${off} is not NUL-terminated`, this.fileOffset + rel);
    if (end === rel) return '';
    if (this.ascii) return s.slice(rel, end);
    for (let i = rel; i < end; i++)
      if (this.#bytes[i]! >= 0x80) return utf8.decode(this.#bytes.subarray(rel, end));
    return s.slice(rel, end);
  }

  /**
   * Offsets (in the combined offset space, this table only) at which `name` starts and is
   * followed by NUL or, with `flavours`, by `___`. Uses the native memmem of Buffer.indexOf.
   */
  offsetsOf(name: string, flavours = false): number[] {
    const needle = Buffer.from(name, 'utf8');
    const out: number[] = [];
    if (needle.length === 0) return out;
    const b = this.#buf;
    let i = b.indexOf(needle, 0);
    while (i >= 0) {
      const after = i + needle.length;
      const c = b[after];
      if (c === 0 || (flavours && c === 0x5f && b[after + 1] === 0x5f && b[after + 2] === 0x5f))
        out.push(this.start + i);
      i = b.indexOf(needle, i + 1);
    }
    return out;
  }
}

/** Builds a deduplicated string table; offset 0 is the empty string. */
export class StringWriter {
  private readonly index = new Map<string, number>();
  private readonly chunks: Uint8Array[] = [];
  private size = 0;
  private readonly enc = new TextEncoder();

  /**
   * `start` > 0 for a split BTF: its strings follow the base's, and '' is the base's 0.
   * `seed` is an existing table kept verbatim at the front, so that offsets into it (held by
   * .BTF.ext records, for instance) stay valid; new strings are deduplicated against it.
   */
  constructor(
    private readonly start = 0,
    seed?: StringTable,
    /** Index the seed's strings for deduplication (not needed when nothing will be added). */
    indexSeed = true,
  ) {
    if (start !== 0) this.index.set('', 0);
    if (seed && seed.length > 0) {
      const b = tableBytes(seed);
      this.chunks.push(b);
      this.size = b.length;
      let at = indexSeed ? 0 : b.length;
      while (at < b.length) {
        let end = b.indexOf(0, at);
        if (end < 0) end = b.length;
        const s = seed.get(seed.start + at);
        if (!this.index.has(s)) this.index.set(s, this.start + at);
        at = end + 1;
      }
      if (b[b.length - 1] !== 0) {
        this.chunks.push(ZERO);
        this.size++;
      }
    }
    if (start === 0) {
      if (seed && tableBytes(seed)[0] === 0) this.index.set('', 0);
      else this.add('');
    }
  }

  add(s: string): number {
    const hit = this.index.get(s);
    if (hit !== undefined) return hit;
    const bytes = this.enc.encode(s);
    if (bytes.includes(0)) throw new BtfError(`string ${JSON.stringify(s)} contains a NUL byte`);
    const off = this.start + this.size;
    this.chunks.push(bytes);
    this.chunks.push(ZERO);
    this.size += bytes.length + 1;
    this.index.set(s, off);
    return off;
  }

  get length(): number {
    return this.size;
  }

  write(out: Uint8Array, at: number): void {
    let p = at;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
  }
}
const ZERO = new Uint8Array(1);
