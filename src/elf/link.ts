// Linking an entry program for load, exactly as libbpf's bpf_object__relocate does it: used
// `.text` subprograms are appended depth-first in the order their calls (and callback address
// loads) appear, each once per program; call and BPF_PSEUDO_FUNC immediates become relative
// instruction offsets; map, global data and extern loads get their pseudo source registers.
// What needs the kernel (map fds, BTF ids of ksyms and kfuncs) is left to the loader, listed
// in `relocations`.
import { ElfError, UsageError } from '../errors.js';
import {
  BPF_PSEUDO_CALL,
  BPF_PSEUDO_FUNC,
  BPF_PSEUDO_KFUNC_CALL,
  BPF_PSEUDO_MAP_FD,
  BPF_PSEUDO_MAP_VALUE,
} from '../syscall/abi/bpf.js';
import { INSN_SIZE, insnDst, insnImm, insnOff, insnSrc, isCall, isLdImm64, setInsnImm, setInsnSrc } from './insn.js';
import { findProgramAt } from './object.js';
import type { CoreRelo, FuncInfo, LineInfo } from '../btf/index.js';
import type { InsnRelocation, ObjectSpec, ProgramSpec } from './spec.js';

/** What the loader still has to do to instruction `insn` of a linked program. */
export type LinkedRelocation =
  /** src_reg is BPF_PSEUDO_MAP_FD: put the map's fd in imm. */
  | { readonly insn: number; readonly kind: 'map'; readonly map: string }
  /**
   * src_reg is BPF_PSEUDO_MAP_VALUE and the next instruction's imm holds `offset`: put the
   * map's fd in imm. `extern` is set for `.kconfig` values (the map is `.kconfig`).
   */
  | { readonly insn: number; readonly kind: 'data'; readonly map: string; readonly offset: number; readonly extern?: string }
  /** An `ld_imm64` of a `.ksyms` variable: BPF_PSEUDO_BTF_ID + BTF id/obj fd, or the address when typeless. */
  | { readonly insn: number; readonly kind: 'ksym'; readonly extern: string }
  /** src_reg is BPF_PSEUDO_KFUNC_CALL: put the kfunc's BTF id in imm and its BTF fd index in off. */
  | { readonly insn: number; readonly kind: 'kfunc'; readonly extern: string }
  /** Done: a bpf-to-bpf call or callback address, now relative to `target` at `targetInsn`. */
  | { readonly insn: number; readonly kind: 'call' | 'func'; readonly target: string; readonly targetInsn: number };

/** Anything positioned at an instruction of its ELF section, as .BTF.ext records are (src/btf's FuncInfo, LineInfo, CoreRelo). */
export interface ExtRecord {
  /** Instruction index in the ELF section (the file's byte insn_off / 8). */
  readonly insnIndex: number;
}

/** .BTF.ext records of one kind, by ELF section name. */
export type SectionRecords<R extends ExtRecord> = ReadonlyMap<string, readonly R[]>;

export interface LinkExtInfo<F extends ExtRecord = ExtRecord, L extends ExtRecord = ExtRecord, C extends ExtRecord = ExtRecord> {
  funcInfo?: SectionRecords<F>;
  lineInfo?: SectionRecords<L>;
  coreRelos?: SectionRecords<C>;
}

export interface LinkedProgram<F extends ExtRecord = ExtRecord, L extends ExtRecord = ExtRecord, C extends ExtRecord = ExtRecord> {
  readonly name: string;
  readonly instructions: Uint8Array;
  readonly relocations: readonly LinkedRelocation[];
  /** The programs in the stream, in order: the entry program at 0, then appended subprograms. */
  readonly layout: readonly { readonly name: string; readonly insn: number; readonly count: number }[];
  /** .BTF.ext records with `insnIndex` now an index into `instructions` (what the kernel wants). */
  readonly funcInfo: F[];
  readonly lineInfo: L[];
  readonly coreRelos: C[];
}

/** A copy of a record at another instruction. Keeps the record's class (line_info records
 * read their strings through getters, which a spread would drop). */
function rebased<R extends ExtRecord>(r: R, insnIndex: number): R {
  return Object.assign(Object.create(Object.getPrototypeOf(r) as object) as R, r, { insnIndex });
}

class Growable {
  bytes = new Uint8Array(256);
  length = 0;
  append(src: Uint8Array): void {
    if (this.length + src.byteLength > this.bytes.byteLength) {
      const next = new Uint8Array(Math.max(this.bytes.byteLength * 2, this.length + src.byteLength));
      next.set(this.bytes.subarray(0, this.length));
      this.bytes = next;
    }
    this.bytes.set(src, this.length);
    this.length += src.byteLength;
  }
}

function relocationAt(relos: readonly InsnRelocation[], insn: number): InsnRelocation | undefined {
  let lo = 0;
  let hi = relos.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = relos[mid]!;
    if (r.insn === insn) return r;
    if (r.insn < insn) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

function recordsFor<R extends ExtRecord>(m: SectionRecords<R> | undefined, p: ProgramSpec): readonly R[] | undefined {
  if (!m) return undefined;
  return m.get(p.sectionName) ?? m.get(`?${p.sectionName}`);
}

/**
 * The records of `p`'s instructions, re-based to where `p` sits in the linked stream:
 * libbpf's adjust_prog_btf_ext_info (the contiguous run from the first record inside the
 * program to the last).
 */
function rebase<R extends ExtRecord>(records: readonly R[] | undefined, p: ProgramSpec, at: number): R[] | undefined {
  if (!records) return undefined;
  const start = p.sectionInsnOffset;
  const end = start + p.instructions.byteLength / INSN_SIZE;
  let first = -1;
  let last = -1;
  for (let k = 0; k < records.length; k++) {
    const insn = records[k]!.insnIndex;
    if (insn < start) continue;
    if (insn >= end) break;
    if (first < 0) first = k;
    last = k;
  }
  if (first < 0) return undefined;
  return records.slice(first, last + 1).map((r) => rebased(r, r.insnIndex - start + at));
}

/** Every record of `p`'s instructions (CO-RE relocations need no contiguity), re-based. */
function rebaseAll<R extends ExtRecord>(records: readonly R[] | undefined, p: ProgramSpec, at: number): R[] {
  if (!records) return [];
  const start = p.sectionInsnOffset;
  const end = start + p.instructions.byteLength / INSN_SIZE;
  const out: R[] = [];
  for (const r of records) {
    const insn = r.insnIndex;
    if (insn >= start && insn < end) out.push(rebased(r, insn - start + at));
  }
  return out;
}

/**
 * Links entry program `name` of `spec`: its instructions followed by every subprogram it
 * reaches, relocated. Pure: the spec is not changed, and the same input gives the same bytes.
 */
export function linkProgram(spec: ObjectSpec, name: string): LinkedProgram<FuncInfo, LineInfo, CoreRelo>;
export function linkProgram<F extends ExtRecord, L extends ExtRecord, C extends ExtRecord>(
  spec: ObjectSpec,
  name: string,
  ext: LinkExtInfo<F, L, C>,
): LinkedProgram<F, L, C>;
export function linkProgram(spec: ObjectSpec, name: string, extArg?: LinkExtInfo): LinkedProgram {
  type F = ExtRecord;
  type L = ExtRecord;
  type C = ExtRecord;
  const ext: LinkExtInfo = extArg ?? spec.btfExt ?? {};
  const main = spec.programs.get(name);
  if (!main) {
    const hint = spec.subprograms.has(name) ? ` ('${name}' is a .text subprogram, not an entry program)` : '';
    throw new UsageError(`no program named '${name}' in object '${spec.name}'${hint}; programs: ${[...spec.programs.keys()].join(', ') || 'none'}`);
  }
  const subs = [...spec.subprograms.values()];
  const textIndex = subs[0]?.sectionIndex ?? -1;
  const bySection = new Map<number, ProgramSpec[]>([[textIndex, subs.sort((a, b) => a.sectionInsnOffset - b.sectionInsnOffset)]]);

  const buf = new Growable();
  const placed = new Map<ProgramSpec, number>();
  const order: ProgramSpec[] = [];
  const done: LinkedRelocation[] = [];
  let funcInfo: F[] | undefined = [];
  let lineInfo: L[] | undefined = [];

  const place = (p: ProgramSpec): number => {
    const at = buf.length / INSN_SIZE;
    placed.set(p, at);
    order.push(p);
    buf.append(p.instructions);
    // libbpf marks callback address loads before relocating calls, so they are recognised.
    for (const r of p.relocations) if (r.kind === 'func') setInsnSrc(buf.bytes, at + r.insn, BPF_PSEUDO_FUNC);
    return at;
  };

  const extInfo = (p: ProgramSpec, at: number): void => {
    // Func and line info follow libbpf: a main program without them drops them altogether;
    // a subprogram without them, when the main program has them, is an error.
    if (funcInfo && ext.funcInfo) {
      const recs = rebase(recordsFor(ext.funcInfo, p), p, at);
      if (recs) funcInfo.push(...recs);
      else if (p === main) funcInfo = undefined;
      else throw new ElfError(`subprogram '${p.name}' has no .BTF.ext func_info while '${main.name}' has`, '.BTF.ext');
    }
    if (lineInfo && ext.lineInfo) {
      const recs = rebase(recordsFor(ext.lineInfo, p), p, at);
      if (recs) lineInfo.push(...recs);
      else if (p === main) lineInfo = undefined;
      else throw new ElfError(`subprogram '${p.name}' has no .BTF.ext line_info while '${main.name}' has`, '.BTF.ext');
    }
  };

  const relocCode = (p: ProgramSpec): void => {
    const at = placed.get(p)!;
    extInfo(p, at);
    const count = p.instructions.byteLength / INSN_SIZE;
    for (let i = 0; i < count; i++) {
      const idx = at + i;
      let b = buf.bytes;
      const subCall = isCall(b, idx) && insnSrc(b, idx) === BPF_PSEUDO_CALL && insnDst(b, idx) === 0 && insnOff(b, idx) === 0;
      const pseudoFunc = isLdImm64(b, idx) && insnSrc(b, idx) === BPF_PSEUDO_FUNC;
      if (!subCall && !pseudoFunc) continue;
      const relo = relocationAt(p.relocations, i);
      if (relo?.kind === 'extern') continue; // kfunc calls are resolved by the loader
      if (relo && relo.kind !== 'call' && relo.kind !== 'func')
        throw new ElfError(`program '${p.name}' instruction ${i}: unexpected ${relo.kind} relocation on a call`, p.sectionName);
      const imm = insnImm(b, idx);
      let target: number;
      if (relo?.kind === 'call') target = relo.symbolOffset / INSN_SIZE + imm + 1;
      else if (relo?.kind === 'func') target = (relo.symbolOffset + imm) / INSN_SIZE;
      else if (pseudoFunc) throw new ElfError(`program '${p.name}' instruction ${i}: callback address load without a relocation`, p.sectionName);
      // A call to a static function of the same section carries no relocation: imm is relative.
      else target = p.sectionInsnOffset + i + imm + 1;
      const sub = Number.isInteger(target) ? findProgramAt(bySection, textIndex, target) : undefined;
      if (!sub)
        throw new ElfError(`program '${p.name}' instruction ${i} calls .text instruction ${target}, where no subprogram is`, p.sectionName, (p.sectionInsnOffset + i) * INSN_SIZE);
      if (!placed.has(sub)) {
        place(sub);
        relocCode(sub);
        b = buf.bytes;
      }
      const subAt = placed.get(sub)!;
      setInsnImm(b, idx, subAt - idx - 1);
      done.push({ insn: idx, kind: pseudoFunc ? 'func' : 'call', target: sub.name, targetInsn: subAt });
    }
  };

  place(main);
  relocCode(main);

  const out = buf.bytes.slice(0, buf.length);
  const coreRelos: C[] = [];
  for (const p of order) {
    const at = placed.get(p)!;
    coreRelos.push(...rebaseAll(recordsFor(ext.coreRelos, p), p, at));
    for (const r of p.relocations) {
      const idx = at + r.insn;
      switch (r.kind) {
        case 'map':
          setInsnSrc(out, idx, BPF_PSEUDO_MAP_FD);
          setInsnImm(out, idx, 0);
          done.push({ insn: idx, kind: 'map', map: r.map });
          break;
        case 'data': {
          const offset = (insnImm(out, idx) + r.offset) | 0;
          setInsnImm(out, idx + 1, offset);
          setInsnSrc(out, idx, BPF_PSEUDO_MAP_VALUE);
          setInsnImm(out, idx, 0);
          done.push({ insn: idx, kind: 'data', map: r.map, offset });
          break;
        }
        case 'extern': {
          const e = spec.externs.get(r.extern);
          if (!e) throw new ElfError(`program '${p.name}' uses extern '${r.extern}', which the object does not describe`, p.sectionName);
          if (r.call) {
            setInsnSrc(out, idx, BPF_PSEUDO_KFUNC_CALL);
            done.push({ insn: idx, kind: 'kfunc', extern: e.name });
          } else if (e.kconfig) {
            setInsnSrc(out, idx, BPF_PSEUDO_MAP_VALUE);
            setInsnImm(out, idx, 0);
            setInsnImm(out, idx + 1, e.kconfig.offset);
            done.push({ insn: idx, kind: 'data', map: '.kconfig', offset: e.kconfig.offset, extern: e.name });
          } else {
            done.push({ insn: idx, kind: 'ksym', extern: e.name });
          }
          break;
        }
        case 'call':
        case 'func':
          break; // done while appending
      }
    }
  }
  done.sort((a, b) => a.insn - b.insn);
  return {
    name,
    instructions: out,
    relocations: done,
    layout: order.map((p) => ({ name: p.name, insn: placed.get(p)!, count: p.instructions.byteLength / INSN_SIZE })),
    funcInfo: funcInfo ?? [],
    lineInfo: lineInfo ?? [],
    coreRelos,
  };
}
