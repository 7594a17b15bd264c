// Where the protocol keeps its state on disk, and its lock: the `xdp` directory of the bpf
// filesystem (`$LIBXDP_BPFFS/xdp`, default /sys/fs/bpf/xdp), locked with flock(LOCK_EX) on
// the directory itself, as libxdp does, so that tsbpf and libxdp users exclude each other.
import { closeSync, constants, mkdirSync, openSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { BpfError } from '../../errors.js';
import { LOCK_EX, LOCK_UN } from '../../syscall/abi/bpf.js';
import { isOnBpffs } from '../../syscall/bpffs.js';
import { flock } from '../../syscall/libc.js';
import { XdpMultiError } from './errors.js';

/** The bpffs mount the protocol uses: $LIBXDP_BPFFS, or /sys/fs/bpf. */
export function bpffsRoot(): string {
  const env = process.env.LIBXDP_BPFFS;
  return env !== undefined && env !== '' ? env : '/sys/fs/bpf';
}

/** `<bpffs>/xdp`, created (mode 0700, as libxdp) if missing. */
export function xdpStateDir(ifindex: number): string {
  const root = bpffsRoot();
  let onBpffs: boolean;
  try {
    onBpffs = isOnBpffs(root);
  } catch (e) {
    throw new XdpMultiError('no-bpffs', ifindex, `multi-program XDP keeps its pins under ${root}/xdp, but ${root} cannot be read (${(e as Error).message}); mount a bpf filesystem there (mount -t bpf bpf ${root}) or set LIBXDP_BPFFS`);
  }
  if (!onBpffs)
    throw new XdpMultiError('no-bpffs', ifindex, `multi-program XDP keeps its pins under ${root}/xdp, but ${root} is not a bpf filesystem; mount one there (mount -t bpf bpf ${root}) or set LIBXDP_BPFFS`);
  const dir = `${root}/xdp`;
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return dir;
}

/**
 * Runs `fn` holding the protocol's lock. Every change tsbpf makes holds it from the first read
 * to the last rename, so whoever takes it next finds either the old state or the new one.
 * flock blocks this thread until the lock is free (libxdp holds it only for moments).
 */
export function withXdpLock<T>(dir: string, fn: () => T): T {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const r = flock(fd, LOCK_EX);
    if (r < 0) throw new BpfError({ errno: -r, command: 'flock(LOCK_EX)', context: `lock ${dir}` });
    try {
      return fn();
    } finally {
      flock(fd, LOCK_UN);
    }
  } finally {
    closeSync(fd);
  }
}

/** Unpins everything in a pin directory and removes it; a missing directory is fine. */
export function removePinDir(path: string): void {
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  for (const n of names) {
    try {
      unlinkSync(`${path}/${n}`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  try {
    rmdirSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export function exists(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}
