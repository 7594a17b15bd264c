// Where cgroup v2 is mounted: /sys/fs/cgroup on most systems and in our guests, but
// /sys/fs/cgroup/unified on hosts that mount v1 hierarchies under /sys/fs/cgroup (ours do).
import { readFileSync } from 'node:fs';

export function cgroup2Root(): string {
  const mount = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[2] === 'cgroup2')?.[1];
  if (!mount) throw new Error('no cgroup2 filesystem is mounted (see /proc/self/mounts)');
  return mount;
}
