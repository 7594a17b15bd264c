// What a probe's result means, as a three-way answer: present, absent (the kernel lacks it) or
// refused (this machine will not do it, whatever its kernel has). Pure functions of the errno
// (and the verifier log): they are tested for kernels we are not running, without a kernel.
import { ERRNO } from '../errno-names.js';
import { BpfError, NotSupportedError, errnoName } from '../errors.js';
import type { FeatureInfo } from './catalog.js';

const { EPERM, EACCES, EINVAL, E2BIG, EOPNOTSUPP, ENOTSUPP, ENOMEM, EMFILE, ENFILE, EAGAIN, EINTR } = ERRNO;

export type FeatureStatus = 'present' | 'absent' | 'refused';

/** How one probe came out. */
export interface Outcome {
  readonly status: FeatureStatus;
  /** The errno that decided (0 when the call succeeded). */
  readonly errno: number;
  /** The bpf command (or source of evidence) the answer rests on. */
  readonly command: string;
  /** One sentence: what the kernel answered and why that means what `status` says. */
  readonly detail: string;
  /** A transient failure (ENOMEM, EMFILE…): the answer is not cached. */
  readonly transient?: boolean;
}

/** A feature with its answer on this kernel. */
export interface FeatureAnswer extends FeatureInfo, Outcome {
  /** The kernel release the answer is about. */
  readonly kernel: string;
}

/** Errnos a probe reads as "this kernel does not know it": an unknown type, command, attach
 * type or flag is EINVAL; attr bytes past what the kernel knows are E2BIG; a feature compiled
 * out (or not available on this architecture) is EOPNOTSUPP or ENOTSUPP. */
export const ABSENT_ERRNOS: readonly number[] = [EINVAL, E2BIG, EOPNOTSUPP, ENOTSUPP];
/** Errnos that mean the machine refuses: capability checks, LSMs, sysctls, lockdown. */
export const REFUSED_ERRNOS: readonly number[] = [EPERM, EACCES];
const TRANSIENT: readonly number[] = [ENOMEM, EMFILE, ENFILE, EAGAIN, EINTR];

export interface ErrnoRule {
  command: string;
  /** Errnos that prove the feature is there: the kernel got past the point where an old
   * kernel stops (e.g. EBADF from looking up the fd we deliberately left invalid). */
  present?: readonly number[];
  /** Errnos that mean absent here (default ABSENT_ERRNOS). */
  absent?: readonly number[];
}

/**
 * The answer a bpf(2) result gives under a rule: a result >= 0 or a proof errno is present,
 * EPERM/EACCES refused, the absent errnos absent. Anything else is reported as refused, never
 * as absent: an errno the probe did not expect proves nothing about the kernel's version.
 */
export function fromResult(r: number, rule: ErrnoRule): Outcome {
  const { command } = rule;
  if (r >= 0) return { status: 'present', errno: 0, command, detail: `${command} succeeded` };
  const errno = -r;
  const code = errnoName(errno);
  if (rule.present?.includes(errno))
    return { status: 'present', errno, command, detail: `${command} answered ${code}, which only a kernel that has it gets to` };
  if (REFUSED_ERRNOS.includes(errno)) return refused(errno, command);
  if ((rule.absent ?? ABSENT_ERRNOS).includes(errno)) return absent(errno, command);
  return {
    status: 'refused',
    errno,
    command,
    detail: `${command} failed with ${code}, which the probe did not expect: the kernel may have it, but it could not be used here`,
    ...(TRANSIENT.includes(errno) ? { transient: true } : {}),
  };
}

function refused(errno: number, command: string): Outcome {
  const root = process.getuid?.() === 0;
  return {
    status: 'refused',
    errno,
    command,
    detail: `${command} answered ${errnoName(errno)}${root ? ' although we are root' : ' (not root)'}: ${
      root ? 'this machine refuses it (kernel configuration, an LSM, lockdown or a sysctl)' : 'it needs root or CAP_BPF (and CAP_NET_ADMIN/CAP_PERFMON by type)'
    }, whether or not the kernel has it`,
  };
}

function absent(errno: number, command: string, why?: string): Outcome {
  const code = errnoName(errno);
  const what =
    why ??
    (errno === EOPNOTSUPP || errno === ENOTSUPP
      ? 'the kernel was built without it or cannot provide it on this machine'
      : errno === E2BIG
        ? 'the kernel does not know the attribute fields it needs'
        : 'the kernel does not know the type, command, attach type or flag');
  return { status: 'absent', errno, command, detail: `${command} answered ${code}: ${what}` };
}

/** The verifier's (or the kernel's) words in a log that mean a helper does not exist for the
 * program type: an unknown id, or a known helper the type may not call. */
const HELPER_MISSING = /invalid func |unknown func |program of this type cannot use helper /;

/**
 * A program-type probe (`r0 = 0; exit` loaded with a log). The kernel rejects an unknown type
 * with EINVAL before the verifier runs, so EINVAL *with* a log means the type is known and
 * only our tiny program was wrong for it (e.g. "Tracing programs must provide btf_id").
 */
export function fromProgLoad(r: number, log: string, command = 'BPF_PROG_LOAD'): Outcome {
  if (verifierRan(r, log)) {
    return {
      status: 'present',
      errno: -r,
      command,
      detail: `${command} answered ${errnoName(-r)} from the verifier ("${lastLine(log)}"): the kernel knows the program type`,
    };
  }
  return fromResult(r, { command });
}

/**
 * A helper probe (a program that calls the helper): missing only when the verifier says so.
 * Any other rejection happened after the call was accepted (an argument it did not like), so
 * the helper is there, as libbpf also concludes.
 */
export function fromHelperLoad(r: number, log: string, command = 'BPF_PROG_LOAD'): Outcome {
  const m = HELPER_MISSING.exec(log);
  if (r < 0 && m) return absent(-r, command, `the verifier said "${lineWith(log, m[0])}"`);
  if (verifierRan(r, log))
    return {
      status: 'present',
      errno: -r,
      command,
      detail: `the verifier accepted the call and refused something else ("${lastLine(log)}")`,
    };
  return fromResult(r, { command });
}

/** Evidence read from the kernel's own BTF or symbol table rather than a bpf(2) call. */
export function fromEvidence(found: boolean, what: string, source = 'kernel BTF'): Outcome {
  return found
    ? { status: 'present', errno: 0, command: source, detail: `${source} has ${what}` }
    : { status: 'absent', errno: 0, command: source, detail: `${source} has no ${what}` };
}

/** A load that failed with a log: the verifier looked at the program, so the kernel knows the
 * type. EACCES is then the verifier's "no" (not a permission check); EPERM never counts. */
function verifierRan(r: number, log: string): boolean {
  return r < 0 && -r !== EPERM && log.trim() !== '';
}

function lastLine(log: string): string {
  const lines = log.split('\n').filter((l) => l.trim() !== '' && !/^(processed \d+ insns|verification time)/.test(l));
  return (lines[lines.length - 1] ?? '').trim() || 'the verifier ran';
}

function lineWith(log: string, needle: string): string {
  return (log.split('\n').find((l) => l.includes(needle)) ?? needle).trim();
}

/**
 * The error a feature's answer makes: NotSupportedError when the kernel lacks it (naming the
 * version and the running kernel), a BpfError carrying the refusal's errno when the machine
 * refuses it, undefined when it is present.
 */
export function answerError(a: FeatureAnswer): NotSupportedError | BpfError | undefined {
  if (a.status === 'present') return undefined;
  if (a.status === 'absent') return new NotSupportedError(a.title, a.minKernel, a.alternative, a.errno || undefined, a.kernel);
  const command = /^BPF_[A-Z_]+$/.test(a.command) ? a.command : 'bpf';
  return new BpfError(
    { errno: a.errno || EPERM, command, context: a.title },
    `${a.title}: refused on this machine (${a.kernel}) — ${a.detail}. This is not a matter of kernel version`,
  );
}
