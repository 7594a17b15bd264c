// cgroups as attach targets: a cgroup v2 directory, named by path or by an open fd. BPF attaches
// to cgroup v2 only; many machines also mount v1 hierarchies (often at /sys/fs/cgroup, with v2
// at /sys/fs/cgroup/unified), and a v1 directory gets a bare EBADF from the kernel, so failures
// are explained from the mount table.
import { closeSync, constants, openSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** A cgroup v2 directory: its path, or an open fd of it (left open). */
export type CgroupRef = string | number;

export interface OpenCgroup {
  readonly fd: number;
  /** The path when one was given. */
  readonly path?: string;
  /** What to call it in messages. */
  readonly label: string;
  close(): void;
}

export function openCgroup(ref: CgroupRef, what = 'cgroup'): OpenCgroup {
  if (typeof ref === 'number') {
    if (!Number.isInteger(ref) || ref < 0) throw new UsageError(`${what}: not a file descriptor: ${ref}`);
    return { fd: ref, label: `cgroup fd ${ref}`, close() {} };
  }
  if (typeof ref !== 'string' || ref === '' || ref.includes('\0'))
    throw new UsageError(`${what} must be the path of a cgroup v2 directory or an open fd of one; got ${JSON.stringify(ref)}`);
  let fd: number;
  try {
    fd = openSync(ref, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new UsageError(`${what}: cannot open ${ref}: ${err.code ?? err.message}${err.code === 'ENOENT' ? ` (cgroup v2 is mounted at ${cgroup2Mounts().join(', ') || 'no place'} here)` : ''}`, {
      cause: e,
    });
  }
  let closed = false;
  return {
    fd,
    path: ref,
    label: `cgroup ${ref}`,
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

interface Mount {
  dir: string;
  type: string;
}

function mounts(): Mount[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f.length >= 3)
    // /proc/self/mounts escapes spaces and the like as \040.
    .map((f) => ({ dir: f[1]!.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))), type: f[2]! }));
}

/** Where cgroup v2 is mounted (usually /sys/fs/cgroup; /sys/fs/cgroup/unified on hybrid systems). */
export function cgroup2Mounts(): string[] {
  return mounts()
    .filter((m) => m.type === 'cgroup2')
    .map((m) => m.dir);
}

/** The first cgroup v2 mount; UsageError if there is none. */
export function cgroup2Root(): string {
  const root = cgroup2Mounts()[0];
  if (root === undefined) throw new UsageError('no cgroup v2 filesystem is mounted (see /proc/self/mounts; mount -t cgroup2 none /sys/fs/cgroup)');
  return root;
}

/** The file system type of the mount holding `path` (the longest mount point that prefixes it). */
function fsTypeOf(path: string): string | undefined {
  const abs = resolve(path);
  let best: Mount | undefined;
  for (const m of mounts()) {
    const prefix = m.dir.endsWith('/') ? m.dir : `${m.dir}/`;
    if ((abs === m.dir || abs.startsWith(prefix)) && (!best || m.dir.length >= best.dir.length)) best = m;
  }
  return best?.type;
}

/**
 * Why a cgroup fd the kernel refused (EBADF) is not a cgroup v2 directory, when the path
 * tells: a v1 hierarchy, or no cgroup file system at all. Undefined when it looks right.
 */
export function explainNotCgroup2(cg: OpenCgroup): string | undefined {
  const v2 = cgroup2Mounts();
  const where = v2.length ? `cgroup v2 is mounted at ${v2.join(', ')} here` : 'no cgroup v2 file system is mounted here (mount -t cgroup2 none /sys/fs/cgroup)';
  if (cg.path === undefined) return `the fd is not a cgroup v2 directory (BPF attaches to cgroup v2 only; ${where})`;
  const type = fsTypeOf(cg.path);
  if (type === 'cgroup2') return undefined;
  if (type === 'cgroup') return `${cg.path} is on a cgroup v1 hierarchy; BPF programs attach to cgroup v2 directories only (${where})`;
  return `${cg.path} is not a cgroup directory (it is on ${type ?? 'an unknown'} file system; ${where})`;
}

/** The id of a cgroup v2 directory: the kernel's cgroup id is the inode number on cgroup2. */
export function cgroupId(path: string): bigint {
  return statSync(path, { bigint: true }).ino;
}

/**
 * The path of the cgroup with this id under the cgroup v2 mount (what link info and
 * bpf_skb_cgroup_id() report), or undefined when no directory has it (it was removed).
 */
export function cgroupPath(id: bigint | number, root?: string): string | undefined {
  if (typeof id === 'number' ? !Number.isSafeInteger(id) || id < 0 : typeof id !== 'bigint' || id < 0n)
    throw new UsageError(`a cgroup id is a non-negative integer (number or bigint); got ${String(id)}`);
  const want = BigInt(id);
  const top = root ?? cgroup2Mounts()[0];
  if (top === undefined) return undefined;
  const queue = [top];
  while (queue.length) {
    const dir = queue.shift()!;
    try {
      if (statSync(dir, { bigint: true }).ino === want) return dir;
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) queue.push(join(dir, e.name));
    } catch {
      // removed while walking: not the one
    }
  }
  return undefined;
}
