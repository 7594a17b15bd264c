// "Leave the machine as it was found": what a test run could leave behind on this machine —
// bpffs entries, network interfaces, network namespaces — snapshotted before and after the run
// (test/global-setup.ts). Only what this run could have made is compared: names with the
// prefixes our helpers, examples and the demo use, and what reference tools create at libbpf's
// default pin root (maps declared LIBBPF_PIN_BY_NAME in the objects tests hand them; iproute2's
// and libxdp's `tc`, `ip`, `xdp`). On a shared development machine another test run may make and
// remove such things at the same time: then only what can be traced to this run's processes
// fails it, and the rest is reported as a warning. Alone (CI), every leftover fails.
import { appendFileSync, existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openObjectSpec } from '../../src/elf/index.js';

export interface MachineState {
  /** Paths under /sys/fs/bpf, relative, every level (symlinks not followed). */
  bpffs: string[];
  interfaces: string[];
  namespaces: string[];
}

const BPFFS = '/sys/fs/bpf';

function walk(dir: string, rel: string, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(join(dir, rel));
  } catch {
    return;
  }
  for (const n of names) {
    const r = rel ? `${rel}/${n}` : n;
    out.push(r);
    try {
      if (lstatSync(join(dir, r)).isDirectory()) walk(dir, r, out);
    } catch {
      // Removed while we looked: another process's business.
    }
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function snapshot(): MachineState {
  const bpffs: string[] = [];
  walk(BPFFS, '', bpffs);
  return { bpffs, interfaces: list('/sys/class/net'), namespaces: list('/run/netns') };
}

// Names our helpers, examples and the demo give (test/helpers/netns.ts, examples/lib/testbed.ts,
// examples/demo.ts, test/link/net.ts): pins under `tsbpf-*`, interfaces tb<pid><n>h/p,
// te<letter><pid>h, tsd<pid>h/n, namespaces tsbpf-*.
const OUR_PIN = /^tsbpf-/;
const OUR_INTERFACE = /^(tb\d|te[a-z]\d|tsd\d)/;
const OUR_NAMESPACE = /^tsbpf-/;

/** What iproute2 and libxdp create at the root of the default bpffs. */
const TOOL_DIRS = ['tc', 'ip', 'xdp'];

/**
 * Maps declared LIBBPF_PIN_BY_NAME in the objects tests use (ours, and xdp-tools' that they
 * hand to bpftool): a reference tool run outside a private bpffs pins them at /sys/fs/bpf.
 */
export function byNamePins(root: string): string[] {
  const dirs = [join(root, 'test/fixtures'), join(root, 'examples/bpf'), join(root, 'bpf'), '/usr/lib/x86_64-linux-gnu/bpf'];
  for (const d of list(join(root, 'test'))) if (existsSync(join(root, 'test', d, 'fixtures'))) dirs.push(join(root, 'test', d, 'fixtures'));
  const names = new Set<string>();
  for (const dir of dirs)
    for (const f of list(dir)) {
      if (!f.endsWith('.o')) continue;
      try {
        const spec = openObjectSpec(new Uint8Array(readFileSync(join(dir, f))), {});
        for (const m of spec.maps.values()) if (m.pinning === 'by_name') names.add(m.name);
      } catch {
        // Not an object we can open: it cannot have been loaded by name either.
      }
    }
  return [...names];
}

export interface Leftover {
  what: 'bpffs entry' | 'interface' | 'network namespace';
  name: string;
  change: 'left behind' | 'removed';
}

/** What changed between two snapshots among the things this run could have touched. */
export function compare(before: MachineState, after: MachineState, pinNames: readonly string[]): Leftover[] {
  const rootNames = new Set([...TOOL_DIRS, ...pinNames]);
  const ourPin = (p: string): boolean => {
    const top = p.split('/')[0]!;
    return OUR_PIN.test(top) || rootNames.has(top);
  };
  const out: Leftover[] = [];
  const diff = (what: Leftover['what'], a: string[], b: string[], ours: (n: string) => boolean): void => {
    const had = new Set(a);
    const has = new Set(b);
    for (const n of b) if (!had.has(n) && ours(n)) out.push({ what, name: n, change: 'left behind' });
    // Something that was there and is not ours by name: a test removed what it did not make.
    for (const n of a) if (!has.has(n) && !ours(n)) out.push({ what, name: n, change: 'removed' });
  };
  // A leftover directory reports its contents too; name only the topmost path.
  const pins = (s: MachineState): string[] => s.bpffs;
  diff('bpffs entry', pins(before), pins(after), ourPin);
  diff('interface', before.interfaces, after.interfaces, (n) => OUR_INTERFACE.test(n));
  diff('network namespace', before.namespaces, after.namespaces, (n) => OUR_NAMESPACE.test(n));
  return out.filter((l) => !(l.what === 'bpffs entry' && out.some((o) => o !== l && o.what === l.what && o.change === l.change && l.name.startsWith(`${o.name}/`))));
}

// ---- which processes belong to this run ----

/** Records the calling process (a test worker) as one of this run's. */
export function recordPid(pid = process.pid): void {
  const dir = process.env.TSBPF_TEST_RUN_DIR;
  if (dir) appendFileSync(join(dir, 'pids'), `${pid}\n`);
}

export function recordedPids(runDir: string): Set<number> {
  try {
    return new Set(readFileSync(join(runDir, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number));
  } catch {
    return new Set();
  }
}

/** Whether a leftover's name carries one of these pids (names embed the pid of their maker). */
export function madeBy(name: string, pids: ReadonlySet<number>): boolean {
  for (const run of name.match(/\d+/g) ?? []) for (const pid of pids) if (run === String(pid) || (run.startsWith(String(pid)) && run.length <= String(pid).length + 2)) return true;
  return false;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Live test runners (vitest) that are neither `self`, below it, nor above it (`npx vitest`
 * and `npm test` wrap it): another run on this machine. */
export function otherTestRuns(self: number): number[] {
  const out: number[] = [];
  const ancestors = new Set<number>();
  for (let p = parentOf(self), i = 0; p !== undefined && p > 1 && i < 64; p = parentOf(p), i++) ancestors.add(p);
  for (const d of list('/proc')) {
    const pid = Number(d);
    if (!Number.isInteger(pid) || pid === self || ancestors.has(pid)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    if (!cmd.includes('vitest')) continue;
    let p: number | undefined = pid;
    let mine = false;
    for (let i = 0; i < 64 && p !== undefined && p > 1; i++) {
      if (p === self) {
        mine = true;
        break;
      }
      p = parentOf(p);
    }
    if (!mine) out.push(pid);
  }
  return out;
}
