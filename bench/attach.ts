// Netlink attach paths, tsbpf beside libbpf (bench/c/attach_bench.c), same veth, same run,
// alternating rounds, medians. Run as root: npx tsx bench/attach.ts [iterations] [rounds]
// XDP attach/detach cycles are dominated by the kernel's RCU grace periods (8–16 ms each),
// so expect ~1.0x there; queries and tc operations show the loader's own overhead. tsbpf does
// more per call on purpose: a socket per call (no fd outlives it), tc.query/list resolve the
// program's name (BPF_PROG_GET_FD_BY_ID + info), hookDestroy checks both directions before
// deleting a qdisc it created. The machine is shared: compare ratios within one run only.
// Rows for XDP bpf_links and tcx live in bench/link.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tc from '../src/tc/index.js';
import * as xdp from '../src/xdp/index.js';
import { createVethPair } from '../test/helpers/netns.js';
import { actionProgram, TC_ACT_OK, XDP_PASS } from '../test/helpers/tiny-prog.js';

const iterations = Number(process.argv[2] ?? 20);
const rounds = Number(process.argv[3] ?? 3);
const QUERY_FACTOR = 20; // as in attach_bench.c: queries are cheap, run more of them

function buildC(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-attach-bench-'));
  const bin = join(dir, 'attach_bench');
  try {
    execFileSync('gcc', ['-O2', '-o', bin, new URL('./c/attach_bench.c', import.meta.url).pathname, '-lbpf'], { stdio: 'pipe' });
    return bin;
  } catch (e) {
    console.error(`libbpf side skipped (gcc/libbpf-dev missing?): ${String((e as { stderr?: Buffer }).stderr ?? e)}`);
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
}

function perOp(fn: () => void, n: number): number {
  fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const ROWS = [
  'xdp-attach-detach-drv',
  'xdp-attach-detach-skb',
  'xdp-query',
  'tc-hook-create-destroy',
  'tc-attach-detach',
  'tc-query',
] as const;
type Row = (typeof ROWS)[number];

const pair = createVethPair();
const xprog = actionProgram('xdp', XDP_PASS, 'bench_xdp');
const tprog = actionProgram('tc', TC_ACT_OK, 'bench_tc');
const ifindex = pair.hostIndex;

function tsbpfRound(): Record<Row, number> {
  const out = {} as Record<Row, number>;
  for (const mode of ['drv', 'skb'] as const)
    out[`xdp-attach-detach-${mode}`] = perOp(() => {
      xdp.attach(ifindex, xprog, { mode });
      xdp.detach(ifindex, { mode });
    }, iterations);
  xdp.attach(ifindex, xprog, { mode: 'drv' });
  out['xdp-query'] = perOp(() => void xdp.query(ifindex), iterations * QUERY_FACTOR);
  xdp.detach(ifindex, { mode: 'drv' });

  out['tc-hook-create-destroy'] = perOp(() => {
    tc.hookDestroy(tc.hookCreate({ ifindex, attachPoint: 'ingress' }));
  }, iterations);
  const hook = tc.hookCreate({ ifindex, attachPoint: 'ingress' });
  out['tc-attach-detach'] = perOp(() => {
    tc.attach(hook, { prog: tprog, handle: 1, priority: 1 });
    tc.detach(hook, { handle: 1, priority: 1 });
  }, iterations);
  tc.attach(hook, { prog: tprog, handle: 1, priority: 1 });
  out['tc-query'] = perOp(() => void tc.query(hook, { handle: 1, priority: 1 }), iterations * QUERY_FACTOR);
  tc.detach(hook, { handle: 1, priority: 1 });
  tc.hookDestroy(hook);
  return out;
}

function libbpfRound(bin: string): Record<Row, number> {
  const text = execFileSync(bin, [String(ifindex), String(iterations)]).toString();
  const out = {} as Record<Row, number>;
  for (const line of text.trim().split('\n')) {
    const [row, us] = line.split(' ');
    out[row as Row] = Number(us);
  }
  return out;
}

const bin = buildC();
const ours: Record<string, number[]> = {};
const theirs: Record<string, number[]> = {};
try {
  for (let r = 0; r < rounds; r++) {
    for (const [row, us] of Object.entries(tsbpfRound())) (ours[row] ??= []).push(us);
    if (bin) for (const [row, us] of Object.entries(libbpfRound(bin))) (theirs[row] ??= []).push(us);
  }
} finally {
  xprog.close();
  tprog.close();
  pair.destroy();
  if (bin) rmSync(join(bin, '..'), { recursive: true, force: true });
}

const fmt = (us: number | undefined): string => (us === undefined ? '—' : us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);
console.log(`attach paths on a veth, ${iterations} iterations (queries x${QUERY_FACTOR}), median of ${rounds} rounds`);
console.log(`${'row'.padEnd(26)}${'tsbpf'.padStart(12)}${'libbpf (C)'.padStart(14)}${'ratio'.padStart(9)}`);
for (const row of ROWS) {
  const a = ours[row] ? median(ours[row]) : undefined;
  const b = theirs[row] ? median(theirs[row]) : undefined;
  const ratio = a !== undefined && b !== undefined ? `${(a / b).toFixed(2)}x` : '—';
  console.log(`${row.padEnd(26)}${fmt(a).padStart(12)}${fmt(b).padStart(14)}${ratio.padStart(9)}`);
}
