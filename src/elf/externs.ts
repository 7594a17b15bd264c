// `.kconfig` and `.ksyms` externs (libbpf's bpf_object__collect_externs): each undefined
// global symbol is matched to its BTF VAR or FUNC; kconfig values get offsets in the
// `.kconfig` map, and the BTF is rewritten the way the kernel will accept it.
import type { Btf, BtfDatasec, BtfFuncProto } from '../btf/index.js';
import { ElfError } from '../errors.js';
import { type ElfFile, SHN_UNDEF, STB_GLOBAL, STB_WEAK, STT_NOTYPE } from './reader.js';
import type { ExternSpec, KconfigType } from './spec.js';

function kconfigType(btf: Btf, id: number): { type: KconfigType; signed: boolean } | undefined {
  const t = btf.resolved(id);
  switch (t.kind) {
    case 'int':
      if (t.bool) return t.size === 1 ? { type: 'bool', signed: false } : undefined;
      if (t.size === 1) return { type: 'char', signed: t.signed };
      if (t.size < 1 || t.size > 8 || (t.size & (t.size - 1)) !== 0) return undefined;
      return { type: 'int', signed: t.signed };
    case 'enum':
      return t.size === 4 && t.name === 'libbpf_tristate' ? { type: 'tristate', signed: false } : undefined;
    case 'enum64':
      return t.name === 'libbpf_tristate' ? { type: 'tristate', signed: false } : undefined;
    case 'array':
      if (t.nelems === 0) return undefined;
      return kconfigType(btf, t.type)?.type === 'char' ? { type: 'char_array', signed: false } : undefined;
    default:
      return undefined;
  }
}

function datasecs(btf: Btf): { id: number; sec: BtfDatasec }[] {
  const out: { id: number; sec: BtfDatasec }[] = [];
  for (let id = btf.firstTypeId; id < btf.typeEnd; id++) {
    if (btf.kindOf(id) !== 'datasec') continue;
    const t = btf.type(id);
    if (t.kind === 'datasec') out.push({ id, sec: t });
  }
  return out;
}

function firstInt32(btf: Btf): number {
  for (let id = btf.firstTypeId; id < btf.typeEnd; id++) {
    if (btf.kindOf(id) !== 'int') continue;
    const t = btf.type(id);
    if (t.kind === 'int' && t.bits === 32) return id;
  }
  return 0;
}

interface Pending {
  name: string;
  kind: 'kconfig' | 'ksym';
  weak: boolean;
  btfId: number;
  isFunction: boolean;
  typeId: number;
  kc?: { type: KconfigType; size: number; align: number; signed: boolean };
}

export function collectExterns(elf: ElfFile, btf: Btf): Map<string, ExternSpec> {
  const secs = datasecs(btf);
  const pending: Pending[] = [];
  for (const sym of elf.symbols) {
    if (sym.shndx !== SHN_UNDEF || (sym.bind !== STB_GLOBAL && sym.bind !== STB_WEAK) || sym.type !== STT_NOTYPE) continue;
    if (sym.name === '') continue;
    const ids = btf.typesByName(sym.name).filter((id) => {
      const k = btf.kindOf(id);
      return k === 'var' || k === 'func';
    });
    const btfId = ids[0];
    if (btfId === undefined) throw new ElfError(`extern '${sym.name}' has no BTF VAR or FUNC describing it`, '.symtab');
    const t = btf.type(btfId);
    if ((t.kind === 'var' || t.kind === 'func') && t.linkage !== 'extern')
      throw new ElfError(`extern '${sym.name}': its BTF ${t.kind} is not marked extern`, '.symtab');
    const home = secs.find((s) => s.sec.vars.some((v) => v.type === btfId));
    if (!home) throw new ElfError(`extern '${sym.name}' is in no BTF DATASEC (.kconfig or .ksyms)`, '.symtab');
    const weak = sym.bind === STB_WEAK;
    if (home.sec.name === '.kconfig') {
      if (t.kind !== 'var') throw new ElfError(`extern function '${sym.name}' cannot be in .kconfig`, '.kconfig');
      const size = btf.sizeOf(t.type);
      const align = btf.alignOf(t.type);
      const kt = kconfigType(btf, t.type);
      if (size <= 0 || align <= 0 || !kt)
        throw new ElfError(`kconfig extern '${sym.name}' has a type libbpf's .kconfig does not support (use bool, tristate, char, char[N], or 1/2/4/8-byte integers)`, '.kconfig');
      pending.push({ name: sym.name, kind: 'kconfig', weak, btfId, isFunction: false, typeId: t.type, kc: { ...kt, size, align } });
    } else if (home.sec.name === '.ksyms') {
      const target = t.kind === 'var' || t.kind === 'func' ? t.type : 0;
      pending.push({ name: sym.name, kind: 'ksym', weak, btfId, isFunction: t.kind === 'func', typeId: btf.resolve(target) });
    } else {
      throw new ElfError(`extern '${sym.name}' is in section '${home.sec.name}'; only .kconfig and .ksyms externs are supported`, home.sec.name);
    }
  }
  // libbpf's order: kconfig before ksyms; kconfig by alignment (largest first), then size, then name.
  pending.sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === 'kconfig' ? -1 : 1;
    if (a.kc && b.kc) {
      if (a.kc.align !== b.kc.align) return b.kc.align - a.kc.align;
      if (a.kc.size !== b.kc.size) return a.kc.size - b.kc.size;
    }
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  const out = new Map<string, ExternSpec>();
  let off = 0;
  for (const p of pending) {
    let kconfig: ExternSpec['kconfig'];
    if (p.kc) {
      const at = Math.ceil(off / p.kc.align) * p.kc.align;
      off = at + p.kc.size;
      kconfig = { ...p.kc, offset: at };
    }
    out.set(p.name, { name: p.name, kind: p.kind, weak: p.weak, btfId: p.btfId, isFunction: p.isFunction, typeId: p.typeId, kconfig });
  }
  rewriteExternBtf(btf, secs, out, off);
  return out;
}

/**
 * The kernel refuses extern VARs and FUNCs in DATASECs: libbpf turns kconfig VARs into
 * allocated ones at their map offsets, and ksyms into 4-byte int VARs (FUNCs are replaced by
 * a `dummy_ksym` VAR). The same here, so the object's BTF loads as libbpf's would.
 */
function rewriteExternBtf(btf: Btf, secs: { id: number; sec: BtfDatasec }[], externs: Map<string, ExternSpec>, kconfigSize: number): void {
  const ksyms = secs.find((s) => s.sec.name === '.ksyms');
  if (ksyms) {
    const int32 = firstInt32(btf);
    const hasFunc = ksyms.sec.vars.some((v) => btf.kindOf(v.type) === 'func');
    const dummy = hasFunc ? btf.add({ kind: 'var', name: 'dummy_ksym', type: int32, linkage: 'global' }) : 0;
    const vars = ksyms.sec.vars.map((v, i) => {
      const vt = btf.type(v.type);
      if (!externs.has(vt.name)) throw new ElfError(`.ksyms names '${vt.name}', which is not an extern symbol`, '.ksyms');
      let type = v.type;
      if (vt.kind === 'func') {
        const proto = btf.type(vt.type);
        if (proto.kind === 'func_proto' && proto.params.some((p) => p.type !== 0 && p.name === '')) {
          const fixed: BtfFuncProto = { ...proto, params: proto.params.map((p) => (p.type !== 0 && p.name === '' ? { ...p, name: 'dummy_ksym' } : p)) };
          btf.replace(vt.type, fixed);
        }
        btf.replace(v.type, { ...vt, linkage: 'global' });
        type = dummy;
      } else if (vt.kind === 'var') {
        btf.replace(v.type, { ...vt, linkage: 'global', type: int32 });
      }
      return { type, offset: i * 4, size: 4 };
    });
    btf.replace(ksyms.id, { ...ksyms.sec, size: vars.length * 4, vars });
  }
  const kconfig = secs.find((s) => s.sec.name === '.kconfig');
  if (kconfig) {
    const vars = kconfig.sec.vars.map((v) => {
      const vt = btf.type(v.type);
      const e = externs.get(vt.name);
      if (!e?.kconfig) throw new ElfError(`.kconfig names '${vt.name}', which is not a kconfig extern`, '.kconfig');
      if (vt.kind === 'var') btf.replace(v.type, { ...vt, linkage: 'global' });
      return { ...v, offset: e.kconfig.offset };
    });
    vars.sort((a, b) => a.offset - b.offset);
    btf.replace(kconfig.id, { ...kconfig.sec, size: kconfigSize, vars });
  }
}
