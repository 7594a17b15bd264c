// Where a BTF-targeted program attaches, found as libbpf finds it: a kernel function (or LSM
// hook, iterator, BTF tracepoint) by name in vmlinux BTF, then in every kernel module's split
// BTF (/sys/kernel/btf/<module>); or a global function of a loaded BPF program by name in
// that program's own BTF (freplace, and fentry/fexit on BPF programs).
//
// Name lookups read BTF files only, so a typo is a UsageError before any bpf(2) call; the fd
// of a module's BTF object (`attach_btf_obj_fd`) is opened only when the program is loaded.
import { readdirSync } from 'node:fs';
import { Btf, loadKernelBtf, loadKernelModuleBtf } from '../btf/index.js';
import { BpfError, BtfError, UsageError } from '../errors.js';
import { btfInfoByFd, btfObjectById } from '../object/btf-handle.js';
import { fdById, objectIds } from '../syscall/bpf.js';
import { closeOnError } from '../syscall/kernel-object.js';
import { closeFd } from '../syscall/libc.js';
import { programInfoByFd } from '../programs/info.js';

/** What the kernel's BTF calls a target, per expected attach type (libbpf's prefixes). */
export type TargetKind = 'func' | 'typedef';

export interface KernelTarget {
  /** The target's BTF type id (in the module's split id space for module targets). */
  btfId: number;
  /** The BTF name found (e.g. `bpf_lsm_file_mprotect`). */
  btfName: string;
  /** Set when the target is in a kernel module's BTF rather than vmlinux. */
  module?: string;
}

/**
 * The names a target goes by in kernel BTF, for a program's expected attach type:
 * `tp_btf/x` is the typedef `btf_trace_x`, `lsm/x` the function `bpf_lsm_x`, `iter/x` the
 * function `bpf_iter_x`, fentry/fexit/fmod_ret the function itself.
 */
export function kernelTargetCandidates(attachType: string | undefined, target: string): [string, TargetKind][] {
  switch (attachType) {
    case 'trace_raw_tp':
      return [[`btf_trace_${target}`, 'typedef']];
    case 'lsm_mac':
    case 'lsm_cgroup':
      return [[`bpf_lsm_${target}`, 'func']];
    case 'trace_iter':
      return [[`bpf_iter_${target}`, 'func']];
    default:
      return [[target, 'func']];
  }
}

/** Modules that publish BTF (`/sys/kernel/btf/*` except vmlinux), sorted. */
export function kernelModulesWithBtf(dir = '/sys/kernel/btf'): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n !== 'vmlinux')
      .sort();
  } catch {
    return [];
  }
}

function findIn(btf: Btf, candidates: [string, TargetKind][], ownOnly: boolean): [number, string] | undefined {
  for (const [name, kind] of candidates) {
    for (const id of btf.typesByName(name, kind)) if (!ownOnly || id >= btf.firstTypeId) return [id, name];
  }
  return undefined;
}

/**
 * Finds a kernel attach target: vmlinux first, then each module with BTF, as libbpf does.
 * `module:name` (libbpf's syntax) searches only that module ('vmlinux:name' only vmlinux).
 * A module whose BTF fails to parse is skipped: it must not break unrelated loads.
 * Returns undefined when nothing has the name.
 */
export function findKernelTarget(attachType: string | undefined, target: string, vmlinux: Btf = loadKernelBtf()): KernelTarget | undefined {
  let onlyModule: string | undefined;
  let name = target;
  const colon = target.indexOf(':');
  if (colon > 0) {
    onlyModule = target.slice(0, colon);
    name = target.slice(colon + 1);
  }
  const candidates = kernelTargetCandidates(attachType, name);
  if (onlyModule === undefined || onlyModule === 'vmlinux') {
    const hit = findIn(vmlinux, candidates, false);
    if (hit) return { btfId: hit[0], btfName: hit[1] };
    if (onlyModule === 'vmlinux') return undefined;
  }
  for (const module of kernelModulesWithBtf()) {
    if (onlyModule !== undefined && module !== onlyModule) continue;
    let btf: Btf;
    try {
      btf = loadKernelModuleBtf(module);
    } catch (e) {
      if (e instanceof BtfError) continue;
      throw e;
    }
    const hit = findIn(btf, candidates, true);
    if (hit) return { btfId: hit[0], btfName: hit[1], module };
  }
  return undefined;
}

/** A UsageError naming what was looked for and where. */
export function kernelTargetMissing(what: string, attachType: string | undefined, target: string): UsageError {
  const colon = target.indexOf(':');
  const name = colon > 0 ? target.slice(colon + 1) : target;
  const where = colon > 0 ? `${target.slice(0, colon) === 'vmlinux' ? 'vmlinux' : `module ${target.slice(0, colon)}`}'s BTF` : 'the kernel BTF (vmlinux and every module in /sys/kernel/btf)';
  const names = kernelTargetCandidates(attachType, name).map(([n, k]) => `${k} '${n}'`).join(' or ');
  return new UsageError(`${what}: ${where} has no ${names} to attach to (a typo, a function the compiler inlined, or a module that is not loaded)`);
}

/** Opens the kernel BTF object of a module (for `attach_btf_obj_fd`). The caller closes it. */
export function moduleBtfFd(module: string): number {
  for (const id of objectIds('btf')) {
    let fd: number;
    try {
      fd = fdById('btf', id);
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') continue; // unloaded meanwhile
      throw e;
    }
    const info = closeOnError(fd, btfInfoByFd);
    if (info.kernel && info.name === module) return fd;
    closeFd(fd);
  }
  throw new UsageError(`kernel module ${module} has no BTF object loaded (was it unloaded?)`);
}

/** A BTF object the kernel holds (e.g. a loaded program's `btfId`), parsed. */
export function btfById(id: number, what = `BTF id ${id}`): Btf {
  return btfObjectById(id, what);
}

export interface ProgramTarget {
  /** The FUNC's id in the target program's BTF (what `attach_btf_id` must be). */
  btfId: number;
  /** The target program's id, for messages. */
  progId: number;
  /** The function's linkage: freplace can only replace global functions. */
  linkage: string;
}

/**
 * The BTF id of global function `func` in loaded program `progFd`'s BTF: what libbpf's
 * `bpf_program__set_attach_target(prog, fd, func)` resolves (BPF_OBJ_GET_INFO_BY_FD → btf_id →
 * BPF_BTF_GET_FD_BY_ID → the BTF's bytes → FUNC by name). Only reads the kernel.
 */
export function findProgramTarget(progFd: number, func: string, what: string): ProgramTarget {
  if (typeof func !== 'string' || func === '') throw new UsageError(`${what}: the target function must be a non-empty string`);
  const info = programInfoByFd(progFd);
  if (info.btfId === 0)
    throw new UsageError(`${what}: the target program (id ${info.id}, ${info.name || 'unnamed'}) was loaded without BTF, so its functions cannot be named; load it from an object built with -g`);
  const btf = btfById(info.btfId, `BTF of program ${info.id}`);
  const ids = btf.typesByName(func, 'func');
  if (ids.length === 0) {
    const funcs: string[] = [];
    for (const [, t] of btf.entries()) if (t.kind === 'func' && t.linkage === 'global') funcs.push(t.name);
    throw new UsageError(
      `${what}: the target program (id ${info.id}, ${info.name || 'unnamed'}) has no function '${func}'; its global functions: ${funcs.join(', ') || 'none'}`,
    );
  }
  const t = btf.type(ids[0]!);
  return { btfId: ids[0]!, progId: info.id, linkage: t.kind === 'func' ? t.linkage : 'global' };
}
