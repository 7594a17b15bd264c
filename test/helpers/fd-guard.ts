// Asserts that a suite gives back every file descriptor it opened.
import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import { until } from './until.js';

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** fd → what it is ("anon_inode:bpf-map", "pipe:[123]", a path), for naming a leak. */
function openFds(): Map<string, string> {
  const fds = new Map<string, string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      fds.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the directory's own fd, closed by the time we look
    }
  }
  return fds;
}

// Node closes some fds a turn or two after the code that used them is done (a child's pipes
// after its 'exit', a stream destroyed on 'end', a worker's after it is terminated): the check
// lets the event loop run for a while before it calls what is still open a leak.
const SETTLE_MS = 2_000;

/** Call at the top of a describe() (or file) that opens kernel objects. */
export function guardFdLeaks(): void {
  let before = new Map<string, string>();
  beforeAll(() => {
    before = openFds();
  });
  afterAll(async () => {
    await until(() => openFdCount() === before.size, SETTLE_MS, 20);
    const now = openFds();
    const added = [...now].filter(([fd, what]) => before.get(fd) !== what).map(([fd, what]) => `${fd} → ${what}`);
    const gone = [...before].filter(([fd, what]) => now.get(fd) !== what).map(([fd, what]) => `${fd} → ${what}`);
    expect(now.size, `file descriptors leaked by this suite (opened: ${added.join(', ') || 'none'}; closed: ${gone.join(', ') || 'none'})`).toBe(before.size);
  });
}

export const isRoot = process.getuid?.() === 0;
