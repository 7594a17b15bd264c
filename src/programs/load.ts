// BPF_PROG_LOAD with the verifier log handled the way users need it: a fast first attempt
// without a log, and only on failure a second one with a log buffer that grows until the whole
// log fits, so the error names the instruction the verifier refused.
import { BpfError, NotSupportedError, UsageError, VerifierError, errnoName, summarizeVerifierLog } from '../errors.js';
import { progLoadNotSupported } from '../features/explain.js';
import type { ProgramType } from '../syscall/abi/names.js';
import { ERRNO } from '../errno-names.js';
import { LD_IMM64, type InstructionFields } from '../asm/instruction.js';
import {
  BPF_LOG_LEVEL1,
  BPF_OBJ_NAME_LEN,
  PROG_LOAD_ATTR,
  bpf_cmd,
} from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { cString } from '../syscall/bpf.js';
import { stableBuffer } from '../syscall/libc.js';
import { bpfStep, runSteps, runStepsAsync, type Steps } from '../syscall/steps.js';
import { attachTypeNames, attachTypeValue, progTypeName, progTypeNames, progTypeValue } from '../sysinfo/names.js';

const { EPERM, EAGAIN, EINVAL, E2BIG, ENOSPC } = ERRNO;

const BPF_INSN_SIZE = 8;
/** The kernel's BPF_COMPLEXITY_LIMIT_INSNS: no program can have more instructions. */
const MAX_INSNS = 1_000_000;
/** The kernel refuses a log buffer shorter than this when log_level is non-zero. */
const MIN_LOG_SIZE = 128;
const DEFAULT_LOG_SIZE = 64 * 1024;
const MAX_LOG_SIZE = 16 * 1024 * 1024;
const EAGAIN_TRIES = 5;

/** One instruction by its fields, as the assembler's `Instruction` objects carry them. */
export type InstructionFieldsLike = InstructionFields;

/**
 * Program instructions: raw `struct bpf_insn` bytes, anything carrying them in `.bytes` (the
 * assembler's program output), or a list of instructions — objects with the fields
 * `{ opcode, dst, src, off, imm, imm64? }` (the assembler's `Instruction`s) or 64-bit words as
 * the kernel stores them in memory (little-endian).
 */
export type InstructionsInput =
  | Uint8Array
  | { readonly bytes: Uint8Array }
  | ReadonlyArray<InstructionFieldsLike | bigint>;

export interface ProgramBtfOptions {
  /** fd of the program's BTF (loaded with BPF_BTF_LOAD). */
  fd: number;
  /** `bpf_func_info` records, `funcInfoRecSize` bytes each. */
  funcInfo?: Uint8Array;
  /** `bpf_line_info` records, `lineInfoRecSize` bytes each. */
  lineInfo?: Uint8Array;
  funcInfoRecSize: number;
  lineInfoRecSize: number;
}

export interface ProgramLoadOptions {
  /** Lowercase uapi program type without `BPF_PROG_TYPE_`: 'xdp', 'sched_cls' (alias 'tc'),
   * 'socket_filter', 'kprobe', 'tracepoint', 'raw_tracepoint', 'tracing', 'cgroup_skb', ... */
  type: string;
  instructions: InstructionsInput;
  /** 'GPL' (or another GPL-compatible string) unlocks GPL-only helpers. */
  license: string;
  /** Up to 15 characters of [A-Za-z0-9_.]; longer names are truncated, as the kernel shows them. */
  name?: string;
  /** Lowercase uapi attach type without `BPF_`: 'xdp', 'tcx_ingress', 'cgroup_inet_ingress',
   * 'trace_fentry', ... Required by the kernel for some program types. */
  expectedAttachType?: string;
  /** `prog_flags`: BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, ... */
  flags?: number;
  btf?: ProgramBtfOptions;
  attachBtfId?: number;
  /** fd of the BTF object (a kernel module's) that `attachBtfId` refers to. */
  attachBtfObjFd?: number;
  /** fd of the program an fentry/fexit/freplace program attaches to. */
  attachProgFd?: number;
  kernVersion?: number;
  /** Offload or dev-bound XDP: the device's ifindex. */
  ifindex?: number;
  /** Map (and BTF) fds that BPF_PSEUDO_MAP_IDX instructions index into. */
  fdArray?: readonly number[];
  /** Ask for the verifier log even on success (1, 2, |4 for stats); it is then kept in
   * `verifierLog`. Without it, the log is only gathered when a load fails. */
  logLevel?: number;
  /** Initial log buffer size in bytes (default 64 KiB, at least 128); it grows on demand up to 16 MiB. */
  logSize?: number;
}

export interface LoadedProgram {
  fd: number;
  /** The verifier log, when `logLevel` asked for one. */
  log?: string;
  typeValue: number;
  name: string;
}


function isFields(x: unknown): x is InstructionFieldsLike {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return ['opcode', 'dst', 'src', 'off', 'imm'].every((k) => Number.isInteger(o[k]));
}

/** Concatenated instruction bytes of any accepted input form. */
export function instructionBytes(input: InstructionsInput): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (Array.isArray(input)) {
    const list = input as ReadonlyArray<unknown>;
    let slots = 0;
    for (const insn of list) slots += isFields(insn) && insn.opcode === LD_IMM64 ? 2 : 1;
    const out = new Uint8Array(slots * BPF_INSN_SIZE);
    const v = new DataView(out.buffer);
    let pos = 0;
    const slot = (op: number, dst: number, src: number, off: number, imm: number) => {
      v.setUint8(pos, op);
      v.setUint8(pos + 1, ((src & 0xf) << 4) | (dst & 0xf));
      v.setInt16(pos + 2, off, true);
      v.setInt32(pos + 4, imm | 0, true);
      pos += BPF_INSN_SIZE;
    };
    list.forEach((insn, i) => {
      if (typeof insn === 'bigint') {
        v.setBigUint64(pos, BigInt.asUintN(64, insn), true);
        pos += BPF_INSN_SIZE;
      } else if (isFields(insn)) {
        const bad = insn.opcode < 0 || insn.opcode > 0xff || insn.dst < 0 || insn.dst > 15 || insn.src < 0 || insn.src > 15 || insn.off < -0x8000 || insn.off > 0x7fff;
        if (bad) throw new UsageError(`instructions[${i}] has a field out of range for struct bpf_insn: ${JSON.stringify({ ...insn, imm64: insn.imm64?.toString() })}`);
        if (insn.opcode === LD_IMM64) {
          const u = BigInt.asUintN(64, insn.imm64 ?? BigInt(insn.imm));
          slot(insn.opcode, insn.dst, insn.src, insn.off, Number(BigInt.asIntN(32, u)));
          slot(0, 0, 0, 0, Number(BigInt.asIntN(32, u >> 32n)));
        } else slot(insn.opcode, insn.dst, insn.src, insn.off, insn.imm);
      } else {
        throw new UsageError(`instructions[${i}] is neither an instruction ({ opcode, dst, src, off, imm }) nor a bigint`);
      }
    });
    return out;
  }
  if (input && typeof input === 'object' && (input as { bytes?: unknown }).bytes instanceof Uint8Array) {
    // The assembler's output names maps it cannot know the fds of; loading its raw bytes would
    // hand the kernel fd 0 and a baffling error.
    const refs = (input as { mapReferences?: unknown }).mapReferences;
    if (Array.isArray(refs) && refs.length > 0) {
      const names = [...new Set(refs.map((r: { name?: unknown }) => String(r?.name)))];
      throw new UsageError(
        `the program refers to map${names.length > 1 ? 's' : ''} ${names.map((n) => `'${n}'`).join(', ')} by name: pass program.resolveMaps({ ${names.map((n) => `${/^[A-Za-z_$][\w$]*$/.test(n) ? n : JSON.stringify(n)}: map.fd`).join(', ')} }) as instructions`,
      );
    }
    return (input as { bytes: Uint8Array }).bytes;
  }
  throw new UsageError('instructions must be a Uint8Array, an object with .bytes (assembler output), or an array of instructions');
}

const NAME_OK = /^[A-Za-z0-9_.]*$/;

function checkName(name: string | undefined): string {
  if (name === undefined) return '';
  if (typeof name !== 'string') throw new UsageError(`program name must be a string, got ${typeof name}`);
  if (!NAME_OK.test(name))
    throw new UsageError(`program name ${JSON.stringify(name)} may only contain letters, digits, '_' and '.' (the kernel refuses others)`);
  return name.slice(0, BPF_OBJ_NAME_LEN - 1);
}

function checkU32(what: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new UsageError(`${what} must be an unsigned 32-bit integer, got ${v}`);
}

/** Loads a program; returns its fd. Throws VerifierError (with the full log) or BpfError. */
export function loadProgram(opts: ProgramLoadOptions): LoadedProgram {
  return runSteps(loadProgramSteps(opts));
}

/** loadProgram with the verifier's runs off the main thread; the same results and errors. */
export function loadProgramAsync(opts: ProgramLoadOptions): Promise<LoadedProgram> {
  return runStepsAsync(loadProgramSteps(opts));
}

/**
 * The load as a task (src/syscall/steps.ts): each BPF_PROG_LOAD is a step, so the caller
 * decides whether the verifier runs on this thread or on the worker pool. The attr (and with
 * it every buffer it points at) is what each step hands the kernel.
 */
export function* loadProgramSteps(opts: ProgramLoadOptions): Steps<LoadedProgram> {
  if (!opts || typeof opts !== 'object') throw new UsageError('BpfProgram.load needs an options object: { type, instructions, license }');
  const typeValue = progTypeValue(String(opts.type));
  if (typeValue === undefined || typeValue === 0)
    throw new UsageError(`unknown program type ${JSON.stringify(opts.type)}; known: ${progTypeNames().join(', ')} (alias: tc = sched_cls)`);
  let attachValue: number | undefined;
  if (opts.expectedAttachType !== undefined) {
    attachValue = attachTypeValue(String(opts.expectedAttachType));
    if (attachValue === undefined)
      throw new UsageError(`unknown attach type ${JSON.stringify(opts.expectedAttachType)}; known: ${attachTypeNames().join(', ')}`);
  }
  if (typeof opts.license !== 'string') throw new UsageError('license must be a string, e.g. "GPL"');
  const name = checkName(opts.name);
  for (const k of ['flags', 'attachBtfId', 'attachBtfObjFd', 'attachProgFd', 'kernVersion', 'ifindex', 'logLevel', 'logSize'] as const)
    checkU32(k, opts[k]);
  if (opts.attachBtfObjFd !== undefined && opts.attachProgFd !== undefined)
    throw new UsageError('attachBtfObjFd and attachProgFd share one field of the kernel attr: give only one');

  const code = instructionBytes(opts.instructions);
  if (code.length === 0) throw new UsageError('a program needs at least one instruction');
  if (code.length % BPF_INSN_SIZE !== 0)
    throw new UsageError(`instruction bytes must be a multiple of ${BPF_INSN_SIZE}, got ${code.length}`);
  const insnCnt = code.length / BPF_INSN_SIZE;
  if (insnCnt > MAX_INSNS) throw new UsageError(`${insnCnt} instructions is more than the kernel's limit of ${MAX_INSNS}`);

  // Everything the kernel reads through a pointer lives in a stable buffer the Attr keeps.
  const insns = stableBuffer(code.length);
  insns.set(code);
  const license = cString(opts.license);
  const attr = new Attr(PROG_LOAD_ATTR)
    .set('prog_type', typeValue)
    .set('insn_cnt', insnCnt)
    .setPointer('insns', insns)
    .setPointer('license', license)
    .setString('prog_name', name)
    .set('expected_attach_type', attachValue ?? 0)
    .set('prog_flags', opts.flags ?? 0)
    .set('kern_version', opts.kernVersion ?? 0)
    .set('prog_ifindex', opts.ifindex ?? 0)
    .set('attach_btf_id', opts.attachBtfId ?? 0)
    .set('attach_prog_fd', opts.attachProgFd ?? opts.attachBtfObjFd ?? 0);
  if (opts.btf) {
    const b = opts.btf;
    for (const k of ['funcInfo', 'lineInfo'] as const)
      if (b[k] !== undefined && !(b[k] instanceof Uint8Array)) throw new UsageError(`btf.${k} must be a Uint8Array of records`);
    checkU32('btf.fd', b.fd);
    attr.set('prog_btf_fd', b.fd);
    if (b.funcInfo?.length) setRecords(attr, 'func_info', 'func_info_rec_size', 'func_info_cnt', b.funcInfo, b.funcInfoRecSize);
    if (b.lineInfo?.length) setRecords(attr, 'line_info', 'line_info_rec_size', 'line_info_cnt', b.lineInfo, b.lineInfoRecSize);
  }
  if (opts.fdArray !== undefined && !Array.isArray(opts.fdArray)) throw new UsageError('fdArray must be an array of fds');
  if (opts.fdArray?.length) {
    const fds = stableBuffer(opts.fdArray.length * 4);
    opts.fdArray.forEach((fd, i) => {
      checkU32(`fdArray[${i}]`, fd);
      fds.writeInt32LE(fd, i * 4);
    });
    attr.setPointer('fd_array', fds);
  }
  return yield* loadWithLog(attr, opts, typeValue, name);
}

function* loadWithLog(attr: Attr<LoadKey>, opts: ProgramLoadOptions, typeValue: number, name: string): Steps<LoadedProgram> {
  const what = describe(opts.type, opts.expectedAttachType, name);
  const wantLog = (opts.logLevel ?? 0) !== 0;
  let firstErrno = 0;
  if (!wantLog) {
    const r = yield* attempt(attr);
    if (r >= 0) return { fd: r, typeValue, name };
    firstErrno = -r;
  }

  // With a log: grow the buffer until the log fits. A truncated log makes the kernel return
  // ENOSPC whatever the verdict, so that errno is never the one we report.
  let size = Math.max(MIN_LOG_SIZE, opts.logSize ?? DEFAULT_LOG_SIZE);
  const level = wantLog ? opts.logLevel! : BPF_LOG_LEVEL1;
  for (;;) {
    const logBuf = stableBuffer(size);
    attr.set('log_level', level).set('log_size', size).setPointer('log_buf', logBuf).set('log_true_size', 0);
    const r = yield* attempt(attr);
    const log = readLog(logBuf);
    const trueSize = attr.get('log_true_size');
    const truncated = -r === ENOSPC && (trueSize > size || (trueSize === 0 && log.length >= size - 1));
    if (r >= 0) return { fd: r, typeValue, name, ...(wantLog ? { log } : {}) };
    if (truncated && size < MAX_LOG_SIZE) {
      size = Math.min(MAX_LOG_SIZE, trueSize > size ? trueSize : size * 2);
      continue;
    }
    // The real verdict: the log-less attempt's errno; if there was none (the caller asked for
    // a log) and the log is cut short, one more attempt without a log tells it.
    let errno = firstErrno || -r;
    if (truncated && !firstErrno) {
      attr.set('log_level', 0).set('log_size', 0).setPointer('log_buf', null).set('log_true_size', 0);
      const r2 = yield* attempt(attr);
      if (r2 >= 0) return { fd: r2, typeValue, name, log };
      errno = -r2;
    }
    throw loadError(errno, log, truncated, what, opts, typeValue);
  }
}

function* attempt(attr: Attr<string>): Steps<number> {
  for (let i = 1; ; i++) {
    const r = yield bpfStep(bpf_cmd.BPF_PROG_LOAD, attr);
    if (r !== -EAGAIN || i >= EAGAIN_TRIES) return r;
  }
}

type LoadKey = keyof typeof PROG_LOAD_ATTR.members;

function setRecords(attr: Attr<LoadKey>, ptr: LoadKey, recSizeKey: LoadKey, cntKey: LoadKey, records: Uint8Array, recSize: number): void {
  checkU32(`${ptr} record size`, recSize);
  if (!recSize || records.length % recSize !== 0)
    throw new UsageError(`${ptr}: ${records.length} bytes is not a whole number of ${recSize}-byte records`);
  const buf = stableBuffer(records.length);
  buf.set(records);
  attr.setPointer(ptr, buf).set(recSizeKey, recSize).set(cntKey, records.length / recSize);
}

function readLog(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString('utf8');
}

function describe(type: string, attach: string | undefined, name: string): string {
  return `${name ? `program ${name}, ` : ''}type ${type}${attach !== undefined ? `, expected attach type ${attach}` : ''}`;
}

function loadError(errno: number, log: string, truncated: boolean, what: string, opts: ProgramLoadOptions, typeValue: number): BpfError | NotSupportedError {
  const command = 'BPF_PROG_LOAD';
  // A log of statistics alone ("processed 0 insns") means the verifier never looked at an
  // instruction: the kernel refused the load before verifying, which a VerifierError would hide.
  if (summarizeVerifierLog(log) !== '') return new VerifierError({ errno, command, context: what, log, truncated });
  // No log: the kernel refused before verifying. A type (or flag) it does not know is EINVAL.
  const missing = progLoadNotSupported(progTypeName(typeValue) as ProgramType, opts.flags ?? 0, errno);
  if (missing) return missing;
  const code = errnoName(errno);
  const asked = `program type '${opts.type}'${opts.expectedAttachType !== undefined ? ` with expected attach type '${opts.expectedAttachType}'` : ''}`;
  let advice: string | undefined;
  const root = process.getuid?.() === 0;
  if (errno === EPERM && root && usesTrampoline(opts))
    advice = `this machine refuses ${asked} even for root: fentry/fexit/fmod_ret, freplace and LSM programs all run through BPF trampolines, which this kernel does not allow here (its JIT or architecture lacks them, or lockdown or a kernel policy forbids them); kprobes, raw tracepoints and tp_btf programs need no trampoline`;
  else if (errno === EPERM)
    advice = root
      ? `this kernel refuses to load ${asked}, even for root (the type or attach type is disabled or unsupported here, e.g. no BPF trampoline for fentry/fexit/freplace/LSM, or lockdown); choose another program type`
      : `loading ${asked} needs root or CAP_BPF (plus CAP_NET_ADMIN for networking types, CAP_PERFMON for tracing), or this kernel refuses the type outright`;
  else if (errno === EINVAL)
    advice = `the kernel refused the load attributes for ${asked}: check that the attach type belongs to this program type (some types require one, e.g. trace_fentry needs attachBtfId), and the flags, name and BTF ids`;
  else if (errno === E2BIG) advice = `the program (${opts.type}) or its attributes are larger than this kernel accepts`;
  else if (errno === 524 || errno === 95) advice = `this kernel does not support ${asked}`;
  const message = `${command} (${what}) failed: ${code}${advice ? ` — ${advice}` : ''}`;
  return new BpfError({ errno, command, context: what }, message);
}

/** Program types whose programs run through a BPF trampoline (load-time checks refuse them together). */
function usesTrampoline(opts: ProgramLoadOptions): boolean {
  const type = String(opts.type).toLowerCase();
  const at = opts.expectedAttachType?.toLowerCase().replace(/^bpf_/, '');
  return type === 'ext' || type === 'lsm' || (type === 'tracing' && (at === 'trace_fentry' || at === 'trace_fexit' || at === 'modify_return'));
}
