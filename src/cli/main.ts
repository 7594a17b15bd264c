// `tsbpf`: bpftool/ip/xdp-loader-style verbs over the tsbpf library. Every verb builds its
// data first and renders it as a table (default) or JSON (--json); errors carry the kernel's
// words and a documented exit code (docs/cli.md).
import { parseArgs, type OptionSpec } from './args.js';
import type { Context, Verb } from './command.js';
import { CliUsageError, EXIT, errorReport, exitCodeOf, formatError } from './errors.js';
import { toJson } from './output.js';
import { objVerbs } from './cmd/obj.js';
import { progVerbs } from './cmd/prog.js';
import { mapVerbs } from './cmd/map.js';
import { linkVerbs } from './cmd/link.js';
import { xdpVerbs } from './cmd/xdp.js';
import { tcVerbs } from './cmd/tc.js';
import { tcxVerbs } from './cmd/tcx.js';
import { genVerbs } from './cmd/gen.js';

const GROUPS: Record<string, { summary: string; verbs: Verb[] }> = {
  obj: { summary: 'inspect and load BPF object files', verbs: objVerbs },
  prog: { summary: 'loaded programs: list, show, dump, test-run, unpin', verbs: progVerbs },
  map: { summary: 'maps: list, show, dump, lookup, update, delete, unpin', verbs: mapVerbs },
  link: { summary: 'bpf links: list, show, pin, unpin, detach', verbs: linkVerbs },
  xdp: { summary: 'XDP: attach, detach, status', verbs: xdpVerbs },
  tc: { summary: 'legacy tc (clsact + cls_bpf): hooks, attach, detach, list', verbs: tcVerbs },
  tcx: { summary: 'tcx (6.6+, link based): attach, detach, list', verbs: tcxVerbs },
  gen: { summary: 'generate code: a typed TypeScript skeleton of an object file', verbs: genVerbs },
};

const GLOBAL: Record<string, OptionSpec> = {
  json: { short: 'j' },
  verbose: { short: 'v' },
  help: { short: 'h' },
};

function topHelp(): string {
  const width = Math.max(...Object.keys(GROUPS).map((g) => g.length));
  return [
    'usage: tsbpf [--json] [--verbose] OBJECT VERB [ARGS...]',
    '       tsbpf OBJECT --help | tsbpf OBJECT VERB --help',
    '',
    'objects:',
    ...Object.entries(GROUPS).map(([g, { summary }]) => `  ${g.padEnd(width)}  ${summary}`),
    '',
    'global options:',
    '  -j, --json      print JSON (every verb; errors too, on stderr)',
    '  -v, --verbose   full verifier logs and stack traces on errors',
    '  -h, --help      help for tsbpf, an object, or a verb',
    '',
    'Programs, maps and links are named by id (42) or pin path (/sys/fs/bpf/x).',
    'Exit codes: 0 ok, 1 kernel refused, 2 usage error, 3 not found, 4 not supported,',
    '5 bad object file, 70 internal error. See docs/cli.md.',
  ].join('\n');
}

function groupHelp(group: string): string {
  const { summary, verbs } = GROUPS[group]!;
  const width = Math.max(...verbs.map((v) => v.usage.length));
  return [`tsbpf ${group}: ${summary}`, '', ...verbs.map((v) => `  tsbpf ${v.usage.padEnd(width)}  ${v.summary}`), '', `tsbpf ${group} VERB --help for details.`].join('\n');
}

function verbHelp(v: Verb): string {
  return [`usage: tsbpf ${v.usage}`, '', v.summary, ...(v.help ? ['', v.help] : []), '', 'global options: --json, --verbose, --help'].join('\n');
}

function findVerb(group: string, words: readonly string[]): { verb: Verb; used: number } | undefined {
  const verbs = GROUPS[group]!.verbs;
  for (const n of [2, 1]) {
    const name = [group, ...words.slice(0, n)].join(' ');
    const verb = verbs.find((v) => v.name === name);
    if (verb && words.length >= n) return { verb, used: n };
  }
  return undefined;
}

export function main(argv: readonly string[]): number {
  let json = argv.includes('--json') || argv.includes('-j');
  let verbose = argv.includes('--verbose') || argv.includes('-v');
  const stdout = (s: string): void => {
    if (s !== '') process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
  };
  const ctx: Context = { json, verbose, note: (m) => process.stderr.write(`tsbpf: ${m}\n`) };
  try {
    // Global options may come before the object.
    let i = 0;
    while (i < argv.length && argv[i]!.startsWith('-') && argv[i] !== '--help' && argv[i] !== '-h') {
      if (!['--json', '-j', '--verbose', '-v'].includes(argv[i]!)) throw new CliUsageError(`unknown option ${argv[i]}`, 'tsbpf [--json] [--verbose] OBJECT VERB [ARGS...]');
      i++;
    }
    const rest = argv.slice(i);
    const group = rest[0];
    if (group === undefined || group === '--help' || group === '-h' || group === 'help') {
      stdout(topHelp());
      return group === undefined ? EXIT.usage : EXIT.ok;
    }
    if (!GROUPS[group]) throw new CliUsageError(`unknown object '${group}'; expected one of: ${Object.keys(GROUPS).join(', ')}`, 'tsbpf OBJECT VERB [ARGS...] (tsbpf --help)');
    const words = rest.slice(1);
    if (words.length === 0 || words[0] === '--help' || words[0] === '-h' || words[0] === 'help') {
      stdout(groupHelp(group));
      return words.length === 0 ? EXIT.usage : EXIT.ok;
    }
    const found = findVerb(group, words);
    if (!found) {
      const names = GROUPS[group]!.verbs.map((v) => v.name.slice(group.length + 1));
      throw new CliUsageError(`unknown verb '${group} ${words[0]}'; expected one of: ${[...new Set(names)].join(', ')}`, `tsbpf ${group} --help`);
    }
    const { verb, used } = found;
    let args;
    try {
      args = parseArgs(words.slice(used), { ...verb.options, ...GLOBAL });
    } catch (e) {
      throw new CliUsageError((e as Error).message, verb.usage);
    }
    if (args.options.help === true) {
      stdout(verbHelp(verb));
      return EXIT.ok;
    }
    json = ctx.json = args.options.json === true || json;
    verbose = ctx.verbose = args.options.verbose === true || verbose;
    const result = verb.run(args, ctx);
    stdout(json ? toJson(result.data) : result.human());
    return result.exitCode ?? EXIT.ok;
  } catch (e) {
    if (json) process.stderr.write(`${toJson(errorReport(e, verbose))}\n`);
    else process.stderr.write(`${formatError(e, verbose)}\n`);
    return exitCodeOf(e);
  }
}

process.exitCode = main(process.argv.slice(2));
