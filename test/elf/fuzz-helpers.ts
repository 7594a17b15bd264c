// Deterministic mutations of ELF objects for the fuzz test: each case is reproducible from
// its seed, and targets the fields a parser trusts (offsets, sizes, counts, indices).
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 16, 24, 64, 0x7f, 0x80, 0xff, 0x100, 0xfff1, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

interface Field {
  at: number;
  size: 1 | 2 | 4 | 8;
}

/** Offsets of the header, section header, symbol and relocation fields of a well-formed ELF64 LE file. */
export function structuralFields(b: Uint8Array): Field[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Field[] = [
    { at: 4, size: 1 },
    { at: 5, size: 1 },
    { at: 16, size: 2 },
    { at: 18, size: 2 },
    { at: 40, size: 8 },
    { at: 58, size: 2 },
    { at: 60, size: 2 },
    { at: 62, size: 2 },
  ];
  const shoff = Number(dv.getBigUint64(40, true));
  const shnum = dv.getUint16(60, true);
  for (let i = 0; i < shnum; i++) {
    const h = shoff + i * 64;
    for (const [o, size] of [[0, 4], [4, 4], [8, 8], [24, 8], [32, 8], [40, 4], [44, 4], [56, 8]] as const) out.push({ at: h + o, size });
    const type = dv.getUint32(h + 4, true);
    const off = Number(dv.getBigUint64(h + 24, true));
    const size = Number(dv.getBigUint64(h + 32, true));
    if (type === 2) for (let s = off; s + 24 <= off + size; s += 24) for (const [o, sz] of [[0, 4], [4, 1], [6, 2], [8, 8], [16, 8]] as const) out.push({ at: s + o, size: sz });
    if (type === 9) for (let r = off; r + 16 <= off + size; r += 16) for (const [o, sz] of [[0, 8], [8, 4], [12, 4]] as const) out.push({ at: r + o, size: sz });
  }
  return out;
}

function write(b: Uint8Array, f: Field, v: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f.at + f.size > b.byteLength) return;
  if (f.size === 1) dv.setUint8(f.at, v & 0xff);
  else if (f.size === 2) dv.setUint16(f.at, v & 0xffff, true);
  else if (f.size === 4) dv.setUint32(f.at, v >>> 0, true);
  else dv.setBigUint64(f.at, BigInt(v >>> 0) * (v > 0xffffffff ? 0x100000000n : 1n), true);
}

/** One mutated copy of `src`, chosen by `next`. */
export function mutate(src: Uint8Array, fields: readonly Field[], next: () => number): Uint8Array {
  const mode = next() % 10;
  if (mode === 0) return src.slice(0, next() % src.byteLength); // truncation
  if (mode === 1) {
    // random bytes, sometimes behind a valid ELF identification
    const b = new Uint8Array(next() % 4096);
    for (let i = 0; i < b.byteLength; i++) b[i] = next() & 0xff;
    if (next() & 1) b.set(src.subarray(0, Math.min(64, b.byteLength)));
    return b;
  }
  const b = src.slice();
  const n = 1 + (next() % 4);
  for (let k = 0; k < n; k++) {
    if (mode <= 6) {
      const f = fields[next() % fields.length]!;
      const r = next();
      const v = r & 1 ? INTERESTING[(r >>> 1) % INTERESTING.length]! : next();
      write(b, f, v);
    } else if (mode <= 8) {
      b[next() % b.byteLength] = next() & 0xff; // a byte anywhere (BTF, instructions, strings)
    } else {
      const at = next() % b.byteLength; // a run of garbage
      const len = Math.min(b.byteLength - at, 1 + (next() % 64));
      for (let i = 0; i < len; i++) b[at + i] = next() & 0xff;
    }
  }
  return b;
}
