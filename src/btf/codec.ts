// Typed values through BTF: a type is compiled once into a codec that turns its bytes into a
// plain JavaScript value and a value back into bytes.
//
// Unlike `decodeValue` (the CLI's renderer, which picks the friendliest form for each *value*:
// a number while it is small, a string only when the bytes are printable), a codec picks one
// JavaScript type per *BTF type*, so that a static TypeScript type can be written for it
// (`tsbpf gen skeleton`) and strict code never narrows a union:
//
//   ints of 1–4 bytes    number          ints of 8 or 16 bytes   bigint      _Bool   boolean
//   enums                enumerator name, or the number when no enumerator matches (bigint for
//                        8-byte enums)
//   float/double         number          pointers                bigint (the address)
//   char[N]              string (UTF-8, up to the first NUL)  — as bpftool prints char arrays
//   u8[N] (unsigned char, __u8)          Uint8Array (addresses, MACs, hashes are bytes)
//   other arrays         arrays          structs, unions         objects (anonymous members
//                                                                flattened, as C reads them)
//   anything else        Uint8Array of the type's bytes
//
// Encoding is C's designated-initializer semantics: members left out are zero; a union takes at
// most one member; arrays and strings may be shorter than the type (the rest is zero). A value
// that does not fit its type is a BtfValueError naming the member path and the C type.
import { TextDecoder, TextEncoder } from 'node:util';
import { BtfError, UsageError } from '../errors.js';
import type { Btf } from './btf.js';
import type { BtfMember } from './types.js';
import { btfTypeName } from './value.js';

/** What a codec decodes to (the static type of one particular BTF type is narrower). */
export type BtfValue = number | bigint | boolean | string | Uint8Array | BtfValue[] | { [member: string]: BtfValue };

/**
 * What an encoder accepts for a decoded type `T`: members may be left out (zero), bigints may
 * be given as safe-integer numbers, byte arrays as number lists, arrays may be shorter.
 */
export type Init<T> = T extends bigint
  ? bigint | number
  : T extends string | number | boolean
    ? T
    : T extends Uint8Array
      ? Uint8Array | readonly number[]
      : T extends readonly (infer E)[]
        ? readonly Init<E>[]
        : T extends object
          ? { readonly [K in keyof T]?: Init<T[K]> }
          : T;

/** A value does not fit the BTF type it is encoded as. */
export class BtfValueError extends UsageError {
  override name = 'BtfValueError';
  /** Where in the value: 'value.stats.bytes', 'key[2]'. */
  readonly path: string;
  /** The C type it was encoded as ('__u64', 'struct flow_key'). */
  readonly ctype: string;
  constructor(path: string, ctype: string, problem: string) {
    super(`${path} (${ctype}): ${problem}`);
    this.path = path;
    this.ctype = ctype;
  }
}

/** The JavaScript shape a BTF type decodes to: what a TypeScript type is generated from. */
export type ValueShape =
  | { readonly kind: 'number' | 'bigint'; readonly bits: number; readonly signed: boolean }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'string' | 'bytes'; readonly length: number }
  | { readonly kind: 'enum'; readonly names: readonly string[]; readonly big: boolean }
  | { readonly kind: 'array'; readonly of: ValueShape; readonly length: number }
  | {
      readonly kind: 'object';
      /** The C name for an interface (a struct's tag, or the typedef naming an anonymous one); '' inline. */
      readonly name: string;
      readonly union: boolean;
      /** The resolved BTF type id (one interface per id). */
      readonly typeId: number;
      readonly fields: readonly (readonly [string, ValueShape])[];
      /** Members of anonymous unions, flattened into `fields`: one list per union, of which an
       * encoded value may set one member. */
      readonly exclusive: readonly (readonly string[])[];
    };

export interface ValueCodec<T = BtfValue> {
  /** Bytes of one value. */
  readonly size: number;
  /** The C type, for messages ('struct flow_key'). */
  readonly ctype: string;
  readonly shape: ValueShape;
  /** Decodes `size` bytes at `at`. */
  decode(bytes: Uint8Array, at?: number): T;
  /** Writes `value` over `size` bytes at `at` (zeroed first). `what` names it in errors. */
  encode(value: Init<T>, out: Uint8Array, at?: number, what?: string): void;
  /** `encode` into a new buffer of `size` bytes. */
  toBytes(value: Init<T>, what?: string): Uint8Array;
  /** decode() with a DataView over `bytes` the caller keeps (hot loops); no bounds check. */
  decodeAt(bytes: Uint8Array, view: DataView, at: number): T;
  /** encode() with a DataView over `out` the caller keeps (hot loops); no bounds check. */
  encodeAt(value: Init<T>, out: Uint8Array, view: DataView, at: number, what: string): void;
}

/**
 * Where a value being encoded is, for messages: null on the first, fast attempt, which builds no
 * path strings and gives up at the first problem (RETRY); the encoder then runs again with
 * paths to report it. Encoding is then as fast as the good case allows, and errors still name
 * the member.
 */
type Path = string | null;
const RETRY = { retry: true } as const;

function fail(path: Path, ctype: string, problem: string): BtfValueError | typeof RETRY {
  return path === null ? RETRY : new BtfValueError(path, ctype, problem);
}

interface Node {
  readonly size: number;
  readonly ctype: string;
  readonly shape: ValueShape;
  decode(b: Uint8Array, dv: DataView, at: number): BtfValue;
  /** Writes into zeroed bytes. */
  encode(v: unknown, b: Uint8Array, dv: DataView, at: number, path: Path): void;
  /** Structs and unions: decodes the members into `out` (how anonymous members flatten). */
  decodeInto?(out: Record<string, BtfValue>, b: Uint8Array, dv: DataView, at: number): void;
  /** Structs and unions: encodes the members `v` names; returns how many of its keys it used. */
  members?(v: Record<string, unknown>, b: Uint8Array, dv: DataView, at: number, path: Path): number;
}

const UTF8 = new TextDecoder('utf-8');
const UTF8_OUT = new TextEncoder();
const MAX_DEPTH = 32;

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `a Uint8Array of ${v.length} bytes`;
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Little-endian unsigned integer of `size` bytes, as a bigint. */
function readBig(b: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i] ?? 0);
  return v;
}

function writeBig(b: Uint8Array, at: number, size: number, v: bigint): void {
  let u = BigInt.asUintN(size * 8, v);
  for (let i = 0; i < size; i++) {
    b[at + i] = Number(u & 0xffn);
    u >>= 8n;
  }
}

/** A number or bigint as a bigint in [min, max], or a BtfValueError. */
/** The range of a `bits`-bit integer, computed once per type (BigInt shifts are not free). */
interface Range {
  readonly min: bigint;
  readonly max: bigint;
}
function rangeOf(bits: number, signed: boolean): Range {
  return signed ? { min: -(1n << BigInt(bits - 1)), max: (1n << BigInt(bits - 1)) - 1n } : { min: 0n, max: (1n << BigInt(bits)) - 1n };
}

/** A number or bigint as a bigint in the range, or a BtfValueError. */
function integer(v: unknown, range: Range, path: Path, ctype: string): bigint {
  let big: bigint;
  if (typeof v === 'bigint') big = v;
  else if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw fail(path, ctype, `${v} is not a safe integer${Number.isInteger(v) ? ' (use a bigint)' : ''}`);
    big = BigInt(v);
  } else if (typeof v === 'boolean') big = v ? 1n : 0n;
  else throw fail(path, ctype, `expected an integer, got ${describe(v)}`);
  if (big < range.min || big > range.max) throw fail(path, ctype, `${v} is out of range (${range.min}..${range.max})`);
  return big;
}

interface Compiler {
  readonly btf: Btf;
  /** Codec nodes by type id: a type used twice compiles once. */
  readonly nodes: Map<number, Node>;
}

function intNode(size: number, signed: boolean, bool: boolean, ctype: string): Node {
  const bits = size * 8;
  const range = rangeOf(bits, signed);
  if (bool)
    return {
      size,
      ctype,
      shape: { kind: 'boolean' },
      decode: (b, _dv, at) => readBig(b, at, size) !== 0n,
      encode(v, b, _dv, at, path) {
        if (typeof v !== 'boolean' && v !== 0 && v !== 1) throw fail(path, ctype, `expected a boolean, got ${describe(v)}`);
        b[at] = v ? 1 : 0;
      },
    };
  if (size <= 4) {
    const min = signed ? -(2 ** (bits - 1)) : 0;
    const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    const read =
      size === 1
        ? signed
          ? (_b: Uint8Array, dv: DataView, at: number) => dv.getInt8(at)
          : (b: Uint8Array, _dv: DataView, at: number) => b[at]!
        : size === 2
          ? signed
            ? (_b: Uint8Array, dv: DataView, at: number) => dv.getInt16(at, true)
            : (_b: Uint8Array, dv: DataView, at: number) => dv.getUint16(at, true)
          : size === 4
            ? signed
              ? (_b: Uint8Array, dv: DataView, at: number) => dv.getInt32(at, true)
              : (_b: Uint8Array, dv: DataView, at: number) => dv.getUint32(at, true)
            : (b: Uint8Array, _dv: DataView, at: number) => {
                const v = Number(readBig(b, at, size));
                return signed && v > max ? v - 2 ** bits : v;
              };
    return {
      size,
      ctype,
      shape: { kind: 'number', bits, signed },
      decode: read,
      encode(v, b, dv, at, path) {
        if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) {
          if (size === 4) dv.setUint32(at, v >>> 0, true);
          else if (size === 2) dv.setUint16(at, v & 0xffff, true);
          else if (size === 1) b[at] = v & 0xff;
          else writeBig(b, at, size, BigInt(v));
          return;
        }
        writeBig(b, at, size, integer(v, range, path, ctype));
      },
    };
  }
  return {
    size,
    ctype,
    shape: { kind: 'bigint', bits, signed },
    decode:
      size === 8
        ? signed
          ? (_b, dv, at) => dv.getBigInt64(at, true)
          : (_b, dv, at) => dv.getBigUint64(at, true)
        : (b, _dv, at) => (signed ? BigInt.asIntN(bits, readBig(b, at, size)) : readBig(b, at, size)),
    encode(v, b, dv, at, path) {
      const big = integer(v, range, path, ctype);
      // In range already: the signed or unsigned setter takes it as it is (no asUintN copy).
      if (size === 8) {
        if (signed) dv.setBigInt64(at, big, true);
        else dv.setBigUint64(at, big, true);
      } else writeBig(b, at, size, big);
    },
  };
}

function enumNode(btf: Btf, id: number, ctype: string): Node {
  const t = btf.type(id);
  if (t.kind !== 'enum' && t.kind !== 'enum64') throw new BtfError(`type [${id}] is not an enum`);
  const size = t.size;
  const big = size > 4;
  const byValue = new Map<bigint, string>();
  const byName = new Map<string, bigint>();
  for (const e of t.values) {
    const v = BigInt.asUintN(size * 8, BigInt(e.value));
    if (!byValue.has(v)) byValue.set(v, e.name);
    byName.set(e.name, v);
  }
  const signed = t.signed;
  return {
    size,
    ctype,
    shape: { kind: 'enum', names: [...byName.keys()], big },
    decode(b, _dv, at) {
      const raw = readBig(b, at, size);
      const name = byValue.get(raw);
      if (name !== undefined) return name;
      const v = signed ? BigInt.asIntN(size * 8, raw) : raw;
      return big ? v : Number(v);
    },
    encode(v, b, _dv, at, path) {
      if (typeof v === 'string') {
        const n = byName.get(v);
        if (n === undefined) throw fail(path, ctype, `${JSON.stringify(v)} is not one of its enumerators (${[...byName.keys()].join(', ')})`);
        writeBig(b, at, size, n);
        return;
      }
      // Either signedness fits: C code stores -1 in an unsigned enum, and 0xffffffff in a signed one.
      const x = typeof v === 'number' || typeof v === 'bigint' ? (typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v) : undefined;
      if (typeof x === 'bigint' && x >= -(1n << BigInt(size * 8 - 1)) && x < 1n << BigInt(size * 8)) writeBig(b, at, size, x);
      else if (x === undefined) throw fail(path, ctype, `expected an enumerator name or a number, got ${describe(v)}`);
      else throw fail(path, ctype, `${v} does not fit ${size} bytes`);
    },
  };
}

function bytesNode(size: number, ctype: string): Node {
  return {
    size,
    ctype,
    shape: { kind: 'bytes', length: size },
    decode: (b, _dv, at) => b.slice(at, at + size),
    encode(v, b, _dv, at, path) {
      if (v instanceof Uint8Array || (Array.isArray(v) && v.every((x) => typeof x === 'number'))) {
        const src = v as ArrayLike<number>;
        if (src.length > size) throw fail(path, ctype, `${describe(v)} is longer than ${size} bytes`);
        for (let i = 0; i < src.length; i++) {
          const x = src[i]!;
          if (!Number.isInteger(x) || x < 0 || x > 255) throw fail(path === null ? null : `${path}[${i}]`, ctype, `${x} is not a byte`);
          b[at + i] = x;
        }
        return;
      }
      throw fail(path, ctype, `expected a Uint8Array of up to ${size} bytes, got ${describe(v)}`);
    },
  };
}

function stringNode(size: number, ctype: string): Node {
  return {
    size,
    ctype,
    shape: { kind: 'string', length: size },
    decode(b, _dv, at) {
      let end = at;
      while (end < at + size && b[end] !== 0) end++;
      return UTF8.decode(b.subarray(at, end));
    },
    encode(v, b, _dv, at, path) {
      if (typeof v !== 'string') throw fail(path, ctype, `expected a string, got ${describe(v)}`);
      const bytes = UTF8_OUT.encode(v);
      if (bytes.length > size) throw fail(path, ctype, `${describe(v)} is ${bytes.length} bytes in UTF-8; it holds ${size}`);
      if (bytes.includes(0)) throw fail(path, ctype, 'a string with a NUL would be cut short when read back');
      b.set(bytes, at);
    },
  };
}

function arrayNode(elem: Node, n: number, ctype: string): Node {
  const es = elem.size;
  return {
    size: es * n,
    ctype,
    shape: { kind: 'array', of: elem.shape, length: n },
    decode(b, dv, at) {
      const out: BtfValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = elem.decode(b, dv, at + i * es);
      return out;
    },
    encode(v, b, dv, at, path) {
      if (!Array.isArray(v)) throw fail(path, ctype, `expected an array of up to ${n}, got ${describe(v)}`);
      if (v.length > n) throw fail(path, ctype, `${v.length} elements; it holds ${n}`);
      for (let i = 0; i < v.length; i++) if (v[i] !== undefined) elem.encode(v[i], b, dv, at + i * es, path === null ? null : `${path}[${i}]`);
    },
  };
}

/** A bitfield member: `bits` bits from bit `bitOff` of the bytes at the member's byte offset. */
function bitfieldNode(btf: Btf, typeId: number, bitOff: number, bits: number, ctype: string): Node {
  const t = btf.resolved(typeId);
  const span = Math.ceil((bitOff + bits) / 8);
  const mask = (1n << BigInt(bits)) - 1n;
  const signed = (t.kind === 'int' || t.kind === 'enum' || t.kind === 'enum64') && t.signed;
  const baseSize = t.kind === 'int' || t.kind === 'enum' || t.kind === 'enum64' ? t.size : 4;
  const asEnum = t.kind === 'enum' || t.kind === 'enum64' ? enumNode(btf, btf.resolve(typeId), ctype) : undefined;
  const bool = t.kind === 'int' && t.bool;
  const shape: ValueShape = asEnum ? asEnum.shape : bool ? { kind: 'boolean' } : { kind: baseSize > 4 ? 'bigint' : 'number', bits, signed };
  const range = rangeOf(bits, signed && !bool);
  const field = (b: Uint8Array, at: number): bigint => (readBig(b, at, span) >> BigInt(bitOff)) & mask;
  return {
    size: span,
    ctype: `${ctype}:${bits}`,
    shape,
    decode(b, dv, at) {
      const raw = field(b, at);
      if (asEnum) {
        const tmp = new Uint8Array(baseSize);
        writeBig(tmp, 0, baseSize, signed ? BigInt.asIntN(bits, raw) : raw);
        return asEnum.decode(tmp, new DataView(tmp.buffer), 0);
      }
      if (bool) return raw !== 0n;
      const v = signed ? BigInt.asIntN(bits, raw) : raw;
      return baseSize > 4 ? v : Number(v);
    },
    encode(v, b, _dv, at, path) {
      let raw: bigint;
      if (asEnum) {
        const tmp = new Uint8Array(baseSize);
        asEnum.encode(v, tmp, new DataView(tmp.buffer), 0, path);
        raw = readBig(tmp, 0, baseSize);
        const half = 1n << BigInt(bits - 1);
        const sv = signed ? BigInt.asIntN(baseSize * 8, raw) : raw;
        if (signed ? sv < -half || sv >= half : sv > mask) throw fail(path, `${ctype}:${bits}`, `${String(v)} does not fit ${bits} bits`);
      } else raw = integer(v, range, path, `${ctype}:${bits}`);
      const cur = readBig(b, at, span);
      writeBig(b, at, span, (cur & ~(mask << BigInt(bitOff))) | ((BigInt.asUintN(bits, raw) & mask) << BigInt(bitOff)));
    },
  };
}

interface Field {
  /** '' for an anonymous struct/union member, whose own members are read as this one's. */
  readonly name: string;
  readonly at: number;
  readonly node: Node;
}

function compositeNode(c: Compiler, id: number, name: string, ctype: string, depth: number): Node {
  const t = c.btf.type(id);
  if (t.kind !== 'struct' && t.kind !== 'union' && t.kind !== 'datasec') throw new BtfError(`type [${id}] is not a struct, union or datasec`);
  const union = t.kind === 'union';
  const fields: Field[] = [];
  if (t.kind === 'datasec') {
    for (const v of t.vars) {
      const vt = c.btf.type(v.type);
      if (vt.kind !== 'var') continue;
      fields.push({ name: vt.name, at: v.offset, node: compile(c, vt.type, depth + 1) });
    }
  } else {
    t.members.forEach((m: BtfMember) => {
      const byte = Math.floor(m.bitOffset / 8);
      const bitOff = m.bitOffset % 8;
      let node: Node;
      const mt = c.btf.resolved(m.type);
      if (m.bitfieldSize || bitOff || (mt.kind === 'int' && mt.bits !== mt.size * 8)) {
        const bits = m.bitfieldSize || (mt.kind === 'int' ? mt.bits : c.btf.sizeOf(m.type) * 8);
        node = bitfieldNode(c.btf, m.type, bitOff, bits, btfTypeName(c.btf, m.type));
      } else node = compile(c, m.type, depth + 1);
      // An unnamed member that is not a struct or union is padding (`int :3;`): not a value.
      if (!m.name && node.shape.kind !== 'object') return;
      fields.push({ name: m.name, at: byte, node });
    });
  }
  // Names reachable from here, with anonymous members flattened: what an encoder accepts.
  const known = new Set<string>();
  const shapeFields: (readonly [string, ValueShape])[] = [];
  const exclusive: string[][] = [];
  for (const f of fields) {
    if (f.name) shapeFields.push([f.name, f.node.shape]);
    else if (f.node.shape.kind === 'object') {
      shapeFields.push(...f.node.shape.fields);
      if (f.node.shape.union) exclusive.push(f.node.shape.fields.map(([n]) => n));
      exclusive.push(...f.node.shape.exclusive.map((g) => [...g]));
    }
  }
  for (const [n] of shapeFields) known.add(n);
  // Decoded values are plain objects: a member by this name would set their prototype.
  if (known.has('__proto__')) throw new BtfError(`type [${id}] (${ctype}) has a member named __proto__, which no JavaScript object can hold as data`);
  const template: Record<string, BtfValue> = {};
  for (const [n] of shapeFields) template[n] = 0;
  const named = fields.filter((f) => f.name);
  const anonymous = fields.filter((f) => !f.name);
  const decodeInto = (out: Record<string, BtfValue>, b: Uint8Array, dv: DataView, at: number): void => {
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.name) out[f.name] = f.node.decode(b, dv, at + f.at);
      else f.node.decodeInto!(out, b, dv, at + f.at);
    }
  };
  const members = (v: Record<string, unknown>, b: Uint8Array, dv: DataView, at: number, path: Path): number => {
    let used = 0;
    let set = 0;
    for (let i = 0; i < named.length; i++) {
      const f = named[i]!;
      const x = v[f.name];
      if (x === undefined) continue;
      used++;
      set++;
      f.node.encode(x, b, dv, at + f.at, path === null ? null : `${path}.${f.name}`);
    }
    for (let i = 0; i < anonymous.length; i++) {
      const n = anonymous[i]!.node.members!(v, b, dv, at + anonymous[i]!.at, path);
      used += n;
      if (n) set++;
    }
    if (union && set > 1) {
      const given = shapeFields.map(([n]) => n).filter((n) => v[n] !== undefined);
      throw fail(path, ctype, `a union holds one member at a time; got ${given.join(', ')}`);
    }
    return used;
  };
  return {
    size: t.size,
    ctype,
    shape: { kind: 'object', name, union, typeId: id, fields: shapeFields, exclusive },
    decode(b, dv, at) {
      // A clone of an object with every member already in place is faster to fill than an
      // empty object grown one property at a time (one hidden class, no transitions).
      const out: Record<string, BtfValue> = { ...template };
      decodeInto(out, b, dv, at);
      return out;
    },
    decodeInto,
    members,
    encode(v, b, dv, at, path) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array)
        throw fail(path, ctype, `expected an object, got ${describe(v)}`);
      const r = v as Record<string, unknown>;
      const used = members(r, b, dv, at, path);
      let given = 0;
      for (const k in r) if (r[k] !== undefined) given++;
      if (given !== used) {
        // (Fewer keys than members used: getters on a prototype, which for-in does not list.)
        const unknown = Object.keys(r).find((k) => r[k] !== undefined && !known.has(k));
        if (unknown !== undefined) throw fail(path, ctype, `has no member '${unknown}'; members: ${[...known].join(', ') || 'none'}`);
      }
    },
  };
}

/** The codec node of type `id` (modifiers skipped; typedef names kept for anonymous structs). */
function compile(c: Compiler, id: number, depth = 0): Node {
  if (depth > MAX_DEPTH) throw new BtfError(`type [${id}]: nested more than ${MAX_DEPTH} deep`);
  // The nearest typedef names an anonymous struct (`typedef struct { … } flow_t`).
  let typedefName = '';
  let cur = id;
  for (let i = 0; i < 64; i++) {
    const t = c.btf.type(cur);
    if (t.kind === 'typedef' && !typedefName) typedefName = t.name;
    if (t.kind === 'typedef' || t.kind === 'const' || t.kind === 'volatile' || t.kind === 'restrict' || t.kind === 'type_tag' || t.kind === 'var') cur = t.type;
    else break;
  }
  // Cached by the id asked for, so that messages name the type as the C source wrote it (__u16,
  // not unsigned short); a struct reached through two typedefs compiles twice, which is cheap.
  const cached = c.nodes.get(id);
  if (cached) return cached;
  const t = c.btf.type(cur);
  const ctype = typedefName || btfTypeName(c.btf, cur);
  let node: Node;
  switch (t.kind) {
    case 'int':
      node = intNode(t.size, t.signed, t.bool, ctype);
      break;
    case 'enum':
    case 'enum64':
      node = enumNode(c.btf, cur, ctype);
      break;
    case 'float':
      node =
        t.size === 4 || t.size === 8
          ? {
              size: t.size,
              ctype,
              shape: { kind: 'number', bits: t.size * 8, signed: true },
              decode: t.size === 4 ? (_b, dv, at) => dv.getFloat32(at, true) : (_b, dv, at) => dv.getFloat64(at, true),
              encode(v, _b, dv, at, path) {
                if (typeof v !== 'number') throw fail(path, ctype, `expected a number, got ${describe(v)}`);
                if (t.size === 4) dv.setFloat32(at, v, true);
                else dv.setFloat64(at, v, true);
              },
            }
          : bytesNode(t.size, ctype);
      break;
    case 'ptr':
      node = { ...intNode(8, false, false, ctype) };
      break;
    case 'array': {
      const elemId = c.btf.resolve(t.type);
      const et = c.btf.type(elemId);
      if (et.kind === 'int' && et.size === 1 && !et.bool && (et.char || et.name === 'char')) node = stringNode(t.nelems, ctype);
      else if (et.kind === 'int' && et.size === 1 && !et.bool && !et.signed) node = bytesNode(t.nelems, ctype);
      else node = arrayNode(compile(c, t.type, depth + 1), t.nelems, ctype);
      break;
    }
    case 'struct':
    case 'union':
      node = compositeNode(c, cur, t.name || typedefName, ctype, depth);
      break;
    case 'datasec':
      node = compositeNode(c, cur, '', ctype, depth);
      break;
    default: {
      let size = 0;
      try {
        size = c.btf.sizeOf(cur);
      } catch {
        throw new BtfError(`type [${id}] (${ctype}) has no size: it cannot hold a value`);
      }
      node = bytesNode(size, ctype);
    }
  }
  c.nodes.set(id, node);
  return node;
}

const codecs = new WeakMap<Btf, Map<number, ValueCodec>>();

/**
 * The codec of BTF type `id` (cached per Btf and type: compile once, use on every lookup).
 * `T` is the caller's claim about the decoded type (a generated skeleton states it exactly).
 */
export function valueCodec<T = BtfValue>(btf: Btf, id: number): ValueCodec<T> {
  let perBtf = codecs.get(btf);
  if (!perBtf) codecs.set(btf, (perBtf = new Map()));
  const hit = perBtf.get(id);
  if (hit) return hit as ValueCodec<T>;
  const node = compile({ btf, nodes: new Map() }, id);
  const size = node.size;
  const encodeAt = (value: unknown, out: Uint8Array, dv: DataView, at: number, what: string): void => {
    out.fill(0, at, at + size);
    try {
      node.encode(value, out, dv, at, null);
    } catch (e) {
      if (e !== RETRY) throw e;
      // Again, with paths, to say where.
      out.fill(0, at, at + size);
      node.encode(value, out, dv, at, what);
      throw new BtfValueError(what, node.ctype, 'does not fit'); // not reached: the second pass throws
    }
  };
  const codec: ValueCodec = {
    size,
    ctype: node.ctype,
    shape: node.shape,
    decode(bytes, at = 0) {
      if (!(bytes instanceof Uint8Array) || bytes.length < at + size)
        throw new UsageError(`decoding ${node.ctype}: need ${size} bytes at offset ${at}, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`);
      return node.decode(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), at);
    },
    encode(value, out, at = 0, what = 'value') {
      if (!(out instanceof Uint8Array) || out.length < at + size)
        throw new UsageError(`encoding ${node.ctype}: need ${size} bytes at offset ${at}, got ${out instanceof Uint8Array ? out.length : typeof out}`);
      encodeAt(value, out, new DataView(out.buffer, out.byteOffset, out.byteLength), at, what);
    },
    toBytes(value, what = 'value') {
      const out = new Uint8Array(size);
      encodeAt(value, out, new DataView(out.buffer), 0, what);
      return out;
    },
    decodeAt: (bytes, view, at) => node.decode(bytes, view, at),
    encodeAt,
  };
  perBtf.set(id, codec);
  return codec as ValueCodec<T>;
}
