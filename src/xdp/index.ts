// XDP attach, detach and query over rtnetlink (RTM_SETLINK / IFLA_XDP). The semantics, in
// short (src/xdp/README.md has the why): attach never replaces silently; `replace` is a
// compare-and-exchange; `force` is the one blind overwrite; errors name what is in the way.
import { UsageError } from '../errors.js';
import { bpf_prog_type } from '../syscall/index.js';
import { IFINFOMSG, ifla, ifla_xdp, rtm, sock, xdp_flags } from '../netlink/abi.js';
import { NetlinkRequestError } from '../netlink/errors.js';
import { getLink, resolveIfindex, type XdpMode, type XdpState } from '../netlink/link.js';
import {
  describeProgram,
  programFd,
  programIdentity,
  type ProgramRef,
  requireProgramType,
} from '../netlink/programs.js';
import { type NetlinkSocket, newRequest, withSocket, withSocketSteps } from '../netlink/socket.js';
import { runSteps, runStepsAsync, type Steps } from '../syscall/steps.js';
import { ERRNO } from '../errno-names.js';
import { XDP_MODES, describeHolders, holders, idInMode, modesInUse } from './occupant.js';

const { EBUSY, EEXIST, EOPNOTSUPP, EINVAL } = ERRNO;

export type { XdpMode, XdpState, XdpAttached } from '../netlink/link.js';
export type { ProgramRef } from '../netlink/programs.js';

export interface XdpAttachOptions {
  /**
   * `skb` (generic), `drv` (native) or `hw` (offload). Unset: the kernel picks native if the
   * driver supports it, else generic; the result says which it picked.
   */
  mode?: XdpMode;
  /** Swap only if this program is the one attached now (compare-and-exchange). */
  replace?: ProgramRef;
  /** Overwrite whatever netlink-attached program is there, unseen. The only blind replace. */
  force?: boolean;
}

export interface XdpDetachOptions {
  mode?: XdpMode;
  /** Detach only if this program is the one attached (compare-and-exchange). */
  expected?: ProgramRef;
}

export interface XdpAttachment {
  ifindex: number;
  mode: XdpMode;
  progId: number;
}

const MODE_FLAG: Record<XdpMode, number> = {
  skb: xdp_flags.XDP_FLAGS_SKB_MODE,
  drv: xdp_flags.XDP_FLAGS_DRV_MODE,
  hw: xdp_flags.XDP_FLAGS_HW_MODE,
};
const MODES = XDP_MODES;

function checkMode(mode: unknown): asserts mode is XdpMode | undefined {
  if (mode !== undefined && !MODES.includes(mode as XdpMode))
    throw new UsageError(`XDP mode must be 'skb', 'drv' or 'hw', got ${JSON.stringify(mode)}`);
}

function ifLabel(s: NetlinkSocket, ifindex: number): string {
  try {
    return `${getLink(s, ifindex).name} (ifindex ${ifindex})`;
  } catch {
    return `ifindex ${ifindex}`;
  }
}

function* setXdp(
  s: NetlinkSocket,
  ifindex: number,
  fd: number,
  flags: number,
  expectedFd: number | undefined,
  context: () => string,
): Steps<void> {
  const req = newRequest(rtm.RTM_SETLINK)
    .header(IFINFOMSG, { ifi_family: sock.AF_UNSPEC, ifi_index: ifindex })
    .begin(ifla.IFLA_XDP)
    .s32(ifla_xdp.IFLA_XDP_FD, fd)
    .u32(ifla_xdp.IFLA_XDP_FLAGS, flags);
  if (expectedFd !== undefined) req.s32(ifla_xdp.IFLA_XDP_EXPECTED_FD, expectedFd);
  req.end();
  // The step: the kernel swaps the program inside sendto(2), waiting for RCU (milliseconds).
  yield* s.requestSteps(req, { context, ifindex });
}

function queryWith(s: NetlinkSocket, ifindex: number): XdpState {
  return getLink(s, ifindex).xdp;
}

/** Who holds a hook, in words: `program 42 "fw" in drv mode, held by bpf_link 7`. */
function occupant(ifindex: number, state: XdpState, mode: XdpMode | undefined): string | undefined {
  return describeHolders(holders(ifindex, state, mode));
}

/** Rewrites a refused SETLINK into a message that says what is there and what to do. */
function explain(
  e: NetlinkRequestError,
  s: NetlinkSocket,
  ifindex: number,
  mode: XdpMode | undefined,
  expected?: { id: number; name: string },
  self?: { id: number; name: string },
): NetlinkRequestError {
  let state: XdpState | undefined;
  try {
    state = queryWith(s, ifindex);
  } catch {
    /* the interface may be gone; keep the kernel's words */
  }
  const who = state ? occupant(ifindex, state, mode) : undefined;
  const there = who ?? 'another program';
  const x = e.extack ?? '';
  if (e.errno === EBUSY && /link/i.test(x))
    return e.explain(
      `the hook holds ${there}; netlink cannot replace or remove a bpf_link's program: update or close that link instead`,
    );
  if (e.errno === EBUSY && self && state && modesInUse(state).some((m) => idInMode(state, m) === self.id))
    return e.explain(`${describeProgram(self.id, self.name)} is already attached there; nothing was changed`);
  if (e.errno === EBUSY)
    return e.explain(
      `the hook already holds ${there}; pass { replace: <that program> } to swap it safely, { force: true } to overwrite it, or detach it first`,
    );
  if (e.errno === EEXIST && /expected/i.test(x))
    return e.explain(
      `expected ${expected ? describeProgram(expected.id, expected.name) : 'another program'} but the hook holds ${who ?? 'no program'}; nothing was changed`,
    );
  if (e.errno === EEXIST && /generic/i.test(x)) {
    const other = state ? occupant(ifindex, state, undefined) : undefined;
    return e.explain(`${other ?? 'a program'} is attached in the other mode; detach it first or attach in the same mode`);
  }
  if (e.errno === EOPNOTSUPP && mode === 'drv')
    return e.explain("this driver has no native XDP support; use mode 'skb' (generic)");
  if (e.errno === EOPNOTSUPP && mode === 'hw') return e.explain('this device cannot offload XDP programs');
  if (e.errno === EINVAL && x === '' && expected)
    return e.explain('this kernel may not know IFLA_XDP_EXPECTED_FD (Linux 5.7+); nothing was changed');
  return e;
}

/**
 * Attaches an XDP program to an interface (index or name). Fails, naming the program in the
 * way, if the hook is taken; `replace` swaps only the expected program; `force` overwrites.
 */
export function attach(iface: number | string, prog: ProgramRef, opts: XdpAttachOptions = {}): XdpAttachment {
  return runSteps(attachSteps(iface, prog, opts));
}

/**
 * attach() with the kernel's part (the swap, which waits for an RCU grace period) off the main
 * thread: the same result and the same errors, as a rejection.
 */
export function attachAsync(iface: number | string, prog: ProgramRef, opts: XdpAttachOptions = {}): Promise<XdpAttachment> {
  return runStepsAsync(attachSteps(iface, prog, opts), [prog, opts.replace]);
}

function* attachSteps(iface: number | string, prog: ProgramRef, opts: XdpAttachOptions): Steps<XdpAttachment> {
  checkMode(opts.mode);
  const fd = programFd(prog);
  if (opts.replace !== undefined && opts.force)
    throw new UsageError('xdp.attach: `replace` (compare-and-exchange) and `force` (blind overwrite) exclude each other');
  const expectedFd = opts.replace !== undefined ? programFd(opts.replace, 'replace') : undefined;
  const self = programIdentity(fd, 'xdp.attach');
  requireProgramType(self, bpf_prog_type.BPF_PROG_TYPE_XDP, 'xdp.attach');
  const expected = expectedFd !== undefined ? programIdentity(expectedFd, 'replace') : undefined;
  // Only an XDP program can be the one attached: say so rather than let the kernel's EINVAL
  // read like a missing feature.
  if (expected) requireProgramType(expected, bpf_prog_type.BPF_PROG_TYPE_XDP, 'xdp.attach { replace }');
  return yield* withSocketSteps(function* (s) {
    const ifindex = resolveIfindex(s, iface);
    let flags = opts.mode ? MODE_FLAG[opts.mode] : 0;
    if (expectedFd !== undefined) flags |= xdp_flags.XDP_FLAGS_REPLACE;
    else if (!opts.force) flags |= xdp_flags.XDP_FLAGS_UPDATE_IF_NOEXIST;
    const context = (): string => `xdp.attach ${describeProgram(self.id, self.name)} to ${ifLabel(s, ifindex)}`;
    try {
      yield* setXdp(s, ifindex, fd, flags, expectedFd, context);
    } catch (e) {
      if (e instanceof NetlinkRequestError) throw explain(e, s, ifindex, opts.mode, expected, self);
      throw e;
    }
    // The kernel picked the mode: ask which (the program may appear in one mode only).
    let mode = opts.mode;
    if (!mode) {
      const state = queryWith(s, ifindex);
      mode = MODES.find((m) => idInMode(state, m) === self.id) ?? 'drv';
    }
    return { ifindex, mode, progId: self.id };
  });
}

/**
 * Detaches the XDP program of an interface. Without `mode`, detaches the one mode in use (and
 * does nothing if none is). With `expected`, detaches only if that program is the one there.
 */
export function detach(iface: number | string, opts: XdpDetachOptions = {}): void {
  runSteps(detachSteps(iface, opts));
}

/** detach() with the kernel's part off the main thread; the same errors, as a rejection. */
export function detachAsync(iface: number | string, opts: XdpDetachOptions = {}): Promise<void> {
  return runStepsAsync(detachSteps(iface, opts), [opts.expected]);
}

function* detachSteps(iface: number | string, opts: XdpDetachOptions): Steps<void> {
  checkMode(opts.mode);
  const expectedFd = opts.expected !== undefined ? programFd(opts.expected, 'expected') : undefined;
  const expected = expectedFd !== undefined ? programIdentity(expectedFd, 'expected') : undefined;
  if (expected) requireProgramType(expected, bpf_prog_type.BPF_PROG_TYPE_XDP, 'xdp.detach { expected }');
  yield* withSocketSteps(function* (s) {
    const ifindex = resolveIfindex(s, iface);
    let mode = opts.mode;
    if (!mode) {
      const state = queryWith(s, ifindex);
      const inUse = modesInUse(state);
      if (inUse.length > 1)
        throw new UsageError(
          `xdp.detach: ${ifLabel(s, ifindex)} has programs in ${inUse.join(' and ')} mode; say which with { mode }`,
        );
      // The kernel's default mode is native when the driver has it, so detaching a generic
      // program with flags 0 would silently do nothing: name the mode that is in use.
      mode = inUse[0];
      if (!mode) {
        if (!expected) return;
        mode = 'drv'; // let the kernel report the mismatch
      }
    }
    let flags = MODE_FLAG[mode];
    if (expectedFd !== undefined) flags |= xdp_flags.XDP_FLAGS_REPLACE;
    const context = (): string => `xdp.detach ${mode} mode from ${ifLabel(s, ifindex)}`;
    try {
      yield* setXdp(s, ifindex, -1, flags, expectedFd, context);
    } catch (e) {
      if (e instanceof NetlinkRequestError) throw explain(e, s, ifindex, mode, expected);
      throw e;
    }
  });
}

/** What is attached at each XDP mode of an interface. */
export function query(iface: number | string): XdpState {
  return withSocket((s) => queryWith(s, resolveIfindex(s, iface)));
}

/** Several programs on one hook: libxdp's dispatcher protocol (src/xdp/multi/README.md). */
export * as multi from './multi/index.js';
