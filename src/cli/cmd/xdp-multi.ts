// The multi-program side of `tsbpf xdp`: `attach --multi` (with --priority, --chain-call),
// `detach --multi ID|all`, and the dispatcher blocks of `status`, like xdp-loader's
// load/unload/status. Everything goes through xdp.multi, so the CLI and the library make the
// same transaction.
import { BpfObject, xdp } from '../../index.js';
import { XdpMultiError } from '../../xdp/multi/errors.js';
import { DISPATCHER_PROGRAM } from '../../xdp/multi/protocol.js';
import type { ParsedArgs } from '../args.js';
import { type Result, str } from '../command.js';
import { CliUsageError, NotFoundError } from '../errors.js';
import { table } from '../output.js';
import { isElfFile } from '../refs.js';
import { programNameOf } from './names.js';

type MultiState = NonNullable<ReturnType<typeof xdp.multi.query>>;

export const MULTI_ATTACH_HELP = [
  '--multi      join the interface\'s XDP dispatcher (libxdp\'s protocol, as xdp-loader): FILE is',
  '             loaded as one of up to ten programs run in priority order; needs freplace',
  '--priority N run priority, lower first (default: the object\'s XDP_RUN_CONFIG, else 50)',
  '--chain-call A,B  verdicts that go on to the next program (aborted, drop, pass, tx,',
  '             redirect; default: the object\'s XDP_RUN_CONFIG, else pass)',
].join('\n');

function chainCall(args: ParsedArgs, usage: string): string[] | undefined {
  const v = str(args, 'chain-call');
  if (v === undefined) return undefined;
  const list = v.split(',').map((x) => x.trim()).filter(Boolean);
  if (list.length === 0) throw new CliUsageError('--chain-call needs at least one verdict (e.g. pass,drop)', usage);
  return list;
}

function priority(args: ParsedArgs, usage: string): number | undefined {
  const v = str(args, 'priority');
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new CliUsageError(`--priority must be an integer from 0 to 4294967295, got '${v}'`, usage);
  return Number(v);
}

/** --priority and --chain-call without --multi are mistakes, not something to ignore. */
export function refuseMultiOptions(args: ParsedArgs, usage: string): void {
  for (const o of ['priority', 'chain-call'])
    if (str(args, o) !== undefined) throw new CliUsageError(`--${o} is for --multi (a program in a dispatcher)`, usage);
}

export function multiAttach(args: ParsedArgs, usage: string, dev: { index: number; name: string }, src: string, mode: string | undefined): Result {
  for (const o of ['replace', 'pin'])
    if (str(args, o) !== undefined) throw new CliUsageError(`--${o} does not go with --multi: the dispatcher is swapped by compare-and-exchange and pinned under bpffs/xdp`, usage);
  for (const o of ['force', 'link'])
    if (args.options[o] === true) throw new CliUsageError(`--${o} does not go with --multi: the dispatcher is swapped by compare-and-exchange and pinned under bpffs/xdp`, usage);
  if (mode === 'hw') throw new CliUsageError('--multi: a dispatcher runs in skb or drv mode, not offloaded', usage);
  if (!isElfFile(src)) throw new CliUsageError(`--multi loads the program from an object file; ${src} is not one (a loaded or pinned program cannot become a dispatcher's extension)`, usage);
  const pinRoot = str(args, 'pin-root');
  const obj = BpfObject.open(src, pinRoot ? { pinRoot } : {});
  try {
    const xdpProgs = [...obj.spec.programs.values()].filter((p) => p.type === 'xdp');
    let name = str(args, 'program');
    if (name === undefined) {
      if (xdpProgs.length !== 1)
        throw new CliUsageError(
          xdpProgs.length === 0
            ? `${src} has no xdp program`
            : `${src} has ${xdpProgs.length} xdp programs (${xdpProgs.map((p) => p.name).join(', ')}): choose one with --program NAME`,
          usage,
        );
      name = xdpProgs[0]!.name;
    } else if (!obj.spec.programs.has(name)) {
      throw new NotFoundError(`${src} has no program named '${name}'; programs: ${[...obj.spec.programs.keys()].join(', ') || 'none'}`);
    }
    const prio = priority(args, usage);
    const actions = chainCall(args, usage);
    const res = xdp.multi.attach(
      dev.index,
      [{ object: obj, program: name, ...(prio !== undefined ? { priority: prio } : {}), ...(actions ? { chainCallActions: actions } : {}) }],
      mode ? { mode: mode as 'skb' | 'drv' } : {},
    );
    const added = res.added[0]!;
    const data = { ifindex: dev.index, ifname: dev.name, dispatcher: res.dispatcher, programs: res.programs, added: res.added.map((p) => p.id) };
    return {
      data,
      human: () =>
        `added prog ${added.id} (${added.name}) to the XDP dispatcher ${res.dispatcher.id} of ${dev.name} (${res.dispatcher.mode} mode), slot ${added.slot} of ${res.programs.length}\n` +
        components(res),
    };
  } finally {
    // Pinned in the dispatcher's directory: our fds can go.
    obj.close();
  }
}

export function multiDetach(which: string, usage: string, dev: { index: number; name: string }): Result {
  if (which === 'all') {
    const before = xdp.multi.query(dev.index);
    xdp.multi.detachAll(dev.index);
    const removed = before?.programs.map((p) => p.id) ?? [];
    return {
      data: { ifindex: dev.index, ifname: dev.name, removed, dispatcher: null },
      human: () => (before ? `removed the XDP dispatcher ${before.dispatcher.id} and its ${removed.length} program(s) from ${dev.name}` : `${dev.name} has no XDP dispatcher`),
    };
  }
  if (!/^\d+$/.test(which)) throw new CliUsageError(`--multi takes a program id or 'all', got '${which}'`, usage);
  const id = Number(which);
  let after: MultiState | undefined;
  try {
    after = xdp.multi.detach(dev.index, id);
  } catch (e) {
    if (e instanceof XdpMultiError && e.problem === 'not-found') throw new NotFoundError(e.message);
    throw e;
  }
  return {
    data: { ifindex: dev.index, ifname: dev.name, removed: [id], dispatcher: after?.dispatcher ?? null, programs: after?.programs ?? [] },
    human: () =>
      after ? `removed prog ${id} from the XDP dispatcher of ${dev.name}; now dispatcher ${after.dispatcher.id}:\n${components(after)}` : `removed prog ${id}, the last one: ${dev.name} has no XDP program now`,
  };
}

/** Refuses a plain `xdp detach` of a dispatcher: it would leave every component's pins behind. */
export function refusePlainDetach(dev: { index: number; name: string }, usage: string): void {
  // Only a program named like libxdp's dispatcher can be one. Reading the protocol's state takes
  // its lock, which makes the protocol's bpffs directory (/sys/fs/bpf/xdp) where there is none:
  // detaching any other program must leave bpffs as it was.
  const hook = xdp.query(dev.index);
  if (![hook.skbProgId, hook.drvProgId].some((id) => id !== 0 && programNameOf(id) === DISPATCHER_PROGRAM)) return;
  let state: MultiState | undefined;
  try {
    state = xdp.multi.query(dev.index);
  } catch (e) {
    if (e instanceof XdpMultiError) return; // not one we can read: a plain detach is the user's call
    throw e;
  }
  if (state)
    throw new CliUsageError(
      `${dev.name} holds an XDP dispatcher with ${state.programs.length} program(s) (${state.programs.map((p) => `${p.id} ${p.name}`).join(', ')}): --multi ID removes one, --multi all removes them all with their pins`,
      usage,
    );
}

export interface DispatcherStatus {
  dispatcher?: MultiState['dispatcher'];
  components?: MultiState['programs'];
  /** Why the dispatcher could not be read (a newer protocol version, a malformed one). */
  dispatcherError?: string;
}

/** The dispatcher on an interface whose XDP program is named like one. */
export function dispatcherStatus(ifindex: number, progName: string): DispatcherStatus {
  if (progName !== 'xdp_dispatcher') return {};
  try {
    const s = xdp.multi.query(ifindex);
    return s ? { dispatcher: s.dispatcher, components: s.programs } : {};
  } catch (e) {
    if (e instanceof XdpMultiError) return { dispatcherError: e.message };
    throw e;
  }
}

/** The component table, as xdp-loader status lists them (run order). */
export function components(s: Pick<MultiState, 'dispatcher' | 'programs'>): string {
  const d = s.dispatcher;
  const head = `  dispatcher ${d.id}: protocol version ${d.version}, ${d.mode} mode${d.frags ? ', frags' : ''}, built and pinned by ${d.builtBy} at ${d.pinDir}${d.unpinned ? ' (pins missing)' : ''}`;
  if (s.programs.length === 0) return head;
  return (
    `${head}\n` +
    table(
      ['  SLOT', 'PRIO', 'PROG', 'NAME', 'CHAIN-CALL', 'LINK', 'PINNED'],
      s.programs.map((p) => [`  ${p.slot}`, p.priority, p.id, p.name, p.chainCallActions.join(',') || '-', p.linkId, p.pins.prog]),
    )
  );
}
