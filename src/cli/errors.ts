// How the CLI turns library errors into a message and an exit code. The kernel's own words
// (the errno name, the netlink extack, the verifier's lines) always reach the user; the full
// verifier log only with --verbose, because it can be megabytes.
import { BpfError, BtfError, ElfError, NetlinkError, NotSupportedError, TsbpfError, UsageError, VerifierError } from '../errors.js';
import { XdpMultiError } from '../xdp/multi/errors.js';

/** Exit codes, documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  /** The kernel refused: a bpf(2) or netlink call failed (verifier included). */
  kernel: 1,
  /** Bad command line: unknown verb or option, malformed value. */
  usage: 2,
  /** What was named does not exist: id, pin, interface, map key, program or map name. */
  notFound: 3,
  /** The running kernel lacks the feature. */
  notSupported: 4,
  /** The input file is not a usable BPF object (ELF/BTF errors). */
  badInput: 5,
  /** A bug in tsbpf: an error it did not mean to throw. */
  internal: 70,
} as const;

/** A usage error the CLI raises itself, with the verb's usage line to print under it. */
export class CliUsageError extends UsageError {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** Something the user named is not there (a key, a program in an object, an interface...). */
export class NotFoundError extends TsbpfError {
  override name = 'NotFoundError';
}

const NOT_FOUND_ERRNOS = new Set(['ENOENT', 'ENODEV', 'ESRCH']);

export function exitCodeOf(e: unknown): number {
  if (e instanceof NotFoundError) return EXIT.notFound;
  // The hook's state forbids the change (someone else's program, an old dispatcher…): like a
  // kernel refusal; a program that is not in the dispatcher is not found.
  if (e instanceof XdpMultiError) return e.problem === 'not-found' ? EXIT.notFound : EXIT.kernel;
  if (e instanceof NotSupportedError) return EXIT.notSupported;
  if (e instanceof ElfError || e instanceof BtfError) return EXIT.badInput;
  if (e instanceof UsageError) return EXIT.usage;
  if (e instanceof BpfError) return NOT_FOUND_ERRNOS.has(e.code) ? EXIT.notFound : EXIT.kernel;
  return EXIT.internal;
}

export interface ErrorReport {
  error: {
    name: string;
    message: string;
    exitCode: number;
    code?: string;
    errno?: number;
    command?: string;
    extack?: string;
    verifierSummary?: string;
    verifierLog?: string;
    /** XdpMultiError: what about the hook stood in the way ('foreign', 'older-version'…). */
    problem?: string;
  };
}

export function errorReport(e: unknown, verbose: boolean): ErrorReport {
  const exitCode = exitCodeOf(e);
  if (!(e instanceof Error)) return { error: { name: 'Error', message: String(e), exitCode } };
  const r: ErrorReport['error'] = { name: e.name, message: e.message, exitCode };
  if (e instanceof BpfError) {
    r.code = e.code;
    r.errno = e.errno;
    r.command = e.command;
  }
  if (e instanceof NetlinkError && e.extack !== undefined) r.extack = e.extack;
  if (e instanceof XdpMultiError) {
    r.code = e.code;
    r.problem = e.problem;
  }
  if (e instanceof VerifierError) {
    r.verifierSummary = e.summary;
    if (verbose) r.verifierLog = e.log;
  } else if (e instanceof BpfError && e.log && verbose) r.verifierLog = e.log;
  return { error: r };
}

/** The human rendering: one `tsbpf: …` message, then the log or a hint to get it. */
export function formatError(e: unknown, verbose: boolean): string {
  const code = exitCodeOf(e);
  if (!(e instanceof Error)) return `tsbpf: ${String(e)}`;
  const lines: string[] = [];
  if (code === EXIT.internal) {
    lines.push(`tsbpf: internal error (a bug in tsbpf, please report it): ${e.message}`);
    if (verbose && e.stack) lines.push(e.stack);
    else lines.push('(run with --verbose for the stack trace)');
    return lines.join('\n');
  }
  // VerifierError's message already quotes the summary (the lines naming the instruction).
  lines.push(`tsbpf: ${e.message}`);
  if (e instanceof BpfError && e.log) {
    if (verbose) lines.push('--- full log ---', e.log.trimEnd(), '--- end of log ---');
    else lines.push(`(${e.log.split('\n').length} lines of log: run with --verbose for all of it)`);
  }
  if (e instanceof CliUsageError && e.usage) lines.push(`usage: ${e.usage}`);
  return lines.join('\n');
}
