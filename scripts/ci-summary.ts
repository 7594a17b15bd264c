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

interface Assertion {
  status: string;
  fullName: string;
  failureMessages?: string[];
}
interface FileResult {
  name: string;
  status: string;
  message?: string;
  assertionResults?: Assertion[];
}
interface HostReport {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  testResults?: FileResult[];
}
interface GuestSummary {
  kernel: string;
  release?: string;
  passed: number;
  failed: number;
  skipped: number;
  failures: string[];
  error?: string;
}

const MAX_LINES = 30;
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
const cwd = `${process.cwd()}/`;

/**
 * The lines of vitest's console output that explain a failure outside any test: its
 * "Unhandled Errors" block, an error thrown by a global setup or teardown, a worker that died.
 * Lines of the per-test listing (✓ ↓ ×) are not explanations.
 */
function explainExit(log: string): string[] {
  const lines = stripAnsi(log).split('\n');
  const start = lines.findIndex((l) =>
    /Unhandled (Error|Rejection)|Startup Error|Error during|error during close|did not leave the machine|Worker (exited|terminated)|Test Files .* failed|^\s*(Type|Reference|Range)?Error: /.test(l),
  );
  if (start < 0) return ['(no error lines in the host output: see the log above)'];
  return lines
    .slice(start)
    .filter((l) => l.trim() !== '' && !/^\s*[✓↓]\s/.test(l))
    .slice(0, MAX_LINES);
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
const host = readJson<HostReport>(values['host-json']);
const hostStatus = Number(values['host-status']);
if (!host) {
  failed += 1;
  out.push(`host (${release()}): vitest left no readable JSON report (exit ${hostStatus})`);
  for (const l of explainExit(readLog(values['host-log']))) out.push(`  ${l}`);
} else {
  const failures: string[] = [];
  for (const file of host.testResults ?? []) {
    const rel = file.name.replace(cwd, '');
    const tests = file.assertionResults ?? [];
    // A file can fail with no failed test (a hook threw, an import failed): count it once.
    if (file.status === 'failed' && !tests.some((a) => a.status === 'failed'))
      failures.push(`${rel}: ${file.message?.split('\n')[0] || 'the file failed outside its tests (a hook or an import)'}`);
    for (const a of tests)
      if (a.status === 'failed') failures.push(`${rel} > ${a.fullName}: ${stripAnsi(a.failureMessages?.[0] ?? '').split('\n')[0]}`);
  }
  const hostPassed = host.numPassedTests ?? 0;
  const hostSkipped = (host.numPendingTests ?? 0) + (host.numTodoTests ?? 0);
  let hostFailed = failures.length;
  out.push(`host (${release()}): ${hostPassed} passed, ${hostFailed} failed, ${hostSkipped} skipped`);
  for (const f of failures) out.push(`  FAIL ${f}`);
  // vitest exits non-zero for errors outside any test: count one, and say what it printed.
  if (hostStatus !== 0 && hostFailed === 0) {
    hostFailed = 1;
    out.push(`  FAIL vitest exited with status ${hostStatus} although every test passed; it said:`);
    for (const l of explainExit(readLog(values['host-log']))) out.push(`    ${l}`);
  }
  passed += hostPassed;
  failed += hostFailed;
  skipped += hostSkipped;
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
    for (const f of s.failures) out.push(`  FAIL ${f}`);
    passed += s.passed;
    skipped += s.skipped;
    failed += s.failed + (s.error ? 1 : 0);
  }
  if (Number(values['guest-status']) !== 0 && failed === 0) failed = 1;
}

if (values.seconds) out.push(`CI took ${values.seconds} s${values['host-seconds'] ? ` (host suite done at ${values['host-seconds']} s)` : ''}`);
out.push(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
console.log(out.join('\n'));
