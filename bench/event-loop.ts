// Event-loop lag while the verifier runs: BpfProgram.load against BpfProgram.loadAsync on a
// program the verifier takes long over (a counted loop it walks iteration by iteration).
//
//   npx tsx bench/event-loop.ts [--iterations 100000] [--loads 5] [--json]
//
// perf_hooks.monitorEventLoopDelay samples how late a 1 ms timer fires: with load() the loop
// is blocked for the whole verification, with loadAsync() the verifier runs on koffi's worker
// pool and only the microseconds around the call stay on the loop. Each side loads `loads`
// times; the figures are the histogram's percentiles and the wall time per load.
import { execFileSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { ProgramBuilder, R0, R1 } from '../src/asm/index.js';

const root = new URL('../', import.meta.url).pathname;
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const { BpfProgram } = (await import(`${root}dist/programs/index.js`)) as typeof import('../src/programs/index.js');

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const ITER = arg('iterations', 100_000);
const LOADS = arg('loads', 5);
const JSON_OUT = process.argv.includes('--json');

/** r0 = 0; r1 = 0; loop: r0 += r1; r1 += 1; if r1 < ITER goto loop; exit — ~3 × ITER insns verified
 * (the counter is a known constant each time round, so the verifier prunes nothing). */
function heavyLoop(iterations: number): Uint8Array {
  return new ProgramBuilder().mov64(R0, 0).mov64(R1, 0).label('loop').add64(R0, R1).add64(R1, 1).jlt(R1, iterations, 'loop').exit().assemble().bytes;
}

const opts = { type: 'socket_filter', license: 'GPL', instructions: heavyLoop(ITER), name: 'heavy' };

interface Figure {
  mode: string;
  loadMs: number;
  p50: number;
  p99: number;
  max: number;
}

async function measure(mode: 'sync' | 'async'): Promise<Figure> {
  await tick();
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t = performance.now();
  for (let i = 0; i < LOADS; i++) {
    const p = mode === 'sync' ? BpfProgram.load(opts) : await BpfProgram.loadAsync(opts);
    p.close();
    await tick();
  }
  const loadMs = (performance.now() - t) / LOADS;
  h.disable();
  const ms = (ns: number): number => ns / 1e6;
  return { mode, loadMs, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

// Warm up both paths (module loading, koffi's async pool), then alternate.
(await BpfProgram.loadAsync({ ...opts, instructions: heavyLoop(100) })).close();
BpfProgram.load({ ...opts, instructions: heavyLoop(100) }).close();
const figures: Figure[] = [];
for (const mode of ['sync', 'async', 'sync', 'async'] as const) figures.push(await measure(mode));

if (JSON_OUT) console.log(JSON.stringify({ iterations: ITER, loads: LOADS, figures }));
else {
  console.log(`event-loop delay (monitorEventLoopDelay, 1 ms resolution) while loading a program of ~${3 * ITER} verified insns, ${LOADS} loads per run`);
  console.log(`${'mode'.padEnd(6)} ${'ms/load'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`);
  for (const f of figures)
    console.log(`${f.mode.padEnd(6)} ${f.loadMs.toFixed(0).padStart(8)} ${f.p50.toFixed(1).padStart(8)} ${f.p99.toFixed(1).padStart(8)} ${f.max.toFixed(1).padStart(8)}`);
}
