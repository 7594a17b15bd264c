// Reading one vitest run (its JSON report and its console output) into counts and failures
// that say why — for the host in scripts/ci-summary.ts and for each guest in
// scripts/vm/test-kernels.ts, so a failure reads the same wherever it happened.
//
// The JSON report alone is not enough: a file whose describe-level hook threw (an fd-leak
// guard's afterAll, say) is "failed" with an empty `message`, and errors outside any test
// (unhandled rejections, global setup or teardown) are not in it at all. Vitest prints both on
// its console, so the console output is read for the explanation.

export interface VitestJson {
  numPassedTests?: number;
  numFailedTests?: number;
  numPendingTests?: number;
  numTodoTests?: number;
  testResults?: {
    name: string;
    status: string;
    message?: string;
    assertionResults?: { status: string; fullName: string; failureMessages?: string[] }[];
  }[];
}

export interface Failure {
  /** "file > test: first line of the error", or what failed outside the tests. */
  what: string;
  /** What vitest printed about it, when that is not already in `what`. */
  said: string[];
}

export interface RunSummary {
  passed: number;
  failed: number;
  skipped: number;
  failures: Failure[];
  /** "file > test" of every skipped test. */
  skips: string[];
}

export const MAX_LINES = 30;
export const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

/**
 * The lines of vitest's console output that explain a failure outside any test: its
 * "Unhandled Errors" block, an error thrown by a global setup or teardown, a worker that died.
 * Lines of the per-test listing (✓ ↓) are not explanations.
 */
export function explainExit(log: string): string[] {
  const lines = stripAnsi(log).split('\n');
  const start = lines.findIndex((l) =>
    /Unhandled (Error|Rejection)|Startup Error|Error during|error during close|did not leave the machine|Worker (exited|terminated)|Test Files .* failed|^\s*(Type|Reference|Range)?Error: /.test(l),
  );
  if (start < 0) return ['(no error lines in the output: see the log above)'];
  return lines
    .slice(start)
    .filter((l) => l.trim() !== '' && !/^\s*[✓↓]\s/.test(l))
    .slice(0, MAX_LINES);
}

/**
 * What vitest printed for a file that failed outside its tests: the console has a
 * " FAIL  <file> > <suite>" block with the error and the source line, up to the next ⎯ rule.
 */
export function explainFile(log: string, rel: string): string[] {
  const head = new RegExp(`^\\s*FAIL\\s+${rel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`);
  const out: string[] = [];
  let inBlock = false;
  for (const line of stripAnsi(log).split('\n')) {
    if (head.test(line)) inBlock = true;
    else if (line.startsWith('⎯')) inBlock = false;
    if (inBlock && line.trim() !== '' && out.length < MAX_LINES) out.push(line);
  }
  return out;
}

/**
 * Counts and failures of one run. `root` is stripped from file names; `status` is vitest's exit
 * status: non-zero with no failure found counts as one failure, explained from `log`.
 */
export function summarizeRun(report: VitestJson, log: string, status: number, root: string): RunSummary {
  const failures: Failure[] = [];
  const skips: string[] = [];
  const prefix = root.endsWith('/') ? root : `${root}/`;
  for (const file of report.testResults ?? []) {
    const rel = file.name.startsWith(prefix) ? file.name.slice(prefix.length) : file.name;
    const tests = file.assertionResults ?? [];
    // A file can fail with no failed test (a hook threw, an import failed): count it once.
    if (file.status === 'failed' && !tests.some((a) => a.status === 'failed')) {
      const said = file.message?.trim() ? stripAnsi(file.message).split('\n').slice(0, MAX_LINES) : explainFile(log, rel);
      failures.push({ what: `${rel}: the file failed outside its tests (a hook or an import)`, said });
    }
    for (const a of tests) {
      if (a.status === 'failed') failures.push({ what: `${rel} > ${a.fullName}: ${stripAnsi(a.failureMessages?.[0] ?? '').split('\n')[0]}`, said: [] });
      else if (a.status === 'pending' || a.status === 'skipped' || a.status === 'todo') skips.push(`${rel} > ${a.fullName}`);
    }
  }
  // vitest exits non-zero for errors outside any test: count one, and say what it printed.
  if (status !== 0 && failures.length === 0) failures.push({ what: `vitest exited with status ${status} although every test passed`, said: explainExit(log) });
  return {
    passed: report.numPassedTests ?? 0,
    failed: failures.length,
    skipped: (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0),
    failures,
    skips,
  };
}

/** "  FAIL what" and, indented under it, what vitest said. */
export function failureLines(failures: Failure[], indent = '  '): string[] {
  return failures.flatMap((f) => [`${indent}FAIL ${f.what}${f.said.length ? '; it said:' : ''}`, ...f.said.map((l) => `${indent}    ${l}`)]);
}
