// Link attach + detach cycles, tsbpf beside libbpf (bench/c/link_bench.c), same interface,
// same run, alternating rounds. Run: npx tsx bench/link.ts [iterations] [rounds]
// Expect ~1.0x: each cycle is dominated by the kernel's RCU grace periods (8–16 ms per
// attach and per detach here), not by the loader.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachTcxLink, attachXdpLink } from '../src/link/index.js';
import { createVethPair } from '../test/helpers/netns.js';
import { TCX_NEXT, XDP_PASS, constInsns, prog } from '../test/link/progs.js';

const iterations = Number(process.argv[2] ?? 30);
const rounds = Number(process.argv[3] ?? 3);

function buildC(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-link-bench-'));
  const bin = join(dir, 'link_bench');
  try {
    execFileSync('gcc', ['-O2', '-o', bin, new URL('./c/link_bench.c', import.meta.url).pathname, '-lbpf'], { stdio: 'pipe' });
    return bin;
  } catch (e) {
    console.error(`libbpf side skipped (gcc/libbpf-dev missing?): ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

function timeCycles(attach: () => { close(): void }, n: number): number {
  attach().close(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) attach().close();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const pair = createVethPair();
const xdp = prog('xdp', constInsns(XDP_PASS), 'bench_xdp');
const tc = prog('sched_cls', constInsns(TCX_NEXT), 'bench_tcx');
const bin = buildC();
const ts = { xdp: [] as number[], tcx: [] as number[] };
const c = { xdp: [] as number[], tcx: [] as number[] };
try {
  for (let r = 0; r < rounds; r++) {
    if (bin) {
      const out = JSON.parse(execFileSync(bin, [String(pair.hostIndex), String(iterations)], { encoding: 'utf8' })) as {
        xdp_us: number;
        tcx_us: number;
      };
      c.xdp.push(out.xdp_us);
      c.tcx.push(out.tcx_us);
    }
    ts.xdp.push(timeCycles(() => attachXdpLink(pair.hostIndex, xdp), iterations));
    ts.tcx.push(timeCycles(() => attachTcxLink(pair.hostIndex, 'ingress', tc), iterations));
  }
} finally {
  xdp.close();
  tc.close();
  pair.destroy();
  if (bin) rmSync(join(bin, '..'), { recursive: true, force: true });
}

const ms = (us: number): string => `${(us / 1000).toFixed(2)} ms`;
console.log(`link attach+detach cycle, ${iterations} cycles x ${rounds} rounds (median of rounds), veth ${pair.host}`);
console.log('| operation | tsbpf | libbpf 1.1 (C) | tsbpf / libbpf |');
console.log('|---|---|---|---|');
for (const [name, key] of [
  ['XDP link create + close', 'xdp'],
  ['tcx link create + close', 'tcx'],
] as const) {
  const t = median(ts[key]);
  const cc = c[key].length ? median(c[key]) : undefined;
  console.log(`| ${name} | ${ms(t)} | ${cc !== undefined ? ms(cc) : 'n/a'} | ${cc !== undefined ? `${(t / cc).toFixed(2)}x` : 'n/a'} |`);
}
