// C struct layouts described by their members, with offsets derived by the C alignment rules
// instead of typed by hand: a wrong offset can then only come from a wrong member list, and
// test/syscall/abi.test.ts compares every member against the running kernel's BTF.

export type Scalar = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 's64';
/** `'u32'`, `'u8[8]'`, `'char[16]'`. */
export type MemberType = Scalar | `${'u8' | 'char' | 'u32' | 'u64'}[${number}]`;

export interface Member {
  readonly name: string;
  readonly offset: number;
  readonly size: number;
}

export interface Layout<K extends string> {
  /** The C name (or `bpf_attr.<what>` for the anonymous members of `union bpf_attr`). */
  readonly cName: string;
  readonly size: number;
  readonly members: Readonly<Record<K, Member>>;
}

const scalarSize: Record<string, number> = { u8: 1, char: 1, u16: 2, u32: 4, s32: 4, u64: 8, s64: 8 };

function sizeAndAlign(type: MemberType): [number, number] {
  const arr = /^(\w+)\[(\d+)\]$/.exec(type);
  if (arr) {
    const elem = scalarSize[arr[1]!]!;
    return [elem * Number(arr[2]), elem];
  }
  const s = scalarSize[type]!;
  return [s, s];
}

/**
 * Lays out a struct. A member written `'a|b'` is a union of same-sized scalars (the uapi
 * often unions `target_fd` with `target_ifindex`); both names map to the same bytes.
 * `base` places the struct inside an enclosing one (the per-type unions of bpf_link_info).
 */
export function struct<const K extends string>(
  cName: string,
  fields: ReadonlyArray<readonly [K, MemberType]>,
  base = 0,
): Layout<SplitNames<K>> {
  let off = base;
  let maxAlign = 1;
  const members: Record<string, Member> = {};
  for (const [names, type] of fields) {
    const [size, align] = sizeAndAlign(type);
    off = Math.ceil(off / align) * align;
    for (const name of names.split('|')) members[name] = { name, offset: off, size };
    off += size;
    maxAlign = Math.max(maxAlign, align);
  }
  const size = Math.ceil(off / maxAlign) * maxAlign - base;
  return { cName, size, members: members as Record<SplitNames<K>, Member> };
}

type SplitNames<K extends string> = K extends `${infer A}|${infer B}` ? A | SplitNames<B> : K;
