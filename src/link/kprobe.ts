// kprobes and kretprobes, two explicit ways (never one silently standing in for the other):
//
// - a perf-event kprobe on one function: perf_event_open(2) with the kprobe PMU
//   (/sys/bus/event_source/devices/kprobe, 4.17+; config1 = the function name's address,
//   config2 = the offset, the retprobe bit from the PMU's format), then either a bpf_link over
//   the event (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+; a cookie can ride along) or, when the
//   caller asks for it, the legacy PERF_EVENT_IOC_SET_BPF + ENABLE (the perf event fd itself
//   then owns the attachment: no pin, no link info);
// - a kprobe_multi link over many functions at once (BPF_LINK_CREATE with
//   BPF_TRACE_KPROBE_MULTI, 5.18+ with CONFIG_FPROBE): symbols, a glob pattern resolved as
//   libbpf does, or addresses; one cookie per function; entry or return.
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { ERRNO } from '../errno-names.js';
import { BpfError, NotSupportedError, UsageError, errnoName } from '../errors.js';
import {
  LINK_CREATE_KPROBE_MULTI_ATTR,
  bpf_attach_type,
  bpf_cmd,
  bpf_kprobe_multi_flags,
} from '../syscall/abi/bpf.js';
import { KPROBE_PMU_RETPROBE_PATH, KPROBE_PMU_TYPE_PATH } from '../syscall/abi/perf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr, cString } from '../syscall/bpf.js';
import { addressOf, stableBuffer } from '../syscall/libc.js';
import { perfEventAttr, perfEventOpen } from '../syscall/perf.js';
import { kernelAtLeast } from './features.js';
import { Link, progFd, type ProgramRef } from './link.js';
import { PerfEventAttachment, perfEventLink, perfEventSetBpf, type PerfEventTarget } from './perf-event.js';

export { PerfEventAttachment };

const { EPERM, ENOENT, ESRCH, EACCES, EINVAL, EBADF, E2BIG, EOPNOTSUPP, EILSEQ, EBUSY, ENODEV } = ERRNO;
const ENOTSUPP = 524;

export interface KprobeOptions {
  /** Bytes into the function (kprobes only; a kretprobe takes 0). Default 0. */
  offset?: number;
  /** A kretprobe: run when the function returns. Default: what the section says, else false. */
  retprobe?: boolean;
  /** A 64-bit value the program reads with `bpf_get_attach_cookie()` (perf links, 5.15+). */
  cookie?: bigint | number;
}

export interface KprobeMultiOptions {
  /** Function names (as in /proc/kallsyms). */
  symbols?: readonly string[];
  /** A glob ('*', '?') over the traceable functions (tracefs `available_filter_functions`, else kallsyms). */
  pattern?: string;
  /** Kernel addresses. */
  addresses?: readonly (bigint | number)[];
  /** One cookie per function, in the order given (`bpf_get_attach_cookie()`). */
  cookies?: readonly (bigint | number)[];
  /** kretprobes instead of kprobes (BPF_F_KPROBE_MULTI_RETURN). */
  retprobe?: boolean;
}

function u64(what: string, v: bigint | number): bigint {
  if (typeof v === 'number' ? !Number.isSafeInteger(v) || v < 0 : typeof v !== 'bigint' || v < 0n || v >= 1n << 64n)
    throw new UsageError(`${what} must be an unsigned 64-bit integer (number or bigint); got ${String(v)}`);
  return BigInt(v);
}

// ---- the kprobe PMU ----

interface KprobePmu {
  type: number;
  retprobeBit: number;
}

let pmu: KprobePmu | undefined;

/** The kprobe PMU's type number and retprobe bit, or NotSupportedError naming why not. */
export function kprobePmu(paths = { type: KPROBE_PMU_TYPE_PATH, retprobe: KPROBE_PMU_RETPROBE_PATH }): KprobePmu {
  if (pmu && paths.type === KPROBE_PMU_TYPE_PATH) return pmu;
  let type: number;
  try {
    type = Number(readFileSync(paths.type, 'utf8').trim());
  } catch {
    throw kprobesNotSupported();
  }
  let retprobeBit = 0;
  try {
    // "config:0": the bit of `config` that makes a kretprobe.
    const m = /^config:(\d+)/.exec(readFileSync(paths.retprobe, 'utf8').trim());
    if (m) retprobeBit = Number(m[1]);
  } catch {
    // Every kernel with the PMU (4.17+) publishes the format; bit 0 is what they all use.
  }
  const found = { type, retprobeBit };
  if (paths.type === KPROBE_PMU_TYPE_PATH) pmu = found;
  return found;
}

export function kprobesNotSupported(errno?: number): NotSupportedError {
  return new NotSupportedError(
    'kprobes (perf_event_open with the kprobe PMU: there is no /sys/bus/event_source/devices/kprobe, the kernel was built without CONFIG_KPROBES)',
    '4.17',
    'fentry/fexit programs (prog.attachTrace()) or raw tracepoints (prog.attachRawTracepoint()), which need no kprobes',
    errno,
  );
}

/** The names among `names` that /proc/kallsyms lacks (read only to explain a failure). */
function missingSymbols(names: readonly string[]): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/kallsyms', 'latin1');
  } catch {
    return [];
  }
  const have = new Set<string>();
  for (const line of text.split('\n')) {
    const name = line.split(/\s+/, 3)[2];
    if (name) have.add(name);
  }
  return names.filter((n) => !have.has(n));
}

function kallsymsHas(name: string): boolean | undefined {
  return existsSync('/proc/kallsyms') ? missingSymbols([name]).length === 0 : undefined;
}

/** Opens a kprobe perf event on `fn` (+offset). Returns its fd; throws on failure. */
function openKprobeEvent(fn: string, offset: number, retprobe: boolean): number {
  const p = kprobePmu();
  const name = cString(fn);
  const attr = perfEventAttr()
    .set('type', p.type)
    .set('config', retprobe ? 2 ** p.retprobeBit : 0)
    .setPointer('kprobe_func', name)
    .set('probe_offset', offset);
  // pid -1 with cpu 0: a kprobe is system-wide (cpu is required when pid is -1).
  const fd = perfEventOpen(attr, -1, 0);
  if (fd >= 0) return fd;
  const errno = -fd;
  const what = `${retprobe ? 'kretprobe' : 'kprobe'} on ${fn}${offset ? `+0x${offset.toString(16)}` : ''}`;
  const say = (why: string) => new BpfError({ errno, command: 'perf_event_open' }, `perf_event_open (${what}) failed: ${errnoName(errno)} — ${why}`);
  switch (errno) {
    case ENOENT:
    case EINVAL:
      // Only now is kallsyms read (slow), to tell a missing function from one that can't be probed.
      if (kallsymsHas(fn) === false)
        throw say(`the kernel has no function named '${fn}' (see /proc/kallsyms; the compiler may have renamed a static one, e.g. '${fn}.isra.0', or inlined it)`);
      throw say(`'${fn}' cannot be probed${offset ? ' at this offset' : ''} (blacklisted for kprobes, notrace, or an offset inside an instruction)`);
    case EILSEQ:
      throw say('the offset is not at an instruction boundary');
    case EACCES:
    case EPERM:
      throw say('kprobes need root or CAP_PERFMON (and kernel.perf_event_paranoid allowing them), or lockdown forbids them');
    case ENODEV:
      throw say('the kprobe PMU went away');
    case EOPNOTSUPP:
      throw say('this kernel cannot place a kprobe here');
    default:
      throw new BpfError({ errno, command: 'perf_event_open', context: what });
  }
}

/** Resolves the function (and retprobe) from the arguments, or from an object's section name. */
function checkFunction(what: string, fn: unknown, offset: number | undefined): void {
  if (typeof fn !== 'string' || fn === '' || fn.includes('\0') || /\s/.test(fn))
    throw new UsageError(`${what}: the kernel function must be a non-empty name without spaces; got ${JSON.stringify(fn)}`);
  if (offset !== undefined && (!Number.isSafeInteger(offset) || offset < 0))
    throw new UsageError(`${what}: offset must be a non-negative integer; got ${String(offset)}`);
}

function kprobeTarget(fn: string, offset: number, retprobe: boolean): PerfEventTarget {
  return {
    kind: retprobe ? 'kretprobe' : 'kprobe',
    target: `${fn}${offset ? `+0x${offset.toString(16)}` : ''}`,
    programType: 'kprobe',
    legacyCall: 'prog.attachKprobeLegacy()',
  };
}

/**
 * A kprobe (or kretprobe) on kernel function `fn` through a perf event and a bpf_link
 * (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+). The link owns the event: closing it removes
 * the probe.
 */
export function attachKprobeLink(fn: string, prog: ProgramRef, opts: KprobeOptions = {}, what = 'attach a kprobe'): Link {
  const fd = progFd(prog);
  checkFunction(what, fn, opts.offset);
  const cookie = opts.cookie === undefined ? undefined : u64('cookie', opts.cookie);
  const retprobe = opts.retprobe === true;
  if (retprobe && opts.offset) throw new UsageError(`${what}: a kretprobe cannot take an offset`);
  const pfd = openKprobeEvent(fn, opts.offset ?? 0, retprobe);
  return perfEventLink(pfd, fd, cookie, kprobeTarget(fn, opts.offset ?? 0, retprobe), what);
}

/** The legacy attach: a kprobe perf event with the program set by ioctl. No cookie. */
export function attachKprobeLegacy(fn: string, prog: ProgramRef, opts: Omit<KprobeOptions, 'cookie'> = {}, what = 'attach a kprobe (legacy)'): PerfEventAttachment {
  const fd = progFd(prog);
  checkFunction(what, fn, opts.offset);
  if ((opts as KprobeOptions).cookie !== undefined)
    throw new UsageError(`${what}: cookies need a perf link (prog.attachKprobe, 5.15+); PERF_EVENT_IOC_SET_BPF cannot carry one`);
  const retprobe = opts.retprobe === true;
  if (retprobe && opts.offset) throw new UsageError(`${what}: a kretprobe cannot take an offset`);
  const pfd = openKprobeEvent(fn, opts.offset ?? 0, retprobe);
  return perfEventSetBpf(pfd, fd, kprobeTarget(fn, opts.offset ?? 0, retprobe), what, opts.offset ?? 0, fn);
}

// ---- kprobe_multi ----

/** libbpf's glob: '*' any run, '?' one character; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

const TRACEFS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'];

/**
 * The traceable kernel functions matching a glob, sorted and unique, from tracefs
 * `available_filter_functions` (what ftrace, and so kprobe_multi, can attach to), else from
 * /proc/kallsyms text symbols (which may list some the kernel then refuses). libbpf's order
 * of sources; module functions keep their plain names.
 */
export function resolveKprobePattern(pattern: string, sources?: { filterFunctions?: string; kallsyms?: string }): string[] {
  const re = globToRegExp(pattern);
  const out = new Set<string>();
  let text = sources?.filterFunctions;
  if (text === undefined && sources?.kallsyms === undefined) {
    for (const dir of TRACEFS) {
      try {
        text = readFileSync(`${dir}/available_filter_functions`, 'latin1');
        break;
      } catch {
        /* next */
      }
    }
  }
  if (text !== undefined) {
    for (const line of text.split('\n')) {
      const name = line.split(/\s/, 1)[0]!;
      // ftrace lists addresses it could not resolve under this name: never attachable.
      if (name === '' || name.startsWith('__ftrace_invalid_address__')) continue;
      if (re.test(name)) out.add(name);
    }
    return [...out].sort();
  }
  let kallsyms = sources?.kallsyms;
  if (kallsyms === undefined) {
    try {
      kallsyms = readFileSync('/proc/kallsyms', 'latin1');
    } catch {
      return [];
    }
  }
  for (const line of kallsyms.split('\n')) {
    const [, type, name] = line.split(/\s+/, 3);
    if (!name || (type !== 't' && type !== 'T')) continue;
    // '.cold', '.part.0' clones and the like are not what a pattern means (libbpf skips them).
    if (name.includes('.')) continue;
    if (re.test(name)) out.add(name);
  }
  return [...out].sort();
}

export function kprobeMultiNotSupported(errno: number): NotSupportedError {
  return new NotSupportedError(
    errno === EOPNOTSUPP || errno === ENOTSUPP
      ? `kprobe_multi links (BPF_LINK_CREATE with BPF_TRACE_KPROBE_MULTI answers ${errnoName(errno)}: the kernel was built without CONFIG_FPROBE)`
      : 'kprobe_multi links (BPF_LINK_CREATE with BPF_TRACE_KPROBE_MULTI)',
    '5.18',
    'one perf-event kprobe per function: prog.attachKprobe(fn) on a program loaded from a kprobe/ section',
    errno,
  );
}

/**
 * One kprobe_multi link over many functions (symbols, a pattern or addresses). The program
 * must have been loaded with expected attach type trace_kprobe_multi (a kprobe.multi/ section).
 */
export function attachKprobeMultiLink(prog: ProgramRef, opts: KprobeMultiOptions, what = 'attach kprobe_multi'): Link {
  const fd = progFd(prog);
  if (!opts || typeof opts !== 'object') throw new UsageError(`${what}: options are { symbols | pattern | addresses, cookies?, retprobe? }`);
  const given = (['symbols', 'pattern', 'addresses'] as const).filter((k) => opts[k] !== undefined);
  if (given.length !== 1) throw new UsageError(`${what}: give exactly one of symbols, pattern or addresses${given.length ? ` (got ${given.join(' and ')})` : ''}`);
  let symbols: string[] | undefined;
  let addresses: bigint[] | undefined;
  if (opts.pattern !== undefined) {
    if (typeof opts.pattern !== 'string' || opts.pattern === '') throw new UsageError(`${what}: pattern must be a non-empty glob`);
    // Without a wildcard the "pattern" is one function: the kernel looks it up in kallsyms,
    // which knows aliases that ftrace's list leaves out.
    symbols = /[*?]/.test(opts.pattern) ? resolveKprobePattern(opts.pattern) : [opts.pattern];
    if (symbols.length === 0) throw new UsageError(`${what}: no traceable kernel function matches '${opts.pattern}'`);
  } else if (opts.symbols !== undefined) {
    if (!Array.isArray(opts.symbols) || opts.symbols.length === 0) throw new UsageError(`${what}: symbols must be a non-empty array of function names`);
    for (const s of opts.symbols) checkFunction(what, s, undefined);
    const dup = opts.symbols.find((s, i) => opts.symbols!.indexOf(s) !== i);
    if (dup !== undefined) throw new UsageError(`${what}: '${dup}' is listed twice (the kernel refuses duplicates)`);
    symbols = [...opts.symbols];
  } else {
    if (!Array.isArray(opts.addresses) || opts.addresses.length === 0) throw new UsageError(`${what}: addresses must be a non-empty array`);
    addresses = opts.addresses.map((a, i) => u64(`addresses[${i}]`, a));
  }
  const count = symbols?.length ?? addresses!.length;
  let cookies: bigint[] | undefined;
  if (opts.cookies !== undefined) {
    if (!Array.isArray(opts.cookies) || opts.cookies.length !== count)
      throw new UsageError(`${what}: cookies must have one entry per function (${count}${opts.pattern !== undefined ? ` matched by '${opts.pattern}'` : ''}); got ${Array.isArray(opts.cookies) ? opts.cookies.length : typeof opts.cookies}`);
    cookies = opts.cookies.map((c, i) => u64(`cookies[${i}]`, c));
  }

  const attr = new Attr(LINK_CREATE_KPROBE_MULTI_ATTR)
    .set('prog_fd', fd)
    .set('attach_type', bpf_attach_type.BPF_TRACE_KPROBE_MULTI)
    .set('kprobe_multi.flags', opts.retprobe ? bpf_kprobe_multi_flags.BPF_F_KPROBE_MULTI_RETURN : 0)
    .set('kprobe_multi.cnt', count);
  const u64s = (vals: readonly bigint[]): Buffer => {
    const b = stableBuffer(vals.length * 8);
    vals.forEach((v, i) => b.writeBigUInt64LE(v, i * 8));
    return b;
  };
  if (symbols) {
    // An array of pointers to names: the Attr keeps the array, and holds the names it points at.
    const names = symbols.map((s) => cString(s));
    attr.setPointer('kprobe_multi.syms', u64s(names.map((n) => BigInt(addressOf(n))))).hold(names);
  } else attr.setPointer('kprobe_multi.addrs', u64s(addresses!));
  if (cookies) attr.setPointer('kprobe_multi.cookies', u64s(cookies));
  const r = bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
  if (r >= 0) return Link.adopt(r);
  const errno = -r;
  if (errno === EOPNOTSUPP || errno === ENOTSUPP || (errno === EINVAL && !kernelAtLeast(release(), '5.18'))) throw kprobeMultiNotSupported(errno);
  const where = `${what}: ${count} ${opts.retprobe ? 'kretprobes' : 'kprobes'}${opts.pattern !== undefined ? ` matching '${opts.pattern}'` : ''}`;
  const say = (why: string) => new BpfError({ errno, command: 'BPF_LINK_CREATE' }, `BPF_LINK_CREATE (${where}) failed: ${errnoName(errno)} — ${why}`);
  switch (errno) {
    case ESRCH:
    case ENOENT: {
      const missing = missingSymbols(symbols ?? []);
      throw say(
        missing.length
          ? `no kernel function named ${missing.slice(0, 5).map((s) => `'${s}'`).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`
          : 'a function is not traceable by ftrace (notrace, or not in available_filter_functions)',
      );
    }
    case EINVAL:
      throw say('the program was not loaded for kprobe_multi (load it from a kprobe.multi/ or kretprobe.multi/ section: expected attach type trace_kprobe_multi), or an address is not a function entry');
    case E2BIG:
      throw say('too many functions for one link (the kernel caps kprobe_multi at MAX_KPROBE_MULTI_CNT, 1M)');
    case EBUSY:
      throw say('a function is already probed in a way that excludes this one');
    case EBADF:
      throw say('the program fd is not open');
    case EPERM:
    case EACCES:
      throw say('kprobe_multi needs root or CAP_BPF + CAP_PERFMON');
    default:
      throw new BpfError({ errno, command: 'BPF_LINK_CREATE', context: where });
  }
}
