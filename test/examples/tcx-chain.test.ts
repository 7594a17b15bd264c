// examples/tcx-chain.ts: before/after place programs in a known order, every packet runs
// through all of them in that order, link.update swaps one in place, a stale revision is refused.
import { describe, expect, it } from 'vitest';
import { isRoot, leftovers, runExample } from './run.js';

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/tcx-chain.ts', () => {
  it('orders, counts, swaps and refuses a stale revision', () => {
    const before = leftovers();
    const r = runExample('tcx-chain', ['--seconds', '2']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.initial.order).toEqual(['first', 'second', 'third']);
    expect(out.before).toEqual({ pings: 5, hits: { first: 5, second: 5, third: 5, second_v2: 0, late: 0 }, path: 123 });
    expect(out.beforeSwap.revision).toBe(out.initial.revision);
    // The update keeps the position and bumps the revision.
    expect(out.swapped).toEqual({ revision: out.initial.revision + 1, order: ['first', 'second_v2', 'third'] });
    expect(out.after).toEqual({ pings: 5, hits: { first: 10, second: 5, third: 10, second_v2: 5, late: 0 }, path: 143 });
    expect(out.stale.code).toBe('ESTALE');
    expect(out.stale.message).toMatch(new RegExp(`expected revision ${out.initial.revision} but the chain is at revision ${out.swapped.revision}`));
    expect(out.final).toEqual({ revision: out.swapped.revision + 1, order: ['late', 'first', 'second_v2', 'third'] });
    expect(out.last).toEqual({ pings: 2, hits: { first: 12, second: 5, third: 12, second_v2: 7, late: 2 }, path: 143 });
    expect(leftovers()).toEqual(before);
  });

  it('splits longer runs into halves around the swap', () => {
    const r = runExample('tcx-chain', ['--seconds', '3']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.before.hits).toMatchObject({ second: 10, second_v2: 0 });
    expect(out.after.hits).toMatchObject({ first: 15, second: 10, second_v2: 5, third: 15 });
  });
});
