// The protocol's state for one interface, read from the kernel and bpffs into a plain
// description, as libxdp reads it (xdp_multiprog__get_from_ifindex): the program on the hook;
// whether it is a dispatcher (named xdp_dispatcher, one map, that map a frozen one-entry
// array whose value starts with magic 236 and a version, or, for version 1, a version in the
// program's BTF); its configuration; and its components from the pins under
// `<bpffs>/xdp/dispatch-<ifindex>-<id>/`. Run priority, chain-call actions and frags come from
// the configuration, not from the components' BTF, so that values given at attach time stay.
// Callers hold the protocol's lock (bpffs.ts).
import { BpfError } from '../../errors.js';
import { xdpMetadataValue, fullFunctionName } from '../../btf/xdp-metadata.js';
import { btfById } from '../../link/targets.js';
import { Link } from '../../link/link.js';
import { BpfMap } from '../../maps/index.js';
import { BpfProgram } from '../../programs/index.js';
import { describeProgram, xdpLinksOn } from '../../netlink/programs.js';
import type { XdpMode } from '../../netlink/link.js';
import { Attr, BPF_PROG_INFO, bpf_map_create_flags, objInfo } from '../../syscall/index.js';
import type { Btf } from '../../btf/index.js';
import { query as xdpQuery } from '../index.js';
import { XdpMultiError } from './errors.js';
import {
  DISPATCHER_PROGRAM,
  DISPATCHER_RETVAL,
  DISPATCHER_VERSION,
  type DispatcherConfig,
  type OrderKey,
  type XdpAction,
  XDP_FLAGS_FRAGS,
  actionsOf,
  configVersion,
  decodeConfig,
  CONFIG_SIZE,
  dispatcherDirName,
  slotPins,
} from './protocol.js';

/** A dispatcher on an interface, as `xdp.multi.query` reports it. */
export interface MultiDispatcher {
  id: number;
  /** The protocol version it was built for (2; 1 for old libxdp dispatchers). */
  version: number;
  mode: XdpMode;
  /** Loaded with BPF_F_XDP_HAS_FRAGS (every component supports multi-buffer packets). */
  frags: boolean;
  /** Who built (and pinned) the current dispatcher: tsbpf marks its own in its BTF. */
  builtBy: 'tsbpf' | 'libxdp';
  /** `<bpffs>/xdp/dispatch-<ifindex>-<id>`, where its components are pinned. */
  pinDir: string;
  /** Held by a bpf_link rather than attached over netlink (then it cannot be swapped). */
  linkId?: number;
  /** The pin directory (or a program pin in it) is missing: the components are unknown. */
  unpinned?: boolean;
}

/** One component program, in run order. */
export interface MultiProgram {
  id: number;
  /** The C function name (the kernel keeps 15 characters; longer ones are found in its BTF). */
  name: string;
  tag: string;
  /** Its dispatcher slot: prog<slot>(), 0 first. */
  slot: number;
  priority: number;
  /** Verdicts that go on to the next program; any other verdict is final. */
  chainCallActions: XdpAction[];
  /** Added with BPF_F_XDP_HAS_FRAGS. */
  frags: boolean;
  /** The freplace link that puts it in its slot (undefined if its pin is missing). */
  linkId?: number;
  /** Its pins: `<pinDir>/prog<slot>-prog` and `-link`. */
  pins: { prog: string; link: string };
}

export interface MultiState {
  ifindex: number;
  dispatcher: MultiDispatcher;
  programs: MultiProgram[];
}

/** A component as a change sees it: its description plus the open program. */
export interface PinnedComponent {
  info: MultiProgram;
  prog: BpfProgram;
  key: OrderKey;
  /** The slot's chain-call bitmap without the stub verdict's bit. */
  actionBits: number;
}

export type Hook =
  | { kind: 'empty'; close(): void }
  | { kind: 'foreign'; progId: number; mode: XdpMode; description: string; close(): void }
  | {
      kind: 'dispatcher';
      state: MultiState;
      config: DispatcherConfig;
      /** The dispatcher program (the expected fd of a compare-and-exchange). */
      prog: BpfProgram;
      components: PinnedComponent[];
      close(): void;
    };

/** The program attached in skb or drv mode (a dispatcher never runs offloaded). */
function attachedProgram(ifindex: number): { id: number; mode: XdpMode } | undefined {
  const s = xdpQuery(ifindex);
  if (s.drvProgId) return { id: s.drvProgId, mode: 'drv' };
  if (s.skbProgId) return { id: s.skbProgId, mode: 'skb' };
  return undefined;
}

/** The id of whatever is attached in skb or drv mode, 0 if nothing. */
export function attachedId(ifindex: number): number {
  return attachedProgram(ifindex)?.id ?? 0;
}

/** The kernel's load time in ns since boot (ProgramInfo rounds it to a Date). */
export function loadTimeNs(prog: BpfProgram): bigint {
  const attr = new Attr(BPF_PROG_INFO);
  objInfo(prog.fd, attr.bytes, `program ${prog.name}`);
  return attr.getBigInt('load_time');
}

function programBtf(btfId: number, progId: number): Btf | undefined {
  if (btfId === 0) return undefined;
  try {
    return btfById(btfId, `BTF of program ${progId}`);
  } catch (e) {
    if (e instanceof BpfError) return undefined; // freed meanwhile
    throw e;
  }
}

function describeForeign(ifindex: number, id: number, name: string, mode: XdpMode): string {
  const link = xdpLinksOn(ifindex).find((l) => l.progId === id);
  return `${describeProgram(id, name)} in ${mode} mode, ${link ? `held by bpf_link ${link.linkId}` : 'attached through netlink (no bpf_link)'}`;
}

const ENOENT = 2;

/**
 * Reads the hook. A dispatcher newer than version 2 is an XdpMultiError (nothing of it can be
 * trusted); anything on the hook that does not pass libxdp's checks is 'foreign'. The caller
 * closes the result (it holds fds of the dispatcher and its components).
 */
export function readHook(stateDir: string, ifindex: number): Hook {
  // The program may be swapped between the netlink query and opening it by id: read again.
  for (let attempt = 0; ; attempt++) {
    const on = attachedProgram(ifindex);
    if (!on) return { kind: 'empty', close() {} };
    let prog: BpfProgram;
    try {
      prog = BpfProgram.fromId(on.id);
    } catch (e) {
      if (e instanceof BpfError && e.errno === ENOENT && attempt < 10) continue;
      throw e;
    }
    try {
      return classify(stateDir, ifindex, prog, on.mode);
    } catch (e) {
      prog.close();
      throw e;
    }
  }
}

function classify(stateDir: string, ifindex: number, prog: BpfProgram, mode: XdpMode): Hook {
  const info = prog.info();
  const foreign = (): Hook => {
    prog.close();
    return { kind: 'foreign', progId: info.id, mode, description: describeForeign(ifindex, info.id, info.name, mode), close() {} };
  };
  if (info.name !== DISPATCHER_PROGRAM || info.btfId === 0 || info.mapIds.length !== 1) return foreign();
  const btf = programBtf(info.btfId, info.id);

  let value: Uint8Array;
  {
    using map = BpfMap.fromId(info.mapIds[0]!);
    const mi = map.info();
    if (mi.keySize !== 4 || mi.valueSize < 2 || mi.maxEntries !== 1 || !(mi.flags & bpf_map_create_flags.BPF_F_RDONLY_PROG))
      throw new XdpMultiError(
        'malformed',
        ifindex,
        `${describeProgram(info.id, info.name)} on ifindex ${ifindex} is named like a dispatcher, but its map ${mi.id} is not a dispatcher configuration (key ${mi.keySize} B, value ${mi.valueSize} B, ${mi.maxEntries} entries, flags 0x${mi.flags.toString(16)}); leave it alone or detach it with xdp.detach`,
        info.id,
      );
    value = map.lookup(new Uint8Array(4)) as Uint8Array;
  }
  let version = configVersion(value);
  if (version === undefined) {
    // Version 1 predates the magic: its version is only in the program's BTF.
    version = btf ? xdpMetadataValue(btf, 'dispatcher_version') : undefined;
    if (version === undefined) return foreign();
  }
  if (version !== 1 && version !== DISPATCHER_VERSION)
    throw new XdpMultiError(
      'newer-version',
      ifindex,
      `the XDP dispatcher on ifindex ${ifindex} (${describeProgram(info.id, info.name)}) is protocol version ${version}; tsbpf speaks version ${DISPATCHER_VERSION} and leaves newer dispatchers to the tools that made them (libxdp refuses them the same way)`,
      info.id,
    );
  if (version === DISPATCHER_VERSION && value.length !== CONFIG_SIZE)
    throw new XdpMultiError('malformed', ifindex, `the XDP dispatcher ${info.id} on ifindex ${ifindex} says version 2, but its configuration is ${value.length} bytes, not ${CONFIG_SIZE}`, info.id);
  const config = decodeConfig(value, version);
  const link = xdpLinksOn(ifindex).find((l) => l.progId === info.id);
  const pinDir = `${stateDir}/${dispatcherDirName(ifindex, info.id)}`;
  const dispatcher: MultiDispatcher = {
    id: info.id,
    version,
    mode,
    frags: config.isXdpFrags,
    builtBy: btf && xdpMetadataValue(btf, 'tsbpf_dispatcher') !== undefined ? 'tsbpf' : 'libxdp',
    pinDir,
    ...(link ? { linkId: link.linkId } : {}),
  };

  const components: PinnedComponent[] = [];
  const closeAll = (): void => {
    for (const c of components) c.prog.close();
    prog.close();
  };
  try {
    for (let slot = 0; slot < config.numProgsEnabled; slot++) {
      const names = slotPins(slot);
      const pins = { prog: `${pinDir}/${names.prog}`, link: `${pinDir}/${names.link}` };
      let cp: BpfProgram;
      try {
        cp = BpfProgram.fromPin(pins.prog);
      } catch (e) {
        if (e instanceof BpfError && e.errno === ENOENT) {
          // libxdp then treats the dispatcher as a single program; we say what is missing.
          for (const c of components) c.prog.close();
          components.length = 0;
          dispatcher.unpinned = true;
          break;
        }
        throw e;
      }
      const ci = cp.info();
      const name = fullFunctionName(programBtf(ci.btfId, ci.id), ci.name);
      let linkId: number | undefined;
      try {
        using l = Link.fromPin(pins.link);
        linkId = l.info().id;
      } catch (e) {
        if (!(e instanceof BpfError && e.errno === ENOENT)) throw e;
      }
      const actionBits = (config.chainCallActions[slot]! & ~(2 ** DISPATCHER_RETVAL)) >>> 0;
      const frags = (config.programFlags[slot]! & XDP_FLAGS_FRAGS) !== 0;
      components.push({
        prog: cp,
        actionBits,
        key: { priority: config.runPrios[slot]!, name, loaded: true, insnCount: 0, tag: ci.tag, loadTimeNs: loadTimeNs(cp), id: ci.id },
        info: {
          id: ci.id,
          name,
          tag: ci.tag,
          slot,
          priority: config.runPrios[slot]!,
          chainCallActions: actionsOf(actionBits),
          frags,
          ...(linkId !== undefined ? { linkId } : {}),
          pins,
        },
      });
    }
  } catch (e) {
    closeAll();
    throw e;
  }
  return {
    kind: 'dispatcher',
    state: { ifindex, dispatcher, programs: components.map((c) => c.info) },
    config,
    prog,
    components,
    close: closeAll,
  };
}
