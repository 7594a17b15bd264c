// Writes a Btf back to bytes: header, types in id order, a deduplicated string table.
import { BtfError } from '../errors.js';
import type { Btf } from './btf.js';
import { StringWriter } from './strings.js';
import { type BtfType, KIND_NUMBER, LINKAGE_NUMBER, referencedIds } from './types.js';

const HEADER_LEN = 24;
const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function wordsFor(t: BtfType): number {
  switch (t.kind) {
    case 'int':
    case 'var':
    case 'decl_tag':
      return 4;
    case 'array':
      return 6;
    case 'struct':
    case 'union':
      return 3 + 3 * t.members.length;
    case 'enum':
      return 3 + 2 * t.values.length;
    case 'enum64':
      return 3 + 3 * t.values.length;
    case 'func_proto':
      return 3 + 2 * t.params.length;
    case 'datasec':
      return 3 + 3 * t.vars.length;
    default:
      return 3;
  }
}

function u32(v: number, what: string, id: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new BtfError(`type [${id}]: ${what} ${v} is not a u32`);
  return v;
}

function vlen(n: number, id: number): number {
  if (n > 0xffff) throw new BtfError(`type [${id}]: ${n} items exceed the BTF limit of 65535`);
  return n;
}

export interface EncodeOptions {
  /**
   * Rebuild the string table from the strings in use. By default a parsed BTF keeps its
   * string table verbatim (new strings are appended, deduplicated), so string offsets held
   * elsewhere (.BTF.ext line_info, for instance) stay valid for the encoded bytes.
   */
  compactStrings?: boolean;
}

export function encodeBtf(btf: Btf, opts: EncodeOptions = {}): Uint8Array {
  const keep = !opts.compactStrings && btf.header !== undefined;
  // A parsed BTF whose string table is kept: unchanged types are copied word for word, and
  // the (costly) index of the old strings is built only if some type needs encoding.
  let strings: StringWriter | undefined;
  const writer = (): StringWriter =>
    (strings ??= new StringWriter(btf.base ? btf.strings.start : 0, keep ? btf.strings : undefined));
  const types: (BtfType | Uint32Array)[] = [];
  let words = 0;
  for (let id = btf.firstTypeId; id < btf.typeEnd; id++) {
    const raw = keep ? btf.rawRecord(id) : undefined;
    if (raw) {
      types.push(raw);
      words += raw.length;
      continue;
    }
    const t = btf.type(id);
    for (const r of referencedIds(t))
      if (!btf.hasType(r)) throw new BtfError(`type [${id}] ${t.kind} '${t.name}' refers to missing type ${r}`);
    types.push(t);
    words += wordsFor(t);
  }
  const w = new Uint32Array(words);
  let p = 0;
  let id = btf.firstTypeId;
  const head = (t: BtfType, vl: number, kflag: boolean, sizeOrType: number): void => {
    w[p] = writer().add(t.name);
    w[p + 1] = ((kflag ? 1 : 0) << 31) | (KIND_NUMBER[t.kind] << 24) | vlen(vl, id);
    w[p + 2] = u32(sizeOrType, 'size/type', id);
    p += 3;
  };
  for (const t of types) {
    if (t instanceof Uint32Array) {
      w.set(t, p);
      p += t.length;
      id++;
      continue;
    }
    switch (t.kind) {
      case 'int': {
        if (t.bits < 1 || t.bits > 128 || t.bitOffset < 0 || t.bitOffset + t.bits > 128)
          throw new BtfError(`type [${id}] int '${t.name}': bad width ${t.bits} at bit ${t.bitOffset}`);
        head(t, 0, false, t.size);
        const enc = (t.signed ? 1 : 0) | (t.char ? 2 : 0) | (t.bool ? 4 : 0);
        w[p++] = ((enc << 24) | (t.bitOffset << 16) | t.bits) >>> 0;
        break;
      }
      case 'ptr':
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
        head(t, 0, false, t.type);
        break;
      case 'type_tag':
        head(t, 0, t.attribute, t.type);
        break;
      case 'array':
        head(t, 0, false, 0);
        w[p++] = u32(t.type, 'element type', id);
        w[p++] = u32(t.indexType, 'index type', id);
        w[p++] = u32(t.nelems, 'nelems', id);
        break;
      case 'struct':
      case 'union': {
        const kflag = t.members.some((m) => m.bitfieldSize !== 0);
        head(t, t.members.length, kflag, t.size);
        for (const m of t.members) {
          w[p++] = writer().add(m.name);
          w[p++] = u32(m.type, 'member type', id);
          if (kflag) {
            if (m.bitOffset > 0xffffff || m.bitfieldSize > 0xff || m.bitfieldSize < 0)
              throw new BtfError(`type [${id}] member '${m.name}': bit offset ${m.bitOffset} / size ${m.bitfieldSize} do not fit the kind_flag encoding`);
            w[p++] = ((m.bitfieldSize << 24) | m.bitOffset) >>> 0;
          } else w[p++] = u32(m.bitOffset, 'member offset', id);
        }
        break;
      }
      case 'enum':
        head(t, t.values.length, t.signed, t.size);
        for (const v of t.values) {
          if (!Number.isInteger(v.value) || v.value < -0x80000000 || v.value > 0xffffffff)
            throw new BtfError(`type [${id}] enumerator '${v.name}': ${v.value} does not fit 32 bits`);
          w[p++] = writer().add(v.name);
          w[p++] = v.value >>> 0;
        }
        break;
      case 'enum64':
        head(t, t.values.length, t.signed, t.size);
        for (const v of t.values) {
          const u = BigInt.asUintN(64, v.value);
          w[p++] = writer().add(v.name);
          w[p++] = Number(u & 0xffffffffn);
          w[p++] = Number(u >> 32n);
        }
        break;
      case 'fwd':
        head(t, 0, t.fwdKind === 'union', 0);
        break;
      case 'func':
        head(t, LINKAGE_NUMBER[t.linkage], false, t.type);
        break;
      case 'func_proto':
        head(t, t.params.length, false, t.returnType);
        for (const a of t.params) {
          w[p++] = writer().add(a.name);
          w[p++] = u32(a.type, 'parameter type', id);
        }
        break;
      case 'var':
        head(t, 0, false, t.type);
        w[p++] = LINKAGE_NUMBER[t.linkage];
        break;
      case 'datasec':
        head(t, t.vars.length, false, t.size);
        for (const v of t.vars) {
          w[p++] = u32(v.type, 'variable type', id);
          w[p++] = u32(v.offset, 'variable offset', id);
          w[p++] = u32(v.size, 'variable size', id);
        }
        break;
      case 'float':
        head(t, 0, false, t.size);
        break;
      case 'decl_tag':
        if (!Number.isInteger(t.componentIdx) || t.componentIdx < -1 || t.componentIdx > 0x7fffffff)
          throw new BtfError(`type [${id}] decl_tag: bad component index ${t.componentIdx}`);
        head(t, 0, t.attribute, t.type);
        w[p++] = t.componentIdx >>> 0;
        break;
      default:
        throw new BtfError(`type [${id}]: cannot encode kind ${(t as BtfType).kind}`);
    }
    id++;
  }
  const typeLen = words * 4;
  // Nothing needed encoding: the old table as it was (a NUL added if it lacked one).
  const table = strings ?? (keep ? new StringWriter(btf.base ? btf.strings.start : 0, btf.strings, false) : writer());
  const strLen = table.length;
  const out = new Uint8Array(HEADER_LEN + typeLen + strLen);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, 0xeb9f, true);
  dv.setUint8(2, 1);
  dv.setUint8(3, 0);
  dv.setUint32(4, HEADER_LEN, true);
  dv.setUint32(8, 0, true);
  dv.setUint32(12, typeLen, true);
  dv.setUint32(16, typeLen, true);
  dv.setUint32(20, strLen, true);
  if (HOST_LE) out.set(new Uint8Array(w.buffer, 0, typeLen), HEADER_LEN);
  else for (let i = 0; i < words; i++) dv.setUint32(HEADER_LEN + i * 4, w[i]!, true);
  table.write(out, HEADER_LEN + typeLen);
  return out;
}
