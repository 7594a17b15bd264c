// BPF iterators (5.8+): an `iter/<target>` program attached through a link (BPF_LINK_CREATE
// with BPF_TRACE_ITER, plus the map/task/cgroup it walks), then run by reading: each
// BPF_ITER_CREATE gives a fresh seq_file fd whose read(2) runs the program over the target
// and returns what it printed (bpf_seq_printf / bpf_seq_write).
import { readSync } from 'node:fs';
import { ERRNO } from '../errno-names.js';
import { BpfError, UsageError, errnoName } from '../errors.js';
import { BPF_ITER_LINK_INFO, ITER_CREATE_ATTR, LINK_CREATE_ITER_ATTR, bpf_attach_type, bpf_cgroup_iter_order, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { FdOwner } from '../syscall/fd.js';
import { bpfAttr } from '../syscall/bpf.js';
import { stableBuffer } from '../syscall/libc.js';
import { Link, progFd, type ProgramRef } from './link.js';

const { EINVAL, ENOENT, EBADF, EACCES, EPERM, EAGAIN, EINTR, EOPNOTSUPP } = ERRNO;

export type CgroupIterOrder = 'self_only' | 'descendants_pre' | 'descendants_post' | 'ancestors_up';

export interface IterLinkOptions {
  /** `iter/bpf_map_elem`, `iter/bpf_sk_storage_map`, `iter/sockmap`: the map to walk. */
  map?: { readonly fd: number } | number;
  /** `iter/task`, `iter/task_file`, `iter/task_vma` (6.1+): only one thread, one process, or the process of a pidfd. */
  task?: { tid: number } | { pid: number } | { pidFd: number };
  /** `iter/cgroup` (6.1+): the cgroup (an fd of its directory) and the walk order. */
  cgroup?: { fd: number; order?: CgroupIterOrder };
}

const ORDER: Record<CgroupIterOrder, number> = {
  self_only: bpf_cgroup_iter_order.BPF_CGROUP_ITER_SELF_ONLY,
  descendants_pre: bpf_cgroup_iter_order.BPF_CGROUP_ITER_DESCENDANTS_PRE,
  descendants_post: bpf_cgroup_iter_order.BPF_CGROUP_ITER_DESCENDANTS_POST,
  ancestors_up: bpf_cgroup_iter_order.BPF_CGROUP_ITER_ANCESTORS_UP,
};

function checkFd(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new UsageError(`${what} must be a file descriptor or id (a non-negative integer); got ${String(v)}`);
  return v;
}

/** One run of an iterator: read it to the end (each read(2) runs the program further). */
export class IterReader extends FdOwner {
  #chunk = stableBuffer(0);

  /** @internal */
  constructor(fd: number) {
    // A reader holds no attachment (the link does), so the GC may close a forgotten one.
    super(fd, 'iterator reader', true);
  }

  /** The next bytes the iterator produced; an empty array at the end. */
  read(maxBytes = 64 * 1024): Uint8Array {
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new UsageError(`maxBytes must be a positive integer; got ${maxBytes}`);
    if (this.#chunk.length < maxBytes) this.#chunk = stableBuffer(maxBytes);
    for (;;) {
      try {
        const n = readSync(this.fd, this.#chunk, 0, maxBytes, null);
        return new Uint8Array(this.#chunk.subarray(0, n));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EINTR' || code === 'EAGAIN') continue;
        const errno = typeof (e as NodeJS.ErrnoException).errno === 'number' ? -(e as NodeJS.ErrnoException).errno! : EINVAL;
        throw new BpfError(
          { errno, command: 'read' },
          `read of a BPF iterator failed: ${code ?? errnoName(errno)} — the iterator program returned an error (a non-zero return stops the walk with that error) or its target went away`,
        );
      }
    }
  }

  /** Everything to the end, as bytes. */
  readAll(): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const b = this.read();
      if (b.length === 0) break;
      parts.push(b);
      total += b.length;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** An iterator's link, with the calls that run it. */
export interface IterLink extends Link {
  /** Starts one run (BPF_ITER_CREATE): read the returned reader to the end, then close it. */
  open(): IterReader;
  /** One whole run, decoded as UTF-8: what the program printed. */
  readText(): string;
}

/** BPF_ITER_CREATE on any iterator link fd. */
export function openIter(linkFd: number): IterReader {
  const attr = new Attr(ITER_CREATE_ATTR).set('link_fd', linkFd);
  const r = bpfAttr(bpf_cmd.BPF_ITER_CREATE, attr);
  if (r >= 0) return new IterReader(r);
  const errno = -r;
  const why =
    errno === EINVAL
      ? 'the link is not an iterator link'
      : errno === EBADF
        ? 'the link fd is not open'
        : errno === EPERM || errno === EACCES
          ? 'reading iterators needs root (or CAP_BPF + CAP_PERFMON)'
          : undefined;
  throw new BpfError({ errno, command: 'BPF_ITER_CREATE' }, `BPF_ITER_CREATE failed: ${errnoName(errno)}${why ? ` — ${why}` : ''}`);
}

/** Gives a Link the iterator calls (Link's constructor is private; the methods are per link). */
function asIterLink(link: Link): IterLink {
  const l = link as IterLink;
  l.open = () => openIter(link.fd);
  l.readText = () => {
    using r = openIter(link.fd);
    return Buffer.from(r.readAll()).toString('utf8');
  };
  return l;
}

/** Attaches an iterator program (section `iter/<target>`), optionally to one map/task/cgroup. */
export function attachIterLink(prog: ProgramRef, opts: IterLinkOptions = {}, what = 'attach an iterator'): IterLink {
  const fd = progFd(prog);
  if (!opts || typeof opts !== 'object') throw new UsageError(`${what}: options are { map?, task?, cgroup? }`);
  const given = (['map', 'task', 'cgroup'] as const).filter((k) => opts[k] !== undefined);
  if (given.length > 1) throw new UsageError(`${what}: give one of map, task or cgroup, not ${given.join(' and ')}`);
  let info: Attr<string> | undefined;
  if (opts.map !== undefined) {
    const m = opts.map;
    info = new Attr(BPF_ITER_LINK_INFO.map).set('map_fd', checkFd('map', typeof m === 'number' ? m : m?.fd));
  } else if (opts.task !== undefined) {
    const t = opts.task as { tid?: number; pid?: number; pidFd?: number };
    const keys = (['tid', 'pid', 'pidFd'] as const).filter((k) => t[k] !== undefined);
    if (keys.length !== 1) throw new UsageError(`${what}: task is one of { tid }, { pid } or { pidFd }`);
    const k = keys[0]!;
    info = new Attr(BPF_ITER_LINK_INFO.task).set(k === 'pidFd' ? 'pid_fd' : k, checkFd(`task.${k}`, t[k]));
  } else if (opts.cgroup !== undefined) {
    const c = opts.cgroup;
    const order = c.order === undefined ? 0 : ORDER[c.order];
    if (order === undefined) throw new UsageError(`${what}: cgroup order is one of ${Object.keys(ORDER).join(', ')}`);
    info = new Attr(BPF_ITER_LINK_INFO.cgroup).set('cgroup_fd', checkFd('cgroup.fd', c.fd)).set('order', order);
  }
  const attr = new Attr(LINK_CREATE_ITER_ATTR).set('prog_fd', fd).set('attach_type', bpf_attach_type.BPF_TRACE_ITER);
  if (info) attr.setPointer('iter_info', info.bytes).set('iter_info_len', info.size);
  const r = bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
  if (r >= 0) return asIterLink(Link.adopt(r));
  const errno = -r;
  const why =
    errno === EINVAL
      ? `the program is not an iterator (iter/<target>), or the ${given[0] ?? 'target'} given does not suit its target (map iterators need a map of a type they walk; task/cgroup parameters need 6.1+)`
      : errno === EBADF
        ? given[0] === 'map' || given[0] === 'cgroup'
          ? `the ${given[0]} fd is not open (or not a ${given[0]})`
          : 'this iterator walks one map (or cgroup): give it with { map } ({ cgroup }); otherwise the program fd is not open'
        : errno === ENOENT
          ? 'the task or cgroup does not exist'
          : errno === EOPNOTSUPP
            ? 'this kernel does not offer this iterator target'
            : errno === EAGAIN || errno === EINTR
              ? 'interrupted; try again'
              : undefined;
  throw new BpfError({ errno, command: 'BPF_LINK_CREATE' }, `BPF_LINK_CREATE (${what}) failed: ${errnoName(errno)}${why ? ` — ${why}` : ''}`);
}
