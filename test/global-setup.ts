// The suite-level check that `npm test` leaves /sys/fs/bpf, the interfaces and the network
// namespaces as it found them (test/helpers/machine-state.ts says what is compared and why).
// Runs once in vitest's main process, around the whole run.
//
// Another test run on the same machine (a colleague's, in the same checkout) is recognised two
// ways: every run registers itself (with its start and end) under /tmp/tsbpf-test-runs, and a
// vitest process outside this one's process tree counts as one. With another run overlapping,
// a leftover fails this run only if its name carries the pid of one of this run's workers; the
// others are printed as a warning. In CI (alone) every leftover fails.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './helpers/until.js';
import { byNamePins, compare, madeBy, otherTestRuns, recordedPids, snapshot, type Leftover } from './helpers/machine-state.js';

const REGISTRY = '/tmp/tsbpf-test-runs';
const ROOT = new URL('../', import.meta.url).pathname;

interface RunRecord {
  pid: number;
  start: number;
  end?: number;
}

function records(): RunRecord[] {
  const out: RunRecord[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(REGISTRY);
  } catch {
    return out;
  }
  for (const n of names) {
    try {
      out.push(JSON.parse(readFileSync(join(REGISTRY, n), 'utf8')) as RunRecord);
    } catch {
      // Being written, or not ours.
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The kernel takes some things apart after the call that asked for it has returned: a network
 * namespace is dismantled by a workqueue (its veth ends with it), and an interface being deleted
 * lingers until RCU lets go. So a change is only a leftover if it is still there once the
 * machine has settled: look again for a few seconds before calling it one.
 */
const SETTLE_MS = 10_000;

export default function setup(): () => Promise<void> {
  if (process.getuid?.() !== 0) return async () => undefined; // nothing privileged runs, nothing to leave
  const runDir = mkdtempSync(join(tmpdir(), 'tsbpf-test-run-'));
  // Workers record their pids here (test/helpers/record-pid.ts): forks inherit the environment.
  process.env.TSBPF_TEST_RUN_DIR = runDir;
  mkdirSync(REGISTRY, { recursive: true });
  const self: RunRecord = { pid: process.pid, start: Date.now() };
  const recordPath = join(REGISTRY, `${process.pid}.json`);
  writeFileSync(recordPath, JSON.stringify(self));
  const othersAtStart = otherTestRuns(process.pid);
  const pinNames = byNamePins(ROOT);
  const before = snapshot();

  return async () => {
    let after = before; // replaced by a fresh snapshot at once
    await until(() => compare(before, (after = snapshot()), pinNames).length === 0, SETTLE_MS, 250);
    const end = Date.now();
    writeFileSync(recordPath, JSON.stringify({ ...self, end }));
    // Runs that overlapped this one: registered, or seen running at either end.
    const overlapping = records().filter((r) => r.pid !== process.pid && r.start <= end && (r.end ?? (alive(r.pid) ? end : r.start)) >= self.start);
    const concurrent = !process.env.CI && (overlapping.length > 0 || othersAtStart.length > 0 || otherTestRuns(process.pid).length > 0);
    // Records older than a day are of nobody's interest.
    for (const r of records()) if (r.end !== undefined && r.end < end - 86_400_000) rmSync(join(REGISTRY, `${r.pid}.json`), { force: true });

    const pids = recordedPids(runDir);
    pids.add(process.pid);
    rmSync(runDir, { recursive: true, force: true });
    const changes = compare(before, after, pinNames);
    const ours = concurrent ? changes.filter((c) => madeBy(c.name, pids)) : changes;
    const maybeTheirs = changes.filter((c) => !ours.includes(c));
    const line = (c: Leftover): string => `  ${c.what} ${c.change}: ${c.name}`;
    if (maybeTheirs.length)
      console.warn(
        `machine state: another test run overlapped this one (${[...overlapping.map((r) => r.pid), ...othersAtStart].join(', ')}); ` +
          `these changes may be its and do not fail this run:\n${maybeTheirs.map(line).join('\n')}`,
      );
    if (ours.length)
      throw new Error(`the test run did not leave the machine as it found it:\n${ours.map(line).join('\n')}\n(test/helpers/machine-state.ts says what is compared)`);
  };
}
