// Opening (and loading) an object file: tsbpf's BpfObject beside libbpf's bpf_object__open
// (bench/c/object_open.c), same files, same run, alternating rounds.
// Run: npx tsx bench/object.ts [iterations] [rounds] [filter]
// BENCH_BASELINE=<another build's dist/index.js> adds that build's open times and ratio (a
// before/after comparison in the same run).
// "open" is pure parsing (ELF, BTF with fixups, .BTF.ext, programs, maps) — no syscalls but the
// file read. It is measured on every object xdp-tools installs, the examples and the test
// fixtures (those libbpf opens). "open+load" adds BTF load, map creation and the verifier,
// which dominate; it is measured on three objects (needs root).
//
// Both sides report per-operation CPU time of their process (user + system; for Node this
// includes its GC and compiler threads) and wall-clock time. The ratio is taken on CPU time:
// on a shared machine wall-clock also counts the time other processes held the core, which
// swings either side by 2-5x from round to round. Each figure is the best of the rounds.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Measure what users install: the tsc build in dist/ (tsx's CommonJS transform turns every
// imported binding into a getter call, which costs this parser-heavy path up to 2x).
const root = new URL('../', import.meta.url).pathname;
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
type Api = typeof import('../src/index.js');
const { BpfObject } = (await import(`${root}dist/index.js`)) as Api;
const baselinePath = process.env.BENCH_BASELINE;
const Baseline = baselinePath ? ((await import(baselinePath)) as Api).BpfObject : undefined;

const iterations = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 7);
const filter = process.argv[4];
const objectsIn = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.o')).sort().map((f) => join(dir, f)) : [];
const xdpTools = '/usr/lib/x86_64-linux-gnu/bpf';
const loadFiles = new Set([join(xdpTools, 'xdp-dispatcher.o'), join(xdpTools, 'xdpfilt_alw_all.o'), join(root, 'examples/bpf/xdp_stats.o')]);
const files = [...objectsIn(xdpTools), ...objectsIn(join(root, 'examples/bpf')), ...objectsIn(join(root, 'test/fixtures'))].filter(
  (f) => filter === undefined || f.includes(filter),
);

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-object-bench-'));
const bin = join(dir, 'object_open');
execFileSync('gcc', ['-O2', '-o', bin, new URL('./c/object_open.c', import.meta.url).pathname, '-lbpf'], { stdio: 'inherit' });

interface Time {
  cpu: number;
  wall: number;
}

// Maps pinned by name (xdp-filter's filter_*, xdp_stats_map) go to a bpffs directory of the
// bench's own on both sides, removed at the end: at the default /sys/fs/bpf they would reuse
// the machine's live maps, and stay behind.
const pinRoot = `/sys/fs/bpf/tsbpf-object-bench-${process.pid}`;
process.on('exit', () => rmSync(pinRoot, { recursive: true, force: true }));

function tsbpf(path: string, n: number, load: boolean, Obj: Api['BpfObject'] = BpfObject): Time {
  // BpfObject.open(path) reads the file each time, as bpf_object__open_file does.
  const once = () => {
    const o = Obj.open(path, { pinRoot });
    if (load) o.load();
    o.close();
  };
  // Warm up to steady state (V8's optimizing tier needs a few hundred runs of these parsers),
  // as in a long-lived process; the first open of a process is reported separately.
  for (let i = 0; i < (load ? 20 : 1000); i++) once();
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) once();
  const wall = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / n, wall };
}

function libbpf(path: string, n: number, load: boolean): Time | undefined {
  try {
    const out = JSON.parse(execFileSync(bin, [path, String(n), ...(load ? ['load', pinRoot] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Record<string, number>;
    return load ? { cpu: out.load_cpu_us!, wall: out.load_us! } : { cpu: out.open_cpu_us!, wall: out.open_us! };
  } catch {
    return undefined; // libbpf refuses the object (a fixture of bad input): nothing to compare
  }
}

const best = (xs: Time[]): Time => ({ cpu: Math.min(...xs.map((x) => x.cpu)), wall: Math.min(...xs.map((x) => x.wall)) });

{
  // A process's very first open, cold (no JIT yet): what a short CLI run pays.
  const t0 = process.hrtime.bigint();
  BpfObject.open(join(xdpTools, 'xdpfilt_alw_all.o')).close();
  console.log(`first open in this process (cold): ${(Number(process.hrtime.bigint() - t0) / 1e3).toFixed(0)} µs`);
}
console.log(`object open: ${iterations} iterations x ${rounds} rounds, best round, µs per operation after warm-up`);
console.log(
  `file                          | size kB | op        | tsbpf cpu | libbpf cpu | tsbpf/libbpf | wall: tsbpf  libbpf${Baseline ? ' | baseline cpu | baseline/libbpf' : ''}`,
);
const ratios: number[] = [];
const baseRatios: number[] = [];
const skipped: string[] = [];
try {
  for (const file of files) {
    for (const load of loadFiles.has(file) ? [false, true] : [false]) {
      const n = load ? Math.max(5, Math.floor(iterations / 20)) : iterations;
      const ts: Time[] = [];
      const c: Time[] = [];
      const bs: Time[] = [];
      let why: string | undefined;
      for (let r = 0; r < rounds && why === undefined; r++) {
        const l = libbpf(file, n, load);
        if (l === undefined) why = 'libbpf refuses it';
        else {
          c.push(l);
          try {
            ts.push(tsbpf(file, n, load));
            if (Baseline && !load) bs.push(tsbpf(file, n, load, Baseline));
          } catch (e) {
            why = `tsbpf: ${(e as Error).message.split('\n')[0]}`;
          }
        }
      }
      const name = file.slice(file.lastIndexOf('/') + 1);
      if (why !== undefined) {
        skipped.push(`${name} (${why})`);
        continue;
      }
      const [t, l] = [best(ts), best(c)];
      if (!load) ratios.push(t.cpu / l.cpu);
      const b = bs.length > 0 ? best(bs) : undefined;
      if (b) baseRatios.push(b.cpu / l.cpu);
      const kb = (statSync(file).size / 1024).toFixed(1);
      console.log(
        `${name.padEnd(29)} | ${kb.padStart(7)} | ${(load ? 'open+load' : 'open').padEnd(9)} | ${t.cpu.toFixed(1).padStart(9)} | ${l.cpu.toFixed(1).padStart(10)} | ${`${(t.cpu / l.cpu).toFixed(2)}x`.padStart(12)} | ${t.wall.toFixed(1).padStart(11)} ${l.wall.toFixed(1).padStart(7)}${b ? ` | ${b.cpu.toFixed(1).padStart(12)} | ${`${(b.cpu / l.cpu).toFixed(2)}x`.padStart(15)}` : ''}`,
      );
    }
  }
  const summary = (what: string, rs: number[]) => {
    if (rs.length === 0) return;
    const geo = Math.exp(rs.reduce((s, r) => s + Math.log(r), 0) / rs.length);
    console.log(`${what}, CPU time, over ${rs.length} objects: worst ${Math.max(...rs).toFixed(2)}x, geometric mean ${geo.toFixed(2)}x, ${rs.filter((r) => r > 1.5).length} above 1.5x`);
  };
  summary('open', ratios);
  summary('baseline open', baseRatios);
  for (const s of skipped) console.log(`not compared: ${s}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
