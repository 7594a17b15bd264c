// The .BTF.ext section: per-ELF-section func_info, line_info and CO-RE relocation records.
//
// Unit: the file stores `insn_off` in BYTES from the start of the ELF section; every record
// here carries `insnIndex` = insn_off / 8, the instruction index in that section (the kernel
// wants instruction indices relative to the program, so the loader subtracts the program's
// first instruction index). Records larger than the ones known here (a newer producer) are
// accepted: the known leading fields are read and the rest skipped.
import { BtfError } from '../errors.js';
import type { Btf } from './btf.js';

export type CoreReloKind =
  | 'field_byte_offset'
  | 'field_byte_size'
  | 'field_exists'
  | 'field_signed'
  | 'field_lshift_u64'
  | 'field_rshift_u64'
  | 'type_id_local'
  | 'type_id_target'
  | 'type_exists'
  | 'type_size'
  | 'enumval_exists'
  | 'enumval_value'
  | 'type_matches';

/** enum bpf_core_relo_kind, in uapi order (BPF_CORE_FIELD_BYTE_OFFSET = 0 ...). */
export const CORE_RELO_KINDS: readonly CoreReloKind[] = [
  'field_byte_offset',
  'field_byte_size',
  'field_exists',
  'field_signed',
  'field_lshift_u64',
  'field_rshift_u64',
  'type_id_local',
  'type_id_target',
  'type_exists',
  'type_size',
  'enumval_exists',
  'enumval_value',
  'type_matches',
];

export interface FuncInfo {
  /** Instruction index in the ELF section (insn_off / 8). */
  insnIndex: number;
  /** The BTF FUNC type of the function starting there. */
  typeId: number;
}

export interface LineInfo {
  insnIndex: number;
  fileName: string;
  /** The source line's text, as clang recorded it. */
  lineText: string;
  line: number;
  col: number;
  /** Raw string offsets into the .BTF string table (valid for that BTF's string table). */
  fileNameOff: number;
  lineOff: number;
}

export interface CoreRelo {
  insnIndex: number;
  /** Local (object BTF) root type id. */
  typeId: number;
  /** Access string, e.g. "0:1:2" (field relos) or "0" (type relos) or an enumerator index. */
  accessStr: string;
  kind: CoreReloKind;
}

export interface BtfExt {
  funcInfo: Map<string, FuncInfo[]>;
  lineInfo: Map<string, LineInfo[]>;
  coreRelos: Map<string, CoreRelo[]>;
  /** Record sizes as found in the file (0 for an absent part). */
  funcInfoRecSize: number;
  lineInfoRecSize: number;
  coreReloRecSize: number;
}

const MIN_HDR = 24;

/**
 * Parses a .BTF.ext section; strings (section names, file names, access strings) come from `btf`.
 *
 * Every record is checked here (a malformed section throws now), but the records are turned
 * into objects only when `funcInfo`, `lineInfo` or `coreRelos` is first read: opening an
 * object does not need them (loading does), and line_info records are most of the section.
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf): BtfExt {
  if (!(bytes instanceof Uint8Array)) throw new BtfError('.BTF.ext: input is not a Uint8Array');
  const len = bytes.byteLength;
  if (len < 8) throw new BtfError(`.BTF.ext: truncated header (${len} bytes)`, 0);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, len);
  const magic = dv.getUint16(0, true);
  if (magic !== 0xeb9f) {
    if (magic === 0x9feb) throw new BtfError('.BTF.ext: big-endian data is not supported', 0);
    throw new BtfError(`.BTF.ext: bad magic 0x${magic.toString(16)}`, 0);
  }
  if (dv.getUint8(2) !== 1) throw new BtfError(`.BTF.ext: unsupported version ${dv.getUint8(2)}`, 2);
  const hdrLen = dv.getUint32(4, true);
  if (hdrLen < MIN_HDR || hdrLen > len)
    throw new BtfError(`.BTF.ext: header length ${hdrLen} out of range (${len} bytes)`, 4);
  const field = (at: number): number => (at + 4 <= hdrLen ? dv.getUint32(at, true) : 0);
  const r = new ExtReader(dv, hdrLen, btf);
  // Checked now, in file order, with the same errors as when the records are built.
  const funcInfoRecSize = r.part(FUNC, field(8), field(12), undefined);
  const lineInfoRecSize = r.part(LINE, field(16), field(20), undefined);
  const coreReloRecSize = r.part(CORE, field(24), field(28), undefined);
  return {
    funcInfo: new RecordMap<FuncInfo>(r, FUNC, field(8), field(12)),
    lineInfo: new RecordMap<LineInfo>(r, LINE, field(16), field(20)),
    coreRelos: new RecordMap<CoreRelo>(r, CORE, field(24), field(28)),
    funcInfoRecSize,
    lineInfoRecSize,
    coreReloRecSize,
  };
}

/**
 * A Map of records by ELF section name that reads its part of the section on first use (the
 * records were checked when the section was parsed, so this cannot throw). Every Map method
 * goes through `ready()`, so it behaves as the Map it would have been; only what reads a Map's
 * internal slots directly (structuredClone, Map.prototype.get.call) would see it unfilled.
 * (A subclass rather than per-object accessors: defineProperty with fresh closures gives each
 * object its own hidden class, which V8 allocates in old space — measured: 1.9 MB promoted per
 * scavenge.)
 */
class RecordMap<T> extends Map<string, T[]> {
  #reader: ExtReader | undefined;
  readonly #part: number;
  readonly #off: number;
  readonly #size: number;

  constructor(reader: ExtReader, part: number, off: number, size: number) {
    super();
    this.#reader = reader;
    this.#part = part;
    this.#off = off;
    this.#size = size;
  }

  #ready(): void {
    const r = this.#reader;
    if (r === undefined) return;
    this.#reader = undefined;
    r.part(this.#part, this.#off, this.#size, this as Map<string, unknown[]>);
  }

  override get(key: string): T[] | undefined {
    this.#ready();
    return super.get(key);
  }
  override has(key: string): boolean {
    this.#ready();
    return super.has(key);
  }
  override get size(): number {
    this.#ready();
    return super.size;
  }
  override set(key: string, value: T[]): this {
    this.#ready();
    return super.set(key, value);
  }
  override delete(key: string): boolean {
    this.#ready();
    return super.delete(key);
  }
  override clear(): void {
    this.#reader = undefined;
    super.clear();
  }
  override forEach(fn: (value: T[], key: string, map: Map<string, T[]>) => void, thisArg?: unknown): void {
    this.#ready();
    super.forEach(fn, thisArg);
  }
  override keys(): MapIterator<string> {
    this.#ready();
    return super.keys();
  }
  override values(): MapIterator<T[]> {
    this.#ready();
    return super.values();
  }
  override entries(): MapIterator<[string, T[]]> {
    this.#ready();
    return super.entries();
  }
  override [Symbol.iterator](): MapIterator<[string, T[]]> {
    return this.entries();
  }
}

const FUNC = 0;
const LINE = 1;
const CORE = 2;
const PART_NAME = ['func_info', 'line_info', 'core_relo'];
const MIN_REC = [8, 16, 16];

/** Walks the three parts of a .BTF.ext section: checks every record, and builds them when given a map to fill. */
class ExtReader {
  constructor(
    private readonly dv: DataView,
    private readonly hdrLen: number,
    private readonly btf: Btf,
  ) {}

  private str(off: number, what: string, at: number): string {
    const strings = this.btf.strings;
    if (!strings.has(off)) throw new BtfError(`.BTF.ext: ${what} string offset ${off} is outside the BTF string table`, at);
    try {
      return strings.get(off);
    } catch (e) {
      throw new BtfError(`.BTF.ext: ${what}: ${(e as Error).message}`, at);
    }
  }

  /** One part; returns its record size (0 when absent). */
  part(kind: number, off: number, size: number, into: Map<string, unknown[]> | undefined): number {
    if (size === 0) return 0;
    const { dv, hdrLen, btf } = this;
    const what = PART_NAME[kind]!;
    const len = dv.byteLength;
    const start = hdrLen + off;
    if (off > len - hdrLen || size > len - start)
      throw new BtfError(`.BTF.ext: ${what} [${off}, +${size}) is beyond the end of the section`, 8);
    if (start % 4 !== 0) throw new BtfError(`.BTF.ext: ${what} is not 4-byte aligned`, start);
    if (size < 4) throw new BtfError(`.BTF.ext: ${what} is too short for its record size`, start);
    const end = start + size;
    const recSize = dv.getUint32(start, true);
    const minRec = MIN_REC[kind]!;
    if (recSize < minRec || recSize % 4 !== 0)
      throw new BtfError(`.BTF.ext: ${what} record size ${recSize} is invalid (need a multiple of 4, >= ${minRec})`, start);
    const strings = btf.strings;
    let p = start + 4;
    while (p < end) {
      if (p + 8 > end) throw new BtfError(`.BTF.ext: ${what} section header is truncated`, p);
      const sec = this.str(dv.getUint32(p, true), `${what} section name`, p);
      const n = dv.getUint32(p + 4, true);
      if (n === 0) throw new BtfError(`.BTF.ext: ${what} for section '${sec}' has no records`, p + 4);
      p += 8;
      if (n > (end - p) / recSize)
        throw new BtfError(`.BTF.ext: ${what} for section '${sec}' claims ${n} records of ${recSize} bytes; only ${end - p} bytes remain`, p - 4);
      let list: unknown[] | undefined;
      if (into) {
        list = into.get(sec);
        if (!list) into.set(sec, (list = []));
      }
      for (let i = 0; i < n; i++, p += recSize) {
        const insnOff = dv.getUint32(p, true);
        if (insnOff % 8 !== 0)
          throw new BtfError(`.BTF.ext: ${what} record in '${sec}' has insn_off ${insnOff}, not a multiple of 8`, p);
        const insnIndex = insnOff / 8;
        if (kind === FUNC) {
          const typeId = checkType(btf, dv.getUint32(p + 4, true), p);
          list?.push({ insnIndex, typeId } satisfies FuncInfo);
        } else if (kind === LINE) {
          const fileNameOff = dv.getUint32(p + 4, true);
          const lineOff = dv.getUint32(p + 8, true);
          if (!strings.has(fileNameOff)) throw new BtfError(`.BTF.ext: line_info file name string offset ${fileNameOff} is outside the BTF string table`, p + 4);
          if (!strings.has(lineOff)) throw new BtfError(`.BTF.ext: line_info line string offset ${lineOff} is outside the BTF string table`, p + 8);
          list?.push(new LineRecord(strings, insnIndex, fileNameOff, lineOff, dv.getUint32(p + 12, true)));
        } else {
          const kindNo = dv.getUint32(p + 12, true);
          const reloKind = CORE_RELO_KINDS[kindNo];
          if (!reloKind) throw new BtfError(`.BTF.ext: unknown CO-RE relocation kind ${kindNo} in '${sec}'`, p + 12);
          const typeId = checkType(btf, dv.getUint32(p + 4, true), p + 4);
          const accessStr = this.str(dv.getUint32(p + 8, true), 'core_relo access string', p + 8);
          list?.push({ insnIndex, typeId, accessStr, kind: reloKind } satisfies CoreRelo);
        }
      }
    }
    return recSize;
  }
}

/**
 * A line_info record. Loading a program needs only the offsets, so the two strings are read
 * from the string table when first asked for (a typed BtfError if one is unterminated).
 */
class LineRecord implements LineInfo {
  readonly line: number;
  readonly col: number;
  constructor(
    private readonly strings: Btf['strings'],
    public insnIndex: number,
    public fileNameOff: number,
    public lineOff: number,
    lineCol: number,
  ) {
    this.line = lineCol >>> 10;
    this.col = lineCol & 0x3ff;
  }

  get fileName(): string {
    return this.strings.get(this.fileNameOff, 'line_info file name');
  }

  get lineText(): string {
    return this.strings.get(this.lineOff, 'line_info line');
  }
}

function checkType(btf: Btf, id: number, at: number): number {
  if (!btf.hasType(id)) throw new BtfError(`.BTF.ext: record refers to type ${id}, beyond the last type ${btf.lastTypeId}`, at);
  return id;
}
