// Tests probe instead of assuming: `needs('tcx')('attaches…', fn)` runs where the kernel has
// tcx and this machine allows it, and is skipped elsewhere with the reason in its title
// ("[skipped: tcx links … need Linux 6.6; this kernel is 6.1.0-…]"). `lacks('tcx')` is the
// reverse, for tests of the NotSupportedError path: it runs only where the kernel lacks the
// feature.
import { it } from 'vitest';
import { features, type FeatureAnswer, type FeatureQuery } from '../../src/features/index.js';

type TestBody = () => unknown;
/** The call form of vitest's `it` (name, body, timeout). */
export type TestFn = (name: string, fn?: TestBody, timeout?: number) => void;

/** Why a test needing this answer cannot run here, in one line. */
export function skipReason(a: FeatureAnswer): string {
  if (a.status === 'absent') return features.error(a.id as FeatureQuery)!.message;
  if (a.status === 'refused') return `${a.title}: refused on this machine (${a.detail})`;
  return `${a.title} are present`;
}

function gate(run: boolean, reasons: string[]): TestFn {
  if (run) return (name, fn, timeout) => it(name, fn, timeout);
  const why = reasons.join('; ');
  return (name, fn, timeout) => it.skip(`${name} [skipped: ${why}]`, fn, timeout);
}

/** `it` where every feature is present; otherwise `it.skip` naming what is missing and why. */
export function needs(...queries: FeatureQuery[]): TestFn {
  const missing = queries.map((q) => features.probe(q)).filter((a) => a.status !== 'present');
  return gate(missing.length === 0, missing.map(skipReason));
}

/** `it` where the kernel lacks every feature (absent, not refused); otherwise skipped. */
export function lacks(...queries: FeatureQuery[]): TestFn {
  const answers = queries.map((q) => features.probe(q));
  const notAbsent = answers.filter((a) => a.status !== 'absent');
  return gate(
    notAbsent.length === 0,
    notAbsent.map((a) => (a.status === 'present' ? `this kernel (${a.kernel}) has ${a.title}` : skipReason(a))),
  );
}

/** `it` where the machine refuses the feature (EPERM…); otherwise skipped. */
export function refuses(...queries: FeatureQuery[]): TestFn {
  const answers = queries.map((q) => features.probe(q));
  const other = answers.filter((a) => a.status !== 'refused');
  return gate(
    other.length === 0,
    other.map((a) => (a.status === 'present' ? `this machine allows ${a.title}` : skipReason(a))),
  );
}
