// Pin paths live on a bpf filesystem. The kernel answers a pin into a missing directory with
// ENOENT and one outside bpffs with EPERM, both far from the cause; libbpf creates a pin's
// missing parent directories and checks the filesystem first, and so do we.
import { mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { BPF_FS_MAGIC } from './abi/bpf.js';

/** Whether `path` (which must exist) is on a bpf filesystem. */
export function isOnBpffs(path: string): boolean {
  return Number(statfsSync(path).type) === BPF_FS_MAGIC;
}

/**
 * Makes sure the directory a pin at `path` goes into exists on a bpf filesystem: missing
 * directories are created (mode 0700, as libbpf) when the nearest existing ancestor is on
 * bpffs; a path elsewhere is a UsageError before anything is created.
 */
export function preparePinDirectory(path: string): void {
  const parent = dirname(path);
  let existing = parent;
  const missing: string[] = [];
  for (;;) {
    try {
      statfsSync(existing);
      break;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new UsageError(`cannot pin at ${path}: ${existing} cannot be read (${code ?? (e as Error).message})`, { cause: e });
      missing.push(existing);
      const up = dirname(existing);
      if (up === existing) break;
      existing = up;
    }
  }
  if (!isOnBpffs(existing))
    throw new UsageError(
      `cannot pin at ${path}: ${existing} is not on a bpf filesystem (pins live on bpffs: mount -t bpf bpf /sys/fs/bpf, and pin below it)`,
    );
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      // Another process may create it between our check and ours: that is what we wanted.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new UsageError(`cannot create ${dir} for the pin at ${path}: ${(e as Error).message}`, { cause: e });
    }
  }
}
