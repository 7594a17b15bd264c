// The shape every verb has: its options, its usage text, and a run() that returns data. The
// data is printed as JSON with --json, or through the verb's human renderer otherwise, so the
// two renderings never disagree.
import type { OptionSpec, ParsedArgs } from './args.js';
import { CliUsageError } from './errors.js';
import { intArg } from './args.js';

export interface Context {
  json: boolean;
  verbose: boolean;
  /** Lines for stderr that are not errors (notes, warnings). */
  note(msg: string): void;
}

export interface Result {
  /** What --json prints. */
  data: unknown;
  /** What is printed otherwise. */
  human: () => string;
  /** Non-zero exit code with a normal result (e.g. a lookup that found nothing). */
  exitCode?: number;
}

export interface Verb {
  /** e.g. 'prog show'. */
  name: string;
  usage: string;
  summary: string;
  /** Longer help: options and semantics. */
  help?: string;
  options?: Record<string, OptionSpec>;
  run(args: ParsedArgs, ctx: Context): Result;
}

export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.options[name];
  return typeof v === 'string' ? v : undefined;
}

export function strs(args: ParsedArgs, name: string): string[] {
  const v = args.options[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.options[name] === true;
}

export function num(args: ParsedArgs, name: string, usage: string): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  try {
    return intArg(v, `--${name}`);
  } catch (e) {
    throw new CliUsageError((e as Error).message, usage);
  }
}

/** The positionals, checking their count. */
export function positionals(args: ParsedArgs, min: number, max: number, usage: string): string[] {
  const p = args.positionals;
  if (p.length < min) throw new CliUsageError(`missing arguments`, usage);
  if (p.length > max) throw new CliUsageError(`unexpected argument '${p[max]}'`, usage);
  return p;
}
