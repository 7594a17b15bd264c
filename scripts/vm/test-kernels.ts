// npm run test:kernels [-- 6.1 6.12] [-- test paths...]
//
// Runs the kernel-facing test suites in a guest per kernel (in parallel: TCG keeps one host
// core busy per guest) and prints a per-kernel summary: passed, failed, skipped with the
// reason each skip names, and the guest's time. Exit status 0 only when every guest ran to its
// end and no test failed. `--json FILE` writes the summaries for CI.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import { SERIES } from './kernels.js';
import { GuestError, runInGuest } from './guest.js';
import { failureLines, summarizeRun, type Failure, type VitestJson } from '../vitest-report.js';

// What the guests leave to the host. JavaScript runs 5-6x slower under TCG, and two guests
// share the machine's two cores, so the guests run what depends on the kernel's version and
// leave out (1) pure suites (parsing, assembling, fuzzing: the same answer on every kernel),
// (2) suites that drive the library through child processes (the CLI, the examples, the demo,
// the SIGKILL lifetime checks): each child pays tsx's start-up again (tens of seconds in a
// guest), and the kernel calls they make are the ones the library suites make directly, and
// (3) the mutation fuzzing of BpfObject, whose findings do not depend on the kernel, and
// (4) the runner's own tests (test/vm), which boot guests themselves.
export const HOST_ONLY = [
  'test/asm/',
  'test/vm/',
  'test/cli/',
  'test/examples/',
  'test/demo/',
  // npm pack and npm install of the package: about the files it ships, not the kernel.
  'test/package/',
  'test/link/lifetime.test.ts',
  'test/object/hostile.test.ts',
  'test/object/objdump.test.ts',
  'test/elf/fuzz.test.ts',
  'test/elf/reader.test.ts',
  'test/elf/native.test.ts',
  'test/elf/sections.test.ts',
  'test/elf/xdp-tools.test.ts',
  'test/btf/hostile.test.ts',
  'test/btf/encode.test.ts',
  'test/btf/ext.test.ts',
  'test/btf/name-index.test.ts',
  'test/btf/maps.test.ts',
  'test/netlink/message.test.ts',
  'test/maps/bytes.test.ts',
  // Skeleton generation and tsc, and the BTF value codec: no kernel involved (loading skeletons runs in guests).
  'test/skeleton/codec.test.ts',
  'test/skeleton/generate.test.ts',
  'test/programs/names.test.ts',
  'test/features/answers.test.ts',
  'test/features/btf-blobs.test.ts',
  'test/errors/',
  'test/machine-state/',
  'test/xdp-multi/protocol.test.ts',
  // A child process reading views of closed maps, and the library inside a worker_thread: what
  // they check is JavaScript's side (mappings, koffi in workers), and starting tsx in a child
  // or a worker takes minutes under TCG. The torture test runs in the guests with 250 steps.
  'test/lifetime/after-close.test.ts',
  'test/workers/',
  'test/xdp-multi/dispatcher-object.test.ts',
];

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'string' },
    serial: { type: 'boolean' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: test-kernels.ts [--serial] [--json FILE] [--timeout S] [6.1] [6.12] [-- test paths...]');
  process.exit(0);
}

// Kernel series first, then (after a bare "--", which parseArgs passes through) test paths.
const kernels = positionals.filter((p) => SERIES[p] !== undefined);
const paths = positionals.filter((p) => SERIES[p] === undefined);
if (kernels.length === 0) kernels.push(...Object.keys(SERIES));

export interface KernelSummary {
  kernel: string;
  release?: string;
  passed: number;
  failed: number;
  skipped: number;
  skips: string[];
  failures: Failure[];
  seconds: number;
  /** Set when the guest itself failed (boot, crash, hang) or produced no report. */
  error?: string;
}

function vitestCommand(): string {
  const args = paths.length ? paths : ['test/', ...HOST_ONLY.map((p) => `--exclude=${p.endsWith('/') ? `${p}**` : p}`)];
  return `npx vitest run ${args.map((a) => `'${a}'`).join(' ')}`;
}

/**
 * A copy of the working tree (tracked and untracked, not ignored files; node_modules linked)
 * for the guests to run: a guest run takes minutes, and edits made meanwhile must not mix two
 * versions of the sources into one run.
 */
function snapshotTree(): string {
  const src = process.cwd();
  const dest = mkdtempSync(join(tmpdir(), 'tsbpf-vm-tree-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    const to = join(dest, f);
    mkdirSync(dirname(to), { recursive: true });
    try {
      copyFileSync(join(src, f), to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e; // deleted but not yet staged
    }
  }
  symlinkSync(resolve(src, 'node_modules'), join(dest, 'node_modules'));
  return dest;
}

async function runKernel(kernel: string, prefix: boolean, tree: string): Promise<KernelSummary> {
  const started = Date.now();
  // The output is also kept whole: when a file fails in a hook or vitest fails outside any
  // test, the reason is only in what vitest printed.
  let output = '';
  let pending = '';
  const utf8 = new StringDecoder('utf8'); // a chunk can end inside a character (the ⎯ rules)
  const onOutput = (d: Buffer): void => {
    const text = utf8.write(d);
    output += text;
    if (!prefix) {
      process.stdout.write(d);
      return;
    }
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const l of lines) process.stdout.write(`[${kernel}] ${l}\n`);
  };
  const summary: KernelSummary = { kernel, passed: 0, failed: 0, skipped: 0, skips: [], failures: [], seconds: 0 };
  try {
    const r = await runInGuest({
      kernel,
      command: vitestCommand(),
      cwd: tree,
      env: {
        TSBPF_VITEST_JSON: '/run/vm/report.json',
        ...(process.env.CI ? { CI: process.env.CI } : {}),
      },
      ...(values.timeout ? { timeoutSeconds: Number(values.timeout) } : {}),
      onOutput,
    });
    summary.release = r.kernel.release;
    try {
      const report = JSON.parse(readFileSync(join(r.runDir, 'report.json'), 'utf8')) as VitestJson;
      Object.assign(summary, summarizeRun(report, output, r.status, tree));
    } catch {
      summary.error = `the guest ran vitest (exit ${r.status}) but left no readable report`;
    }
    r.cleanup();
  } catch (e) {
    summary.error = e instanceof GuestError ? e.message : `${(e as Error).message}`;
  }
  pending && process.stdout.write(`[${kernel}] ${pending}\n`);
  summary.seconds = (Date.now() - started) / 1000;
  return summary;
}

const parallel = !values.serial && kernels.length > 1;
const tree = snapshotTree();
let summaries: KernelSummary[];
try {
  summaries = parallel
    ? await Promise.all(kernels.map((k) => runKernel(k, true, tree)))
    : await kernels.reduce<Promise<KernelSummary[]>>(async (acc, k) => [...(await acc), await runKernel(k, false, tree)], Promise.resolve([]));
} finally {
  rmSync(tree, { recursive: true, force: true });
}

console.log('\n== guest kernels ==');
let failed = 0;
let passed = 0;
for (const s of summaries) {
  const head = `${s.kernel} (${s.release ?? 'not booted'}): ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped in ${s.seconds.toFixed(0)} s`;
  console.log(s.error ? `${head}\n  GUEST FAILED: ${s.error.split('\n').join('\n  ')}` : head);
  for (const l of failureLines(s.failures)) console.log(l);
  for (const k of s.skips) console.log(`  skip ${k}`);
  passed += s.passed;
  failed += s.failed + (s.error ? 1 : 0);
}
console.log(`${passed} passed, ${failed} failed`);
if (values.json) {
  mkdirSync(join(values.json, '..'), { recursive: true });
  writeFileSync(values.json, JSON.stringify(summaries, null, 2));
}
process.exit(failed ? 1 : 0);
