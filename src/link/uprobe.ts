// uprobes and uretprobes: a kprobe program run when a process executes an instruction of a
// file — a function of an executable or shared library (TLS plaintext at SSL_write, a Node
// addon's calls…). A function name becomes a file offset through the file's ELF symbols
// (src/elf/native.ts). Three explicit ways, as for kprobes:
//
// - one location through a perf event (the uprobe PMU, 4.17+) and a perf link (5.15+; cookie);
// - the same perf event with the legacy ioctl (attachUprobeLegacy), when asked for by name;
// - many locations of one file through a uprobe_multi link (6.6+), for programs loaded from
//   uprobe.multi/ sections (expected attach type trace_uprobe_multi), with a cookie each.
//
// `pid` limits the probe to one process (every process that maps the file, otherwise).
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, isAbsolute, resolve } from 'node:path';
import { ERRNO } from '../errno-names.js';
import { BpfError, NotSupportedError, UsageError, errnoName } from '../errors.js';
import { features } from '../features/index.js';
import { functionOffsets, nativeFunctions } from '../elf/native.js';
import { LINK_CREATE_UPROBE_MULTI_ATTR, bpf_attach_type, bpf_cmd, bpf_uprobe_multi_flags } from '../syscall/abi/bpf.js';
import { PERF_UPROBE_REF_CTR_OFFSET_SHIFT, UPROBE_PMU_REF_CTR_PATH, UPROBE_PMU_RETPROBE_PATH, UPROBE_PMU_TYPE_PATH } from '../syscall/abi/perf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr, cString } from '../syscall/bpf.js';
import { stableBuffer } from '../syscall/libc.js';
import { perfEventAttr, perfEventOpen } from '../syscall/perf.js';
import { Link, progFd, type ProgramRef } from './link.js';
import { perfEventLink, perfEventSetBpf, u64Option, type PerfEventAttachment, type PerfEventTarget } from './perf-event.js';
import { globToRegExp } from './kprobe.js';

const { EINVAL, ENOENT, EBADF, EPERM, EACCES, ESRCH, EOPNOTSUPP, E2BIG, EFAULT } = ERRNO;

export interface UprobeTarget {
  /** An executable or shared library: a path, or a name found as the dynamic loader and the shell would ('libssl.so.3', 'node'). */
  binary: string;
  /** The function to probe (its symbol). */
  function?: string;
  /** Bytes into the function; without `function`, a file offset. Default 0. */
  offset?: number;
}

export interface UprobeOptions {
  /** A uretprobe: run when the function returns. */
  retprobe?: boolean;
  /** Only this process (default: every process that runs the file). */
  pid?: number;
  /** What `bpf_get_attach_cookie()` returns (perf links, 5.15+). */
  cookie?: bigint | number;
  /** File offset of a USDT-style semaphore the kernel increments while the probe is on. */
  refCtrOffset?: number;
}

export interface UprobeMultiOptions {
  /** Function names. */
  functions?: readonly string[];
  /** A glob over the file's function names ('SSL_*'). */
  pattern?: string;
  /** File offsets. */
  offsets?: readonly number[];
  /** One cookie per location, in order. */
  cookies?: readonly (bigint | number)[];
  /** uretprobes (BPF_F_UPROBE_MULTI_RETURN). */
  retprobe?: boolean;
  /** Only this process. */
  pid?: number;
}

// ---- where the file is ----

const LIB_DIRS = ['/usr/lib64', '/usr/lib', '/lib64', '/lib', '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu'];
const BIN_DIRS = ['/usr/bin', '/usr/sbin'];

/**
 * The path of `binary` as libbpf finds it: a name with a '/' is a path; a shared library name
 * ('.so' in it) is looked for in LD_LIBRARY_PATH and the standard library directories; anything
 * else in PATH. Returns an absolute path; UsageError if nothing is there.
 */
export function resolveBinary(binary: string, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof binary !== 'string' || binary === '' || binary.includes('\0')) throw new UsageError(`a uprobe's binary must be a path or a file name; got ${JSON.stringify(binary)}`);
  if (binary.includes('/')) {
    const p = isAbsolute(binary) ? binary : resolve(binary);
    if (!existsSync(p)) throw new UsageError(`uprobe: ${binary} does not exist`);
    return p;
  }
  const lib = /\.so($|\.)/.test(binary);
  const dirs = lib ? [...(env.LD_LIBRARY_PATH ?? '').split(delimiter), ...LIB_DIRS] : [...(env.PATH ?? '').split(delimiter), ...BIN_DIRS];
  for (const d of dirs) {
    if (!d) continue;
    const p = resolve(d, binary);
    if (existsSync(p)) return p;
  }
  throw new UsageError(`uprobe: no ${lib ? 'library' : 'executable'} named ${binary} in ${lib ? 'LD_LIBRARY_PATH or the library directories' : 'PATH'} (${dirs.filter(Boolean).join(':')}); give its path`);
}

function readBinary(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`uprobe: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

function checkOffset(what: string, name: string, v: unknown): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw new UsageError(`${what}: ${name} must be a non-negative integer; got ${String(v)}`);
}

function checkPid(what: string, pid: unknown): void {
  if (pid !== undefined && (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0)) throw new UsageError(`${what}: pid must be a positive process id; got ${String(pid)}`);
}

/** A uprobe target as a path and a file offset. */
export function uprobeLocation(t: UprobeTarget, what = 'uprobe'): { path: string; offset: number; label: string } {
  if (!t || typeof t !== 'object') throw new UsageError(`${what}: the target is { binary, function?, offset? }`);
  checkOffset(what, 'offset', t.offset);
  if (t.function !== undefined && (typeof t.function !== 'string' || t.function === '')) throw new UsageError(`${what}: function must be a symbol name; got ${JSON.stringify(t.function)}`);
  if (t.function === undefined && t.offset === undefined) throw new UsageError(`${what}: name a function, or give a file offset`);
  const path = resolveBinary(t.binary);
  const base = t.function === undefined ? 0 : functionOffsets(readBinary(path), [t.function], path)[0]!;
  const offset = base + (t.offset ?? 0);
  const label = `${path}:${t.function ?? `0x${offset.toString(16)}`}${t.function !== undefined && t.offset ? `+0x${t.offset.toString(16)}` : ''}`;
  return { path, offset, label };
}

// ---- the uprobe PMU ----

interface UprobePmu {
  type: number;
  retprobeBit: number;
  refCtrShift: number;
}
let pmu: UprobePmu | undefined;

export function uprobesNotSupported(errno?: number): NotSupportedError {
  return new NotSupportedError(
    'uprobes (perf_event_open with the uprobe PMU: there is no /sys/bus/event_source/devices/uprobe, the kernel was built without CONFIG_UPROBE_EVENTS)',
    '4.17',
    undefined,
    errno,
  );
}

function uprobePmu(): UprobePmu {
  if (pmu) return pmu;
  let type: number;
  try {
    type = Number(readFileSync(UPROBE_PMU_TYPE_PATH, 'utf8').trim());
  } catch {
    throw uprobesNotSupported();
  }
  const bit = (path: string, dflt: number): number => {
    try {
      const m = /^config:(\d+)/.exec(readFileSync(path, 'utf8').trim());
      return m ? Number(m[1]) : dflt;
    } catch {
      return dflt;
    }
  };
  pmu = { type, retprobeBit: bit(UPROBE_PMU_RETPROBE_PATH, 0), refCtrShift: bit(UPROBE_PMU_REF_CTR_PATH, PERF_UPROBE_REF_CTR_OFFSET_SHIFT) };
  return pmu;
}

function openUprobeEvent(path: string, offset: number, label: string, opts: UprobeOptions): number {
  const p = uprobePmu();
  const name = cString(path);
  let config = opts.retprobe ? 1n << BigInt(p.retprobeBit) : 0n;
  if (opts.refCtrOffset) config |= BigInt(opts.refCtrOffset) << BigInt(p.refCtrShift);
  const attr = perfEventAttr().set('type', p.type).set('config', config).setPointer('uprobe_path', name).set('probe_offset', offset);
  // One process: pid with any CPU; everyone: pid -1 needs a CPU, and CPU 0 fires on all of them for BPF.
  const pid = opts.pid ?? -1;
  const fd = perfEventOpen(attr, pid, pid === -1 ? 0 : -1);
  if (fd >= 0) return fd;
  const errno = -fd;
  const kind = opts.retprobe ? 'uretprobe' : 'uprobe';
  const w =
    errno === ENOENT
      ? `${path} does not exist (for the kernel, in this mount namespace)`
      : errno === ESRCH
        ? `there is no process ${pid}`
        : errno === EINVAL
          ? `the kernel refused offset 0x${offset.toString(16)} in ${path} (not in an executable mapping of the file, or a reference counter offset it cannot use)`
          : errno === EACCES || errno === EPERM
            ? 'uprobes need root or CAP_PERFMON (and kernel.perf_event_paranoid allowing them)'
            : errno === EOPNOTSUPP
              ? 'the kernel cannot place a uprobe here'
              : undefined;
  throw new BpfError({ errno, command: 'perf_event_open' }, `perf_event_open (${kind} on ${label}) failed: ${errnoName(errno)}${w ? ` — ${w}` : ''}`);
}

function eventTarget(label: string, retprobe: boolean, legacyCall: string): PerfEventTarget {
  return { kind: retprobe ? 'uretprobe' : 'uprobe', target: label, programType: 'kprobe', legacyCall };
}

/** A uprobe (or uretprobe) through a perf event and a perf link (5.15+). Closing the link removes it. */
export function attachUprobeLink(target: UprobeTarget, prog: ProgramRef, opts: UprobeOptions = {}, what = 'attach a uprobe'): Link {
  const fd = progFd(prog);
  checkPid(what, opts.pid);
  checkOffset(what, 'refCtrOffset', opts.refCtrOffset);
  const cookie = opts.cookie === undefined ? undefined : u64Option('cookie', opts.cookie);
  const loc = uprobeLocation(target, what);
  const pfd = openUprobeEvent(loc.path, loc.offset, loc.label, opts);
  return perfEventLink(pfd, fd, cookie, eventTarget(loc.label, opts.retprobe === true, 'prog.attachUprobeLegacy()'), what);
}

/** The legacy attach (PERF_EVENT_IOC_SET_BPF): the returned perf event owns the uprobe. No cookie. */
export function attachUprobeLegacy(target: UprobeTarget, prog: ProgramRef, opts: Omit<UprobeOptions, 'cookie'> = {}, what = 'attach a uprobe (legacy)'): PerfEventAttachment {
  const fd = progFd(prog);
  if ((opts as UprobeOptions).cookie !== undefined)
    throw new UsageError(`${what}: cookies need a perf link (prog.attachUprobe, 5.15+); PERF_EVENT_IOC_SET_BPF cannot carry one`);
  checkPid(what, opts.pid);
  checkOffset(what, 'refCtrOffset', opts.refCtrOffset);
  const loc = uprobeLocation(target, what);
  const pfd = openUprobeEvent(loc.path, loc.offset, loc.label, opts);
  return perfEventSetBpf(pfd, fd, eventTarget(loc.label, opts.retprobe === true, 'prog.attachUprobeLegacy()'), what, loc.offset);
}

// ---- uprobe_multi ----

function uprobeMultiNotSupported(errno: number): NotSupportedError {
  const f = features.info('uprobe_multi');
  return new NotSupportedError(f.title, f.minKernel, 'one perf-event uprobe per location: prog.attachUprobe({ binary, function }) on a program loaded from a uprobe/ section', errno);
}

/**
 * One uprobe_multi link over many locations of one file (functions, a pattern or offsets). The
 * program must have been loaded with expected attach type trace_uprobe_multi (uprobe.multi/).
 */
export function attachUprobeMultiLink(binary: string, prog: ProgramRef, opts: UprobeMultiOptions, what = 'attach uprobe_multi'): Link {
  const fd = progFd(prog);
  if (!opts || typeof opts !== 'object') throw new UsageError(`${what}: options are { functions | pattern | offsets, cookies?, retprobe?, pid? }`);
  const given = (['functions', 'pattern', 'offsets'] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) throw new UsageError(`${what}: give exactly one of functions, pattern or offsets${given.length ? ` (got ${given.join(' and ')})` : ''}`);
  checkPid(what, opts.pid);
  const path = resolveBinary(binary);
  let offsets: number[];
  let names: string[] | undefined;
  if (opts.offsets !== undefined) {
    if (!Array.isArray(opts.offsets) || opts.offsets.length === 0) throw new UsageError(`${what}: offsets must be a non-empty array`);
    opts.offsets.forEach((o, i) => checkOffset(what, `offsets[${i}]`, o));
    offsets = [...opts.offsets];
  } else {
    if (opts.pattern !== undefined) {
      if (typeof opts.pattern !== 'string' || opts.pattern === '') throw new UsageError(`${what}: pattern must be a non-empty glob`);
      const re = globToRegExp(opts.pattern);
      names = [...new Set(nativeFunctions(readBinary(path)).map((f) => f.name.replace(/@.*/, '')).filter((n) => re.test(n)))].sort();
      if (names.length === 0) throw new UsageError(`${what}: no function of ${path} matches '${opts.pattern}'`);
    } else {
      if (!Array.isArray(opts.functions) || opts.functions.length === 0) throw new UsageError(`${what}: functions must be a non-empty array of names`);
      names = [...opts.functions];
    }
    offsets = functionOffsets(readBinary(path), names, path);
  }
  let cookies: bigint[] | undefined;
  if (opts.cookies !== undefined) {
    if (!Array.isArray(opts.cookies) || opts.cookies.length !== offsets.length)
      throw new UsageError(`${what}: cookies must have one entry per location (${offsets.length}${opts.pattern !== undefined ? ` matched by '${opts.pattern}'` : ''}); got ${Array.isArray(opts.cookies) ? opts.cookies.length : typeof opts.cookies}`);
    cookies = opts.cookies.map((c, i) => u64Option(`cookies[${i}]`, c));
  }
  const u64s = (vals: readonly (bigint | number)[]): Buffer => {
    const b = stableBuffer(vals.length * 8);
    vals.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), i * 8));
    return b;
  };
  const attr = new Attr(LINK_CREATE_UPROBE_MULTI_ATTR)
    .set('prog_fd', fd)
    .set('attach_type', bpf_attach_type.BPF_TRACE_UPROBE_MULTI)
    .setPointer('uprobe_multi.path', cString(path))
    .setPointer('uprobe_multi.offsets', u64s(offsets))
    .set('uprobe_multi.cnt', offsets.length)
    .set('uprobe_multi.flags', opts.retprobe ? bpf_uprobe_multi_flags.BPF_F_UPROBE_MULTI_RETURN : 0)
    .set('uprobe_multi.pid', opts.pid ?? 0);
  if (cookies) attr.setPointer('uprobe_multi.cookies', u64s(cookies));
  const r = bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
  if (r >= 0) return Link.adopt(r);
  const errno = -r;
  if ((errno === EINVAL || errno === EOPNOTSUPP) && features.probe('uprobe_multi').status === 'absent') throw uprobeMultiNotSupported(errno);
  const where = `${what}: ${offsets.length} ${opts.retprobe ? 'uretprobes' : 'uprobes'} in ${path}${opts.pattern !== undefined ? ` matching '${opts.pattern}'` : ''}`;
  const say = (why: string): BpfError => new BpfError({ errno, command: 'BPF_LINK_CREATE' }, `BPF_LINK_CREATE (${where}) failed: ${errnoName(errno)} — ${why}`);
  switch (errno) {
    case EINVAL:
      throw say('the program was not loaded for uprobe_multi (load it from a uprobe.multi/ or uretprobe.multi/ section: expected attach type trace_uprobe_multi), or an offset is not in an executable mapping');
    case ENOENT:
      throw say(`${path} does not exist (for the kernel, in this mount namespace)`);
    case ESRCH:
      throw say(`there is no process ${opts.pid}`);
    case EBADF:
      throw say('the program fd is not open');
    case E2BIG:
      throw say('too many locations for one link');
    case EFAULT:
      throw say('the kernel could not read the path or arrays');
    case EPERM:
    case EACCES:
      throw say('uprobe_multi needs root or CAP_BPF + CAP_PERFMON');
    default:
      throw new BpfError({ errno, command: 'BPF_LINK_CREATE', context: where });
  }
}
