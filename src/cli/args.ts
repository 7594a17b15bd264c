// The CLI's argv: node:util's parseArgs in strict mode (positionals, `--flag`, `--key value`,
// `--key=value`, repeatable options, short aliases). Unknown options are errors, so a typo
// never silently changes behaviour; node's messages are reworded into the CLI's own short ones.
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
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

type NodeOptions = NonNullable<ParseArgsConfig['options']>;

export function parseArgs(argv: readonly string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const options: NodeOptions = {};
  for (const [name, s] of Object.entries(spec))
    options[name] = { type: s.value ? 'string' : 'boolean', ...(s.repeat ? { multiple: true } : {}), ...(s.short ? { short: s.short } : {}) };
  try {
    const { values, positionals } = nodeParseArgs({ args: [...argv], options, strict: true, allowPositionals: true });
    const out: ParsedArgs['options'] = {};
    for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = v as string | string[] | boolean;
    return { positionals, options: out };
  } catch (e) {
    throw new UsageError(reworded(e, spec), { cause: e });
  }
}

/** node's parseArgs errors as the CLI words them ("unknown option --x", "--x needs a value"). */
function reworded(e: unknown, spec: Record<string, OptionSpec>): string {
  const err = e as { code?: string; message?: string };
  const msg = err.message ?? String(e);
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const name = /option '([^']+)'/i.exec(msg)?.[1];
    return name ? `unknown option ${name}` : msg;
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = /--([\w-]+)/.exec(msg)?.[1];
    if (name === undefined || !spec[name]) return msg;
    // A value option without one (at the end, or followed by another option); a flag given one.
    return spec[name].value ? `--${name} needs a value` : `--${name} takes no value`;
  }
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return msg;
  return msg;
}

export function intArg(value: string | undefined, what: string): number {
  if (value === undefined || !/^(0x[0-9a-f]+|\d+)$/i.test(value)) throw new UsageError(`${what} must be a number, got ${value ?? 'nothing'}`);
  return Number(value);
}
