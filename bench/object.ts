// Opening (and loading) an object file: tsbpf's BpfObject beside libbpf's bpf_object__open
// (bench/c/object_open.c), same files, same run, alternating rounds.
// Run: npx tsx bench/object.ts [iterations] [rounds]
// "open" is pure parsing (ELF, BTF with fixups, .BTF.ext, programs, maps) — no syscalls.
// "open+load" adds BTF load, map creation and the verifier, which dominate.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Measure what users install: the tsc build in dist/ (tsx's CommonJS transform turns every
// imported binding into a getter call, which costs this parser-heavy path up to 2x).
const root = new URL('../', import.meta.url).pathname;
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const { BpfObject } = (await import(`${root}dist/index.js`)) as typeof import('../src/index.js');

const iterations = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 3);
const files = [
  '/usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o',
  '/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_all.o',
  new URL('../examples/bpf/xdp_stats.o', import.meta.url).pathname,
];

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-object-bench-'));
const bin = join(dir, 'object_open');
execFileSync('gcc', ['-O2', '-o', bin, new URL('./c/object_open.c', import.meta.url).pathname, '-lbpf'], { stdio: 'inherit' });

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function tsbpf(path: string, n: number, load: boolean): number {
  // Read once like libbpf's page-cache-warm open; BpfObject.open(path) would read each time too.
  const bytes = new Uint8Array(readFileSync(path));
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
  void bytes;
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

{
  // A process's very first open, cold (no JIT yet): what a short CLI run pays.
  const t0 = process.hrtime.bigint();
  BpfObject.open(files[1]!).close();
  console.log(`first open in this process (cold): ${(Number(process.hrtime.bigint() - t0) / 1e3).toFixed(0)} µs`);
}
console.log(`object open: ${iterations} iterations x ${rounds} rounds, median per operation, after warm-up`);
console.log('file                   | op        |   tsbpf µs |  libbpf µs | tsbpf/libbpf');
try {
  for (const file of files) {
    for (const load of [false, true]) {
      const n = load ? Math.max(5, Math.floor(iterations / 20)) : iterations;
      const ts: number[] = [];
      const c: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const out = JSON.parse(execFileSync(bin, [file, String(n), ...(load ? ['load'] : [])], { encoding: 'utf8' })) as { open_us: number; load_us: number };
        c.push(load ? out.load_us : out.open_us);
        ts.push(tsbpf(file, n, load));
      }
      const [t, l] = [median(ts), median(c)];
      const name = file.split('/').pop()!.padEnd(22);
      console.log(`${name} | ${(load ? 'open+load' : 'open').padEnd(9)} | ${t.toFixed(1).padStart(10)} | ${l.toFixed(1).padStart(10)} | ${(t / l).toFixed(2)}x`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
