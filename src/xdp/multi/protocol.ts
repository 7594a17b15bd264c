// The fixed parts of libxdp's multi-program XDP protocol, version 2 (xdp-tools,
// lib/libxdp/protocol.org): the dispatcher's configuration struct, its defaults and limits,
// the names of XDP verdicts, where the freplace targets are, the order components run in, and
// the bpffs layout of pins. Pure: no kernel, no filesystem.
import { UsageError } from '../../errors.js';

export const DISPATCHER_MAGIC = 236;
export const DISPATCHER_VERSION = 2;
/** The verdict of an unreplaced stub; its bit is in every slot's chain-call bitmap. */
export const DISPATCHER_RETVAL = 31;
/** Slots (stub functions) in a dispatcher. */
export const MAX_DISPATCHER_ACTIONS = 10;
export const DEFAULT_PRIORITY = 50;
/** The dispatcher program's name: libxdp recognises a dispatcher by it. */
export const DISPATCHER_PROGRAM = 'xdp_dispatcher';
/** BPF_F_XDP_HAS_FRAGS, as stored in `program_flags`. */
export const XDP_FLAGS_FRAGS = 1 << 5;

/** XDP verdicts by number, named as everywhere in tsbpf: the uapi name in lower case. */
export const XDP_ACTIONS = ['aborted', 'drop', 'pass', 'tx', 'redirect'] as const;
export type XdpAction = (typeof XDP_ACTIONS)[number];
const XDP_PASS = 2;
/** libxdp's default: only XDP_PASS continues the chain. */
export const DEFAULT_CHAIN_CALL_ACTIONS = 1 << XDP_PASS;

/** `['pass', 'drop']` (or `XDP_PASS`…) → a bitmap of verdict numbers. */
export function actionsBitmap(actions: readonly string[], what: string): number {
  if (!Array.isArray(actions)) throw new UsageError(`${what}: chainCallActions is a list of XDP verdicts (${XDP_ACTIONS.join(', ')})`);
  let bits = 0;
  for (const a of actions) {
    const name = typeof a === 'string' ? a.toLowerCase().replace(/^xdp_/, '') : '';
    const n = (XDP_ACTIONS as readonly string[]).indexOf(name);
    if (n < 0) throw new UsageError(`${what}: '${String(a)}' is not an XDP verdict; use ${XDP_ACTIONS.join(', ')}`);
    bits |= 1 << n;
  }
  return bits;
}

/** A bitmap → the verdicts in it, in verdict order (the stub verdict's bit left out). */
export function actionsOf(bits: number): XdpAction[] {
  return XDP_ACTIONS.filter((_, i) => (bits & (1 << i)) !== 0);
}

/** The dispatcher's `.rodata` configuration (struct xdp_dispatcher_config). */
export interface DispatcherConfig {
  magic: number;
  version: number;
  numProgsEnabled: number;
  isXdpFrags: boolean;
  /** Per slot, with the stub verdict's bit 31 included as stored. */
  chainCallActions: number[];
  runPrios: number[];
  programFlags: number[];
}

/** sizeof(struct xdp_dispatcher_config) in version 2: four u8, then three u32[10]. */
export const CONFIG_SIZE = 4 + 3 * 4 * MAX_DISPATCHER_ACTIONS;
/** Version 1 had no magic, version or frags fields: u8 num_progs_enabled, then two u32[10]. */
export const CONFIG_V1_SIZE = 4 + 2 * 4 * MAX_DISPATCHER_ACTIONS;

export function encodeConfig(c: DispatcherConfig): Uint8Array {
  const out = new Uint8Array(CONFIG_SIZE);
  const dv = new DataView(out.buffer);
  out[0] = c.magic;
  out[1] = c.version;
  out[2] = c.numProgsEnabled;
  out[3] = c.isXdpFrags ? 1 : 0;
  for (let i = 0; i < MAX_DISPATCHER_ACTIONS; i++) {
    dv.setUint32(4 + 4 * i, (c.chainCallActions[i] ?? 0) >>> 0, true);
    dv.setUint32(44 + 4 * i, (c.runPrios[i] ?? 0) >>> 0, true);
    dv.setUint32(84 + 4 * i, (c.programFlags[i] ?? 0) >>> 0, true);
  }
  return out;
}

/** The version a dispatcher's configuration value says it is, or undefined without the magic
 * (version 1 predates it: its version is only in BTF). */
export function configVersion(value: Uint8Array): number | undefined {
  return value.length >= 2 && value[0] === DISPATCHER_MAGIC ? value[1] : undefined;
}

/** Decodes a configuration of a known version (1 or 2). */
export function decodeConfig(value: Uint8Array, version: number): DispatcherConfig {
  const dv = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const u32s = (at: number): number[] => Array.from({ length: MAX_DISPATCHER_ACTIONS }, (_, i) => dv.getUint32(at + 4 * i, true));
  if (version === 1) {
    return {
      magic: 0,
      version: 1,
      numProgsEnabled: value[0]!,
      isXdpFrags: false,
      chainCallActions: u32s(4),
      runPrios: u32s(44),
      programFlags: new Array<number>(MAX_DISPATCHER_ACTIONS).fill(0),
    };
  }
  return {
    magic: value[0]!,
    version: value[1]!,
    numProgsEnabled: value[2]!,
    isXdpFrags: value[3] !== 0,
    chainCallActions: u32s(4),
    runPrios: u32s(44),
    programFlags: u32s(84),
  };
}

/**
 * The dispatcher function a slot's component replaces. As libxdp does, a dispatcher with one
 * slot has its component replace `xdp_dispatcher` itself: the program then behaves exactly as
 * if attached alone (its verdict is final, whatever its chain-call actions).
 */
export function slotFunction(slot: number, slots: number): string {
  return slots === 1 ? DISPATCHER_PROGRAM : `prog${slot}`;
}

/** What libxdp compares components by, in its order (cmp_xdp_programs in libxdp.c). */
export interface OrderKey {
  priority: number;
  /** The function's name (libbpf's bpf_program__name, or the kernel's name expanded). */
  name: string;
  /** Already loaded into the kernel (a component of the current dispatcher, or a loaded object). */
  loaded: boolean;
  /** Instructions before load (unloaded programs only). */
  insnCount: number;
  /** The kernel's tag as hex (loaded programs; '' otherwise). */
  tag: string;
  /** Load time in ns since boot (loaded programs; 0n otherwise). */
  loadTimeNs: bigint;
  /** Our last resort: the kernel id (loaded), so that the order never depends on chance. */
  id: number;
}

/**
 * libxdp's run order: priority (lower first), then function name (strcmp), then loaded
 * before unloaded, then (two unloaded) fewer instructions first, then tag (memcmp), then
 * load time. libxdp stops there (qsort may then order two programs either way); we add the
 * program id, which only ever separates the same program loaded twice in one nanosecond.
 */
export function compareComponents(a: OrderKey, b: OrderKey): number {
  if (a.priority !== b.priority) return a.priority < b.priority ? -1 : 1;
  const byName = Buffer.compare(Buffer.from(a.name), Buffer.from(b.name));
  if (byName !== 0) return byName;
  if (a.loaded !== b.loaded) return a.loaded ? -1 : 1;
  if (!a.loaded && !b.loaded && a.insnCount !== b.insnCount) return a.insnCount < b.insnCount ? -1 : 1;
  const byTag = Buffer.compare(Buffer.from(a.tag, 'hex'), Buffer.from(b.tag, 'hex'));
  if (byTag !== 0) return byTag;
  if (a.loadTimeNs !== b.loadTimeNs) return a.loadTimeNs < b.loadTimeNs ? -1 : 1;
  return a.id - b.id;
}

// ---- bpffs layout ----

/** `<bpffs>/xdp/dispatch-<ifindex>-<dispatcher id>`: the pins of one dispatcher. */
export function dispatcherDirName(ifindex: number, dispatcherId: number): string {
  return `dispatch-${ifindex}-${dispatcherId}`;
}

export function parseDispatcherDirName(name: string): { ifindex: number; dispatcherId: number } | undefined {
  const m = /^dispatch-(\d+)-(\d+)$/.exec(name);
  return m ? { ifindex: Number(m[1]), dispatcherId: Number(m[2]) } : undefined;
}

export function slotPins(slot: number): { prog: string; link: string } {
  return { prog: `prog${slot}-prog`, link: `prog${slot}-link` };
}

/**
 * tsbpf's record of a change in progress, next to the dispatcher directories (named so that
 * libxdp, which only looks at `dispatch-*`, ignores it): the new dispatcher's pins are made
 * here and the directory is renamed to `dispatch-<ifindex>-<new>` once the new dispatcher is
 * on the hook. `newId` 0 is the removal of the whole dispatcher `oldId`. See recover.ts.
 */
export function txnDirName(ifindex: number, newId: number, oldId: number): string {
  return `tsbpf-txn-${ifindex}-${newId}-${oldId}`;
}

export function parseTxnDirName(name: string): { ifindex: number; newId: number; oldId: number } | undefined {
  const m = /^tsbpf-txn-(\d+)-(\d+)-(\d+)$/.exec(name);
  return m ? { ifindex: Number(m[1]), newId: Number(m[2]), oldId: Number(m[3]) } : undefined;
}
