// Every change to an interface's set of XDP programs is one transaction, whoever asks (attach,
// detach, the CLI): under the protocol's lock, finish any change a dead process left; read the
// hook; decide the new list of components; build a new dispatcher for it and link every
// component into its slot; pin all of it in a txn directory; swap the new dispatcher onto the
// hook with a compare-and-exchange against the one read (the first one with
// XDP_FLAGS_UPDATE_IF_NOEXIST); unpin the old dispatcher; rename the txn directory to the new
// dispatcher's `dispatch-<ifindex>-<id>`. A lost compare-and-exchange (the hook changed since it
// was read: libxdp swaps outside the lock) starts again from the new state, at most ten times;
// it never overwrites. Removing the last program detaches the dispatcher the same way.
import { mkdirSync, renameSync } from 'node:fs';
import { BpfError, NotSupportedError, withHint } from '../../errors.js';
import { features } from '../../features/index.js';
import { attachFreplaceLink } from '../../link/tracing.js';
import type { Link } from '../../link/link.js';
import type { XdpMode } from '../../netlink/link.js';
import { NetlinkRequestError } from '../../netlink/errors.js';
import type { BpfProgram } from '../../programs/index.js';
import { attach as xdpAttach, detach as xdpDetach } from '../index.js';
import { removePinDir, withXdpLock, xdpStateDir } from './bpffs.js';
import { loadComponents, type NewComponent } from './components.js';
import { loadDispatcher } from './dispatcher.js';
import { XdpMultiError } from './errors.js';
import {
  DISPATCHER_MAGIC,
  DISPATCHER_RETVAL,
  DISPATCHER_VERSION,
  MAX_DISPATCHER_ACTIONS,
  type OrderKey,
  XDP_FLAGS_FRAGS,
  compareComponents,
  dispatcherDirName,
  slotFunction,
  slotPins,
  txnDirName,
} from './protocol.js';
import { recover } from './recover.js';
import { type Hook, type MultiState, type PinnedComponent, readHook } from './state.js';

const MAX_TRIES = 10;
const EPERM = 1;
const EBUSY = 16;
const EEXIST = 17;

export interface ChangeRequest {
  add: NewComponent[];
  /** Program ids of components to take out. */
  remove: number[];
  /** Take every component out (the dispatcher goes): xdp-loader's `unload --all`. */
  removeAll?: boolean;
  mode?: XdpMode;
}

/** Reads the hook under the lock (finishing a dead process's change first). */
export function readState(ifindex: number): MultiState | undefined {
  const dir = xdpStateDir(ifindex);
  return withXdpLock(dir, () => {
    recover(dir, ifindex);
    const hook = readHook(dir, ifindex);
    try {
      return hook.kind === 'dispatcher' ? hook.state : undefined;
    } finally {
      hook.close();
    }
  });
}

/** Applies a change; returns the new state, or undefined when no program is left. */
export function change(ifindex: number, req: ChangeRequest, what: string): MultiState | undefined {
  const dir = xdpStateDir(ifindex);
  return withXdpLock(dir, () => {
    for (let attempt = 1; ; attempt++) {
      recover(dir, ifindex);
      const hook = readHook(dir, ifindex);
      let done: { state: MultiState | undefined } | undefined;
      try {
        done = tryOnce(dir, ifindex, hook, req, what);
      } finally {
        hook.close();
      }
      if (done) return done.state;
      if (attempt >= MAX_TRIES)
        throw new XdpMultiError('busy', ifindex, `${what}: the XDP hook of ifindex ${ifindex} changed under every one of ${MAX_TRIES} attempts (another tool keeps swapping it); nothing was changed`);
    }
  });
}

type Entry = { kind: 'pinned'; c: PinnedComponent; key: OrderKey } | { kind: 'new'; c: NewComponent; key: OrderKey };

/** One attempt: undefined when the compare-and-exchange was lost (retry), else the outcome. */
function tryOnce(dir: string, ifindex: number, hook: Hook, req: ChangeRequest, what: string): { state: MultiState | undefined } | undefined {
  if (hook.kind === 'foreign')
    throw new XdpMultiError(
      'foreign',
      ifindex,
      `${what}: ifindex ${ifindex} holds ${hook.description}, which is not an XDP dispatcher; tsbpf will not replace it: detach it first (xdp.detach, or close its link), or attach a single program with xdp.attach`,
      hook.progId,
    );
  let kept: PinnedComponent[] = [];
  let mode = req.mode;
  if (hook.kind === 'empty') {
    if (req.removeAll) return { state: undefined };
    if (req.remove.length) throw new XdpMultiError('not-found', ifindex, `${what}: ifindex ${ifindex} has no XDP dispatcher (no program at all)`, req.remove[0]);
  } else {
    const d = hook.state.dispatcher;
    if (d.unpinned && !req.removeAll)
      throw new XdpMultiError(
        'unpinned',
        ifindex,
        `${what}: the XDP dispatcher ${d.id} on ifindex ${ifindex} has lost its pins (${d.pinDir}), so its programs cannot be carried over; detach it with xdp.detach and attach the programs again`,
        d.id,
      );
    if (mode !== undefined && mode !== d.mode)
      throw new XdpMultiError('mode', ifindex, `${what}: the XDP dispatcher on ifindex ${ifindex} runs in ${d.mode} mode; programs join it in that mode (leave mode out, or detach every program first)`, d.id);
    mode = d.mode;
    const remove = req.removeAll ? hook.components.map((c) => c.info.id) : req.remove;
    for (const id of remove)
      if (!hook.components.some((c) => c.info.id === id))
        throw new XdpMultiError(
          'not-found',
          ifindex,
          `${what}: program ${id} is not in the XDP dispatcher on ifindex ${ifindex} (its programs: ${hook.components.map((c) => `${c.info.id} ${c.info.name}`).join(', ') || 'none'})`,
          id,
        );
    kept = hook.components.filter((c) => !remove.includes(c.info.id));
    const removesAll = kept.length === 0 && req.add.length === 0;
    if (d.version < DISPATCHER_VERSION && !removesAll)
      throw new XdpMultiError(
        'older-version',
        ifindex,
        `${what}: the XDP dispatcher on ifindex ${ifindex} is protocol version ${d.version}; like libxdp, tsbpf will not replace it with a version-${DISPATCHER_VERSION} one under the feet of the tool that loaded it: remove all of its programs first`,
        d.id,
      );
    if (d.linkId !== undefined)
      throw new XdpMultiError(
        'held-by-link',
        ifindex,
        `${what}: the XDP dispatcher ${d.id} on ifindex ${ifindex} is held by bpf_link ${d.linkId}, which netlink cannot swap; whoever holds that link must change it`,
        d.id,
      );
  }
  const total = kept.length + req.add.length;
  if (total > MAX_DISPATCHER_ACTIONS)
    throw new XdpMultiError('full', ifindex, `${what}: a dispatcher has ${MAX_DISPATCHER_ACTIONS} slots; ifindex ${ifindex} would need ${total}`);
  if (hook.kind === 'dispatcher' && total === 0) return removeDispatcher(dir, ifindex, hook);

  const entries: Entry[] = [
    ...kept.map((c): Entry => ({ kind: 'pinned', c, key: c.key })),
    ...req.add.map((c): Entry => ({ kind: 'new', c, key: c.key() })),
  ];
  entries.sort((a, b) => compareComponents(a.key, b.key));
  const n = entries.length;
  const fragsOf = (e: Entry): boolean => (e.kind === 'pinned' ? e.c.info.frags : e.c.frags);
  const actionsOf = (e: Entry): number => e.c.actionBits;
  // The dispatcher takes multi-buffer packets only if every component can (protocol.org).
  const frags = entries.every(fragsOf) && features.has('xdp_frags');
  const dispatcher = loadDispatcher({
    magic: DISPATCHER_MAGIC,
    version: DISPATCHER_VERSION,
    numProgsEnabled: n,
    isXdpFrags: frags,
    chainCallActions: entries.map((e) => (actionsOf(e) | 2 ** DISPATCHER_RETVAL) >>> 0),
    runPrios: entries.map((e) => (e.kind === 'pinned' ? e.c.info.priority : e.c.priority)),
    programFlags: entries.map((e) => (fragsOf(e) ? XDP_FLAGS_FRAGS : 0)),
  });
  const links: Link[] = [];
  try {
    const news = entries.flatMap((e, i) => (e.kind === 'new' ? [{ component: e.c, target: slotFunction(i, n) }] : []));
    explainingRefusal(what, () => loadComponents(news, dispatcher.prog));
    const progs: BpfProgram[] = entries.map((e) => (e.kind === 'pinned' ? e.c.prog : e.c.loadedProgram!));
    progs.forEach((p, i) => {
      links.push(explainingRefusal(what, () => attachFreplaceLink(p, { program: dispatcher.prog, function: slotFunction(i, n) }, `${what}: link ${p.name} into slot ${i}`)));
    });

    const newId = dispatcher.prog.info().id;
    const old = hook.kind === 'dispatcher' ? hook : undefined;
    const txn = `${dir}/${txnDirName(ifindex, newId, old?.state.dispatcher.id ?? 0)}`;
    mkdirSync(txn, { mode: 0o700 });
    try {
      progs.forEach((p, i) => {
        const pins = slotPins(i);
        links[i]!.pin(`${txn}/${pins.link}`);
        p.pin(`${txn}/${pins.prog}`);
      });
      xdpAttach(ifindex, dispatcher.prog, { ...(mode ? { mode } : {}), ...(old ? { replace: old.prog } : {}) });
    } catch (e) {
      removePinDir(txn);
      if (lostRace(e)) return undefined;
      throw e;
    }
    // On the hook: the old dispatcher's pins go, the new ones take their protocol name.
    if (old) removePinDir(old.state.dispatcher.pinDir);
    renameSync(txn, `${dir}/${dispatcherDirName(ifindex, newId)}`);
  } finally {
    for (const l of links) l.close();
    dispatcher.close();
  }
  const after = readHook(dir, ifindex);
  try {
    return { state: after.kind === 'dispatcher' ? after.state : undefined };
  } finally {
    after.close();
  }
}

/** The last program goes: the dispatcher is detached (compare-and-exchange) and unpinned. */
function removeDispatcher(dir: string, ifindex: number, hook: Extract<Hook, { kind: 'dispatcher' }>): { state: undefined } | undefined {
  const d = hook.state.dispatcher;
  const txn = `${dir}/${txnDirName(ifindex, 0, d.id)}`;
  mkdirSync(txn, { mode: 0o700 });
  try {
    xdpDetach(ifindex, { mode: d.mode, expected: hook.prog });
  } catch (e) {
    removePinDir(txn);
    if (lostRace(e)) return undefined;
    throw e;
  }
  removePinDir(d.pinDir);
  removePinDir(txn);
  return { state: undefined };
}

/** The hook changed between our read and our swap: EEXIST from a replace ("Active program
 * does not match expected"), EBUSY from a first attach ("XDP program already attached"). */
function lostRace(e: unknown): boolean {
  return e instanceof NetlinkRequestError && (e.errno === EEXIST || (e.errno === EBUSY && !/link/i.test(e.extack ?? '')));
}

/**
 * Runs a step that loads or links an EXT program. EPERM there, where the kernel (or this
 * machine) has no BPF trampolines, becomes the NotSupportedError the library gives for a
 * missing feature: a dispatcher cannot work without freplace. Probed only after the failure.
 */
function explainingRefusal<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    if (e instanceof BpfError && e.errno === EPERM) {
      const probe = features.probe('trampoline');
      if (probe.status !== 'present')
        throw withHint(
          new NotSupportedError(
            'XDP dispatchers (several programs on one interface, each an freplace extension of a dispatcher slot)',
            '5.10',
            'xdp.attach() or prog.attachXdp() (one program per interface)',
            EPERM,
            undefined,
            { cause: e },
          ),
          `${what}: ${probe.title}: ${probe.detail}`,
        );
    }
    throw e;
  }
}
