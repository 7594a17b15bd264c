// The CI summary's reading of a vitest run: a failure must always come with its reason, above
// all the ones the JSON report leaves unexplained (a hook that threw, an error outside tests).
import { describe, expect, it } from 'vitest';
import { explainExit, explainFile, failureLines, summarizeRun, type VitestJson } from '../../scripts/vitest-report.js';

const ROOT = '/src/tsbpf';
const rule = '⎯'.repeat(20);

// What vitest prints for a describe whose afterAll threw (colours included, as on a terminal).
const hookLog = [
  ' ❯ test/a.test.ts (2 tests) 8ms',
  '   ✓ x > a 1ms',
  '',
  `${rule} Failed Suites 1 ${rule}`,
  '',
  ' \x1b[31mFAIL\x1b[39m  test/a.test.ts > x',
  'AssertionError: file descriptors leaked by this suite (opened: 19 → pipe:[42]; closed: none): expected 21 to be 20',
  ' ❯ test/a.test.ts:3:71',
  `${rule}[1/1]${rule}`,
  '',
  ' Test Files  1 failed (1)',
].join('\n');

const report = (files: VitestJson['testResults'], counts: Partial<VitestJson> = {}): VitestJson => ({
  numPassedTests: 0,
  numFailedTests: 0,
  numPendingTests: 0,
  numTodoTests: 0,
  ...counts,
  testResults: files,
});

describe('reading a vitest run for the CI summary', () => {
  it('a file failed in a hook: counted once, with the error vitest printed for it', () => {
    const r = summarizeRun(
      report([{ name: `${ROOT}/test/a.test.ts`, status: 'failed', message: '', assertionResults: [{ status: 'passed', fullName: 'x a' }, { status: 'skipped', fullName: 'x b' }] }], {
        numPassedTests: 1,
        numPendingTests: 1,
      }),
      hookLog,
      1,
      ROOT,
    );
    expect(r).toMatchObject({ passed: 1, failed: 1, skipped: 1, skips: ['test/a.test.ts > x b'] });
    expect(r.failures).toEqual([
      {
        what: 'test/a.test.ts: the file failed outside its tests (a hook or an import)',
        said: [' FAIL  test/a.test.ts > x', expect.stringContaining('leaked by this suite (opened: 19 → pipe:[42]'), ' ❯ test/a.test.ts:3:71'],
      },
    ]);
    expect(failureLines(r.failures)[0]).toBe('  FAIL test/a.test.ts: the file failed outside its tests (a hook or an import); it said:');
    expect(failureLines(r.failures)[2]).toMatch(/^ {6}AssertionError: file descriptors leaked/);
  });

  it("a file whose JSON has a message (an import failed) uses it; another file's block is not taken", () => {
    const r = summarizeRun(
      report([{ name: `${ROOT}/test/b.test.ts`, status: 'failed', message: 'Error: Cannot find module x\n    at y', assertionResults: [] }]),
      hookLog,
      1,
      ROOT,
    );
    expect(r.failures).toEqual([{ what: 'test/b.test.ts: the file failed outside its tests (a hook or an import)', said: ['Error: Cannot find module x', '    at y'] }]);
    expect(explainFile(hookLog, 'test/b.test.ts')).toEqual([]);
    expect(explainFile(hookLog, 'test/a.test')).toEqual([]); // a prefix of another name is not that file
  });

  it('a failed test gives the first line of its error; passing files add nothing', () => {
    const r = summarizeRun(
      report(
        [
          { name: `${ROOT}/test/c.test.ts`, status: 'failed', assertionResults: [{ status: 'failed', fullName: 'y z', failureMessages: ['\x1b[31mAssertionError: expected 1 to be 2\x1b[39m\n    at here'] }] },
          { name: `${ROOT}/test/d.test.ts`, status: 'passed', assertionResults: [{ status: 'passed', fullName: 'ok' }] },
        ],
        { numPassedTests: 1, numFailedTests: 1 },
      ),
      '',
      1,
      ROOT,
    );
    expect(r.failed).toBe(1);
    expect(r.failures).toEqual([{ what: 'test/c.test.ts > y z: AssertionError: expected 1 to be 2', said: [] }]);
  });

  it('a non-zero exit with every test passing is one failure, explained by the Unhandled Errors block', () => {
    const log = ['   ✓ x > a 1ms', `${rule} Unhandled Rejection ${rule}`, 'Error: late boom', ' ❯ test/u.test.ts:3:40', '   ✓ x > b 1ms', ' Test Files  1 passed (1)'].join('\n');
    const r = summarizeRun(report([{ name: `${ROOT}/test/u.test.ts`, status: 'passed', assertionResults: [{ status: 'passed', fullName: 'x a' }] }], { numPassedTests: 1 }), log, 1, ROOT);
    expect(r.failed).toBe(1);
    expect(r.failures[0]?.what).toBe('vitest exited with status 1 although every test passed');
    expect(r.failures[0]?.said).toEqual([`${rule} Unhandled Rejection ${rule}`, 'Error: late boom', ' ❯ test/u.test.ts:3:40', ' Test Files  1 passed (1)']);
    expect(explainExit('all fine\n')).toEqual(['(no error lines in the output: see the log above)']);
  });

  it('a clean run is clean', () => {
    const r = summarizeRun(report([{ name: `${ROOT}/test/d.test.ts`, status: 'passed', assertionResults: [{ status: 'passed', fullName: 'ok' }] }], { numPassedTests: 1 }), '', 0, ROOT);
    expect(r).toEqual({ passed: 1, failed: 0, skipped: 0, failures: [], skips: [] });
  });
});
