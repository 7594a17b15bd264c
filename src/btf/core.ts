// CO-RE: computes what a compiled-in offset, size, type id or enum value must become on the
// target kernel, by matching the object's (local) BTF against the kernel's (target) BTF.
// Pure: both BTFs are arguments. The rules follow libbpf's, so that a program relocated here
// is byte-identical to one relocated by libbpf (and so has the same program tag).
import { BtfError } from '../errors.js';
import { type Btf, essentialName } from './btf.js';
import type { CoreRelo, CoreReloKind } from './ext.js';
import { type BtfComposite, type BtfType, isAnyEnum, isComposite } from './types.js';

/** Deepest access string (and target member search) accepted, as in libbpf. */
const SPEC_MAX_LEN = 64;
/** Recursion bound of the type compatibility checks. */
const COMPAT_DEPTH = 32;

/** A CO-RE relocation that cannot be computed; says which one and why. */
export class CoreRelocationError extends BtfError {
  override name = 'CoreRelocationError';
  constructor(
    readonly reloKind: CoreReloKind | string,
    readonly localType: string,
    readonly accessStr: string,
    readonly reason: string,
    readonly insnIndex?: number,
  ) {
    super(
      `CO-RE relocation ${reloKind} of ${localType} access "${accessStr}"${insnIndex !== undefined ? ` at insn #${insnIndex}` : ''} failed: ${reason}`,
    );
  }
}

export function isFieldRelo(k: CoreReloKind): boolean {
  return k.startsWith('field_');
}
export function isTypeRelo(k: CoreReloKind): boolean {
  return k.startsWith('type_');
}
export function isEnumvalRelo(k: CoreReloKind): boolean {
  return k.startsWith('enumval_');
}

interface Accessor {
  typeId: number;
  idx: number;
  /** Set for named member accesses (and the enumerator name for enumval relos). */
  name?: string;
}

/** A parsed access chain: accessors that matter, the raw indices, and where it lands. */
export interface CoreSpec {
  btf: Btf;
  rootTypeId: number;
  accessors: Accessor[];
  raw: number[];
  bitOffset: number;
}

/** What to write into the instruction. */
export interface CoreRelocationResult {
  kind: CoreReloKind;
  /** The value the compiler emitted (from the local BTF), used to check the instruction. */
  origValue: bigint;
  /** The value for the target. */
  newValue: bigint;
  /** The relocation has no target: the instruction is to be replaced by an invalid call. */
  poison: boolean;
  /** Whether the instruction's current value must equal `origValue`. */
  validate: boolean;
  /** For byte-offset relocations of loads/stores: memory access sizes local/target (0 = n/a). */
  origSize: number;
  newSize: number;
  /** Sizes differ in a way a narrower/wider load cannot fix (signed ints): poison loads/stores. */
  failMemSizeAdjust: boolean;
  /** Target root type id (0 when none matched or for type_id_local). */
  targetTypeId: number;
  /** Human-readable local and target access (`task_struct.pid (0:2 @ offset 1264)`). */
  localSpec: string;
  targetSpec?: string;
}

/** Computes CO-RE relocations for one object BTF against one kernel (plus modules). */
export class CoreRelocator {
  private readonly targets: Btf[];
  /** Candidates per local root type id, pruned as relocations reject them (as libbpf does). */
  private readonly candCache = new Map<number, { btf: Btf; id: number }[]>();

  /** `targets[0]` is the kernel; further BTFs (modules) are searched only when it has no candidate. */
  constructor(
    readonly local: Btf,
    targets: Btf | Btf[],
  ) {
    this.targets = Array.isArray(targets) ? targets : [targets];
    if (this.targets.length === 0) throw new BtfError('CO-RE needs at least one target BTF');
  }

  compute(relo: Pick<CoreRelo, 'typeId' | 'accessStr' | 'kind'> & { insnIndex?: number }): CoreRelocationResult {
    let localName = `[${relo.typeId}]`;
    try {
      const lt = this.local.type(relo.typeId);
      localName = `${lt.kind} ${lt.name || '<anon>'} [${relo.typeId}]`;
      return this.computeInner(relo, lt);
    } catch (e) {
      if (e instanceof CoreRelocationError) throw e;
      if (e instanceof BtfError) throw new CoreRelocationError(relo.kind, localName, relo.accessStr, e.message, relo.insnIndex);
      throw e;
    }
  }

  private computeInner(
    relo: Pick<CoreRelo, 'typeId' | 'accessStr' | 'kind'> & { insnIndex?: number },
    localType: BtfType,
  ): CoreRelocationResult {
    const fail = (why: string): never => {
      throw new CoreRelocationError(relo.kind, `${localType.kind} ${localType.name || '<anon>'}`, relo.accessStr, why, relo.insnIndex);
    };
    const localSpec = parseSpec(this.local, relo, fail);
    const localDesc = formatSpec(localSpec, relo.kind);

    if (relo.kind === 'type_id_local') {
      const id = BigInt(relo.typeId);
      return {
        kind: relo.kind, origValue: id, newValue: id, poison: false, validate: false,
        origSize: 0, newSize: 0, failMemSizeAdjust: false, targetTypeId: 0, localSpec: localDesc,
      };
    }
    if (localType.name === '') fail('relocations against anonymous types are not supported');

    const cands = this.candidates(relo.typeId, localType);
    const kept: { btf: Btf; id: number }[] = [];
    let chosen: { res: CoreRelocationResult; spec: CoreSpec } | undefined;
    for (const c of cands) {
      const spec = matchSpec(localSpec, relo.kind, c.btf, c.id);
      if (!spec) continue;
      const res = calcRelo(relo.kind, localSpec, spec, fail);
      res.targetTypeId = c.id;
      res.localSpec = localDesc;
      res.targetSpec = formatSpec(spec, relo.kind);
      if (!chosen) chosen = { res, spec };
      else if (spec.bitOffset !== chosen.spec.bitOffset)
        fail(
          `ambiguous: candidates [${chosen.res.targetTypeId}] and [${c.id}] put the field at different bit offsets (${chosen.spec.bitOffset} != ${spec.bitOffset})`,
        );
      else if (res.poison !== chosen.res.poison || res.newValue !== chosen.res.newValue)
        fail(
          `ambiguous: candidates [${chosen.res.targetTypeId}] and [${c.id}] give different results (${chosen.res.poison ? 'failure' : chosen.res.newValue} != ${res.poison ? 'failure' : res.newValue})`,
        );
      kept.push(c);
    }
    if (kept.length > 0) {
      this.candCache.set(relo.typeId, kept);
      return chosen!.res;
    }
    const res = calcRelo(relo.kind, localSpec, undefined, fail);
    res.localSpec = localDesc;
    return res;
  }

  private candidates(localId: number, lt: BtfType): { btf: Btf; id: number }[] {
    const hit = this.candCache.get(localId);
    if (hit) return hit;
    const ess = essentialName(lt.name);
    let out: { btf: Btf; id: number }[] = [];
    for (const btf of this.targets) {
      const start = btf === this.targets[0] ? 0 : btf.firstTypeId;
      for (const id of btf.typesByEssentialName(ess))
        if (id >= start && kindsCompat(lt, btf.type(id))) out.push({ btf, id });
      if (out.length > 0) break;
    }
    if (out.length === 0) out = [];
    this.candCache.set(localId, out);
    return out;
  }
}

/** One-off convenience: `new CoreRelocator(local, target).compute(relo)`. */
export function computeCoreRelocation(
  local: Btf,
  target: Btf | Btf[],
  relo: Pick<CoreRelo, 'typeId' | 'accessStr' | 'kind'> & { insnIndex?: number },
): CoreRelocationResult {
  return new CoreRelocator(local, target).compute(relo);
}

// ---- access specs ----

function parseSpec(btf: Btf, relo: Pick<CoreRelo, 'typeId' | 'accessStr' | 'kind'>, fail: (why: string) => never): CoreSpec {
  const str = relo.accessStr;
  const spec: CoreSpec = { btf, rootTypeId: relo.typeId, accessors: [], raw: [], bitOffset: 0 };
  if (str === '' || str.startsWith(':')) fail('empty or malformed access string');
  if (isTypeRelo(relo.kind)) {
    if (str !== '0') fail('type relocations take the access string "0"');
    return spec;
  }
  // libbpf reads each index with sscanf("%d"): digits with an optional sign, leading blanks.
  for (const part of str.split(':')) {
    if (!/^\s*[+-]?\d+/.test(part) || !/^\s*[+-]?\d+$/.test(part)) fail(`access string component "${part}" is not a number`);
    const v = Number(part.trim());
    if (v < 0 || v > 0x7fffffff) fail(`access index ${part} out of range`);
    if (spec.raw.length === SPEC_MAX_LEN) fail(`access string longer than ${SPEC_MAX_LEN}`);
    spec.raw.push(v);
  }
  let id = btf.resolve(relo.typeId);
  let t = btf.type(id);
  const first = spec.raw[0]!;
  spec.accessors.push({ typeId: id, idx: first });

  if (isEnumvalRelo(relo.kind)) {
    if (!isAnyEnum(t)) fail(`type is ${t.kind}, not an enum`);
    if (spec.raw.length > 1) fail('enum value relocations take a single index');
    const v = t.values[first];
    if (!v) fail(`enumerator index ${first} out of range (${t.values.length} values)`);
    spec.accessors[0]!.name = v.name;
    return spec;
  }
  if (!isFieldRelo(relo.kind)) fail(`unknown relocation kind ${relo.kind}`);

  spec.bitOffset = first * btf.sizeOf(id) * 8;
  for (let i = 1; i < spec.raw.length; i++) {
    id = btf.resolve(id);
    t = btf.type(id);
    const idx = spec.raw[i]!;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (!m) fail(`member index ${idx} out of range for ${t.kind} '${t.name}' (${t.members.length} members)`);
      spec.bitOffset += m.bitOffset;
      if (m.name !== '') spec.accessors.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === 'array') {
      const elem = btf.resolve(t.type);
      const flex = isFlexArray(btf, spec.accessors[spec.accessors.length - 1]!, t.nelems);
      if (!flex && idx >= t.nelems) fail(`array index ${idx} out of bounds (${t.nelems} elements)`);
      spec.accessors.push({ typeId: elem, idx });
      spec.bitOffset += idx * btf.sizeOf(elem) * 8;
      id = elem;
    } else {
      fail(`access index ${i} (${idx}) reaches type [${id}] of kind ${t.kind}, which has no members`);
    }
  }
  return spec;
}

/** A zero-length array that is the last member of the struct holding it. */
function isFlexArray(btf: Btf, holder: Accessor, nelems: number): boolean {
  if (holder.name === undefined || nelems > 0) return false;
  const t = btf.type(holder.typeId);
  return isComposite(t) && holder.idx === t.members.length - 1;
}

function matchSpec(local: CoreSpec, kind: CoreReloKind, tbtf: Btf, targId: number): CoreSpec | undefined {
  const spec: CoreSpec = { btf: tbtf, rootTypeId: targId, accessors: [], raw: [], bitOffset: 0 };
  if (isTypeRelo(kind)) {
    const ok =
      kind === 'type_matches'
        ? typesMatch(local.btf, local.rootTypeId, tbtf, targId, false, COMPAT_DEPTH)
        : typesAreCompat(local.btf, local.rootTypeId, tbtf, targId, COMPAT_DEPTH);
    return ok ? spec : undefined;
  }
  if (isEnumvalRelo(kind)) {
    const id = tbtf.resolve(targId);
    const t = tbtf.type(id);
    if (!isAnyEnum(t)) return undefined;
    const want = essentialName(local.accessors[0]!.name!);
    const idx = t.values.findIndex((v) => essentialName(v.name) === want);
    if (idx < 0) return undefined;
    spec.accessors.push({ typeId: id, idx, name: t.values[idx]!.name });
    spec.raw.push(idx);
    return spec;
  }
  let id = targId;
  for (let i = 0; i < local.accessors.length; i++) {
    const la = local.accessors[i]!;
    id = tbtf.resolve(id);
    const tt = tbtf.type(id);
    if (la.name !== undefined) {
      const next = matchMember(local.btf, la, tbtf, id, spec, 0);
      if (next === undefined) return undefined;
      id = next;
    } else {
      if (i > 0) {
        if (tt.kind !== 'array') return undefined;
        const flex = isFlexArray(tbtf, spec.accessors[spec.accessors.length - 1]!, tt.nelems);
        if (!flex && la.idx >= tt.nelems) return undefined;
        id = tbtf.resolve(tt.type);
      }
      if (spec.raw.length === SPEC_MAX_LEN) throw new BtfError(`target access deeper than ${SPEC_MAX_LEN}`);
      spec.accessors.push({ typeId: id, idx: la.idx });
      spec.raw.push(la.idx);
      spec.bitOffset += la.idx * tbtf.sizeOf(id) * 8;
    }
  }
  return spec;
}

/** Finds local accessor `la`'s member by name in target composite `targId` (through anonymous members). */
function matchMember(lbtf: Btf, la: Accessor, tbtf: Btf, targId: number, spec: CoreSpec, depth: number): number | undefined {
  if (depth > SPEC_MAX_LEN) throw new BtfError('anonymous members nested too deep (cyclic?)');
  const rid = tbtf.resolve(targId);
  const tt = tbtf.type(rid);
  if (!isComposite(tt)) return undefined;
  const lt = lbtf.type(la.typeId) as BtfComposite;
  const lm = lt.members[la.idx]!;
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i]!;
    if (spec.raw.length === SPEC_MAX_LEN) throw new BtfError(`target access deeper than ${SPEC_MAX_LEN}`);
    spec.bitOffset += m.bitOffset;
    spec.raw.push(i);
    if (m.name === '') {
      const found = matchMember(lbtf, la, tbtf, m.type, spec, depth + 1);
      if (found !== undefined) return found;
    } else if (m.name === lm.name) {
      if (!fieldsAreCompat(lbtf, lm.type, tbtf, m.type)) return undefined;
      spec.accessors.push({ typeId: rid, idx: i, name: m.name });
      return m.type;
    }
    spec.bitOffset -= m.bitOffset;
    spec.raw.pop();
  }
  return undefined;
}

// ---- compatibility rules ----

function kindsCompat(a: BtfType, b: BtfType): boolean {
  return a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));
}

function namesMatchEssential(a: string, b: string): boolean {
  if (b === '') return a === '';
  return essentialName(a) === essentialName(b);
}

/** Field types compatible for a field relocation (libbpf's bpf_core_fields_are_compat). */
function fieldsAreCompat(lbtf: Btf, lid: number, tbtf: Btf, tid: number): boolean {
  for (let depth = 0; depth < COMPAT_DEPTH * 2; depth++) {
    const lt = lbtf.resolved(lid);
    const tt = tbtf.resolved(tid);
    if (isComposite(lt) && isComposite(tt)) return true;
    if (!kindsCompat(lt, tt)) return false;
    switch (lt.kind) {
      case 'ptr':
      case 'float':
        return true;
      case 'fwd':
      case 'enum':
      case 'enum64': {
        const ln = essentialName(lt.name);
        const tn = essentialName(tt.name);
        return ln === '' || tn === '' || ln === tn;
      }
      case 'int':
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0;
      case 'array':
        lid = lt.type;
        tid = (tt as typeof lt).type;
        continue;
      default:
        return false;
    }
  }
  throw new BtfError('field type chain too deep (cyclic?)');
}

/** Types compatible for type-based relocations (libbpf's bpf_core_types_are_compat). */
export function typesAreCompat(lbtf: Btf, lid: number, tbtf: Btf, tid: number, level = COMPAT_DEPTH): boolean {
  if (!kindsCompat(lbtf.type(lid), tbtf.type(tid))) return false;
  for (let depth = COMPAT_DEPTH; depth > 0; depth--) {
    lid = lbtf.resolve(lid);
    tid = tbtf.resolve(tid);
    const lt = lbtf.type(lid);
    const tt = tbtf.type(tid);
    if (!kindsCompat(lt, tt)) return false;
    switch (lt.kind) {
      case 'void':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'fwd':
        return true;
      case 'int':
        return lt.bitOffset === 0 && (tt as typeof lt).bitOffset === 0;
      case 'ptr':
      case 'array':
        lid = lt.type;
        tid = (tt as typeof lt).type;
        continue;
      case 'func_proto': {
        const tp = tt as typeof lt;
        if (lt.params.length !== tp.params.length) return false;
        for (let i = 0; i < lt.params.length; i++) {
          if (level <= 0) throw new BtfError('function prototype nesting too deep');
          if (!typesAreCompat(lbtf, lbtf.resolve(lt.params[i]!.type), tbtf, tbtf.resolve(tp.params[i]!.type), level - 1))
            return false;
        }
        lid = lt.returnType;
        tid = tp.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw new BtfError('type chain too deep (cyclic?)');
}

/** The stricter "types match" relation of bpf_core_type_matches (libbpf's __bpf_core_types_match). */
export function typesMatch(lbtf: Btf, lid: number, tbtf: Btf, tid: number, behindPtr = false, level = COMPAT_DEPTH): boolean {
  if (level <= 0) throw new BtfError('type nesting too deep (cyclic?)');
  for (let depth = COMPAT_DEPTH; depth > 0; depth--) {
    lid = lbtf.resolve(lid);
    tid = tbtf.resolve(tid);
    const lt = lbtf.type(lid);
    const tt = tbtf.type(tid);
    if (!namesMatchEssential(lt.name, tt.name)) return false;
    switch (lt.kind) {
      case 'void':
        return tt.kind === 'void';
      case 'fwd':
        if (behindPtr) {
          if (tt.kind === 'fwd') return lt.fwdKind === tt.fwdKind;
          return (tt.kind === 'struct' && lt.fwdKind === 'struct') || (tt.kind === 'union' && lt.fwdKind === 'union');
        }
        return tt.kind === 'fwd' && lt.fwdKind === tt.fwdKind;
      case 'enum':
      case 'enum64': {
        if (!isAnyEnum(tt) || lt.size !== tt.size || lt.values.length > tt.values.length) return false;
        return lt.values.every((lv) => tt.values.some((tv) => namesMatchEssential(lv.name, tv.name)));
      }
      case 'struct':
      case 'union': {
        if (behindPtr) {
          if (lt.kind === tt.kind) return true;
          return tt.kind === 'fwd' && (lt.kind === 'union') === (tt.fwdKind === 'union');
        }
        if (lt.kind !== tt.kind) return false;
        const tc = tt as BtfComposite;
        if (lt.members.length > tc.members.length) return false;
        return lt.members.every((lm) =>
          tc.members.some(
            (tm) => namesMatchEssential(lm.name, tm.name) && typesMatch(lbtf, lm.type, tbtf, tm.type, behindPtr, level - 1),
          ),
        );
      }
      case 'int':
        return tt.kind === 'int' && lt.size === tt.size && lt.signed === tt.signed;
      case 'ptr':
        if (tt.kind !== 'ptr') return false;
        behindPtr = true;
        lid = lt.type;
        tid = tt.type;
        continue;
      case 'array':
        if (tt.kind !== 'array' || lt.nelems !== tt.nelems) return false;
        lid = lt.type;
        tid = tt.type;
        continue;
      case 'func_proto': {
        if (tt.kind !== 'func_proto' || lt.params.length !== tt.params.length) return false;
        for (let i = 0; i < lt.params.length; i++)
          if (!typesMatch(lbtf, lt.params[i]!.type, tbtf, tt.params[i]!.type, behindPtr, level - 1)) return false;
        lid = lt.returnType;
        tid = tt.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw new BtfError('type chain too deep (cyclic?)');
}

// ---- values ----

interface FieldValue {
  value: bigint;
  size: number;
  typeId: number;
  validate: boolean;
}

/** undefined spec = no target: 'poison' unless the relocation asks about existence. */
function fieldValue(kind: CoreReloKind, spec: CoreSpec | undefined, fail: (why: string) => never): FieldValue | 'poison' {
  if (kind === 'field_exists') return { value: spec ? 1n : 0n, size: 0, typeId: 0, validate: true };
  if (!spec) return 'poison';
  const btf = spec.btf;
  const acc = spec.accessors[spec.accessors.length - 1]!;
  if (acc.name === undefined) {
    // The access ends on an array element (or the root itself).
    if (kind === 'field_byte_offset') {
      let elem = btf.resolve(acc.typeId);
      for (let t = btf.type(elem); t.kind === 'array'; t = btf.type(elem)) elem = btf.resolve(t.type);
      return { value: BigInt(spec.bitOffset / 8), size: btf.sizeOf(elem), typeId: acc.typeId, validate: true };
    }
    if (kind === 'field_byte_size') return { value: BigInt(btf.sizeOf(acc.typeId)), size: 0, typeId: 0, validate: true };
    fail(`${kind} cannot be applied to an array element access`);
  }
  const holder = btf.type(acc.typeId) as BtfComposite;
  const m = holder.members[acc.idx]!;
  const fieldId = btf.resolve(m.type);
  const mt = btf.type(fieldId);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteOff: number;
  let byteSz: number;
  if (bitfield) {
    byteSz = (mt as { size: number }).size;
    if (!byteSz) fail(`bitfield '${m.name}' has a type without a size`);
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) fail(`bitfield '${m.name}' cannot be read with a single 64-bit load`);
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = btf.sizeOf(fieldId);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  // Bitfield layouts are for the loader to decide, so the compiler's guess is not enforced.
  let validate = !bitfield;
  switch (kind) {
    case 'field_byte_offset': {
      if (bitfield) return { value: BigInt(byteOff), size: 0, typeId: 0, validate };
      let elem = fieldId;
      for (let t = btf.type(elem); t.kind === 'array'; t = btf.type(elem)) elem = btf.resolve(t.type);
      return { value: BigInt(byteOff), size: btf.sizeOf(elem), typeId: fieldId, validate };
    }
    case 'field_byte_size':
      return { value: BigInt(byteSz), size: 0, typeId: 0, validate };
    case 'field_signed': {
      const signed = (isAnyEnum(mt) && mt.signed) || (mt.kind === 'int' && mt.signed);
      return { value: signed ? 1n : 0n, size: 0, typeId: 0, validate: true };
    }
    case 'field_lshift_u64':
      return { value: BigInt(64 - (bitOff + bitSz - byteOff * 8)), size: 0, typeId: 0, validate };
    case 'field_rshift_u64':
      validate = true;
      return { value: BigInt(64 - bitSz), size: 0, typeId: 0, validate };
    default:
      fail(`unknown field relocation kind ${kind}`);
  }
}

function calcRelo(
  kind: CoreReloKind,
  local: CoreSpec,
  target: CoreSpec | undefined,
  fail: (why: string) => never,
): CoreRelocationResult {
  const res: CoreRelocationResult = {
    kind, origValue: 0n, newValue: 0n, poison: false, validate: true, origSize: 0, newSize: 0,
    failMemSizeAdjust: false, targetTypeId: 0, localSpec: '',
  };
  if (isFieldRelo(kind)) {
    const o = fieldValue(kind, local, fail);
    if (o === 'poison') fail('local access does not resolve');
    const n = fieldValue(kind, target, fail);
    res.origValue = o.value;
    res.validate = o.validate;
    if (n === 'poison') {
      res.poison = true;
      return res;
    }
    res.newValue = n.value;
    res.origSize = o.size;
    res.newSize = n.size;
    if (o.size !== n.size) {
      const ot = local.btf.type(o.typeId);
      const nt = target!.btf.type(n.typeId);
      const safe =
        (ot.kind === 'ptr' && nt.kind === 'ptr') || (ot.kind === 'int' && nt.kind === 'int' && !ot.signed && !nt.signed);
      res.failMemSizeAdjust = !safe;
    }
    return res;
  }
  if (isTypeRelo(kind)) {
    res.origValue = typeValue(kind, local);
    res.newValue = target ? typeValue(kind, target) : 0n;
    // Type ids can change when objects are linked, so the compiled-in id is not enforced.
    if (kind === 'type_id_target') res.validate = false;
    return res;
  }
  if (isEnumvalRelo(kind)) {
    if (kind === 'enumval_exists') {
      res.origValue = 1n;
      res.newValue = target ? 1n : 0n;
      return res;
    }
    res.origValue = enumValue(local);
    if (!target) {
      res.poison = true;
      return res;
    }
    res.newValue = enumValue(target);
    return res;
  }
  return fail(`unknown relocation kind ${kind}`);
}

function typeValue(kind: CoreReloKind, spec: CoreSpec): bigint {
  switch (kind) {
    case 'type_id_target':
      return BigInt(spec.rootTypeId);
    case 'type_exists':
    case 'type_matches':
      return 1n;
    case 'type_size':
      return BigInt(spec.btf.sizeOf(spec.rootTypeId));
    default:
      throw new BtfError(`unexpected type relocation kind ${kind}`);
  }
}

/** The enumerator's value as libbpf stores it: a u64, sign-extended from signed enums. */
function enumValue(spec: CoreSpec): bigint {
  const a = spec.accessors[0]!;
  const t = spec.btf.type(a.typeId);
  if (!isAnyEnum(t)) throw new BtfError(`type [${a.typeId}] is not an enum`);
  const v = t.values[a.idx]!.value;
  return BigInt.asUintN(64, BigInt(v));
}

/** `task_struct.pid (0:2 @ offset 1264)`, for messages and debugging. */
export function formatSpec(spec: CoreSpec, kind: CoreReloKind): string {
  const root = spec.btf.type(spec.rootTypeId);
  let s = `[${spec.rootTypeId}] ${root.kind} ${root.name || '<anon>'}`;
  if (isTypeRelo(kind)) return s;
  if (isEnumvalRelo(kind)) {
    const a = spec.accessors[0];
    return a ? `${s}::${a.name}` : s;
  }
  spec.accessors.forEach((a, i) => {
    if (a.name !== undefined) s += `.${a.name}`;
    else if (i > 0 || a.idx > 0) s += `[${a.idx}]`;
  });
  const off = spec.bitOffset % 8 ? `${Math.floor(spec.bitOffset / 8)}.${spec.bitOffset % 8}` : `${spec.bitOffset / 8}`;
  return `${s} (${spec.raw.join(':')} @ offset ${off})`;
}
