// The one shape every bpf object has — maps, programs, links, BTF objects: an owned fd
// (FdOwner: close() idempotent, [Symbol.dispose], use after close a ClosedError), opened the
// same three ways (fromFd duplicates the caller's fd, fromPin and fromId open new ones, each
// checked to be the right kind), pinned and unpinned the same way, and info() with its id.
// The kind check on an fd lives here and nowhere else.
import { readlinkSync, unlinkSync } from 'node:fs';
import { BpfError, UsageError, errnoName } from '../errors.js';
import { dupFd, fdById, objGet, objPin, type IdKind } from './bpf.js';
import { preparePinDirectory } from './bpffs.js';
import { FdOwner } from './fd.js';
import { closeFd } from './libc.js';

/** The kinds of bpf object: bpf(2)'s own names ('prog', not 'program'). */
export type ObjectKind = IdKind;

/** How messages name each kind. */
export const KIND_NAME: Readonly<Record<ObjectKind, string>> = { map: 'map', prog: 'program', link: 'link', btf: 'BTF object' };

// bpf fds are anonymous inodes named after their kind. A link is 'bpf_link' when created and
// 'bpf-link' when opened again (from a pin or an id): the kernel names the two paths differently.
const ANON_INODE: Readonly<Record<string, ObjectKind>> = {
  'anon_inode:bpf-map': 'map',
  'anon_inode:bpf-prog': 'prog',
  'anon_inode:bpf_link': 'link',
  'anon_inode:bpf-link': 'link',
  'anon_inode:btf': 'btf',
};

/** What an open fd is: a bpf kind, or what /proc says it is; undefined if it is not open. */
export function fdKind(fd: number): { kind: ObjectKind } | { other: string } | undefined {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
  const kind = ANON_INODE[target];
  return kind ? { kind } : { other: target };
}

/** UsageError unless `fd` is an open fd of a bpf object of `kind`. */
export function checkFdKind(fd: number, kind: ObjectKind, what = `fd ${fd}`): void {
  const k = fdKind(fd);
  if (k === undefined) throw new UsageError(`${what} is not an open file descriptor`);
  if ('kind' in k) {
    if (k.kind !== kind) throw new UsageError(`${what} is not a BPF ${KIND_NAME[kind]} (it is a BPF ${KIND_NAME[k.kind]})`);
    return;
  }
  throw new UsageError(`${what} is not a BPF ${KIND_NAME[kind]} (it is ${k.other})`);
}

export function checkPinPath(path: unknown): asserts path is string {
  if (typeof path !== 'string' || path === '' || path.includes('\0'))
    throw new UsageError(`a pin path must be a non-empty string on a bpf filesystem, got ${JSON.stringify(path)}`);
}

/** Runs `use` on something just opened (an fd, or an object with close()); closes it if
 * `use` throws, so no error path leaks it. */
export function closeOnError<R extends number | { close(): void }, T>(resource: R, use: (r: R) => T): T {
  try {
    return use(resource);
  } catch (e) {
    if (typeof resource === 'number') closeFd(resource);
    else resource.close();
    throw e;
  }
}

/** A new fd for what is pinned at `path`, checked to be a `kind`. */
export function openPinned(kind: ObjectKind, path: string, fileFlags = 0): number {
  checkPinPath(path);
  return closeOnError(objGet(path, fileFlags), (fd) => {
    checkFdKind(fd, kind, `the object pinned at ${path}`);
    return fd;
  });
}

/** A new fd for the object of `kind` with this id (any process's). */
export function openById(kind: ObjectKind, id: number): number {
  if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw new UsageError(`not a ${KIND_NAME[kind]} id: ${id} (ids are positive 32-bit integers)`);
  try {
    return closeOnError(fdById(kind, id), (fd) => {
      checkFdKind(fd, kind, `${KIND_NAME[kind]} id ${id}`);
      return fd;
    });
  } catch (e) {
    if (e instanceof BpfError && e.code === 'ENOENT')
      throw new BpfError({ errno: e.errno, command: e.command, cause: e }, `${e.command} failed: ENOENT — there is no ${KIND_NAME[kind]} with id ${id}`);
    throw e;
  }
}

/** A duplicate of the caller's fd, checked to be a `kind`: the caller keeps (and closes) its own. */
export function duplicateFd(kind: ObjectKind, fd: number): number {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw new UsageError(`not a file descriptor: ${fd}`);
  checkFdKind(fd, kind);
  return dupFd(fd, `duplicate ${KIND_NAME[kind]} fd ${fd}`);
}

/**
 * A map, program, link or BTF object owning one fd. Subclasses add what their kind does and
 * their own `fromFd`/`fromPin`/`fromId`, built on the functions above.
 */
export abstract class KernelObject extends FdOwner {
  #pinnedPath: string | undefined;

  protected constructor(
    fd: number,
    readonly objectKind: ObjectKind,
    closeOnGc: boolean,
    pinnedPath?: string,
  ) {
    super(fd, KIND_NAME[objectKind], closeOnGc);
    this.#pinnedPath = pinnedPath;
  }

  /** What the kernel says about the object; every kind reports its system-wide `id`. */
  abstract info(): { readonly id: number };

  /** The id of the object behind another fd of this kind (used to recognise a pin as ours). */
  protected abstract idOf(fd: number): number;

  /** Where this handle pinned the object, or the pin it was opened from; undefined if neither
   * (or after unpin()). */
  get pinnedPath(): string | undefined {
    return this.#pinnedPath;
  }

  /** Pins the object at a path on a bpf filesystem: it then outlives this handle and process.
   * Missing directories of the path are created, as libbpf does, if they would be on bpffs;
   * a path elsewhere is a UsageError. */
  pin(path: string): void {
    checkPinPath(path);
    const fd = this.fd; // a closed handle is refused before any directory is made
    preparePinDirectory(path);
    objPin(fd, path);
    this.#pinnedPath = path;
  }

  /**
   * Removes a pin of this object: the one at `path`, by default the one this handle made or was
   * opened from. Nothing pinned there is not an error (the outcome asked for holds). A path that
   * pins another object, or that is no pin at all, is left alone and is a UsageError: unpin
   * never removes what is not this object's.
   */
  unpin(path: string | undefined = this.#pinnedPath): void {
    const fd = this.fd;
    if (path === undefined)
      throw new UsageError(`${this.describe()} was not pinned or opened from a pin through this handle; pass the path to unpin`);
    checkPinPath(path);
    let pinned: number;
    try {
      pinned = objGet(path);
    } catch (e) {
      if (!(e instanceof BpfError) || e.code !== 'ENOENT') throw e;
      this.#forget(path);
      return;
    }
    try {
      const k = fdKind(pinned);
      const same = k !== undefined && 'kind' in k && k.kind === this.objectKind && this.idOf(pinned) === this.idOf(fd);
      if (!same) throw new UsageError(`${path} does not pin ${this.describe()} (it pins another object); it was left in place`);
    } finally {
      closeFd(pinned);
    }
    try {
      unlinkSync(path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') {
        const errno = typeof err.errno === 'number' ? -err.errno : 5;
        throw new BpfError({ errno, command: 'unlink', cause: e }, `unlink(${path}) failed: ${err.code ?? errnoName(errno)} — could not remove the pin`);
      }
    }
    this.#forget(path);
  }

  #forget(path: string): void {
    if (path === this.#pinnedPath) this.#pinnedPath = undefined;
  }
}
