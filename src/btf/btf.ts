// The BTF container: parse (lazily), look up, measure, mutate, encode.
//
// Parsing makes one pass over the type section recording where each type starts; a type is
// decoded into an object only when asked for, and then cached. Names are found through the
// string table (a native substring search) without decoding every name; a full name index is
// built only once lookups become frequent, or after the BTF was changed.
import { BtfError } from '../errors.js';
import { StringTable, tableBytes } from './strings.js';
import { type EncodeOptions, encodeBtf } from './encode.js';
import {
  type BtfComposite,
  type BtfKind,
  type BtfMember,
  type BtfType,
  KIND_BY_NUMBER,
  KIND_NUMBER,
  LINKAGE_BY_NUMBER,
  MAX_KIND,
  isComposite,
  isModifier,
  referencedIds,
} from './types.js';

export const BTF_MAGIC = 0xeb9f;
export const BTF_VERSION = 1;
export const BTF_HEADER_LEN = 24;
/** Pointer size of the BPF target. */
export const POINTER_SIZE = 8;
/** Longest modifier/array chain followed before calling a type graph cyclic. */
const MAX_CHAIN = 64;

/** Words of kind-specific data after the 3-word common header: fixed part, per vlen item. */
const FIXED_WORDS = new Int32Array(32).fill(-1);
const VLEN_WORDS = new Int32Array(32);
for (const [k, fixed, per] of [
  [1, 1, 0], // int
  [2, 0, 0], // ptr
  [3, 3, 0], // array
  [4, 0, 3], // struct
  [5, 0, 3], // union
  [6, 0, 2], // enum
  [7, 0, 0], // fwd
  [8, 0, 0], // typedef
  [9, 0, 0], // volatile
  [10, 0, 0], // const
  [11, 0, 0], // restrict
  [12, 0, 0], // func (vlen = linkage)
  [13, 0, 2], // func_proto
  [14, 1, 0], // var
  [15, 0, 3], // datasec
  [16, 0, 0], // float
  [17, 1, 0], // decl_tag
  [18, 0, 0], // type_tag
  [19, 0, 3], // enum64
] as const) {
  FIXED_WORDS[k] = fixed;
  VLEN_WORDS[k] = per;
}

// Local copies: module-namespace reads are not free in every runtime (tsx compiles to getters).
const KINDS: readonly BtfKind[] = KIND_BY_NUMBER.slice();
const K_int = 1, K_ptr = 2, K_array = 3, K_struct = 4, K_union = 5, K_enum = 6, K_fwd = 7,
  K_typedef = 8, K_volatile = 9, K_const = 10, K_restrict = 11, K_func = 12, K_func_proto = 13,
  K_var = 14, K_datasec = 15, K_float = 16, K_decl_tag = 17, K_type_tag = 18, K_enum64 = 19;
const ENCODER = new TextEncoder();
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export interface BtfParseOptions {
  /** For split BTF (kernel modules): the BTF whose types and strings this one extends. */
  base?: Btf;
}

export interface BtfHeader {
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** A member found by name, possibly inside anonymous structs/unions. */
export interface MemberLocation {
  member: BtfMember;
  /** Bit offset from the start of the outer type. */
  bitOffset: number;
  /** Member indices followed, outermost first (anonymous levels included). */
  path: number[];
}

/** The "essential" name CO-RE matches on: everything before the last `___flavour` suffix. */
export function essentialName(name: string): string {
  for (let i = name.length - 5; i >= 0; i--) {
    if (
      name.charCodeAt(i) !== 0x5f && // X
      name.charCodeAt(i + 1) === 0x5f &&
      name.charCodeAt(i + 2) === 0x5f &&
      name.charCodeAt(i + 3) === 0x5f &&
      name.charCodeAt(i + 4) !== 0x5f // Y
    )
      return name.slice(0, i + 1);
  }
  return name;
}

export class Btf {
  readonly base: Btf | undefined;
  /** The first type id this BTF defines: 1, or the base's `typeEnd` for split BTF. */
  readonly firstTypeId: number;
  readonly strings: StringTable;
  readonly header: BtfHeader | undefined;

  /** Word index of each raw type in `words`. */
  private readonly offsets: Uint32Array;
  private readonly words: Uint32Array;
  private readonly rawCount: number;
  private readonly typeSecFileOffset: number;
  private readonly cache: (BtfType | undefined)[];
  private mutated = false;
  /** Local indices of raw types replaced since parsing (their raw words are stale). */
  private readonly replacedRaw = new Set<number>();
  private nameIndex: Map<string, number[]> | undefined;
  private essentialIndex: Map<string, number[]> | undefined;
  private fastLookups = 0;

  private constructor(
    base: Btf | undefined,
    strings: StringTable,
    words: Uint32Array,
    offsets: Uint32Array,
    header: BtfHeader | undefined,
    typeSecFileOffset: number,
  ) {
    this.base = base;
    this.firstTypeId = base ? base.typeEnd : 1;
    this.strings = strings;
    this.words = words;
    this.offsets = offsets;
    this.rawCount = offsets.length;
    this.header = header;
    this.typeSecFileOffset = typeSecFileOffset;
    this.cache = new Array<BtfType | undefined>(this.rawCount);
  }

  /** Parses a `.BTF` section or /sys/kernel/btf file. Throws BtfError on malformed input. */
  static parse(bytes: Uint8Array, opts: BtfParseOptions = {}): Btf {
    if (!(bytes instanceof Uint8Array)) throw new BtfError('input is not a Uint8Array');
    const len = bytes.byteLength;
    if (len < BTF_HEADER_LEN) throw new BtfError(`truncated header: ${len} bytes, need ${BTF_HEADER_LEN}`, 0);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
    const magic = dv.getUint16(0, true);
    if (magic !== BTF_MAGIC) {
      if (magic === 0x9feb) throw new BtfError('big-endian BTF is not supported (only little-endian BPF objects are)', 0);
      throw new BtfError(`bad magic 0x${magic.toString(16)}, expected 0xeb9f`, 0);
    }
    const version = dv.getUint8(2);
    if (version !== BTF_VERSION) throw new BtfError(`unsupported version ${version}`, 2);
    const header: BtfHeader = {
      version,
      flags: dv.getUint8(3),
      hdrLen: dv.getUint32(4, true),
      typeOff: dv.getUint32(8, true),
      typeLen: dv.getUint32(12, true),
      strOff: dv.getUint32(16, true),
      strLen: dv.getUint32(20, true),
    };
    const { hdrLen, typeOff, typeLen, strOff, strLen } = header;
    if (hdrLen < BTF_HEADER_LEN || hdrLen > len)
      throw new BtfError(`header length ${hdrLen} out of range (file is ${len} bytes)`, 4);
    const body = len - hdrLen;
    if (typeOff > body || typeLen > body - typeOff)
      throw new BtfError(`type section [${typeOff}, +${typeLen}) is beyond the end of the data (${body} bytes after the header)`, 8);
    if (strOff > body || strLen > body - strOff)
      throw new BtfError(`string section [${strOff}, +${strLen}) is beyond the end of the data (${body} bytes after the header)`, 16);
    if (typeOff % 4 !== 0) throw new BtfError(`type section offset ${typeOff} is not 4-byte aligned`, 8);
    if (typeLen % 4 !== 0) throw new BtfError(`type section length ${typeLen} is not a multiple of 4`, 12);
    if (typeOff < strOff ? typeOff + typeLen > strOff : strOff + strLen > typeOff)
      throw new BtfError('type and string sections overlap', 8);
    const base = opts.base;
    const strBytes = bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
    if (!base && (strLen === 0 || strBytes[0] !== 0))
      throw new BtfError('string table must start with an empty string', hdrLen + strOff);
    if (strLen > 0 && strBytes[strLen - 1] !== 0)
      throw new BtfError('string table is not NUL-terminated', hdrLen + strOff + strLen - 1);
    const strings = new StringTable(strBytes, base?.strings, hdrLen + strOff);

    const typeStart = hdrLen + typeOff;
    const words = wordsOf(bytes, typeStart, typeLen);
    const offsets = scanTypes(words, typeStart, base ? base.typeEnd : 1);
    return new Btf(base, strings, words, offsets, header, typeStart);
  }

  /** An empty BTF to build on (`add`), optionally split on `base`. */
  static create(opts: BtfParseOptions = {}): Btf {
    const base = opts.base;
    const strings = new StringTable(base ? new Uint8Array(0) : new Uint8Array(1), base?.strings);
    return new Btf(base, strings, new Uint32Array(0), new Uint32Array(0), undefined, 0);
  }

  /** Number of types this BTF defines (not counting void or a base's types). */
  get typeCount(): number {
    return this.cache.length;
  }

  /** One past the largest valid type id. */
  get typeEnd(): number {
    return this.firstTypeId + this.cache.length;
  }

  /** The largest valid type id. */
  get lastTypeId(): number {
    return this.typeEnd - 1;
  }

  /** Whether `add`/`replace` changed this BTF since it was parsed. */
  get isModified(): boolean {
    return this.mutated;
  }

  hasType(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.typeEnd;
  }

  /** The decoded type `id` (0 is void). Cached: the same object is returned each time. */
  type(id: number): BtfType {
    if (id === 0) return VOID;
    if (id < this.firstTypeId) {
      if (this.base && id > 0 && Number.isInteger(id)) return this.base.type(id);
      throw new BtfError(`type id ${id} does not exist`);
    }
    const local = id - this.firstTypeId;
    if (!Number.isInteger(local) || local >= this.cache.length)
      throw new BtfError(`type id ${id} does not exist (last is ${this.lastTypeId})`);
    const hit = this.cache[local];
    if (hit) return hit;
    const t = this.decode(id, local);
    this.cache[local] = t;
    return t;
  }

  /** `type(id).kind` without decoding the type. */
  kindOf(id: number): BtfKind {
    if (id === 0) return 'void';
    if (id < this.firstTypeId && this.base) return this.base.kindOf(id);
    const local = id - this.firstTypeId;
    const hit = this.cache[local];
    if (hit || local >= this.rawCount || local < 0 || !Number.isInteger(local)) return this.type(id).kind;
    return KINDS[(this.words[this.offsets[local]! + 1]! >>> 24) & 0x1f]!;
  }

  /** Name of type `id` ('' for anonymous types and void). */
  name(id: number): string {
    return this.type(id).name;
  }

  /** Every [id, type] this BTF defines (not the base's), in id order. */
  *entries(): IterableIterator<[number, BtfType]> {
    for (let id = this.firstTypeId; id < this.typeEnd; id++) yield [id, this.type(id)];
  }

  /** Appends a type and returns its id. Referenced ids are checked when encoding. */
  add(t: BtfType): number {
    if (t.kind === 'void') throw new BtfError('void cannot be added: it is type id 0');
    this.cache.push(t);
    this.touched();
    this.reindex(this.lastTypeId, '', t.name);
    return this.lastTypeId;
  }

  /** Replaces type `id` (one of this BTF's own, not the base's). */
  replace(id: number, t: BtfType): void {
    if (id < this.firstTypeId || id >= this.typeEnd || !Number.isInteger(id))
      throw new BtfError(`cannot replace type ${id}: not one of this BTF's types [${this.firstTypeId}, ${this.lastTypeId}]`);
    if (t.kind === 'void') throw new BtfError('a type cannot be replaced by void');
    const local = id - this.firstTypeId;
    const old = this.nameIndex || this.essentialIndex ? this.nameOf(id) : '';
    this.cache[local] = t;
    if (local < this.rawCount) this.replacedRaw.add(local);
    this.touched();
    this.reindex(id, old, t.name);
  }

  /** Keeps built name indexes current across edits (loaders edit, then look up, repeatedly). */
  private reindex(id: number, oldName: string, newName: string): void {
    if (oldName === newName || (!this.nameIndex && !this.essentialIndex)) return;
    for (const [idx, key] of [
      [this.nameIndex, (n: string) => n],
      [this.essentialIndex, essentialName],
    ] as const) {
      if (!idx) continue;
      if (oldName !== '') {
        const list = idx.get(key(oldName));
        const at = list?.indexOf(id) ?? -1;
        if (list && at >= 0) list.splice(at, 1);
      }
      if (newName !== '') {
        const k = key(newName);
        const list = idx.get(k);
        if (!list) idx.set(k, [id]);
        else {
          let at = list.length;
          while (at > 0 && list[at - 1]! > id) at--; // ids stay ascending: lowest first
          list.splice(at, 0, id);
        }
      }
    }
  }

  /**
   * The type's words exactly as parsed, when it has not been replaced since (the encoder
   * copies these verbatim), after checking its names and references like `type()` would.
   * Undefined for added or replaced types.
   * @internal
   */
  rawRecord(id: number): Uint32Array | undefined {
    const local = id - this.firstTypeId;
    if (local < 0 || local >= this.rawCount || this.replacedRaw.has(local)) return undefined;
    const p = this.offsets[local]!;
    const end = local + 1 < this.rawCount ? this.offsets[local + 1]! : this.words.length;
    if (!this.cache[local]) this.checkRaw(id, p);
    return this.words.subarray(p, end);
  }

  /** The checks of `decode`, on the words, without building the object. */
  private checkRaw(id: number, p: number): void {
    const w = this.words;
    const info = w[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const endId = this.typeEnd;
    const strEnd = this.strings.end;
    if (w[p]! >= strEnd) return void this.type(id); // throws with the full message
    let ok = true;
    const q = p + 3;
    switch (kind) {
      case K_int: {
        const enc = w[q]!;
        const bits = enc & 0xff;
        ok = bits !== 0 && bits <= 128 && ((enc >>> 16) & 0xff) + bits <= 128;
        break;
      }
      case K_ptr: case K_typedef: case K_volatile: case K_const: case K_restrict: case K_type_tag: case K_decl_tag:
        ok = w[p + 2]! < endId;
        break;
      case K_func:
        ok = w[p + 2]! < endId && vlen <= 2;
        break;
      case K_var:
        ok = w[p + 2]! < endId && w[q]! <= 2;
        break;
      case K_array:
        ok = w[q]! < endId && w[q + 1]! < endId;
        break;
      case K_struct: case K_union:
        for (let i = 0; ok && i < vlen; i++) ok = w[q + i * 3]! < strEnd && w[q + i * 3 + 1]! < endId;
        break;
      case K_enum:
        for (let i = 0; ok && i < vlen; i++) ok = w[q + i * 2]! < strEnd;
        break;
      case K_enum64:
        for (let i = 0; ok && i < vlen; i++) ok = w[q + i * 3]! < strEnd;
        break;
      case K_func_proto:
        ok = w[p + 2]! < endId;
        for (let i = 0; ok && i < vlen; i++) ok = w[q + i * 2]! < strEnd && w[q + i * 2 + 1]! < endId;
        break;
      case K_datasec:
        for (let i = 0; ok && i < vlen; i++) ok = w[q + i * 3]! < endId;
        break;
    }
    if (!ok) this.type(id); // decodes, and throws the precise BtfError
  }

  private touched(): void {
    this.mutated = true;
  }

  /** Ids of the types named `name` (optionally of one kind), base types first. */
  typesByName(name: string, kind?: BtfKind): number[] {
    const out = this.base ? this.base.typesByName(name, kind) : [];
    if (name !== '') this.lookup(name, false, kind, false, out);
    return out;
  }

  /** The first type (lowest id) named `name`, optionally of one kind, or undefined. */
  typeByName(name: string, kind?: BtfKind): number | undefined {
    if (name === '') return undefined;
    const inBase = this.base?.typeByName(name, kind);
    if (inBase !== undefined) return inBase;
    return this.lookup(name, false, kind, true, [])[0];
  }

  /** As typeByName, but throws a BtfError naming what is missing. */
  requireType(name: string, kind?: BtfKind): number {
    const id = this.typeByName(name, kind);
    if (id === undefined) throw new BtfError(`no ${kind ?? 'type'} named '${name}'`);
    return id;
  }

  /** Ids of types whose essential name (flavour suffix dropped) is `essential`, base first. */
  typesByEssentialName(essential: string, kind?: BtfKind): number[] {
    const out = this.base ? this.base.typesByEssentialName(essential, kind) : [];
    if (essential !== '') this.lookup(essential, true, kind, false, out);
    return out;
  }

  /**
   * Name search over this BTF's own types. Parsed types are matched by comparing the name's
   * bytes in the string table in place (no string is decoded; the first byte rejects almost
   * every type); types replaced or added since parsing, by their names in the cache. Once
   * lookups are frequent, a Map from names to ids is built and used instead.
   */
  private lookup(name: string, essential: boolean, kind: BtfKind | undefined, firstOnly: boolean, out: number[]): number[] {
    if (this.fastLookups >= 32) {
      for (const id of this.index(essential).get(name) ?? []) {
        if (kind !== undefined && this.kindOf(id) !== kind) continue;
        out.push(id);
        if (firstOnly) break;
      }
      return out;
    }
    this.fastLookups++;
    const from = out.length;
    // Names are nearly always ASCII: compare them code unit to byte without encoding.
    let ascii = true;
    for (let k = 0; k < name.length && ascii; k++) ascii = name.charCodeAt(k) < 0x80;
    const needle = ascii ? undefined : ENCODER.encode(name);
    const len = needle ? needle.length : name.length;
    const c0 = needle ? needle[0]! : name.charCodeAt(0);
    const sb = tableBytes(this.strings);
    const start = this.strings.start;
    const w = this.words;
    const o = this.offsets;
    const n = this.rawCount;
    const first = this.firstTypeId;
    const wantKind = kind === undefined ? -1 : KIND_NUMBER[kind];
    const replaced = this.replacedRaw.size > 0 ? this.replacedRaw : undefined;
    outer: for (let i = 0; i < n; i++) {
      const p = o[i]!;
      const off = w[p]! - start;
      if (off < 0) {
        // A split BTF's type named by a string of its base (module BTF shares base strings).
        if (wantKind >= 0 && ((w[p + 1]! >>> 24) & 0x1f) !== wantKind) continue;
        if (replaced?.has(i)) continue;
        let full: string;
        try {
          full = this.strings.get(off + start);
        } catch {
          continue;
        }
        if (full === name || (essential && essentialName(full) === name)) {
          out.push(first + i);
          if (firstOnly) break;
        }
        continue;
      }
      if (sb[off] !== c0) continue;
      if (wantKind >= 0 && ((w[p + 1]! >>> 24) & 0x1f) !== wantKind) continue;
      if (needle) {
        for (let k = 1; k < len; k++) if (sb[off + k] !== needle[k]) continue outer;
      } else for (let k = 1; k < len; k++) if (sb[off + k] !== name.charCodeAt(k)) continue outer;
      const next = sb[off + len];
      if (next !== 0) {
        if (!essential || next !== 0x5f || sb[off + len + 1] !== 0x5f || sb[off + len + 2] !== 0x5f) continue;
        if (essentialName(this.strings.get(off + start)) !== name) continue;
      }
      if (replaced?.has(i)) continue;
      out.push(first + i);
      if (firstOnly) break;
    }
    if (!this.mutated) return out;
    // Replaced and added types: their names are in the cache, not (or no longer) in the words.
    let changed: number[] | undefined;
    const consider = (local: number): void => {
      const t = this.cache[local]!;
      if (wantKind >= 0 && KIND_NUMBER[t.kind] !== wantKind) return;
      if (essential ? essentialName(t.name) !== name : t.name !== name) return;
      (changed ??= []).push(first + local);
    };
    if (replaced) for (const local of replaced) consider(local);
    for (let local = n; local < this.cache.length; local++) consider(local);
    if (!changed) return out;
    const all = out.splice(from).concat(changed).sort((a, b) => a - b);
    if (firstOnly) out.push(all[0]!);
    else out.push(...all);
    return out;
  }

  private index(essential: boolean): Map<string, number[]> {
    let idx = essential ? this.essentialIndex : this.nameIndex;
    if (idx) return idx;
    idx = new Map();
    for (let id = this.firstTypeId; id < this.typeEnd; id++) {
      const full = this.nameOf(id);
      if (full === '') continue;
      const key = essential ? essentialName(full) : full;
      const list = idx.get(key);
      if (list) list.push(id);
      else idx.set(key, [id]);
    }
    if (essential) this.essentialIndex = idx;
    else this.nameIndex = idx;
    return idx;
  }

  /** Name without decoding the whole type (raw types) or from the cache (changed ones). */
  private nameOf(id: number): string {
    const local = id - this.firstTypeId;
    const hit = this.cache[local];
    if (hit || local >= this.rawCount) return this.type(id).name;
    return this.strings.get(this.words[this.offsets[local]!]!, `name of type [${id}]`);
  }

  /** Skips typedef, const, volatile, restrict and type_tag; returns the id underneath. */
  resolve(id: number): number {
    let cur = id;
    for (let i = 0; i < MAX_CHAIN; i++) {
      const t = this.type(cur);
      if (!isModifier(t)) return cur;
      cur = t.type;
    }
    throw new BtfError(`type [${id}]: modifier chain longer than ${MAX_CHAIN} (cyclic?)`);
  }

  /** `type(resolve(id))`. */
  resolved(id: number): BtfType {
    return this.type(this.resolve(id));
  }

  /** Size in bytes of a value of type `id`; throws BtfError for sizeless or cyclic types. */
  sizeOf(id: number): number {
    let cur = id;
    let mult = 1;
    for (let i = 0; i < MAX_CHAIN; i++) {
      const t = this.type(cur);
      switch (t.kind) {
        case 'int':
        case 'enum':
        case 'enum64':
        case 'float':
        case 'struct':
        case 'union':
        case 'datasec': {
          const size = mult * t.size;
          if (size > 0xffffffff) throw new BtfError(`type [${id}]: size ${size} exceeds 4 GiB`);
          return size;
        }
        case 'ptr':
          return mult * POINTER_SIZE;
        case 'typedef':
        case 'const':
        case 'volatile':
        case 'restrict':
        case 'type_tag':
        case 'var':
          cur = t.type;
          break;
        case 'array':
          mult *= t.nelems;
          if (mult > 0xffffffff) throw new BtfError(`type [${id}]: array size exceeds 4 GiB`);
          cur = t.type;
          break;
        default:
          throw new BtfError(`type [${id}]: ${t.kind}${cur !== id ? ` [${cur}]` : ''} has no size`);
      }
    }
    throw new BtfError(`type [${id}]: type chain longer than ${MAX_CHAIN} (cyclic?)`);
  }

  /** Natural alignment in bytes of type `id` (1 for packed structs), as a C compiler for BPF would use. */
  alignOf(id: number): number {
    return this.alignRec(id, new Set());
  }

  private alignRec(id: number, visiting: Set<number>): number {
    if (visiting.has(id) || visiting.size > MAX_CHAIN * 4)
      throw new BtfError(`type [${id}]: cyclic type graph while computing alignment`);
    visiting.add(id);
    try {
      const t = this.type(id);
      switch (t.kind) {
        case 'int':
        case 'enum':
        case 'enum64':
        case 'float':
          return Math.max(1, Math.min(POINTER_SIZE, t.size));
        case 'ptr':
          return POINTER_SIZE;
        case 'typedef':
        case 'const':
        case 'volatile':
        case 'restrict':
        case 'type_tag':
        case 'var':
        case 'array':
          return this.alignRec(t.type, visiting);
        case 'struct':
        case 'union': {
          let max = 1;
          for (const m of t.members) {
            const a = this.alignRec(m.type, visiting);
            // A member off its natural alignment means the struct is packed.
            if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1;
            if (a > max) max = a;
          }
          return t.size % max === 0 ? max : 1;
        }
        default:
          throw new BtfError(`type [${id}]: ${t.kind} has no alignment`);
      }
    } finally {
      visiting.delete(id);
    }
  }

  /**
   * Finds a member by name in struct/union `id` (typedefs resolved), looking inside anonymous
   * members too. A dotted path ('a.b.c') walks nested members.
   */
  findMember(id: number, path: string): MemberLocation | undefined {
    let cur = id;
    let bitOffset = 0;
    let found: MemberLocation | undefined;
    const indices: number[] = [];
    for (const part of path.split('.')) {
      const t = this.resolved(cur);
      if (!isComposite(t)) return undefined;
      const hit = this.findDirect(t, part, 0);
      if (!hit) return undefined;
      bitOffset += hit.bitOffset;
      indices.push(...hit.path);
      found = { member: hit.member, bitOffset, path: [...indices] };
      cur = hit.member.type;
    }
    return found;
  }

  private findDirect(t: BtfComposite, name: string, depth: number): MemberLocation | undefined {
    if (depth > MAX_CHAIN) throw new BtfError(`'${t.name}': anonymous members nested too deep (cyclic?)`);
    for (let i = 0; i < t.members.length; i++) {
      const m = t.members[i]!;
      if (m.name === name) return { member: m, bitOffset: m.bitOffset, path: [i] };
      if (m.name === '') {
        const inner = this.resolved(m.type);
        if (!isComposite(inner)) continue;
        const hit = this.findDirect(inner, name, depth + 1);
        if (hit) return { member: hit.member, bitOffset: m.bitOffset + hit.bitOffset, path: [i, ...hit.path] };
      }
    }
    return undefined;
  }

  /** Byte offset of a (possibly dotted, possibly anonymous-nested) member; BtfError if absent or a bitfield. */
  memberOffset(id: number, path: string): number {
    const loc = this.findMember(id, path);
    if (!loc) throw new BtfError(`type [${id}] '${this.type(id).name}' has no member '${path}'`);
    if (loc.bitOffset % 8 !== 0 || loc.member.bitfieldSize !== 0)
      throw new BtfError(`member '${path}' of type [${id}] is a bitfield (bit offset ${loc.bitOffset})`);
    return loc.bitOffset / 8;
  }

  /** Checks that every type decodes and refers only to existing types. Throws BtfError. */
  validate(): void {
    for (let id = this.firstTypeId; id < this.typeEnd; id++) {
      const t = this.type(id);
      for (const ref of referencedIds(t))
        if (!this.hasType(ref)) throw new BtfError(`type [${id}] ${t.kind} refers to missing type ${ref}`);
    }
  }

  /** Writes this BTF (its own types; split BTF stays split) with a deduplicated string table. */
  encode(opts?: EncodeOptions): Uint8Array {
    return encodeBtf(this, opts);
  }

  // ---- decoding ----

  // Context of the type being decoded, for error messages (methods, not closures: hot path).
  private decId = 0;
  private decAt = 0;
  private decEnd = 0;

  // `what` and `idx` only build a message when something is wrong.
  private str(off: number, what: string, idx = -1): string {
    if (!this.strings.has(off))
      throw new BtfError(`type [${this.decId}]: ${describe(what, idx)} offset ${off} is outside the string table`, this.decAt);
    try {
      return this.strings.get(off);
    } catch (e) {
      if (e instanceof BtfError) throw new BtfError(`type [${this.decId}] ${describe(what, idx)}: ${e.message}`, this.decAt);
      throw e;
    }
  }

  private ref(ref: number, what: string, idx = -1): number {
    if (ref >= this.decEnd)
      throw new BtfError(`type [${this.decId}]: ${describe(what, idx)} refers to type ${ref}, beyond the last type ${this.decEnd - 1}`, this.decAt);
    return ref;
  }

  private decode(id: number, local: number): BtfType {
    if (local >= this.rawCount) throw new BtfError(`type id ${id} does not exist`);
    const w = this.words;
    const p = this.offsets[local]!;
    const at = this.typeSecFileOffset + p * 4;
    const info = w[p + 1]!;
    const kindNo = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 === 1;
    const sizeOrType = w[p + 2]!;
    const end = this.typeEnd;
    this.decId = id;
    this.decAt = at;
    this.decEnd = end;
    const name = this.str(w[p]!, 'name');
    const kind = KINDS[kindNo]!;
    const q = p + 3;
    switch (kindNo) {
      case K_int: {
        const enc = w[q]!;
        const bits = enc & 0xff;
        const bitOffset = (enc >>> 16) & 0xff;
        const e = (enc >>> 24) & 0x0f;
        if (bits > 128 || bits === 0 || bitOffset + bits > 128)
          throw new BtfError(`type [${id}] int '${name}': bad width ${bits} at bit ${bitOffset}`, at);
        return { kind: 'int', name, size: sizeOrType, signed: (e & 1) !== 0, char: (e & 2) !== 0, bool: (e & 4) !== 0, bitOffset, bits };
      }
      case K_ptr:
      case K_typedef:
      case K_volatile:
      case K_const:
      case K_restrict:
        return { kind: kind as 'ptr', name, type: this.ref(sizeOrType, 'target') };
      case K_type_tag:
        return { kind: 'type_tag', name, type: this.ref(sizeOrType, 'target'), attribute: kflag };
      case K_array:
        return { kind: 'array', name, type: this.ref(w[q]!, 'element'), indexType: this.ref(w[q + 1]!, 'index'), nelems: w[q + 2]! };
      case K_struct:
      case K_union: {
        const members: BtfMember[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const m = q + i * 3;
          const off = w[m + 2]!;
          members[i] = {
            name: this.str(w[m]!, 'member name', i),
            type: this.ref(w[m + 1]!, 'member', i),
            bitOffset: kflag ? off & 0xffffff : off,
            bitfieldSize: kflag ? off >>> 24 : 0,
          };
        }
        return { kind: kind as 'struct', name, size: sizeOrType, members };
      }
      case K_enum: {
        const values = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = w[q + i * 2 + 1]!;
          values[i] = { name: this.str(w[q + i * 2]!, 'enumerator name', i), value: kflag ? v | 0 : v };
        }
        return { kind: 'enum', name, size: sizeOrType, signed: kflag, values };
      }
      case K_enum64: {
        const values = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const e = q + i * 3;
          const u = (BigInt(w[e + 2]!) << 32n) | BigInt(w[e + 1]!);
          values[i] = { name: this.str(w[e]!, 'enumerator name', i), value: kflag ? BigInt.asIntN(64, u) : u };
        }
        return { kind: 'enum64', name, size: sizeOrType, signed: kflag, values };
      }
      case K_fwd:
        return { kind: 'fwd', name, fwdKind: kflag ? 'union' : 'struct' };
      case K_func: {
        const linkage = LINKAGE_BY_NUMBER[vlen];
        if (!linkage) throw new BtfError(`type [${id}] func '${name}': unknown linkage ${vlen}`, at);
        return { kind: 'func', name, type: this.ref(sizeOrType, 'prototype'), linkage };
      }
      case K_func_proto: {
        const params = new Array(vlen);
        for (let i = 0; i < vlen; i++)
          params[i] = { name: this.str(w[q + i * 2]!, 'parameter name', i), type: this.ref(w[q + i * 2 + 1]!, 'parameter', i) };
        return { kind: 'func_proto', name, returnType: this.ref(sizeOrType, 'return'), params };
      }
      case K_var: {
        const linkage = LINKAGE_BY_NUMBER[w[q]!];
        if (!linkage) throw new BtfError(`type [${id}] var '${name}': unknown linkage ${w[q]}`, at);
        return { kind: 'var', name, type: this.ref(sizeOrType, 'type'), linkage };
      }
      case K_datasec: {
        const vars = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const v = q + i * 3;
          vars[i] = { type: this.ref(w[v]!, 'variable', i), offset: w[v + 1]!, size: w[v + 2]! };
        }
        return { kind: 'datasec', name, size: sizeOrType, vars };
      }
      case K_float:
        return { kind: 'float', name, size: sizeOrType };
      case K_decl_tag:
        return { kind: 'decl_tag', name, type: this.ref(sizeOrType, 'target'), componentIdx: w[q]! | 0, attribute: kflag };
      default:
        throw new BtfError(`type [${id}]: unknown kind ${kindNo}`, at);
    }
  }
}

function describe(what: string, idx: number): string {
  if (idx < 0) return what;
  const sp = what.indexOf(' ');
  return sp < 0 ? `${what} ${idx}` : `${what.slice(0, sp)} ${idx}${what.slice(sp)}`;
}

const VOID: BtfType = Object.freeze({ kind: 'void', name: '' }) as BtfType;

/** The type section as aligned host-order 32-bit words (a view when possible, else a copy). */
function wordsOf(bytes: Uint8Array, start: number, len: number): Uint32Array {
  const abs = bytes.byteOffset + start;
  if (HOST_LE && abs % 4 === 0) return new Uint32Array(bytes.buffer, abs, len / 4);
  const out = new Uint32Array(len / 4);
  if (HOST_LE) new Uint8Array(out.buffer).set(bytes.subarray(start, start + len));
  else {
    const dv = new DataView(bytes.buffer, abs, len);
    for (let i = 0; i < out.length; i++) out[i] = dv.getUint32(i * 4, true);
  }
  return out;
}

/** The one pass over all types: where each starts, with structural checks only. */
function scanTypes(words: Uint32Array, fileOffset: number, firstId: number): Uint32Array {
  const total = words.length;
  const offsets = new Uint32Array(Math.ceil(total / 3));
  let n = 0;
  let w = 0;
  while (w < total) {
    if (w + 3 > total)
      throw new BtfError(`type [${firstId + n}] is truncated (type section ends mid-record)`, fileOffset + w * 4);
    const info = words[w + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const fixed = FIXED_WORDS[kind]!;
    if (fixed < 0 || kind > MAX_KIND)
      throw new BtfError(`type [${firstId + n}]: unknown kind ${kind}`, fileOffset + w * 4 + 4);
    if ((info & 0x60ff0000) !== 0)
      throw new BtfError(`type [${firstId + n}]: reserved info bits set (0x${info.toString(16)})`, fileOffset + w * 4 + 4);
    offsets[n++] = w;
    w += 3 + fixed + VLEN_WORDS[kind]! * (info & 0xffff);
    if (w > total)
      throw new BtfError(
        `type [${firstId + n - 1}] ${KIND_BY_NUMBER[kind]} with vlen ${info & 0xffff} runs past the end of the type section`,
        fileOffset + offsets[n - 1]! * 4,
      );
  }
  return offsets.subarray(0, n);
}
