// Tiny raw BTF objects, each using one kind (or linkage) a kernel may not know. Loading one
// with BPF_BTF_LOAD answers whether the kernel's BTF checker accepts that kind. Pure.
import { KIND_NUMBER, LINKAGE_NUMBER, type BtfKind } from '../btf/types.js';
import type { BtfFeature } from './catalog.js';

const BTF_MAGIC = 0xeb9f;
const BTF_VERSION = 1;
const HEADER_LEN = 24;
const INT_SIGNED = 1;

/** The string section: names at the offsets `names` reports. */
class Strings {
  private text = '\0';
  offset(name: string): number {
    const at = this.text.length;
    this.text += `${name}\0`;
    return at;
  }
  bytes(): Uint8Array {
    return new TextEncoder().encode(this.text);
  }
}

const info = (kind: BtfKind, vlen = 0, kindFlag = false): number => ((kindFlag ? 1 : 0) << 31) | (KIND_NUMBER[kind] << 24) | vlen;

/** The u32 words of the types of a probe, ids from 1 in order. */
function typesFor(feature: BtfFeature, s: Strings): number[] {
  const int = [s.offset('int'), info('int'), 4, (INT_SIGNED << 24) | 32]; // [1] int
  switch (feature) {
    case 'func':
    case 'func_global':
      return [
        ...int,
        0, info('func_proto', 1), 1, s.offset('a'), 1, // [2] int (int a)
        s.offset('probe'), info('func', LINKAGE_NUMBER[feature === 'func' ? 'static' : 'global']), 2, // [3] probe
      ];
    case 'datasec':
      return [
        ...int,
        s.offset('x'), info('var'), 1, LINKAGE_NUMBER.static, // [2] static int x
        s.offset('.data'), info('datasec', 1), 4, 2, 0, 4, // [3] .data { x at 0, 4 bytes }
      ];
    case 'float':
      return [s.offset('float'), info('float'), 4]; // [1] float
    case 'decl_tag':
      return [
        ...int,
        s.offset('x'), info('var'), 1, LINKAGE_NUMBER.static, // [2] static int x
        s.offset('tag'), info('decl_tag'), 2, 0xffffffff, // [3] tag on x itself
      ];
    case 'type_tag':
      return [
        ...int,
        s.offset('tag'), info('type_tag'), 1, // [2] int __tag
        0, info('ptr'), 2, // [3] int __tag *
      ];
    case 'enum64':
      return [s.offset('e64'), info('enum64', 1), 8, s.offset('E'), 1, 1]; // [1] enum e64 { E = 1<<32|1 }
  }
}

/** A complete BTF object (header, types, strings) exercising `feature`. */
export function btfProbeBlob(feature: BtfFeature): Uint8Array {
  const s = new Strings();
  return blob(typesFor(feature, s), s);
}

/** A BTF object of one type, `int` (id 1): key and value type of local-storage probe maps. */
export function btfIntBlob(): Uint8Array {
  const s = new Strings();
  return blob([s.offset('int'), info('int'), 4, (INT_SIGNED << 24) | 32], s);
}

function blob(words: number[], s: Strings): Uint8Array {
  const strings = s.bytes();
  const typeLen = words.length * 4;
  const out = new Uint8Array(HEADER_LEN + typeLen + strings.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, BTF_MAGIC, true);
  v.setUint8(2, BTF_VERSION);
  v.setUint8(3, 0);
  v.setUint32(4, HEADER_LEN, true);
  v.setUint32(8, 0, true); // type_off
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true); // str_off
  v.setUint32(20, strings.length, true);
  words.forEach((w, i) => v.setUint32(HEADER_LEN + i * 4, w >>> 0, true));
  out.set(strings, HEADER_LEN + typeLen);
  return out;
}
