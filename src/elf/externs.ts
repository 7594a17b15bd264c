// `.kconfig` and `.ksyms` externs (libbpf's bpf_object__collect_externs): each undefined
// global symbol is matched to its BTF VAR or FUNC; src/btf lays out `.kconfig` and rewrites
// the BTF the way the kernel will accept it (fixupExterns).
import { fixupExterns, type Btf, type BtfDatasec } from '../btf/index.js';
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
  let secs: { id: number; sec: BtfDatasec }[] | undefined; // found when the first extern needs them
  const pending: Pending[] = [];
  for (let i = 0; i < elf.symbolCount; i++) {
    const bind = elf.symbolBind(i);
    if (elf.symbolShndx(i) !== SHN_UNDEF || (bind !== STB_GLOBAL && bind !== STB_WEAK) || elf.symbolType(i) !== STT_NOTYPE) continue;
    const sym = elf.symbol(i);
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
    secs ??= datasecs(btf);
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
  // The BTF-level rewrite (kconfig layout, ksym slots) is src/btf's; it lays .kconfig out in
  // the same order as above, which is libbpf's.
  const layout = fixupExterns(btf);
  const offsets = new Map(layout.kconfig.map((k) => [k.name, k.offset]));
  const out = new Map<string, ExternSpec>();
  for (const p of pending) {
    let kconfig: ExternSpec['kconfig'];
    if (p.kc) {
      const offset = offsets.get(p.name);
      if (offset === undefined) throw new ElfError(`kconfig extern '${p.name}' is not in the .kconfig DATASEC`, '.kconfig');
      kconfig = { ...p.kc, offset };
    }
    out.set(p.name, { name: p.name, kind: p.kind, weak: p.weak, btfId: p.btfId, isFunction: p.isFunction, typeId: p.typeId, kconfig });
  }
  for (const k of layout.ksyms)
    if (!out.has(k.name)) throw new ElfError(`.ksyms names '${k.name}', which is not an extern symbol`, '.ksyms');
  return out;
}
