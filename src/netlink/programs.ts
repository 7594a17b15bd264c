// Who is on a hook: program ids to names, and the bpf_links that hold XDP hooks. Used to turn
// "the hook is busy" into "program 42 "xdp_fw" is there, held by bpf_link 7".
import { PROG_TYPE_NAMES } from '../syscall/abi/names.js';
import { BpfError, UsageError } from '../errors.js';
import { checkFdKind } from '../syscall/kernel-object.js';
import {
  Attr,
  BPF_LINK_INFO,
  BPF_LINK_INFO_UNION,
  BPF_PROG_INFO,
  bpf_cmd,
  bpf_link_type,
  bpf_prog_type,
  bpfCall,
  closeFd,
  fdById,
  INFO_ATTR,
  objectIds,
  objInfo,
  stableBuffer,
} from '../syscall/index.js';

// Every attach call asks for a program's id and name; one info buffer and attr for all of
// them (calls are synchronous) keeps that at one syscall and no allocation.
const progInfo = stableBuffer(BPF_PROG_INFO.size);
const progInfoAttr = new Attr(INFO_ATTR).setPointer('info', progInfo);

/** A loaded program: anything with an `fd` (BpfProgram, a link's program...) or a raw fd. */
export type ProgramRef = { readonly fd: number } | number;

export function programFd(ref: ProgramRef, what = 'program'): number {
  const fd = typeof ref === 'number' ? ref : ref?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0)
    throw new UsageError(`${what} must be a loaded program or its file descriptor, got ${String(fd)}`);
  return fd;
}

export interface ProgramIdentity {
  id: number;
  name: string;
  /** bpf_prog_type number. */
  type: number;
}

/** Id, name and type of the program behind `fd` (UsageError if the fd is not a program). */
export function programIdentity(fd: number, context = `program fd ${fd}`): ProgramIdentity {
  // A map or link fd would answer OBJ_GET_INFO_BY_FD too, with another struct: check first.
  checkFdKind(fd, 'prog', `${context}: fd ${fd}`);
  return knownProgramIdentity(fd, context);
}

/** programIdentity for an fd known to be a program (one BPF_PROG_GET_FD_BY_ID returned). */
function knownProgramIdentity(fd: number, context: string): ProgramIdentity {
  const info = progInfo;
  info.fill(0);
  progInfoAttr.set('bpf_fd', fd).set('info_len', info.length);
  bpfCall(bpf_cmd.BPF_OBJ_GET_INFO_BY_FD, progInfoAttr, context);
  const nameAt = BPF_PROG_INFO.members.name.offset;
  const raw = info.subarray(nameAt, nameAt + BPF_PROG_INFO.members.name.size);
  const nul = raw.indexOf(0);
  return {
    id: info.readUInt32LE(BPF_PROG_INFO.members.id.offset),
    type: info.readUInt32LE(BPF_PROG_INFO.members.type.offset),
    name: raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8'),
  };
}


/** 'xdp', 'sched_cls'... for a bpf_prog_type number. */
export function programTypeName(type: number): string {
  return PROG_TYPE_NAMES.byValue.get(type) ?? `type ${type}`;
}

/** UsageError unless the program has the type a hook needs. */
export function requireProgramType(p: ProgramIdentity, type: number, hook: string): void {
  if (p.type !== type)
    throw new UsageError(
      `${hook}: ${describeProgram(p.id, p.name)} is a ${programTypeName(p.type)} program; ${hook} needs a ${programTypeName(type)} program`,
    );
}

/** Name of the program with this id, or undefined if it is gone (or we may not open it). */
export function programNameById(id: number): string | undefined {
  if (!id) return undefined;
  let fd = -1;
  try {
    fd = fdById('prog', id);
    return knownProgramIdentity(fd, `program id ${id}`).name;
  } catch (e) {
    if (e instanceof BpfError) return undefined;
    throw e;
  } finally {
    if (fd >= 0) closeFd(fd);
  }
}

export interface XdpLinkInfo {
  linkId: number;
  progId: number;
}

/** Every XDP bpf_link on this interface (there is at most one per mode). */
export function xdpLinksOn(ifindex: number): XdpLinkInfo[] {
  const out: XdpLinkInfo[] = [];
  const info = stableBuffer(BPF_LINK_INFO.size);
  for (const id of objectIds('link')) {
    let fd = -1;
    try {
      fd = fdById('link', id);
      info.fill(0);
      objInfo(fd, info);
    } catch (e) {
      if (e instanceof BpfError) continue; // gone in the meantime
      throw e;
    } finally {
      if (fd >= 0) closeFd(fd);
    }
    if (info.readUInt32LE(BPF_LINK_INFO.members.type.offset) !== bpf_link_type.BPF_LINK_TYPE_XDP) continue;
    if (info.readUInt32LE(BPF_LINK_INFO_UNION.xdp.members.ifindex.offset) !== ifindex) continue;
    out.push({ linkId: id, progId: info.readUInt32LE(BPF_LINK_INFO.members.prog_id.offset) });
  }
  return out;
}

/** `program 42 "xdp_fw"` (name omitted when unknown). */
export function describeProgram(id: number, name?: string): string {
  return `program ${id}${name ? ` "${name}"` : ''}`;
}
