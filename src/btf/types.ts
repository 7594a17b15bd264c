// The decoded shape of BTF types. One interface per kind; `kind` is a lower-case string union
// (the uapi's BTF_KIND_* numbers live in KIND_NUMBER, the one place they are written).
//
// Units: `size` is in bytes, `bitOffset`/`bitfieldSize`/`bits` in bits, DATASEC `offset` and
// `size` in bytes. Type references are type ids in the same id space as the Btf they came
// from (a split BTF shares its base's ids).

export type BtfKind =
  | 'void'
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

/** uapi BTF_KIND_* values (include/uapi/linux/btf.h). */
export const KIND_NUMBER = {
  void: 0,
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  func_proto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  decl_tag: 17,
  type_tag: 18,
  enum64: 19,
} as const satisfies Record<BtfKind, number>;

export const KIND_BY_NUMBER: readonly BtfKind[] = Object.keys(KIND_NUMBER) as BtfKind[];
export const MAX_KIND = 19;

/** BTF_FUNC_STATIC/GLOBAL/EXTERN and BTF_VAR_STATIC/GLOBAL_ALLOCATED/GLOBAL_EXTERN. */
export type BtfLinkage = 'static' | 'global' | 'extern';
export const LINKAGE_NUMBER: Record<BtfLinkage, number> = { static: 0, global: 1, extern: 2 };
export const LINKAGE_BY_NUMBER: readonly BtfLinkage[] = ['static', 'global', 'extern'];

export interface BtfVoid {
  kind: 'void';
  name: '';
}
export interface BtfInt {
  kind: 'int';
  name: string;
  size: number;
  signed: boolean;
  char: boolean;
  bool: boolean;
  /** BTF_INT_OFFSET: a legacy bitfield encoding; 0 in anything modern. */
  bitOffset: number;
  bits: number;
}
export interface BtfPtr {
  kind: 'ptr';
  name: string;
  type: number;
}
export interface BtfArray {
  kind: 'array';
  name: string;
  type: number;
  indexType: number;
  nelems: number;
}
export interface BtfMember {
  name: string;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield width in bits when the struct uses kind_flag encoding; 0 otherwise. */
  bitfieldSize: number;
}
export interface BtfComposite {
  kind: 'struct' | 'union';
  name: string;
  size: number;
  members: BtfMember[];
}
export interface BtfEnumValue {
  name: string;
  value: number;
}
export interface BtfEnum {
  kind: 'enum';
  name: string;
  size: number;
  signed: boolean;
  values: BtfEnumValue[];
}
export interface BtfEnum64Value {
  name: string;
  value: bigint;
}
export interface BtfEnum64 {
  kind: 'enum64';
  name: string;
  size: number;
  signed: boolean;
  values: BtfEnum64Value[];
}
export interface BtfFwd {
  kind: 'fwd';
  name: string;
  fwdKind: 'struct' | 'union';
}
export interface BtfModifier {
  kind: 'typedef' | 'volatile' | 'const' | 'restrict';
  name: string;
  type: number;
}
export interface BtfFunc {
  kind: 'func';
  name: string;
  /** The FUNC_PROTO. */
  type: number;
  linkage: BtfLinkage;
}
export interface BtfParam {
  name: string;
  /** 0 with an empty name on the last parameter means `...`. */
  type: number;
}
export interface BtfFuncProto {
  kind: 'func_proto';
  name: string;
  returnType: number;
  params: BtfParam[];
}
export interface BtfVar {
  kind: 'var';
  name: string;
  type: number;
  linkage: BtfLinkage;
}
export interface BtfVarSecinfo {
  /** A VAR (or FUNC, for .ksyms) type id. */
  type: number;
  /** Byte offset in the section. */
  offset: number;
  /** Byte size. */
  size: number;
}
export interface BtfDatasec {
  kind: 'datasec';
  name: string;
  size: number;
  vars: BtfVarSecinfo[];
}
export interface BtfFloat {
  kind: 'float';
  name: string;
  size: number;
}
export interface BtfDeclTag {
  kind: 'decl_tag';
  name: string;
  type: number;
  /** -1: the tag is on the type itself; otherwise a member or parameter index. */
  componentIdx: number;
  /** kind_flag: the tag is an `__attribute__` rather than a btf_decl_tag string. */
  attribute: boolean;
}
export interface BtfTypeTag {
  kind: 'type_tag';
  name: string;
  type: number;
  attribute: boolean;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfPtr
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfEnum64
  | BtfFwd
  | BtfModifier
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag
  | BtfTypeTag;

/** Kinds that only qualify another type: skipped by `Btf.resolve`. */
export function isModifier(t: BtfType): t is BtfModifier | BtfTypeTag {
  return (
    t.kind === 'typedef' ||
    t.kind === 'const' ||
    t.kind === 'volatile' ||
    t.kind === 'restrict' ||
    t.kind === 'type_tag'
  );
}

export function isComposite(t: BtfType): t is BtfComposite {
  return t.kind === 'struct' || t.kind === 'union';
}

export function isAnyEnum(t: BtfType): t is BtfEnum | BtfEnum64 {
  return t.kind === 'enum' || t.kind === 'enum64';
}

/** Type ids a type refers to, in a fixed order (used by validation, sanitizing, encoding). */
export function referencedIds(t: BtfType): number[] {
  switch (t.kind) {
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'func':
    case 'var':
    case 'decl_tag':
    case 'type_tag':
      return [t.type];
    case 'array':
      return [t.type, t.indexType];
    case 'struct':
    case 'union':
      return t.members.map((m) => m.type);
    case 'func_proto':
      return [t.returnType, ...t.params.map((p) => p.type)];
    case 'datasec':
      return t.vars.map((v) => v.type);
    default:
      return [];
  }
}
