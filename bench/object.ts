// Opening (and loading) an object file: tsbpf's BpfObject beside libbpf's bpf_object__open
// (bench/c/object_open.c), same files, same run, alternating rounds.
// Run: npx tsx bench/object.ts [iterations] [rounds] [filter]
// "open" is pure parsing (ELF, BTF with fixups, .BTF.ext, programs, maps) — no syscalls. It is
// measured on every object xdp-tools installs, the examples and the test fixtures (those libbpf
// opens). "open+load" adds BTF load, map creation and the verifier, which dominate; it is
// measured on three objects (needs root).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Measure what users install: the tsc build in dist/ (tsx's CommonJS transform turns every
// imported binding into a getter call, which costs this parser-heavy path up to 2x).
const root = new URL('../', import.meta.url).pathname;
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const { BpfObject } = (await import(`${root}dist/index.js`)) as typeof import('../src/index.js');

const iterations = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);
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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function tsbpf(path: string, n: number, load: boolean): number {
  // BpfObject.open(path) reads the file each time, as bpf_object__open_file does.
  const once = () => {
    const o = BpfObject.open(path);
    if (load) o.load();
    o.close();
  };
  // Warm up to steady state (V8's optimizing tier needs a few hundred runs of these parsers),
  // as in a long-lived process; the first open of a process is reported separately.
  for (let i = 0; i < (load ? 20 : 1000); i++) once();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) once();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

function libbpf(path: string, n: number, load: boolean): number | undefined {
  try {
    const out = JSON.parse(execFileSync(bin, [path, String(n), ...(load ? ['load'] : [])], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { open_us: number; load_us: number };
    return load ? out.load_us : out.open_us;
  } catch {
    return undefined; // libbpf refuses the object (a fixture of bad input): nothing to compare
  }
}

{
  // A process's very first open, cold (no JIT yet): what a short CLI run pays.
  const t0 = process.hrtime.bigint();
  BpfObject.open(join(xdpTools, 'xdpfilt_alw_all.o')).close();
  console.log(`first open in this process (cold): ${(Number(process.hrtime.bigint() - t0) / 1e3).toFixed(0)} µs`);
}
console.log(`object open: ${iterations} iterations x ${rounds} rounds, median per operation, after warm-up`);
console.log('file                          | size kB | op        |   tsbpf µs |  libbpf µs | tsbpf/libbpf');
const ratios: number[] = [];
const skipped: string[] = [];
try {
  for (const file of files) {
    for (const load of loadFiles.has(file) ? [false, true] : [false]) {
      const n = load ? Math.max(5, Math.floor(iterations / 20)) : iterations;
      const ts: number[] = [];
      const c: number[] = [];
      let why: string | undefined;
      for (let r = 0; r < rounds && why === undefined; r++) {
        const l = libbpf(file, n, load);
        if (l === undefined) why = 'libbpf refuses it';
        else {
          c.push(l);
          try {
            ts.push(tsbpf(file, n, load));
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
      const [t, l] = [median(ts), median(c)];
      if (!load) ratios.push(t / l);
      const kb = (Number(execFileSync('stat', ['-c', '%s', file], { encoding: 'utf8' })) / 1024).toFixed(1);
      console.log(`${name.padEnd(29)} | ${kb.padStart(7)} | ${(load ? 'open+load' : 'open').padEnd(9)} | ${t.toFixed(1).padStart(10)} | ${l.toFixed(1).padStart(10)} | ${(t / l).toFixed(2)}x`);
    }
  }
  if (ratios.length > 0) {
    const geo = Math.exp(ratios.reduce((s, r) => s + Math.log(r), 0) / ratios.length);
    console.log(`open over ${ratios.length} objects: worst ${Math.max(...ratios).toFixed(2)}x, geometric mean ${geo.toFixed(2)}x`);
  }
  for (const s of skipped) console.log(`not compared: ${s}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
