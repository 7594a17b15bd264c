// Runs one command as root in a QEMU guest booted from a Debian kernel, with this machine's
// files (the checkout, node, clang, bpftool) visible inside. Exit status: the command's, or
// 125 when the guest itself failed (boot failure, crash, hang, interruption).
//
//   npx tsx scripts/vm/vm.ts [--kernel 6.1|6.12] [--timeout S] [--cpus N] [--memory MiB] [--env K=V]... -- command...
//   npx tsx scripts/vm/vm.ts --fetch [--kernel K]...   (fill the kernel cache and exit)
import { parseArgs } from 'node:util';
import { SERIES, ensureKernel } from './kernels.js';
import { GuestError, runInGuest } from './guest.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    kernel: { type: 'string', multiple: true },
    timeout: { type: 'string' },
    cpus: { type: 'string' },
    memory: { type: 'string' },
    env: { type: 'string', multiple: true },
    fetch: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

const usage = `usage: vm.ts [--kernel ${Object.keys(SERIES).join('|')}] [--timeout S] [--cpus N] [--memory MiB] [--env K=V]... -- command...
       vm.ts --fetch [--kernel K]...`;
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const kernels = values.kernel ?? ['6.12'];
for (const k of kernels) {
  if (!SERIES[k]) {
    console.error(`unknown kernel '${k}'\n${usage}`);
    process.exit(2);
  }
}

if (values.fetch) {
  for (const k of kernels) {
    const kernel = ensureKernel(k, (l) => console.error(`[vm ${k}] ${l}`));
    console.log(`${k}: ${kernel.release} (${kernel.package}) in ${kernel.dir}`);
  }
  process.exit(0);
}
if (positionals.length === 0 || kernels.length !== 1) {
  console.error(usage);
  process.exit(2);
}
const num = (s: string | undefined, what: string): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`--${what} must be a positive integer, got ${s}`);
    process.exit(2);
  }
  return n;
};
const env: Record<string, string> = {};
for (const kv of values.env ?? []) {
  const i = kv.indexOf('=');
  if (i <= 0) {
    console.error(`--env wants K=V, got ${kv}`);
    process.exit(2);
  }
  env[kv.slice(0, i)] = kv.slice(i + 1);
}
if (process.env.CI) env.CI = process.env.CI;

const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
try {
  const timeoutSeconds = num(values.timeout, 'timeout');
  const cpus = num(values.cpus, 'cpus');
  const memoryMiB = num(values.memory, 'memory');
  const r = await runInGuest({
    kernel: kernels[0]!,
    command: positionals.map(quote).join(' '),
    env,
    ...(timeoutSeconds ? { timeoutSeconds } : {}),
    ...(cpus ? { cpus } : {}),
    ...(memoryMiB ? { memoryMiB } : {}),
  });
  r.cleanup();
  console.error(`[vm ${kernels[0]}] exit ${r.status} after ${r.seconds.toFixed(1)} s (command started at guest uptime ${r.bootSeconds ?? '?'} s)`);
  process.exit(r.status);
} catch (e) {
  console.error(e instanceof GuestError ? e.message : `vm.ts: ${(e as Error).message}`);
  process.exit(125);
}
