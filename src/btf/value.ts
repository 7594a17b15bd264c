// Names and values through BTF: `struct counters`, `__u32`, and map keys/values decoded into
// plain JSON-able data (structs as objects, arrays as lists, char arrays as strings, enums by
// enumerator name), as `bpftool map dump` prints its "formatted" field.
import { Buffer } from 'node:buffer';
import type { Btf } from './btf.js';

export function btfTypeName(btf: Btf, id: number, depth = 0): string {
  if (id === 0) return 'void';
  if (depth > 16) return '…';
  let t;
  try {
    t = btf.type(id);
  } catch {
    return `<bad type ${id}>`;
  }
  switch (t.kind) {
    case 'int':
    case 'float':
    case 'typedef':
    case 'var':
    case 'datasec':
    case 'func':
      return t.name || `<anon ${t.kind}>`;
    case 'struct':
    case 'union':
    case 'enum':
    case 'enum64':
      return `${t.kind === 'enum64' ? 'enum' : t.kind} ${t.name || '<anon>'}`;
    case 'fwd':
      return `${t.fwdKind} ${t.name}`;
    case 'ptr':
      return `${btfTypeName(btf, t.type, depth + 1)} *`;
    case 'array':
      return `${btfTypeName(btf, t.type, depth + 1)}[${t.nelems}]`;
    case 'const':
    case 'volatile':
    case 'restrict':
      return `${t.kind} ${btfTypeName(btf, t.type, depth + 1)}`;
    case 'type_tag':
      return btfTypeName(btf, t.type, depth + 1);
    case 'func_proto':
      return 'func_proto';
    default:
      return t.kind;
  }
}

export type Decoded = number | bigint | boolean | string | null | Decoded[] | { [k: string]: Decoded };

function readUnsigned(bytes: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i] ?? 0);
  return v;
}

function small(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Decodes `bytes[at…]` as type `id`. Bitfields pass their bit offset and width. */
export function decodeValue(btf: Btf, id: number, bytes: Uint8Array, at = 0, bitOff = 0, bitSize = 0, depth = 0): Decoded {
  if (depth > 32) return null;
  const t = btf.type(btf.resolve(id));
  switch (t.kind) {
    case 'int': {
      let v: bigint;
      let signed = t.signed;
      if (bitSize) {
        const span = Math.ceil((bitOff + bitSize) / 8);
        v = (readUnsigned(bytes, at, span) >> BigInt(bitOff)) & ((1n << BigInt(bitSize)) - 1n);
        if (signed) v = BigInt.asIntN(bitSize, v);
        signed = false;
      } else v = readUnsigned(bytes, at, t.size);
      if (signed) v = BigInt.asIntN(t.size * 8, v);
      if (t.bool) return v !== 0n;
      return small(v);
    }
    case 'enum':
    case 'enum64': {
      let v = bitSize ? (readUnsigned(bytes, at, Math.ceil((bitOff + bitSize) / 8)) >> BigInt(bitOff)) & ((1n << BigInt(bitSize)) - 1n) : readUnsigned(bytes, at, t.size);
      if (t.signed) v = BigInt.asIntN(bitSize || t.size * 8, v);
      const hit = t.values.find((e) => BigInt(e.value) === v);
      return hit ? hit.name : small(v);
    }
    case 'float': {
      const dv = new DataView(bytes.buffer, bytes.byteOffset + at, t.size);
      return t.size === 4 ? dv.getFloat32(0, true) : t.size === 8 ? dv.getFloat64(0, true) : hexOf(bytes.subarray(at, at + t.size));
    }
    case 'ptr':
      return `0x${readUnsigned(bytes, at, 8).toString(16)}`;
    case 'array': {
      const elem = btf.resolve(t.type);
      const et = btf.type(elem);
      const size = btf.sizeOf(elem);
      if (et.kind === 'int' && size === 1 && (et.char || et.name === 'char')) {
        const raw = bytes.subarray(at, at + t.nelems);
        const end = raw.indexOf(0);
        const text = raw.subarray(0, end < 0 ? raw.length : end);
        if (text.every((b) => b >= 0x20 && b < 0x7f) && (end < 0 || raw.subarray(end).every((b) => b === 0)))
          return Buffer.from(text).toString('latin1');
      }
      const out: Decoded[] = [];
      for (let i = 0; i < t.nelems; i++) out.push(decodeValue(btf, elem, bytes, at + i * size, 0, 0, depth + 1));
      return out;
    }
    case 'struct':
    case 'union': {
      const out: { [k: string]: Decoded } = {};
      t.members.forEach((m, i) => {
        const byte = Math.floor(m.bitOffset / 8);
        const v = decodeValue(btf, m.type, bytes, at + byte, m.bitOffset % 8, m.bitfieldSize, depth + 1);
        if (m.name) out[m.name] = v;
        else if (v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, v);
        else out[`<anon ${i}>`] = v;
      });
      return out;
    }
    case 'var':
      return decodeValue(btf, t.type, bytes, at, 0, 0, depth + 1);
    case 'datasec': {
      // A global data map's value: one field per variable.
      const out: { [k: string]: Decoded } = {};
      for (const v of t.vars) {
        const vt = btf.type(v.type);
        if (vt.kind !== 'var') continue;
        out[vt.name] = decodeValue(btf, vt.type, bytes, at + v.offset, 0, 0, depth + 1);
      }
      return out;
    }
    default: {
      let size = 0;
      try {
        size = btf.sizeOf(id);
      } catch {
        /* no size */
      }
      return size ? hexOf(bytes.subarray(at, at + size)) : null;
    }
  }
}

/** A compact one-line rendering for tables: `{packets: 3, bytes: 294}`. */
export function formatDecoded(v: Decoded): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return `[${v.map(formatDecoded).join(', ')}]`;
  return `{${Object.entries(v).map(([k, x]) => `${k}: ${formatDecoded(x)}`).join(', ')}}`;
}
