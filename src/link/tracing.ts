// BPF trampoline links: fentry, fexit, fmod_ret and LSM programs on the kernel function their
// load-time BTF id names, and freplace (EXT) programs on a global function of another BPF
// program. Both make a `tracing` link.
//
// How: BPF_LINK_CREATE with the program's attach type (the only call that carries a cookie;
// 5.19+ for tracing programs, 5.10+ for freplace with a new target). A kernel that answers
// EINVAL without a cookie asked for is given BPF_RAW_TRACEPOINT_OPEN with a NULL name, the
// older call that makes the very same kind of link (5.5+): same link type, same lifetime, same
// info, so it is not a fallback between attachment kinds. The choice is remembered per process.
// With a cookie, EINVAL is never retried without it: a request is never weakened.
import { release } from 'node:os';
import { ERRNO } from '../errno-names.js';
import { BpfError, NotSupportedError, UsageError, errnoName } from '../errors.js';
import { LINK_CREATE_TRACING_ATTR, RAW_TRACEPOINT_OPEN_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { bpfAttr } from '../syscall/bpf.js';
import { Attr } from '../syscall/attr.js';

import { kernelAtLeast } from './features.js';
import { Link, progFd, type ProgramRef } from './link.js';
import { findProgramTarget } from './targets.js';

const { EPERM, ENOENT, EBUSY, EINVAL, E2BIG, EOPNOTSUPP, ESRCH } = ERRNO;
const ENOTSUPP = 524;

/** Attach types a trampoline link is made for, lowercase without `BPF_`. */
export type TraceAttachType = 'trace_fentry' | 'trace_fexit' | 'modify_return' | 'lsm_mac';
export const TRACE_ATTACH_TYPES: readonly TraceAttachType[] = ['trace_fentry', 'trace_fexit', 'modify_return', 'lsm_mac'];

const ATTACH_VALUE: Record<TraceAttachType, number> = {
  trace_fentry: bpf_attach_type.BPF_TRACE_FENTRY,
  trace_fexit: bpf_attach_type.BPF_TRACE_FEXIT,
  modify_return: bpf_attach_type.BPF_MODIFY_RETURN,
  lsm_mac: bpf_attach_type.BPF_LSM_MAC,
};

export interface TraceLinkOptions {
  /** A 64-bit value the program reads with `bpf_get_attach_cookie()` (Linux 5.19+). */
  cookie?: bigint | number;
}

export interface FreplaceTarget {
  /** The loaded program whose function is replaced (a BpfProgram, or its fd). */
  program: ProgramRef;
  /** The name of a global function in that program's BTF. */
  function: string;
}

/** EXT programs have no attach type (expected_attach_type 0); the kernel does not check it
 * for them, and libbpf, cilium/ebpf and aya all pass 0. */
const EXT_ATTACH_TYPE = 0;

/** Whether BPF_LINK_CREATE takes tracing programs here (undefined: not yet known). */
let linkCreateTakesTracing: boolean | undefined;

function cookieValue(c: bigint | number | undefined): bigint | undefined {
  if (c === undefined) return undefined;
  if (typeof c === 'number' ? !Number.isSafeInteger(c) || c < 0 : typeof c !== 'bigint' || c < 0n || c >= 1n << 64n)
    throw new UsageError(`a cookie is an unsigned 64-bit integer (number or bigint); got ${String(c)}`);
  return BigInt(c);
}

function rawTracepointOpen(fd: number): number {
  const attr = new Attr(RAW_TRACEPOINT_OPEN_ATTR).set('prog_fd', fd).set('name', 0);
  return bpfAttr(bpf_cmd.BPF_RAW_TRACEPOINT_OPEN, attr);
}

function linkCreate(fd: number, attachType: number, targetFd: number, targetBtfId: number, cookie: bigint | undefined): number {
  const attr = new Attr(LINK_CREATE_TRACING_ATTR)
    .set('prog_fd', fd)
    .set('target_fd', targetFd)
    .set('attach_type', attachType)
    .set('tracing.target_btf_id', targetBtfId);
  if (cookie !== undefined) attr.set('tracing.cookie', cookie);
  return bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
}

/** What a failed trampoline attach means. `what` names the program and its target. */
export function tracingAttachError(errno: number, command: string, what: string, freplace: boolean): Error {
  const say = (why: string): BpfError => new BpfError({ errno, command }, `${command} (${what}) failed: ${errnoName(errno)} — ${why}`);
  switch (errno) {
    case EPERM:
      return say('this kernel refuses BPF trampolines (fentry/fexit/fmod_ret/freplace/LSM attach), or the caller lacks CAP_BPF + CAP_PERFMON (or root)');
    case EBUSY:
      return say('the program is already attached to this target (one link per program and target); close the other link first');
    case ENOENT:
      return say('this kernel cannot attach a program twice: the program was attached before (load it again), or its target is gone');
    case E2BIG:
      return say('the target\'s trampoline is full (the kernel allows about 38 programs per function)');
    case ENOTSUPP:
    case EOPNOTSUPP:
      return say('this kernel cannot build a trampoline for this target (no BPF trampoline on this architecture/JIT, or the function cannot be traced)');
    case ESRCH:
      return say('the target function is not traceable (no ftrace entry: notrace, inlined, or in a module that is gone)');
    case EINVAL:
      return say(
        freplace
          ? 'the kernel refused this target: an freplace program without a new target can be attached only once (pass the target program and function), the target function must be global with the same BTF signature, and its program must be of a type freplace can extend'
          : 'the kernel refused the attach: the program must be an fentry/fexit/fmod_ret/LSM program loaded with a target (attach_btf_id), and fmod_ret only works on functions that allow error injection',
      );
    default:
      return new BpfError({ errno, command, context: what });
  }
}

/**
 * Attaches an fentry/fexit/fmod_ret or LSM program to the target it was loaded for (see the
 * module comment for the calls made). `attachType` is the program's expected attach type;
 * unknown (a program opened by id or fd) it is left to BPF_RAW_TRACEPOINT_OPEN, which needs none
 * and cannot carry a cookie.
 */
export function attachTracingLink(prog: ProgramRef, attachType: TraceAttachType | undefined, opts: TraceLinkOptions = {}, what = 'attach a tracing program'): Link {
  const fd = progFd(prog);
  if (attachType !== undefined && !TRACE_ATTACH_TYPES.includes(attachType))
    throw new UsageError(`${what}: attach type '${String(attachType)}' is not one of ${TRACE_ATTACH_TYPES.join(', ')}`);
  const cookie = cookieValue(opts.cookie);
  if (cookie !== undefined && attachType === undefined)
    throw new UsageError(`${what}: a cookie needs BPF_LINK_CREATE, which needs the program's attach type; this program does not know it (opened by id or fd?)`);
  if (attachType !== undefined && (linkCreateTakesTracing !== false || cookie !== undefined)) {
    const r = linkCreate(fd, ATTACH_VALUE[attachType], 0, 0, cookie);
    if (r >= 0) {
      linkCreateTakesTracing = true;
      return Link.adopt(r);
    }
    const errno = -r;
    if (errno !== EINVAL || linkCreateTakesTracing === true) throw tracingAttachError(errno, 'BPF_LINK_CREATE', what, false);
    if (cookie !== undefined) {
      // Never retried without the cookie. EINVAL is what a kernel without tracing cookies
      // answers; on one that has them it is the program's fault.
      if (!kernelAtLeast(release(), '5.19'))
        throw new NotSupportedError('attach cookies on fentry/fexit/fmod_ret/LSM links (BPF_LINK_CREATE with tracing.cookie)', '5.19', 'an attach without a cookie (a global variable set before load can tell programs apart)', errno);
      throw tracingAttachError(errno, 'BPF_LINK_CREATE', what, false);
    }
  }
  // No attach type known, or BPF_LINK_CREATE refused tracing programs here: the older call.
  const r = rawTracepointOpen(fd);
  if (r < 0) throw tracingAttachError(-r, 'BPF_RAW_TRACEPOINT_OPEN', what, false);
  if (attachType !== undefined && linkCreateTakesTracing === undefined) linkCreateTakesTracing = false;
  return Link.adopt(r);
}

/**
 * Attaches an freplace (EXT) program. Without a target: where it was loaded to go
 * (`attach_prog_fd` + `attach_btf_id` at load). With one: global function `target.function`
 * of `target.program` (BPF_LINK_CREATE with target_fd and target_btf_id, 5.10+); the
 * function's BTF signature must match the one the program was loaded against.
 */
export function attachFreplaceLink(prog: ProgramRef, target?: FreplaceTarget, what = 'attach an freplace program'): Link {
  const fd = progFd(prog);
  if (target === undefined) {
    const r = linkCreate(fd, EXT_ATTACH_TYPE, 0, 0, undefined);
    if (r >= 0) return Link.adopt(r);
    if (-r !== EINVAL) throw tracingAttachError(-r, 'BPF_LINK_CREATE', what, true);
    // Kernels before 5.10 take EXT programs only through the raw tracepoint call.
    const r2 = rawTracepointOpen(fd);
    if (r2 < 0) throw tracingAttachError(-r2, 'BPF_RAW_TRACEPOINT_OPEN', what, true);
    return Link.adopt(r2);
  }
  if (typeof target !== 'object' || target === null) throw new UsageError(`${what}: the target is { program, function }`);
  const targetFd = progFd(target.program, 'the target program');
  const t = findProgramTarget(targetFd, target.function, what);
  if (t.linkage !== 'global')
    throw new UsageError(`${what}: function '${target.function}' of program ${t.progId} is ${t.linkage}; freplace can only replace global functions (not static, not __hidden)`);
  const where = `${what} on ${target.function}() of program ${t.progId}`;
  const r = linkCreate(fd, EXT_ATTACH_TYPE, targetFd, t.btfId, undefined);
  if (r >= 0) return Link.adopt(r);
  const errno = -r;
  if (errno === EINVAL && !kernelAtLeast(release(), '5.10'))
    throw new NotSupportedError('freplace links to a new target (BPF_LINK_CREATE with target_fd/target_btf_id)', '5.10', 'the target given at load (attachTarget), attached with attachFreplace() and no arguments', errno);
  throw tracingAttachError(errno, 'BPF_LINK_CREATE', where, true);
}
