// Several XDP programs on one interface, through libxdp's dispatcher protocol (version 2):
// interoperable with xdp-loader and every libxdp user. See README.md in this folder.
//
//   const res = xdp.multi.attach(ifindex, [{ object, program, priority?, chainCallActions? }], { mode? });
//   xdp.multi.query(ifindex);             // { dispatcher, programs } | undefined
//   xdp.multi.detach(ifindex, programId); // the last one takes the dispatcher away
//   xdp.multi.detachAll(ifindex);         // every program, and the dispatcher
import { UsageError } from '../../errors.js';
import { ifindex as indexOf, type XdpMode } from '../../netlink/link.js';
import { BpfProgram } from '../../programs/index.js';
import { NewComponent, type MultiAttachProgram } from './components.js';
import { change, readState } from './transaction.js';
import type { MultiProgram, MultiState } from './state.js';

export type { MultiAttachProgram } from './components.js';
export type { MultiDispatcher, MultiProgram, MultiState } from './state.js';
export { XdpMultiError, type XdpMultiProblem } from './errors.js';
export { XDP_ACTIONS, DEFAULT_PRIORITY, MAX_DISPATCHER_ACTIONS, DISPATCHER_VERSION, type XdpAction } from './protocol.js';
export { dispatcherObjectPath } from './dispatcher.js';

export interface MultiAttachOptions {
  /** `skb` or `drv`, for a new dispatcher; joining one, it must be the mode it runs in. Unset:
   * the kernel picks for a new dispatcher (native where the driver has it), or the dispatcher's. */
  mode?: Exclude<XdpMode, 'hw'>;
}

export interface MultiAttachResult extends MultiState {
  /** The programs this call added, as they now run (a subset of `programs`). */
  added: MultiProgram[];
}

function resolve(iface: number | string, what: string): number {
  if (typeof iface === 'string') return indexOf(iface);
  if (!Number.isInteger(iface) || iface <= 0) throw new UsageError(`${what}: an interface is a name or a positive ifindex, got ${String(iface)}`);
  return iface;
}

/**
 * Adds XDP programs to an interface's dispatcher (creating it if the hook is empty), each
 * loaded from its object as an freplace extension of a dispatcher slot and run in priority
 * order. The objects end up loaded (their maps readable as usual; the programs are EXT ones).
 * A hook holding a program that is not a dispatcher is left alone: XdpMultiError naming it.
 */
export function attach(iface: number | string, programs: readonly MultiAttachProgram[], opts: MultiAttachOptions = {}): MultiAttachResult {
  const what = 'xdp.multi.attach';
  const ifindex = resolve(iface, what);
  if (!Array.isArray(programs) || programs.length === 0) throw new UsageError(`${what}: give at least one { object, program }`);
  if (opts.mode !== undefined && opts.mode !== 'skb' && opts.mode !== 'drv')
    throw new UsageError(`${what}: mode must be 'skb' or 'drv' (a dispatcher cannot be offloaded), got ${JSON.stringify(opts.mode)}`);
  const add = programs.map((p) => new NewComponent(p, what));
  const listed = new Map<object, Set<string>>();
  for (const c of add) {
    const names = listed.get(c.object) ?? new Set<string>();
    if (names.has(c.program)) throw new UsageError(`${what}: program '${c.program}' of one object is listed twice; open the object twice to run two copies`);
    listed.set(c.object, names.add(c.program));
  }
  const state = change(ifindex, { add, remove: [], ...(opts.mode ? { mode: opts.mode } : {}) }, what)!;
  const ids = new Set(add.map((c) => c.loadedProgram!.info().id));
  return { ...state, added: state.programs.filter((p) => ids.has(p.id)) };
}

/** The dispatcher on an interface and its programs in run order; undefined when the hook
 * holds no dispatcher (nothing, or a single program: see `xdp.query`). */
export function query(iface: number | string): MultiState | undefined {
  return readState(resolve(iface, 'xdp.multi.query'));
}

/**
 * Takes one program out of the interface's dispatcher (a new dispatcher without it replaces
 * the old one); removing the last one detaches the dispatcher. Returns what is left.
 */
export function detach(iface: number | string, program: number | BpfProgram): MultiState | undefined {
  const what = 'xdp.multi.detach';
  const ifindex = resolve(iface, what);
  const id = program instanceof BpfProgram ? program.info().id : program;
  if (!Number.isInteger(id) || id <= 0) throw new UsageError(`${what}: name the program by its id (or pass the BpfProgram), got ${String(program)}`);
  return change(ifindex, { add: [], remove: [id] }, what);
}

/** Takes every program out of the interface's dispatcher and detaches it (xdp-loader's
 * `unload --all`): the hook is empty afterwards, and so is the dispatcher's pin directory.
 * Nothing on the hook: nothing to do. A program that is not a dispatcher: XdpMultiError. */
export function detachAll(iface: number | string): void {
  const what = 'xdp.multi.detachAll';
  change(resolve(iface, what), { add: [], remove: [], removeAll: true }, what);
}
