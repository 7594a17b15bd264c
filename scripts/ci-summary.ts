// The end of .ci/run: one block that says what passed and failed on each kernel and why, then
// the one "N passed, N failed" line. It is printed last on purpose: a CI log is often read from
// its tail, and the guests' skip lists printed before it are long. When vitest on the host exits
// non-zero with every test passing (an unhandled error, the machine-state check of
// test/global-setup.ts, a worker that died), the reason is only in vitest's console output, so
// the host's output is kept in a log and the lines that explain the exit are repeated here.
//
// usage: tsx scripts/ci-summary.ts --host-json F --host-log F --host-status N
//                                  --guest-json F --guest-status N --seconds N --host-seconds N
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { parseArgs } from 'node:util';
import { explainExit, failureLines, MAX_LINES, summarizeRun, type Failure, type VitestJson } from './vitest-report.js';

const { values } = parseArgs({
  options: {
    'host-json': { type: 'string' },
    'host-log': { type: 'string' },
    'host-status': { type: 'string', default: '1' },
    'guest-json': { type: 'string' },
    'guest-status': { type: 'string', default: '1' },
    seconds: { type: 'string' },
    'host-seconds': { type: 'string' },
  },
});

interface GuestSummary {
  kernel: string;
  release?: string;
  passed: number;
  failed: number;
  skipped: number;
  failures: Failure[];
  error?: string;
}

/** The host's kept output, or '' if there is none. */
function readLog(path: string | undefined): string {
  try {
    return path ? readFileSync(path, 'utf8') : '';
  } catch {
    return '';
  }
}

function readJson<T>(path: string | undefined): T | undefined {
  if (!path) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

let passed = 0;
let failed = 0;
let skipped = 0;
const out: string[] = ['', '== CI summary =='];

// ---- the host ----
const host = readJson<VitestJson>(values['host-json']);
const hostStatus = Number(values['host-status']);
const hostLog = readLog(values['host-log']);
if (!host) {
  failed += 1;
  out.push(`host (${release()}): vitest left no readable JSON report (exit ${hostStatus})`);
  for (const l of explainExit(hostLog)) out.push(`  ${l}`);
} else {
  const run = summarizeRun(host, hostLog, hostStatus, process.cwd());
  out.push(`host (${release()}): ${run.passed} passed, ${run.failed} failed, ${run.skipped} skipped`);
  out.push(...failureLines(run.failures));
  passed += run.passed;
  failed += run.failed;
  skipped += run.skipped;
}

// ---- the guests ----
const guests = readJson<GuestSummary[]>(values['guest-json']);
if (!guests) {
  failed += 1;
  out.push(`guests: no readable summary (test-kernels exit ${values['guest-status']})`);
} else {
  for (const s of guests) {
    out.push(`${s.kernel} (${s.release ?? 'not booted'}): ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped`);
    if (s.error) out.push(`  GUEST FAILED: ${s.error.split('\n').slice(0, MAX_LINES).join('\n  ')}`);
    out.push(...failureLines(s.failures));
    passed += s.passed;
    skipped += s.skipped;
    failed += s.failed + (s.error ? 1 : 0);
  }
  if (Number(values['guest-status']) !== 0 && failed === 0) failed = 1;
}

if (values.seconds) out.push(`CI took ${values.seconds} s${values['host-seconds'] ? ` (host suite done at ${values['host-seconds']} s)` : ''}`);
out.push(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
console.log(out.join('\n'));
