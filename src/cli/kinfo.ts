// Introspection the library does not offer as an API yet: a kernel BTF object's bytes by id
// (BPF_BTF_GET_FD_BY_ID + BPF_OBJ_GET_INFO_BY_FD) and a program's func_info/line_info records
// (from bpf_prog_info). Both go through the one syscall seam and its ABI layouts.
import { BpfError } from '../errors.js';
import { Btf, loadKernelBtf } from '../btf/index.js';
import { Attr, BPF_BTF_INFO, BPF_PROG_INFO, closeFd, fdById, objInfo, stableBuffer } from '../syscall/index.js';

export interface KernelBtfInfo {
  id: number;
  name: string;
  size: number;
  kernel: boolean;
  bytes: Uint8Array;
}

/** The raw BTF blob the kernel holds under `id`. */
export function btfById(id: number): KernelBtfInfo {
  const fd = fdById('btf', id);
  try {
    const attr = new Attr(BPF_BTF_INFO);
    objInfo(fd, attr, `BTF id ${id}`);
    const size = attr.get('btf_size');
    const data = stableBuffer(Math.max(size, 1));
    const name = stableBuffer(64);
    attr.zero().set('btf_size', size).setPointer('btf', data).set('name_len', name.length).setPointer('name', name);
    objInfo(fd, attr, `BTF id ${id}`);
    const end = name.indexOf(0);
    return {
      id,
      name: name.toString('utf8', 0, end < 0 ? name.length : end),
      size,
      kernel: attr.get('kernel_btf') !== 0,
      bytes: new Uint8Array(data.subarray(0, size)),
    };
  } finally {
    closeFd(fd);
  }
}

const parsed = new Map<number, Btf>();

/** The kernel's BTF object `id`, parsed. Module BTF is split: it is parsed on top of vmlinux. */
export function parsedBtfById(id: number): Btf {
  let btf = parsed.get(id);
  if (btf) return btf;
  const info = btfById(id);
  const isSplitModule = info.kernel && info.name !== '' && info.name !== 'vmlinux';
  btf = Btf.parse(info.bytes, isSplitModule ? { base: loadKernelBtf() } : {});
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
