// A small argv parser for the CLI: positionals, `--flag`, `--key value`, `--key=value`, and
// repeatable options. Unknown options are errors, so a typo never silently changes behaviour.
import { UsageError } from '../errors.js';

export interface OptionSpec {
  /** Takes a value (`--pin-dir DIR`); otherwise a boolean flag. */
  value?: boolean;
  /** May be given several times; values collect into an array. */
  repeat?: boolean;
  short?: string;
}

export interface ParsedArgs {
  positionals: string[];
  options: Record<string, string | string[] | boolean>;
}

export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const positionals: string[] = [];
  const options: ParsedArgs['options'] = {};
  const byShort = new Map(Object.entries(spec).flatMap(([k, s]) => (s.short ? [[s.short, k] as const] : [])));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (eq >= 0) inline = a.slice(eq + 1);
    } else if (/^-[a-zA-Z]$/.test(a)) {
      name = byShort.get(a.slice(1));
      if (!name) throw new UsageError(`unknown option ${a}`);
    } else {
      positionals.push(a);
      continue;
    }
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name}`);
    let v: string | boolean = true;
    if (s.value) {
      v = inline ?? argv[++i] ?? '';
      if (inline === undefined && i >= argv.length) throw new UsageError(`--${name} needs a value`);
    } else if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
    if (s.repeat) ((options[name] ??= []) as string[]).push(v as string);
    else options[name] = v;
  }
  return { positionals, options };
}

export function intArg(value: string | undefined, what: string): number {
  if (value === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(value)) throw new UsageError(`${what} must be a number, got ${value ?? 'nothing'}`);
  return Number(value);
}
