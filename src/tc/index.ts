// Legacy tc: a clsact qdisc as the hook, cls_bpf filters in direct-action mode on it, all over
// rtnetlink. The semantics (src/tc/README.md has the why): attaching never replaces unless
// asked; filters are identified by (handle, priority); destroying a hook flushes a whole
// direction, so a hook we did not create is destroyed only with { force: true }.
import { UsageError } from '../errors.js';
import { bpf_prog_type } from '../syscall/index.js';
import { eth_p, nlm_f, rtm, sock, tc_cls, tc_h, tca, tca_bpf, TCMSG, tcHandle } from '../netlink/abi.js';
import { NetlinkRequestError } from '../netlink/errors.js';
import { getLink, resolveIfindex } from '../netlink/link.js';
import type { Message } from '../netlink/message.js';
import { payloadAttrs } from '../netlink/message.js';
import {
  describeProgram,
  programFd,
  programIdentity,
  programNameById,
  type ProgramRef,
  requireProgramType,
} from '../netlink/programs.js';
import { type NetlinkSocket, newDump, newRequest, withSocket } from '../netlink/socket.js';
import { ERRNO } from '../errno-names.js';

const { EEXIST, ENOENT, EINVAL } = ERRNO;

export type { ProgramRef } from '../netlink/programs.js';

export type TcAttachPoint = 'ingress' | 'egress' | 'custom';

export interface TcHookOptions {
  /** Interface index or name. */
  ifindex: number | string;
  attachPoint: TcAttachPoint;
  /** For `custom`: the parent (major:minor as a u32) of a qdisc or class you manage. */
  parent?: number;
}

export interface TcHook {
  readonly ifindex: number;
  readonly attachPoint: TcAttachPoint;
  /** The filter parent: ffff:fff2 (ingress), ffff:fff3 (egress), or the custom one. */
  readonly parent: number;
  /** True if the clsact qdisc was already there (or the hook is custom): not ours to destroy. */
  readonly existed: boolean;
}

export type TcProtocol = number | 'all' | 'ip' | 'ipv6' | 'arp';

export interface TcAttachOptions {
  prog: ProgramRef;
  /** Filter handle (u32). Default: the kernel picks one, returned by attach(). */
  handle?: number;
  /** Filter priority, 1..65535 (lower runs first). Default: the kernel picks, returned. */
  priority?: number;
  /** Ethernet protocol the filter sees. Default: all; with `replace`, the replaced filter's
   * (the kernel refuses a replace whose protocol differs, so it is read and carried over). */
  protocol?: TcProtocol;
  /** Swap the program of the filter at (handle, priority); both must be given. */
  replace?: boolean;
  /** The filter's name (TCA_BPF_NAME) as `tc filter show` prints it. Default: the program's. */
  name?: string;
}

export interface TcFilterId {
  handle: number;
  priority: number;
}

export interface TcAttachment extends TcFilterId {
  progId: number;
}

export interface TcFilter extends TcFilterId {
  /** Classifier kind; 'bpf' for every filter list() returns. */
  kind: string;
  /** Ethernet protocol, host byte order (3 = ETH_P_ALL). */
  protocol: number;
  /** 0 for a classic-BPF (bytecode) filter. */
  progId: number;
  /** The program's own name (from the kernel), '' if unknown. */
  name: string;
  /** The filter's TCA_BPF_NAME (what `tc filter show` prints). */
  filterName: string;
  directAction: boolean;
  /** Program tag as hex, when the kernel reports it. */
  tag?: string;
}


const PROTOCOLS: Record<string, number> = {
  all: eth_p.ETH_P_ALL,
  ip: eth_p.ETH_P_IP,
  ipv6: eth_p.ETH_P_IPV6,
  arp: eth_p.ETH_P_ARP,
};

const CLSACT_HANDLE = tcHandle(tc_h.TC_H_CLSACT, 0);
const INGRESS_PARENT = tcHandle(tc_h.TC_H_CLSACT, tc_h.TC_H_MIN_INGRESS);
const EGRESS_PARENT = tcHandle(tc_h.TC_H_CLSACT, tc_h.TC_H_MIN_EGRESS);

const htons = (v: number): number => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

function protocolNumber(p: TcProtocol | undefined): number {
  if (p === undefined) return eth_p.ETH_P_ALL;
  const n = typeof p === 'string' ? PROTOCOLS[p] : p;
  if (n === undefined || !Number.isInteger(n) || n < 0 || n > 0xffff)
    throw new UsageError(`tc protocol must be 'all', 'ip', 'ipv6', 'arp' or an ETH_P_* number, got ${String(p)}`);
  return n;
}

function protocolName(n: number): string {
  const name = Object.entries(PROTOCOLS).find(([, v]) => v === n)?.[0];
  return name ? `'${name}'` : `0x${n.toString(16).padStart(4, '0')}`;
}

/** The filter a replace will swap, or undefined if there is none (the replace creates it). */
function existingFilter(s: NetlinkSocket, hook: TcHook, id: TcFilterId, context: () => string): TcFilter | undefined {
  try {
    return getFilter(s, hook, id, context);
  } catch (e) {
    if (e instanceof NetlinkRequestError && (e.errno === ENOENT || e.errno === EINVAL)) return undefined;
    throw e;
  }
}

function checkFilterId(id: Partial<TcFilterId>, what: string, required: boolean): void {
  const { handle, priority } = id;
  if (handle !== undefined && (!Number.isInteger(handle) || handle < 0 || handle > 0xffffffff))
    throw new UsageError(`${what}: handle must be a u32, got ${String(handle)}`);
  if (priority !== undefined && (!Number.isInteger(priority) || priority < 0 || priority > 0xffff))
    throw new UsageError(`${what}: priority must be 1..65535, got ${String(priority)}`);
  if (required && (!handle || !priority))
    throw new UsageError(
      `${what} needs a non-zero handle and priority (0 would match every filter of the hook); use the values attach() returned or list() shows`,
    );
}

function hookLabel(s: NetlinkSocket, hook: TcHook): string {
  let name = `ifindex ${hook.ifindex}`;
  try {
    name = `${getLink(s, hook.ifindex).name} (ifindex ${hook.ifindex})`;
  } catch {
    /* keep the index */
  }
  return hook.attachPoint === 'custom' ? `${name} parent ${formatHandle(hook.parent)}` : `${name} ${hook.attachPoint}`;
}

/** A tc handle as `tc` prints it: `ffff:fff2`. */
export function formatHandle(h: number): string {
  return `${(h >>> 16).toString(16)}:${(h & 0xffff).toString(16)}`;
}

function checkHook(hook: TcHook): void {
  if (!hook || typeof hook !== 'object' || !Number.isInteger(hook.ifindex) || !Number.isInteger(hook.parent))
    throw new UsageError('expected a hook from tc.hookCreate()');
}

// ---- qdisc (the hook) ----

function qdiscKindAt(s: NetlinkSocket, ifindex: number, parent: number): string | undefined {
  const req = newDump(rtm.RTM_GETQDISC).header(TCMSG, { tcm_family: sock.AF_UNSPEC, tcm_ifindex: ifindex });
  for (const m of s.dump(req, { context: 'list qdiscs', ifindex })) {
    if (m.type !== rtm.RTM_NEWQDISC) continue;
    if (m.payload.readInt32LE(TCMSG.members.tcm_ifindex.offset) !== ifindex) continue;
    if (m.payload.readUInt32LE(TCMSG.members.tcm_parent.offset) !== parent) continue;
    return payloadAttrs(m.payload, TCMSG.size).string(tca.TCA_KIND);
  }
  return undefined;
}

/**
 * Makes sure a clsact qdisc exists on the interface (creating it if needed) and returns the
 * hook for one direction. A clsact that was already there is fine: `existed` says so.
 */
export function hookCreate(opts: TcHookOptions): TcHook {
  const { attachPoint } = opts;
  if (attachPoint !== 'ingress' && attachPoint !== 'egress' && attachPoint !== 'custom')
    throw new UsageError(`tc attachPoint must be 'ingress', 'egress' or 'custom', got ${JSON.stringify(attachPoint)}`);
  return withSocket((s) => {
    const ifindex = resolveIfindex(s, opts.ifindex);
    if (attachPoint === 'custom') {
      if (opts.parent === undefined || !Number.isInteger(opts.parent) || opts.parent <= 0 || opts.parent > 0xffffffff)
        throw new UsageError('a custom tc hook needs `parent` (the major:minor of your qdisc or class, as a u32)');
      return { ifindex, attachPoint, parent: opts.parent >>> 0, existed: true };
    }
    if (opts.parent !== undefined) throw new UsageError('`parent` is only for attachPoint: custom');
    const parent = attachPoint === 'ingress' ? INGRESS_PARENT : EGRESS_PARENT;
    const req = newRequest(rtm.RTM_NEWQDISC, nlm_f.NLM_F_CREATE | nlm_f.NLM_F_EXCL)
      .header(TCMSG, {
        tcm_family: sock.AF_UNSPEC,
        tcm_ifindex: ifindex,
        tcm_handle: CLSACT_HANDLE,
        tcm_parent: tc_h.TC_H_CLSACT,
      })
      .string(tca.TCA_KIND, 'clsact');
    let existed = false;
    try {
      s.request(req, { context: () => `tc.hookCreate clsact on ${hookLabel(s, { ifindex, attachPoint, parent, existed })}`, ifindex });
    } catch (e) {
      if (!(e instanceof NetlinkRequestError) || e.errno !== EEXIST) throw e;
      const kind = qdiscKindAt(s, ifindex, tc_h.TC_H_CLSACT);
      if (kind !== 'clsact' && !(kind === 'ingress' && attachPoint === 'ingress'))
        throw e.explain(
          `the interface has a '${kind ?? 'unknown'}' qdisc at ffff:, which has no ${attachPoint} hook; only clsact has both directions`,
        );
      existed = true;
    }
    return { ifindex, attachPoint, parent, existed };
  });
}

/**
 * Removes every filter of the hook's direction. Because that includes other applications'
 * filters, a hook that existed before hookCreate() needs `{ force: true }`. If we created the
 * clsact qdisc and both directions are then empty, the qdisc goes too. Destroying a hook
 * whose qdisc is already gone does nothing.
 */
export function hookDestroy(hook: TcHook, opts: { force?: boolean } = {}): void {
  checkHook(hook);
  if (hook.attachPoint === 'custom')
    throw new UsageError('a custom tc hook belongs to your own qdisc: remove its filters with tc.detach, the qdisc yourself');
  if (hook.existed && !opts.force)
    throw new UsageError(
      `tc.hookDestroy: the clsact qdisc on ifindex ${hook.ifindex} was there before this hook; destroying the hook deletes every ${hook.attachPoint} filter on the interface, including other applications'. Detach your own filters with tc.detach, or pass { force: true } if flushing all of them is what you mean`,
    );
  withSocket((s) => {
    const flush = newRequest(rtm.RTM_DELTFILTER).header(TCMSG, {
      tcm_family: sock.AF_UNSPEC,
      tcm_ifindex: hook.ifindex,
      tcm_parent: hook.parent,
    });
    try {
      s.request(flush, { context: () => `tc.hookDestroy flush ${hookLabel(s, hook)}`, ifindex: hook.ifindex });
    } catch (e) {
      // The qdisc is already gone (destroyed twice, or removed by someone): nothing to flush.
      if (e instanceof NetlinkRequestError && (e.errno === EINVAL || e.errno === ENOENT))
        if (qdiscKindAt(s, hook.ifindex, tc_h.TC_H_CLSACT) === undefined) return;
      throw e;
    }
    if (hook.existed) return;
    if (listWith(s, hook.ifindex, INGRESS_PARENT, false).length || listWith(s, hook.ifindex, EGRESS_PARENT, false).length)
      return;
    const del = newRequest(rtm.RTM_DELQDISC).header(TCMSG, {
      tcm_family: sock.AF_UNSPEC,
      tcm_ifindex: hook.ifindex,
      tcm_handle: CLSACT_HANDLE,
      tcm_parent: tc_h.TC_H_CLSACT,
    });
    try {
      s.request(del, { context: () => `tc.hookDestroy delete clsact on ${hookLabel(s, hook)}`, ifindex: hook.ifindex });
    } catch (e) {
      // Someone removed it already: the goal is reached.
      if (!(e instanceof NetlinkRequestError && (e.errno === ENOENT || e.errno === EINVAL))) throw e;
    }
  });
}

// ---- filters ----

function parseFilter(m: Message): TcFilter & { parent: number } {
  const p = m.payload;
  const info = p.readUInt32LE(TCMSG.members.tcm_info.offset);
  const a = payloadAttrs(p, TCMSG.size);
  const o = a.nested(tca.TCA_OPTIONS);
  const progId = o?.u32(tca_bpf.TCA_BPF_ID) ?? 0;
  const tag = o?.raw(tca_bpf.TCA_BPF_TAG);
  return {
    handle: p.readUInt32LE(TCMSG.members.tcm_handle.offset),
    priority: info >>> 16,
    protocol: htons(info & 0xffff),
    parent: p.readUInt32LE(TCMSG.members.tcm_parent.offset),
    kind: a.string(tca.TCA_KIND) ?? '',
    progId,
    name: '',
    filterName: o?.string(tca_bpf.TCA_BPF_NAME) ?? '',
    directAction: ((o?.u32(tca_bpf.TCA_BPF_FLAGS) ?? 0) & tc_cls.TCA_BPF_FLAG_ACT_DIRECT) !== 0,
    ...(tag ? { tag: tag.toString('hex') } : {}),
  };
}

function withName(f: TcFilter & { parent?: number }): TcFilter {
  const { parent: _parent, ...rest } = f;
  return { ...rest, name: programNameById(f.progId) ?? '' };
}

function listWith(s: NetlinkSocket, ifindex: number, parent: number, names = true): TcFilter[] {
  const req = newDump(rtm.RTM_GETTFILTER).header(TCMSG, {
    tcm_family: sock.AF_UNSPEC,
    tcm_ifindex: ifindex,
    tcm_parent: parent,
  });
  return s
    .dump(req, { context: `tc.list ifindex ${ifindex} parent ${formatHandle(parent)}`, ifindex })
    .filter((m) => m.type === rtm.RTM_NEWTFILTER)
    .map(parseFilter)
    .filter((f) => f.handle !== 0 && f.kind === 'bpf' && f.parent === parent) // handle 0: the per-priority header
    .map((f) => (names ? withName(f) : f))
    .sort((a, b) => a.priority - b.priority || a.handle - b.handle);
}

function getFilter(s: NetlinkSocket, hook: TcHook, id: TcFilterId, context: () => string): TcFilter {
  const req = newRequest(rtm.RTM_GETTFILTER).header(TCMSG, {
    tcm_family: sock.AF_UNSPEC,
    tcm_ifindex: hook.ifindex,
    tcm_parent: hook.parent,
    tcm_handle: id.handle,
    tcm_info: tcHandle(id.priority << 16, 0),
  });
  try {
    const m = s.request(req, { context, ifindex: hook.ifindex }).find((r) => r.type === rtm.RTM_NEWTFILTER);
    if (!m) throw new NetlinkRequestError({ errno: ENOENT, command: 'RTM_GETTFILTER', context: context() }, 'the kernel sent no filter');
    return withName(parseFilter(m));
  } catch (e) {
    throw notFound(e, s, hook, id);
  }
}

/** The kernel's words for "no such filter" vary; say it plainly and keep its errno and sentence. */
function notFound(e: unknown, s: NetlinkSocket, hook: TcHook, id: TcFilterId): unknown {
  if (!(e instanceof NetlinkRequestError)) return e;
  const what = `no filter with handle ${id.handle} and priority ${id.priority} on ${hookLabel(s, hook)}`;
  if (e.errno === ENOENT) return e.explain(what);
  if (e.errno === EINVAL && /chain/i.test(e.extack ?? ''))
    return e.explain(`${what} (the hook has no filters at all${hook.attachPoint === 'custom' ? '' : ', or no clsact qdisc'})`);
  return e;
}

/** Attaches a SCHED_CLS program as a direct-action cls_bpf filter. */
export function attach(hook: TcHook, opts: TcAttachOptions): TcAttachment {
  checkHook(hook);
  if (!opts || typeof opts !== 'object') throw new UsageError('tc.attach(hook, { prog, ... })');
  checkFilterId(opts, 'tc.attach', !!opts.replace);
  const fd = programFd(opts.prog);
  const given = opts.protocol === undefined ? undefined : protocolNumber(opts.protocol);
  const self = programIdentity(fd);
  requireProgramType(self, bpf_prog_type.BPF_PROG_TYPE_SCHED_CLS, 'tc.attach');
  const handle = opts.handle ?? 0;
  const priority = opts.priority ?? 0;
  return withSocket((s) => {
    const context = (): string => `tc.attach ${describeProgram(self.id, self.name)} to ${hookLabel(s, hook)}`;
    // A replace keeps the filter's protocol unless told otherwise: read it first.
    const current = opts.replace ? existingFilter(s, hook, { handle, priority }, context) : undefined;
    const protocol = given ?? current?.protocol ?? eth_p.ETH_P_ALL;
    const req = newRequest(
      rtm.RTM_NEWTFILTER,
      nlm_f.NLM_F_CREATE | nlm_f.NLM_F_ECHO | (opts.replace ? nlm_f.NLM_F_REPLACE : nlm_f.NLM_F_EXCL),
    )
      .header(TCMSG, {
        tcm_family: sock.AF_UNSPEC,
        tcm_ifindex: hook.ifindex,
        tcm_parent: hook.parent,
        tcm_handle: handle,
        tcm_info: tcHandle(priority << 16, htons(protocol)),
      })
      .string(tca.TCA_KIND, 'bpf')
      .begin(tca.TCA_OPTIONS)
      .u32(tca_bpf.TCA_BPF_FD, fd)
      .string(tca_bpf.TCA_BPF_NAME, opts.name ?? (self.name || 'tsbpf'))
      .u32(tca_bpf.TCA_BPF_FLAGS, tc_cls.TCA_BPF_FLAG_ACT_DIRECT)
      .end();
    let replies: Message[];
    try {
      replies = s.request(req, { context, ifindex: hook.ifindex });
    } catch (e) {
      if (e instanceof NetlinkRequestError && e.errno === EEXIST && handle && priority) {
        let there = 'a filter';
        try {
          const f = getFilter(s, hook, { handle, priority }, context);
          there = f.progId ? `a ${f.kind} filter running ${describeProgram(f.progId, f.name)}` : `a ${f.kind} filter`;
        } catch {
          /* describe it vaguely */
        }
        throw e.explain(`handle ${handle} priority ${priority} already holds ${there}; pass replace: true to swap it, or choose another handle/priority`);
      }
      if (e instanceof NetlinkRequestError && e.errno === ENOENT && hook.attachPoint !== 'custom')
        throw e.explain('the clsact qdisc is gone; call tc.hookCreate() again');
      if (e instanceof NetlinkRequestError && e.errno === EINVAL && opts.replace && current && current.protocol !== protocol)
        throw e.explain(
          `the filter at handle ${handle} priority ${priority} matches protocol ${protocolName(current.protocol)}, and a replace cannot change it ` +
            `(asked for ${protocolName(protocol)}); omit protocol to keep it, or detach the filter and attach anew`,
        );
      throw e;
    }
    // NLM_F_ECHO: the kernel sends the new filter back, with the handle and priority it chose.
    const echo = replies.find((r) => r.type === rtm.RTM_NEWTFILTER);
    if (echo) {
      const f = parseFilter(echo);
      return { handle: f.handle, priority: f.priority, progId: f.progId || self.id };
    }
    if (handle && priority) return { handle, priority, progId: self.id };
    throw new NetlinkRequestError(
      { errno: ENOENT, command: 'RTM_NEWTFILTER', context: context() },
      'the filter was created but the kernel did not echo its handle and priority',
    );
  });
}

/** Removes the filter at (handle, priority). Missing: NetlinkError with errno ENOENT or EINVAL. */
export function detach(hook: TcHook, id: TcFilterId): void {
  checkHook(hook);
  checkFilterId(id, 'tc.detach', true);
  withSocket((s) => {
    const req = newRequest(rtm.RTM_DELTFILTER)
      .header(TCMSG, {
        tcm_family: sock.AF_UNSPEC,
        tcm_ifindex: hook.ifindex,
        tcm_parent: hook.parent,
        tcm_handle: id.handle,
        tcm_info: tcHandle(id.priority << 16, 0),
      })
      // Naming the kind keeps us from deleting someone's non-BPF filter at that priority.
      .string(tca.TCA_KIND, 'bpf');
    try {
      s.request(req, {
        context: () => `tc.detach handle ${id.handle} priority ${id.priority} from ${hookLabel(s, hook)}`,
        ifindex: hook.ifindex,
      });
    } catch (e) {
      throw notFound(e, s, hook, id);
    }
  });
}

/** The filter at (handle, priority), with its program. */
export function query(hook: TcHook, id: TcFilterId): TcFilter {
  checkHook(hook);
  checkFilterId(id, 'tc.query', true);
  return withSocket((s) =>
    getFilter(s, hook, id, () => `tc.query handle ${id.handle} priority ${id.priority} on ${hookLabel(s, hook)}`),
  );
}

/** Every BPF filter on the hook (ours and other tools'), by priority then handle. */
export function list(hook: TcHook): TcFilter[] {
  checkHook(hook);
  return withSocket((s) => listWith(s, hook.ifindex, hook.parent));
}
