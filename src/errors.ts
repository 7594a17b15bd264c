// One family of errors for the whole library. Pure: the parsers (ELF, BTF) throw these too,
// and they must not pull in the syscall layer.
import { ERRNO, ERRNO_NAMES } from './errno-names.js';
import { kernelAtLeast, kernelRelease } from './features/kernel.js';

const { ENOTSUPP } = ERRNO;

/**
 * Base of every error tsbpf throws on purpose. An error raised because of another one keeps it
 * as `cause` (ES2022) instead of rewriting its message, so nothing the kernel said is lost.
 */
export class TsbpfError extends Error {
  override name = 'TsbpfError';
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * The same error with `context` in front of its message: a new object of the same class with
 * the same fields (errno, code, log…), whose `cause` is the original. For layers that know what
 * the caller was doing ("program 'xdp_fw' (section 'xdp')") when a lower layer failed; the
 * class is kept so that `instanceof VerifierError` and `e.code` still work on what they throw.
 * Anything that is not a TsbpfError is returned as it is.
 */
export function withContext<E>(e: E, context: string): E {
  return e instanceof TsbpfError ? (derive(e, `${context}: ${e.message}`) as E) : e;
}

/** As withContext, with advice after the message: "… (on the command line: --force)". */
export function withHint<E>(e: E, hint: string): E {
  return e instanceof TsbpfError ? (derive(e, `${e.message} (${hint})`) as E) : e;
}

function derive(e: TsbpfError, message: string): TsbpfError {
  const w = Object.create(Object.getPrototypeOf(e) as object) as TsbpfError;
  Object.assign(w, e);
  const define = (key: string, value: unknown): void => {
    Object.defineProperty(w, key, { value, writable: true, configurable: true });
  };
  define('message', message);
  define('cause', e);
  const stack = e.stack ?? '';
  const frames = stack.indexOf('\n    at ');
  define('stack', `${e.name}: ${message}${frames >= 0 ? stack.slice(frames) : ''}`);
  return w;
}

/** True when `e`, or an error in its `cause` chain, is a NotSupportedError: the kernel lacks
 * what was asked for (as opposed to refusing it, or the call being wrong). */
export function isNotSupported(e: unknown): e is Error {
  for (let x = e, depth = 0; x instanceof Error && depth < 16; x = x.cause, depth++) if (x instanceof NotSupportedError) return true;
  return false;
}

export function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `E${errno}`;
}

/** What to do about an errno, when there is something general to say. */
/** What a bpf(2) command (or netlink request) works on, for hints that name it rightly. */
function subject(command: string): 'map' | 'program' | 'attachment' | 'btf' | 'pin' | 'id' | 'other' {
  if (/^BPF_MAP_/.test(command)) return 'map';
  if (command === 'BPF_PROG_LOAD' || command === 'BPF_PROG_TEST_RUN') return 'program';
  if (/^BPF_(LINK_|PROG_ATTACH|PROG_DETACH|RAW_TRACEPOINT_OPEN|PROG_QUERY)|^RTM_|^perf_event_open|^PERF_EVENT_IOC/.test(command)) return 'attachment';
  if (command === 'BPF_BTF_LOAD') return 'btf';
  if (command === 'BPF_OBJ_PIN' || command === 'BPF_OBJ_GET') return 'pin';
  if (/_GET_FD_BY_ID$|_GET_NEXT_ID$/.test(command)) return 'id';
  return 'other';
}

const REFUSED = {
  map: 'this map type or these flags',
  program: 'this program type',
  attachment: 'this kind of attachment',
  btf: 'this BTF',
  pin: 'this pin',
  id: 'access by id',
  other: 'this operation',
} as const;

/** What to do about an errno, in terms of what the command works on. */
function hintFor(code: string, command: string): string {
  const h = errnoHint(code, command);
  return h ? ` — ${h}` : '';
}

export function errnoHint(code: string, command: string): string | undefined {
  const what = subject(command);
  switch (code) {
    case 'EPERM':
      return `needs root or CAP_BPF (+CAP_NET_ADMIN for networking, CAP_PERFMON for tracing); this kernel or machine may also refuse ${REFUSED[what]} outright`;
    case 'EACCES':
      return what === 'program' ? 'the verifier refused it' : 'a permission check refused it';
    case 'ENOENT':
      return what === 'map'
        ? 'no such element (the key is not in the map)'
        : what === 'pin'
          ? 'nothing is pinned at that path (or its directory does not exist)'
          : what === 'id'
            ? 'no object with that id (it may have been freed)'
            : 'no such object';
    case 'E2BIG':
      return 'a size or count is larger than the kernel accepts (or the attr has non-zero bytes it does not know)';
    case 'ENOSPC':
      return what === 'map' ? 'the map is full' : what === 'program' ? 'a log buffer too small' : 'out of room';
    case 'EBADF':
      return 'a file descriptor is closed or of the wrong kind';
    case 'ENOTSUPP':
      return `this kernel does not support ${REFUSED[what]}`;
    case 'EOPNOTSUPP':
      return `this kernel or device does not support ${REFUSED[what]}`;
    case 'EEXIST':
      return what === 'map' ? 'the element already exists' : what === 'pin' ? 'something is already pinned at that path' : 'it already exists';
    case 'EBUSY':
      return what === 'map' ? 'the map is in use (frozen, or mmap()ed for writing)' : 'the hook or object is in use';
    case 'ENOMEM':
      return what === 'map'
        ? 'the kernel could not allocate the map (try fewer entries, or raise RLIMIT_MEMLOCK on kernels < 5.11)'
        : 'the kernel could not allocate memory (raise RLIMIT_MEMLOCK on kernels < 5.11)';
    default:
      return undefined;
  }
}

export interface BpfErrorOptions {
  errno: number;
  /** The bpf command or netlink operation that failed, e.g. `BPF_MAP_CREATE`. */
  command: string;
  /** What we were doing, in the user's terms. */
  context?: string;
  log?: string;
  /** The error this one was raised because of. */
  cause?: unknown;
}

/** A kernel call failed. `code` is the errno name (`EPERM`, `E2BIG`...). */
export class BpfError extends TsbpfError {
  override name = 'BpfError';
  readonly errno: number;
  readonly code: string;
  readonly command: string;
  /** The verifier's (or BTF loader's) log, when the kernel produced one. */
  readonly log?: string;

  constructor(opts: BpfErrorOptions, message?: string) {
    const code = errnoName(opts.errno);
    const hint = errnoHint(code, opts.command);
    super(
      message ??
        `${opts.command}${opts.context ? ` (${opts.context})` : ''} failed: ${code}${hint ? ` — ${hint}` : ''}`,
      opts.cause !== undefined ? { cause: opts.cause } : undefined,
    );
    this.errno = opts.errno;
    this.code = code;
    this.command = opts.command;
    if (opts.log !== undefined) this.log = opts.log;
  }
}

/** The verifier rejected a program. `log` is the full log; `summary` is the lines that matter. */
export class VerifierError extends BpfError {
  override name = 'VerifierError';
  declare readonly log: string;
  /** The last lines of the log, where the verifier names the instruction it refused. */
  readonly summary: string;

  constructor(opts: BpfErrorOptions & { log: string; truncated?: boolean }) {
    const summary = summarizeVerifierLog(opts.log);
    super(
      opts,
      `${opts.command}${opts.context ? ` (${opts.context})` : ''} failed: ${errnoName(opts.errno)} — the verifier rejected the program:\n${summary}${opts.truncated ? '\n(log truncated)' : ''}`,
    );
    this.summary = summary;
  }
}

/** Picks the end of a verifier log: the error is on the last non-statistics lines. */
export function summarizeVerifierLog(log: string, maxLines = 6): string {
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  const stats = /^(processed \d+ insns|verification time|stack depth|max_states_per_insn|mark_precise)/;
  while (lines.length && stats.test(lines[lines.length - 1]!)) lines.pop();
  return lines.slice(-maxLines).join('\n');
}

/** A netlink request failed; `extack` is the kernel's own sentence when it gave one. */
export class NetlinkError extends BpfError {
  override name = 'NetlinkError';
  readonly extack?: string;
  constructor(opts: BpfErrorOptions & { extack?: string }) {
    const code = errnoName(opts.errno);
    super(
      opts,
      `${opts.command}${opts.context ? ` (${opts.context})` : ''} failed: ${code}${opts.extack ? ` — kernel says: ${opts.extack}` : hintFor(code, opts.command)}`,
    );
    if (opts.extack !== undefined) this.extack = opts.extack;
  }
}

/**
 * The running kernel lacks a feature; says which Linux version introduced it, which kernel
 * this is, and what to use instead. A machine that *refuses* a feature its kernel may have
 * (EPERM even for root) gets a BpfError instead: that is not a matter of versions.
 */
export class NotSupportedError extends TsbpfError {
  override name = 'NotSupportedError';
  /** The errno's name: `ENOTSUPP` when no call failed, else what the failing call answered
   * (often EINVAL: a kernel that lacks a type or flag cannot tell it from a bad argument). */
  readonly code: string;
  /** The errno of the call that failed, or of the probe that decided; ENOTSUPP (524) when no
   * call gave one. Always agrees with `code`. */
  readonly errno: number;
  /** The running kernel's release (`uname -r`), or the one the message was worded for. */
  readonly kernel: string;
  constructor(
    /** What is missing, in words that take a plural verb: 'tcx links', 'arena maps'. */
    readonly feature: string,
    /** The Linux version that introduced it ('6.6'), when one did. */
    readonly minKernel: string | undefined,
    readonly alternative?: string,
    errno?: number,
    kernel?: string,
    options?: ErrorOptions,
  ) {
    super(notSupportedMessage(feature, minKernel, kernel ?? kernelRelease(), alternative), options);
    this.errno = errno ?? ENOTSUPP;
    this.code = errnoName(this.errno);
    this.kernel = kernel ?? kernelRelease();
  }
}

/**
 * "tcx links need Linux 6.6; this kernel is 6.1.0-57-cloud-amd64; use tc.attach(...) instead".
 * A kernel at least that new lacks it by configuration (or architecture): the message says so
 * rather than asking for an upgrade that would not help.
 */
export function notSupportedMessage(feature: string, minKernel: string | undefined, kernel: string, alternative?: string): string {
  let m: string;
  if (minKernel === undefined) m = `${feature} are not available on this kernel (${kernel})`;
  else if (!kernelAtLeast(kernel, minKernel)) m = `${feature} need Linux ${minKernel}; this kernel is ${kernel}`;
  else
    m = `${feature} are not available on this kernel (${kernel}), although Linux ${minKernel} introduced them: it was built without them, or cannot provide them on this machine`;
  return alternative ? `${m}; use ${alternative} instead` : m;
}

/** Bad input from the caller (wrong key size, unknown map type...): no kernel call was made. */
export class UsageError extends TsbpfError {
  override name = 'UsageError';
  /** When the trouble is a file the caller named: the file system's errno name ('ENOENT',
   * 'EACCES', 'EISDIR'…), as Node's own errors carry it. */
  readonly code?: string;
  constructor(message?: string, options?: ErrorOptions & { code?: string }) {
    super(message, options);
    if (options?.code !== undefined) this.code = options.code;
  }
}

/** A method was called on a kernel object (map, program, link, BTF, ring buffer…) after its
 * `close()`. A UsageError: the call never reached the kernel. */
export class ClosedError extends UsageError {
  override name = 'ClosedError';
  constructor(
    /** 'map', 'program', 'link', 'BTF object', 'ring buffer'… */
    readonly kind: string,
    what = `this ${kind}`,
  ) {
    super(`${what} is closed`);
  }
}

/** Malformed ELF bytes: says which section and offset. */
export class ElfError extends TsbpfError {
  override name = 'ElfError';
  constructor(
    message: string,
    readonly section?: string,
    readonly offset?: number,
  ) {
    super(
      `ELF: ${message}${section !== undefined ? ` (section ${section}` : ''}${offset !== undefined ? `${section !== undefined ? ', ' : ' ('}offset ${offset}` : ''}${section !== undefined || offset !== undefined ? ')' : ''}`,
    );
  }
}

/** Malformed or unusable BTF: says which type or offset. */
export class BtfError extends TsbpfError {
  override name = 'BtfError';
  constructor(
    message: string,
    readonly offset?: number,
  ) {
    super(`BTF: ${message}${offset !== undefined ? ` (at byte ${offset})` : ''}`);
  }
}
