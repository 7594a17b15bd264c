// The number of possible CPUs, which sizes every per-CPU value the kernel copies out.
import { readFileSync } from 'node:fs';
import { TsbpfError } from '../errors.js';

/** Counts the CPUs in a kernel cpulist such as `0-3,8-11` or `0`. */
export function parseCpuList(text: string): number {
  let n = 0;
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new TsbpfError(`cannot parse CPU list "${text.trim()}"`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new TsbpfError(`cannot parse CPU list "${text.trim()}"`);
    n += hi - lo + 1;
  }
  if (n === 0) throw new TsbpfError(`empty CPU list "${text.trim()}"`);
  return n;
}

let cached: number | undefined;

/**
 * The kernel's num_possible_cpus(): per-CPU maps copy one value slot per possible CPU
 * (not per online CPU), so buffers must be sized by this.
 */
export function possibleCpus(): number {
  cached ??= parseCpuList(readFileSync('/sys/devices/system/cpu/possible', 'utf8'));
  return cached;
}
