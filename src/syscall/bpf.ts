// bpf(2) with errors: one call site for every command that is not on a hot path.
import { BpfError } from '../errors.js';
import { bpf_cmd, F_DUPFD_CLOEXEC, GET_ID_ATTR, INFO_ATTR, OBJ_ATTR, SYS } from './abi/bpf.js';
import { Attr } from './attr.js';
import { bpfRaw, rawSyscall, stableBuffer } from './libc.js';

const commandNames: string[] = [];
for (const [name, value] of Object.entries(bpf_cmd)) commandNames[value] ??= name;

export function commandName(cmd: number): string {
  return commandNames[cmd] ?? `bpf command ${cmd}`;
}

/** Runs a bpf command on an Attr: the result, or -errno (no throw). The Attr (and what it
 * points at) stays reachable until the kernel has returned. */
export function bpfAttr(cmd: number, attr: Attr<string>): number {
  return bpfRaw(cmd, attr.address, attr.size, attr);
}

/** Runs a bpf command and returns its result; throws BpfError naming the command on failure. */
export function bpfCall(cmd: number, attr: Attr<string>, context?: string): number {
  const r = bpfRaw(cmd, attr.address, attr.size, attr);
  if (r < 0) throw new BpfError({ errno: -r, command: commandName(cmd), ...(context ? { context } : {}) });
  return r;
}

/** Like bpfCall, but retries EAGAIN (the kernel asks for it on signals during long loads). */
export function bpfCallRetrying(cmd: number, attr: Attr<string>, context?: string, tries = 5): number {
  for (let i = 1; ; i++) {
    const r = bpfRaw(cmd, attr.address, attr.size, attr);
    if (r >= 0) return r;
    if (-r !== 11 || i >= tries) throw new BpfError({ errno: -r, command: commandName(cmd), ...(context ? { context } : {}) });
  }
}

/** A C string with a stable address, for pathnames and names handed to the kernel. */
export function cString(s: string): Buffer {
  const b = stableBuffer(Buffer.byteLength(s) + 1);
  b.write(s, 0);
  return b;
}

/** BPF_OBJ_PIN: pins any bpf fd (map, program, link, BTF) at a bpffs path. */
export function objPin(fd: number, path: string): void {
  const name = cString(path);
  const attr = new Attr(OBJ_ATTR).setPointer('pathname', name).set('bpf_fd', fd);
  try {
    bpfCall(bpf_cmd.BPF_OBJ_PIN, attr, `pin at ${path}`);
  } catch (e) {
    throw pinError(e, path);
  }
}

/** BPF_OBJ_GET: opens a pinned object, returning a new fd. */
export function objGet(path: string, fileFlags = 0): number {
  const name = cString(path);
  const attr = new Attr(OBJ_ATTR).setPointer('pathname', name).set('file_flags', fileFlags);
  try {
    return bpfCall(bpf_cmd.BPF_OBJ_GET, attr, `open pin ${path}`);
  } catch (e) {
    throw pinError(e, path);
  }
}

function pinError(e: unknown, path: string): unknown {
  if (!(e instanceof BpfError)) return e;
  const why: Record<string, string> = {
    ENOENT: `nothing is pinned at ${path} (or its directory does not exist)`,
    EEXIST: `${path} already exists; unpin it first or choose another path`,
    EPERM: `${path} is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf), or root/CAP_BPF is missing`,
    EINVAL: `${path} is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)`,
    ENOTDIR: `a component of ${path} is not a directory`,
  };
  const msg = why[e.code];
  return msg ? new BpfError({ errno: e.errno, command: e.command, cause: e }, `${e.command} failed: ${e.code} — ${msg}`) : e;
}

export type IdKind = 'prog' | 'map' | 'link' | 'btf';
const NEXT_ID = { prog: bpf_cmd.BPF_PROG_GET_NEXT_ID, map: bpf_cmd.BPF_MAP_GET_NEXT_ID, link: bpf_cmd.BPF_LINK_GET_NEXT_ID, btf: bpf_cmd.BPF_BTF_GET_NEXT_ID };
const FD_BY_ID = { prog: bpf_cmd.BPF_PROG_GET_FD_BY_ID, map: bpf_cmd.BPF_MAP_GET_FD_BY_ID, link: bpf_cmd.BPF_LINK_GET_FD_BY_ID, btf: bpf_cmd.BPF_BTF_GET_FD_BY_ID };

/** Every id of a kind of kernel object, system-wide, in ascending order. */
export function* objectIds(kind: IdKind): Generator<number> {
  const attr = new Attr(GET_ID_ATTR);
  let id = 0;
  for (;;) {
    attr.set('start_id', id).set('next_id', 0);
    const r = bpfRaw(NEXT_ID[kind], attr.address, attr.size, attr);
    if (r === -2) return; // ENOENT: no more
    if (r < 0) throw new BpfError({ errno: -r, command: commandName(NEXT_ID[kind]) });
    id = attr.get('next_id');
    yield id;
  }
}

/** Opens a kernel object by id (the id of an object someone else loaded). */
export function fdById(kind: IdKind, id: number): number {
  const attr = new Attr(GET_ID_ATTR).set('start_id', id);
  return bpfCall(FD_BY_ID[kind], attr, `${kind} id ${id}`);
}

/**
 * BPF_OBJ_GET_INFO_BY_FD into an info struct the caller prepared (an Attr of the info layout,
 * whose own pointer members — map ids, names, instructions — it keeps; or bare bytes); returns
 * info_len.
 */
export function objInfo(fd: number, info: Attr<string> | Buffer, context?: string): number {
  const bytes = info instanceof Attr ? info.bytes : info;
  const attr = new Attr(INFO_ATTR).set('bpf_fd', fd).set('info_len', bytes.length).setPointer('info', bytes).hold(info);
  bpfCall(bpf_cmd.BPF_OBJ_GET_INFO_BY_FD, attr, context);
  return attr.get('info_len');
}

/** A close-on-exec duplicate of any fd (so two owners can close independently); never fd 0. */
export function dupFd(fd: number, context?: string): number {
  const r = rawSyscall(SYS.fcntl, fd, F_DUPFD_CLOEXEC, 1);
  if (r < 0) throw new BpfError({ errno: -r, command: 'fcntl(F_DUPFD_CLOEXEC)', ...(context ? { context } : {}) });
  return r;
}
