// The lifetime torture test: a seeded random walk over maps, programs, links, ring buffers and
// objects (test/lifetime/fixtures/torture.ts), in a child process with its own network
// namespace and a garbage collection after every step. The child must never die of a signal;
// it checks itself that every call after close throws a ClosedError, that views of kernel memory
// survive whatever was closed, and that no fd or mapping is left at the end.
//
// CI runs a fixed seed for a few thousand steps on the host, and 250 in each QEMU guest (where
// JavaScript is 5-6x slower and a collection after every step costs most: 600 steps took 4 min). Longer or other walks on demand:
//   TSBPF_TORTURE_STEPS=100000 TSBPF_TORTURE_SEED=42 npx vitest run test/lifetime/torture.test.ts
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/fd-guard.js';
import { runChild } from './spawn.js';

const CHILD = new URL('./fixtures/torture.ts', import.meta.url).pathname;
const SEED = Number(process.env.TSBPF_TORTURE_SEED ?? 0x10c0ffee);
const STEPS = Number(process.env.TSBPF_TORTURE_STEPS ?? (process.env.TSBPF_GUEST_KERNEL ? 250 : 3000));

describe.runIf(isRoot)('lifetime torture (child process)', () => {
  it(`${STEPS} random steps (seed ${SEED}) end without a signal, a rule broken, or an fd or mapping left`, async () => {
    const pinDir = `/sys/fs/bpf/tsbpf-torture-${process.pid}`;
    // unshare --net: the child's links go on a loopback of its own, never on this machine's.
    const r = await runChild('unshare', ['--net', process.execPath, '--expose-gc', '--import', 'tsx', CHILD, String(SEED), String(STEPS), pinDir], 30 * 60_000);
    expect(existsSync(pinDir)).toBe(false);
    expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    const { counts } = JSON.parse(r.stdout.trim().split('\n').pop()!) as { counts: Record<string, number> };
    // The walk really went everywhere: every kind of step happened, and calls after close were tried.
    for (const what of ['createMap', 'mmap', 'viewWrite', 'loadProgram', 'attach', 'pin', 'fromPin', 'unpin', 'fromId', 'fromFd', 'openRing', 'ringPoll', 'loadObject', 'close', 'drop'])
      expect(counts[what], what).toBeGreaterThan(0);
    expect(counts.useAfterClose).toBeGreaterThan(STEPS / 50);
  }, 31 * 60_000);
});
