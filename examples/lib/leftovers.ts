// What a run of the demo or an example leaves when it dies without cleaning up (a SIGKILL gives a
// process no chance to), and how a later run clears it.
//
// Every run names what it makes after itself: `<prefix><pid>-<start>`, where `start` is the
// process's start time (field 22 of /proc/<pid>/stat, clock ticks since boot). The pid alone
// would not do: once a run is dead its pid can be handed to an unrelated process, and then the
// leftover would look alive forever — or, worse, a live run's things would look like a dead
// one's if we only asked whether the pid exists. A pid *and* its start time name one process
// for as long as the machine is up, and everything swept here (namespaces, interfaces, cgroups,
// bpffs directories) is gone after a reboot anyway.
//
// A run's things: a network namespace /run/netns/<tag> (deleting it takes the veth end inside
// with it, and the pair with that); the host end of the veth pair, whose name is too short
// (IFNAMSIZ) for the start time, so it carries the tag as its alias (ifalias); a cgroup
// <cgroup2>/<tag>; a bpffs directory /sys/fs/bpf/<tag>. The sweep removes exactly those whose
// tag names a process that is not running, and never anything else: a name that only looks
// like ours, an interface without our alias, a live run's things.
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/** The prefixes runs use: the demo's and the examples'. */
export const PREFIXES = ['tsbpf-demo-', 'tsbpf-ex-'] as const;
export type Prefix = (typeof PREFIXES)[number];

const NETNS_DIR = '/run/netns';
const BPFFS = '/sys/fs/bpf';
const SYS_NET = '/sys/class/net';

/**
 * A live process's start time (clock ticks since boot), or undefined if there is no such
 * process or it has exited. An exited process stays in /proc as a zombie until its parent (for a
 * killed run's orphan, init, which may take a second or more) reaps it; its run is over all the
 * same, so a zombie counts as gone.
 */
export function processStart(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  // What follows is field 3 (state) onwards, so starttime (field 22) is the 20th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** The tag naming this process (or `pid`) in what it makes: `<prefix><pid>-<start>`. */
export function runTag(prefix: Prefix, pid = process.pid): string {
  const start = processStart(pid);
  if (start === undefined) throw new Error(`no process ${pid} to name a run after`);
  return `${prefix}${pid}-${start}`;
}

/** The owner a tag names, if `name` is exactly a tag with one of our prefixes. */
export function ownerOf(name: string): { pid: number; start: string } | undefined {
  for (const prefix of PREFIXES) {
    if (!name.startsWith(prefix)) continue;
    const m = /^([1-9]\d*)-(\d+)$/.exec(name.slice(prefix.length));
    if (m) return { pid: Number(m[1]), start: m[2]! };
  }
  return undefined;
}

/** Whether the process a tag names is gone: no such pid, or the pid now belongs to a process
 * that started at another time. Names that are not tags are never dead (never ours to remove). */
export function isDeadRun(name: string): boolean {
  const owner = ownerOf(name);
  return owner !== undefined && processStart(owner.pid) !== owner.start;
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function quiet(args: string[]): boolean {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false; // another run removed it first
  }
}

/** The cgroup v2 mount, if there is one. */
function cgroup2Root(): string | undefined {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[2] === 'cgroup2')?.[1];
  } catch {
    return undefined;
  }
}

/** Removes a cgroup and the cgroups below it, deepest first. A cgroup whose last processes are
 * still exiting is busy for a moment: wait a little, then leave it for a later run. */
function removeCgroup(dir: string): boolean {
  for (const e of list(dir)) {
    const child = join(dir, e);
    try {
      if (lstatSync(child).isDirectory()) removeCgroup(child);
    } catch {
      // gone meanwhile
    }
  }
  for (let i = 0; i < 50; i++) {
    try {
      rmdirSync(dir);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false;
      if (code !== 'EBUSY') return false;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
  return false;
}

export interface Swept {
  namespaces: string[];
  interfaces: string[];
  cgroups: string[];
  pinDirs: string[];
}

/**
 * Removes what dead runs of the demo and the examples left: namespaces, veth host ends (by their
 * alias), cgroups and bpffs directories tagged `<prefix><pid>-<start>` whose process is gone.
 * Runs that are alive keep everything; nothing else is looked at. Returns what was removed.
 */
export function sweepDeadRuns(): Swept {
  const out: Swept = { namespaces: [], interfaces: [], cgroups: [], pinDirs: [] };
  for (const name of list(NETNS_DIR)) if (isDeadRun(name) && quiet(['netns', 'del', name])) out.namespaces.push(name);
  // After the namespaces: their veth pairs are normally gone with them by now.
  for (const ifname of list(SYS_NET)) {
    let alias: string;
    try {
      alias = readFileSync(join(SYS_NET, ifname, 'ifalias'), 'utf8').trim();
    } catch {
      continue;
    }
    if (isDeadRun(alias) && quiet(['link', 'del', 'dev', ifname])) out.interfaces.push(ifname);
  }
  const cg2 = cgroup2Root();
  if (cg2) for (const name of list(cg2)) if (isDeadRun(name) && removeCgroup(join(cg2, name))) out.cgroups.push(name);
  for (const name of list(BPFFS)) {
    if (!isDeadRun(name)) continue;
    const dir = join(BPFFS, name);
    try {
      // Not followed if a link: only the directory a run made, and the pins in it.
      if (!lstatSync(dir).isDirectory()) continue;
      rmSync(dir, { recursive: true });
      out.pinDirs.push(name);
    } catch {
      // another run removed it first
    }
  }
  return out;
}
