// The running kernel's release and version comparison. Pure apart from reading uname(2)'s
// release through node:os, so errors.ts can word a message with it.
import { release } from 'node:os';

/** `uname -r`: '6.18.44-fc-v1252', '6.1.0-57-cloud-amd64'. */
export function kernelRelease(): string {
  return release();
}

/** The leading `major.minor` of a release, or undefined when it has none. */
export function kernelVersion(rel: string): readonly [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(rel);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/**
 * `"6.1.0-18-amd64"` >= `"5.9"`? An unparseable release counts as new enough: the answer
 * then never blames the version (no false "needs Linux X").
 */
export function kernelAtLeast(rel: string, min: string): boolean {
  const have = kernelVersion(rel);
  const want = kernelVersion(min);
  if (!have || !want) return true;
  return have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]);
}

/** KERNEL_VERSION(a, b, c) of a release, for the kern_version field kprobes had before 5.0. */
export function kernelVersionCode(rel: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(rel);
  if (!m) return 0;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(255, Number(m[3] ?? 0));
}
