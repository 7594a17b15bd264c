// Waiting for an effect the kernel produces asynchronously (a softirq delivering a packet, a
// counter a program bumps) without betting on a fixed sleep: a slow or loaded machine only
// makes the wait longer, and the assertion after it stays exact.
import { setTimeout as sleep } from 'node:timers/promises';

/** Resolves once `cond()` is true, or after `timeoutMs` (the caller's assertion then fails with the real values). */
export async function until(cond: () => boolean, timeoutMs = 5_000, stepMs = 10): Promise<void> {
  for (const end = Date.now() + timeoutMs; !cond() && Date.now() < end; ) await sleep(stepMs);
}
