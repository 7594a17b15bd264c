// Namespaces (and with them their veth pairs) left by runs that died without cleaning up — a
// SIGKILL gives a process no chance to. Each run names its namespace `<prefix><pid>`; a later
// run removes those whose process is gone, and leaves those of live runs alone.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Whether `pid` is a live process whose command line mentions `marker` (a reused pid is not). */
function running(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(marker);
  } catch {
    return false;
  }
}

/**
 * Deletes every network namespace named `<prefix><pid>` whose process is no longer running
 * `marker` (the script's name); deleting a namespace takes its veth pair with it. Returns the
 * namespaces removed.
 */
export function sweepDeadRuns(prefix: string, marker: string): string[] {
  let names: string[];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || running(pid, marker)) continue;
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
      removed.push(name);
    } catch {
      // Another run removed it first.
    }
  }
  return removed;
}
