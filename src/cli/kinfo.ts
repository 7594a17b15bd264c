// Introspection the library does not offer as an API yet: a program's func_info/line_info
// records (from bpf_prog_info), through the one syscall seam and its ABI layouts; and kernel BTF
// objects by id, parsed once each (the library reads them: btfObjectById).
import type { Btf } from '../btf/index.js';
import { BpfError } from '../errors.js';
import { btfObjectById } from '../index.js';
import { Attr, BPF_PROG_INFO, objInfo, stableBuffer } from '../syscall/index.js';

const parsed = new Map<number, Btf>();

/** The kernel's BTF object `id`, parsed (module BTF on top of vmlinux's), once per id. */
export function parsedBtfById(id: number): Btf {
  const known = parsed.get(id);
  if (known) return known;
  const btf = btfObjectById(id);
  parsed.set(id, btf);
  return btf;
}

export interface ProgLineInfo {
  /** Instruction index in the xlated program. */
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  line: number;
  col: number;
}

export interface ProgFuncInfo {
  insnOff: number;
  typeId: number;
}

export interface ProgExtInfo {
  btfId: number;
  lineInfo: ProgLineInfo[];
  funcInfo: ProgFuncInfo[];
}

/** A program's BTF id with its func_info and line_info (indices into the xlated instructions). */
export function progExtInfo(fd: number): ProgExtInfo {
  const attr = new Attr(BPF_PROG_INFO);
  objInfo(fd, attr, `program fd ${fd}`);
  const btfId = attr.get('btf_id');
  const nLine = attr.get('nr_line_info');
  const nFunc = attr.get('nr_func_info');
  const lineRec = attr.get('line_info_rec_size');
  const funcRec = attr.get('func_info_rec_size');
  if (!btfId || (!nLine && !nFunc)) return { btfId, lineInfo: [], funcInfo: [] };
  const lines = stableBuffer(Math.max(1, nLine * lineRec));
  const funcs = stableBuffer(Math.max(1, nFunc * funcRec));
  attr.zero();
  if (nLine) attr.set('nr_line_info', nLine).set('line_info_rec_size', lineRec).setPointer('line_info', lines);
  if (nFunc) attr.set('nr_func_info', nFunc).set('func_info_rec_size', funcRec).setPointer('func_info', funcs);
  objInfo(fd, attr, `program fd ${fd} (line info)`);
  // The kernel zeroes the pointers when the caller may not see them.
  const lineInfo: ProgLineInfo[] = [];
  if (nLine && attr.get('line_info') !== 0)
    for (let i = 0; i < Math.min(nLine, attr.get('nr_line_info')); i++) {
      const at = i * lineRec;
      const lc = lines.readUInt32LE(at + 12);
      lineInfo.push({
        insnOff: lines.readUInt32LE(at),
        fileNameOff: lines.readUInt32LE(at + 4),
        lineOff: lines.readUInt32LE(at + 8),
        line: lc >>> 10,
        col: lc & 0x3ff,
      });
    }
  const funcInfo: ProgFuncInfo[] = [];
  if (nFunc && attr.get('func_info') !== 0)
    for (let i = 0; i < Math.min(nFunc, attr.get('nr_func_info')); i++)
      funcInfo.push({ insnOff: funcs.readUInt32LE(i * funcRec), typeId: funcs.readUInt32LE(i * funcRec + 4) });
  return { btfId, lineInfo, funcInfo };
}

/** True for "no such object" from an id lookup. */
export function isNoEnt(e: unknown): boolean {
  return e instanceof BpfError && e.code === 'ENOENT';
}
