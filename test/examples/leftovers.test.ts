// examples/lib/leftovers.ts: what a killed run of an example leaves (namespace and veth pair,
// cgroups, a bpffs directory with pins) is removed by the next run once its process is gone —
// and only then: a live run's things, a reused pid's, and names that only look like ours stay.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isDeadRun, ownerOf, processStart, runTag, sweepDeadRuns, type Swept } from '../../examples/lib/leftovers.js';
import { BpfMap } from '../../src/index.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';
import { until } from '../helpers/until.js';
import { isRoot, leftovers, runExample, startExample } from './run.js';

const netns = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
const hasLink = (name: string): boolean => spawnSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' }).status === 0;
const cgroup2 = (): string => readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')![1]!;

/** A process that stays alive until killed, and its start time. */
function sleeper(): { pid: number; start: string; stop: () => Promise<void> } {
  const p = spawn('sleep', ['600'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  const start = processStart(p.pid!);
  if (start === undefined) throw new Error('sleep died at once');
  return {
    pid: p.pid!,
    start,
    stop: async () => {
      p.kill('SIGKILL');
      await exited;
    },
  };
}

/** Checks that each of `names` that a sweep reports is gone from the machine under that kind. */
function reportedAreGone(s: Swept, names: string[]): void {
  const cg = cgroup2();
  const present = { namespaces: (n: string) => netns().includes(n), interfaces: hasLink, cgroups: (n: string) => existsSync(join(cg, n)), pinDirs: (n: string) => existsSync(`/sys/fs/bpf/${n}`) };
  for (const kind of ['namespaces', 'interfaces', 'cgroups', 'pinDirs'] as const)
    for (const n of s[kind].filter((x) => names.includes(x))) expect([kind, n, present[kind](n)]).toEqual([kind, n, false]);
}

describe('run tags', () => {
  it('name a process by pid and start time; a tag is dead once that process is gone or its pid reused', async () => {
    const tag = runTag('tsbpf-ex-');
    expect(tag).toBe(`tsbpf-ex-${process.pid}-${processStart(process.pid)}`);
    expect(ownerOf(tag)).toEqual({ pid: process.pid, start: processStart(process.pid) });
    expect(isDeadRun(tag)).toBe(false);
    // The same pid with another start time: a process that got a dead run's pid.
    expect(isDeadRun(`tsbpf-ex-${process.pid}-${Number(processStart(process.pid)) + 1}`)).toBe(true);
    const s = sleeper();
    const its = `tsbpf-demo-${s.pid}-${s.start}`;
    expect(isDeadRun(its)).toBe(false);
    await s.stop();
    expect(isDeadRun(its)).toBe(true);
    // Exited but not yet reaped (a killed run's orphan waits for init): a zombie's run is over.
    const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const child = Number(await new Promise<string>((r) => parent.stdout.once('data', (d: Buffer) => r(d.toString()))));
      const childStart = processStart(child);
      expect(childStart).toBeDefined();
      const childTag = `tsbpf-ex-${child}-${childStart}`;
      expect(isDeadRun(childTag)).toBe(false);
      const state = (): string | undefined => readFileSync(`/proc/${child}/stat`, 'latin1').split(') ')[1]?.[0];
      await until(() => state() === 'Z');
      expect(state()).toBe('Z'); // still in /proc: its parent never waits for it
      expect(isDeadRun(childTag)).toBe(true);
    } finally {
      parent.kill('SIGKILL');
      await new Promise((r) => parent.once('close', r));
    }
    // Names that are not exactly a tag are never a dead run's.
    for (const name of [`tsbpf-ex-${s.pid}`, `tsbpf-ex-${s.pid}-${s.start}x`, `tsbpf-${s.pid}-0`, `xtsbpf-ex-${s.pid}-${s.start}`, 'tsbpf-ex-0-1', ''])
      expect([name, isDeadRun(name)]).toEqual([name, false]);
  });
});

// Needs root (namespaces, interfaces, cgroups, pins); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('sweepDeadRuns', () => {
  guardFdLeaks();
  const made: (() => void)[] = [];
  afterAll(() => {
    for (const undo of made.reverse()) undo();
  });

  it('removes a dead run’s namespace, veth, cgroups and pinned maps, and nothing of a live run or anyone else', async () => {
    const live = sleeper();
    const gone = sleeper();
    await gone.stop();
    const dead = `tsbpf-ex-${gone.pid}-${gone.start}`;
    const alive = `tsbpf-ex-${live.pid}-${live.start}`;
    const reused = `tsbpf-demo-${live.pid}-${Number(live.start) + 1}`; // that pid, another process
    const untagged = `tsbpf-ex-${gone.pid}`; // looks like ours, is not a tag
    made.push(() => void live.stop());

    // Namespaces.
    for (const ns of [dead, alive, reused, untagged]) {
      execFileSync('ip', ['netns', 'add', ns]);
      made.push(() => spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }));
    }
    // Veth pairs in this namespace: the host end carries its run's tag as its alias.
    const ifs = { dead: `tez${process.pid}a`, alive: `tez${process.pid}b`, plain: `tez${process.pid}c` };
    for (const [k, name] of Object.entries(ifs)) {
      execFileSync('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `tey${process.pid}${name.at(-1)}`]);
      made.push(() => spawnSync('ip', ['link', 'del', name], { stdio: 'ignore' }));
      if (k !== 'plain') execFileSync('ip', ['link', 'set', 'dev', name, 'alias', k === 'dead' ? dead : alive]);
    }
    // Cgroups, one below another as app-traffic makes them.
    const cg = cgroup2();
    for (const name of [dead, alive, untagged]) {
      mkdirSync(join(cg, name, 'web'), { recursive: true });
      made.push(() => {
        for (const d of [join(cg, name, 'web'), join(cg, name)]) if (existsSync(d)) rmdirSync(d);
      });
    }
    // bpffs directories with a pinned map in each.
    const ids: Record<string, number> = {};
    for (const name of [dead, alive, untagged]) {
      mkdirSync(`/sys/fs/bpf/${name}`);
      made.push(() => rmSync(`/sys/fs/bpf/${name}`, { recursive: true, force: true }));
      using m = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
      m.pin(`/sys/fs/bpf/${name}/counts`);
      ids[name] = m.info().id;
    }

    const swept = sweepDeadRuns();

    // Another test run's example may sweep the same dead things first (every example run
    // sweeps), so what this sweep reports is not asserted to be all of them: what it reports is
    // gone, and what is on the machine afterwards is checked below.
    reportedAreGone(swept, [dead, reused, ifs.dead]);
    const all = [...swept.namespaces, ...swept.interfaces, ...swept.cgroups, ...swept.pinDirs];
    for (const kept of [alive, untagged, ifs.alive, ifs.plain]) expect(all).not.toContain(kept);

    const nsNow = netns();
    expect(nsNow).not.toContain(dead);
    expect(nsNow).not.toContain(reused);
    expect(nsNow).toEqual(expect.arrayContaining([alive, untagged]));
    expect(hasLink(ifs.dead)).toBe(false);
    expect(hasLink(`tey${process.pid}a`)).toBe(false); // its peer went with it
    expect([hasLink(ifs.alive), hasLink(ifs.plain)]).toEqual([true, true]);
    expect(existsSync(join(cg, dead))).toBe(false);
    expect([existsSync(join(cg, alive, 'web')), existsSync(join(cg, untagged, 'web'))]).toEqual([true, true]);
    expect(existsSync(`/sys/fs/bpf/${dead}`)).toBe(false);
    // The dead run's map went with its last pin; the others' are still pinned and still there.
    expect(() => BpfMap.fromId(ids[dead]!)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    for (const name of [alive, untagged]) {
      using m = BpfMap.fromPin(`/sys/fs/bpf/${name}/counts`);
      expect(m.info().id).toBe(ids[name]);
    }

    // Once the live run is gone too, its things go; the untagged ones never do.
    await live.stop();
    const again = sweepDeadRuns();
    reportedAreGone(again, [alive, ifs.alive]);
    expect(netns()).not.toContain(alive);
    expect(hasLink(ifs.alive)).toBe(false);
    expect(existsSync(join(cg, alive))).toBe(false);
    expect(existsSync(`/sys/fs/bpf/${alive}`)).toBe(false);
    expect(netns()).toContain(untagged);
    expect(hasLink(ifs.plain)).toBe(true);
    expect(existsSync(`/sys/fs/bpf/${untagged}/counts`)).toBe(true);
    expect(existsSync(join(cg, untagged))).toBe(true);
  });

  it('examples killed with SIGKILL leave their things; the next run clears them and keeps a live run’s', async () => {
    const before = leftovers();
    // A testbed user (namespace and veth), a bpffs user and a cgroup user, each killed mid-run.
    const killed: string[] = [];
    for (const name of ['xdp-drop', 'pinned-maps', 'app-traffic']) {
      const start = leftovers();
      const run = await startExample(name, ['--seconds', '60'], /\[1s\]/);
      await run.kill('SIGKILL');
      const left = leftovers().filter((l) => !start.includes(l));
      expect(left.length, `${name} left nothing behind when killed`).toBeGreaterThan(0);
      killed.push(...left);
    }
    // What each left: xdp-drop its namespace and host veth end, pinned-maps its directory,
    // app-traffic its cgroup.
    expect(killed.filter((l) => /^tsbpf-ex-\d+-\d+$/.test(l)).length).toBeGreaterThanOrEqual(3);
    expect(killed.some((l) => /^tex\d+h$/.test(l)), killed.join()).toBe(true); // its peer is in the namespace

    // A live run, which the next run must leave alone.
    const live = await startExample('xdp-drop', ['--seconds', '60'], /\[1s\]/);
    const liveThings = leftovers().filter((l) => !before.includes(l) && !killed.includes(l));
    expect(liveThings.length).toBeGreaterThanOrEqual(2); // its namespace and host veth end
    try {
      const r = runExample('xdp-drop', ['--seconds', '1']);
      expect(r.status, r.stderr).toBe(0);
      const now = leftovers();
      for (const l of killed) expect(now, `${l} of a killed run is still there`).not.toContain(l);
      for (const l of liveThings) expect(now, `${l} of a live run was removed`).toContain(l);
    } finally {
      await live.kill('SIGINT');
    }
    expect(leftovers()).toEqual(before);
  }, 180_000);
});
