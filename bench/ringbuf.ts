// Ring and perf buffer readers, tsbpf against libbpf in C (bench/c/ringbuf_bench.c) on the same
// object (test/fixtures/event_streams.o), the same producers and the same event counts, in one
// run, each figure side by side:
//
//   npx tsx bench/ringbuf.ts [--records 200000] [--reps 5] [--latency 2000] [--interval 1000]
//                            [--stream 1000000] [--stream-perf 100000] [--idle 3] [--per-turn 16384]
//                            [--only <regex>] [--json]
//
// - consume: a ring filled by BPF_PROG_TEST_RUN of xdp_ring (xdp_perf), then read in one batch:
//   RingBuffer.poll vs ring_buffer__consume (PerfBuffer.poll vs perf_buffer__consume). Best of
//   --reps: interference only ever slows a run down.
// - latency: bench/c/ringbuf_producer calls getppid --latency times, --interval µs apart; the
//   tracepoint program stamps each record with bpf_ktime_get_ns(); the latency is the
//   CLOCK_MONOTONIC time in the callback minus that stamp. tsbpf: `await wait()` + poll()
//   (woken through epoll on the reader's thread); C: ring_buffer__poll / perf_buffer__poll.
// - stream: the producer calling back to back; records per second received, and the event
//   loop's delay meanwhile (perf_hooks.monitorEventLoopDelay, p50/p99/max), reading with
//   pollBatch, at most --per-turn records per turn of the loop. The rate is the producer's:
//   a reader that keeps up makes the kernel wake it for every record (a cost the producing
//   syscall pays), one that lags behind does not, so a faster rate is no faster reader.
// - idle: CPU used over --idle seconds by a reader waiting with no events (after its thread
//   has started), vs ring_buffer__poll.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

// Measure what users install: the tsc build (tsx's transform makes every imported binding a
// getter call). Built into a directory of its own, so that a run does not touch dist/; a type
// error elsewhere in a shared checkout still emits JavaScript, and is reported, not fatal.
const root = new URL('../', import.meta.url).pathname;
const out = join(root, 'bench/c/build/dist');
try {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
} catch (e) {
  if (!existsSync(join(out, 'index.js'))) throw e;
  console.error(`tsc reported errors (measuring the JavaScript it emitted anyway):\n${String((e as { stdout?: Buffer }).stdout ?? '').slice(0, 2000)}`);
}
const { BpfObject, PerfBuffer, RingBuffer, u32 } = (await import(join(out, 'index.js'))) as typeof import('../src/index.js');

const here = dirname(fileURLToPath(import.meta.url));
const OBJ = join(root, 'test/fixtures/event_streams.o');
const BENCH = join(here, 'c', 'build', 'ringbuf_bench');
const PRODUCER = join(here, 'c', 'build', 'ringbuf_producer');

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const RECORDS = arg('records', 200_000);
const REPS = arg('reps', 5);
const LAT_N = arg('latency', 2000);
const INTERVAL = arg('interval', 1000);
const STREAM_N = arg('stream', 1_000_000);
const STREAM_PERF_N = arg('stream-perf', 100_000);
const IDLE_S = arg('idle', 3);
/** Records per turn of the event loop while streaming. */
const PER_TURN = arg('per-turn', 16384);
/** `--only latency` runs the steps whose name matches this regular expression. */
const ONLY = process.argv.includes('--only') ? new RegExp(process.argv[process.argv.indexOf('--only') + 1]!) : undefined;
const JSON_OUT = process.argv.includes('--json');

function build(src: string, out: string, libs: string[]): void {
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return;
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', src, ...libs, '-o', out], { stdio: 'inherit' });
}
build(join(here, 'c', 'ringbuf_bench.c'), BENCH, ['-lbpf']);
build(join(here, 'c', 'ringbuf_producer.c'), PRODUCER, []);

type Json = Record<string, number>;
function c(...args: (string | number)[]): Json {
  return JSON.parse(execFileSync(BENCH, [OBJ, ...args.map(String)], { encoding: 'utf8' })) as Json;
}

const PKT = new Uint8Array(64);
/** Bytes for `n` records, rounded up to a power of two (the C side sizes the same way). */
function ringBytes(n: number): number {
  let b = 1;
  while (b < n * 40) b *= 2;
  return b;
}

// ---- consume: one batch of RECORDS records, already in the ring ----

function consumeRing(n: number, batch: boolean): Json {
  const obj = BpfObject.open(OBJ);
  obj.mapSpec('ring').maxEntries = ringBytes(n);
  obj.load({ programs: ['xdp_ring'] });
  const ring = RingBuffer.open(obj.map('ring'));
  let best = Infinity;
  let sum = 0;
  for (let r = 0; r < REPS; r++) {
    obj.program('xdp_ring').testRun({ data: PKT, repeat: n });
    let got = 0;
    const t = process.hrtime.bigint();
    // What the C callback does: add up the records' seq (their low 32 bits, as a small
    // integer: a growing double in a closure would be boxed on every add).
    got = batch
      ? ring.pollBatch((b, o) => {
          sum = (sum + (b[o + 8]! | (b[o + 9]! << 8) | (b[o + 10]! << 16) | (b[o + 11]! << 24))) | 0;
        })
      : ring.poll((d) => {
          sum = (sum + (d[8]! | (d[9]! << 8) | (d[10]! << 16) | (d[11]! << 24))) | 0;
        });
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (got !== n) throw new Error(`consume-ring: read ${got} of ${n}`);
    best = Math.min(best, s);
  }
  ring.close();
  obj.close();
  if (sum === -1) console.log('unlikely');
  return { records: n, seconds: best, perSec: n / best };
}

function consumePerf(n: number, batch: boolean): Json {
  const obj = BpfObject.open(OBJ).load({ programs: ['xdp_perf'] });
  const pb = PerfBuffer.open(obj.map('perf'), { pages: ringBytes(n) / 4096 });
  let best = Infinity;
  let sum = 0;
  for (let r = 0; r < REPS; r++) {
    obj.program('xdp_perf').testRun({ data: PKT, repeat: n });
    const t = process.hrtime.bigint();
    const got = batch
      ? pb.pollBatch((b, o) => {
          sum = (sum + (b[o + 8]! | (b[o + 9]! << 8) | (b[o + 10]! << 16) | (b[o + 11]! << 24))) | 0;
        })
      : pb.poll((d) => {
          sum = (sum + (d[8]! | (d[9]! << 8) | (d[10]! << 16) | (d[11]! << 24))) | 0;
        });
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    if (got !== n || pb.lost() !== 0) throw new Error(`consume-perf: read ${got} of ${n}, lost ${pb.lost()}`);
    best = Math.min(best, s);
  }
  pb.close();
  obj.close();
  if (sum === -1) console.log('unlikely');
  return { records: n, seconds: best, perSec: n / best };
}

// ---- latency and streaming: a producer process through the tracepoint ----

async function live(kind: 'ring' | 'perf', count: number, interval: number, latency: boolean): Promise<Json> {
  const obj = BpfObject.open(OBJ);
  obj.mapSpec('ring').maxEntries = 1 << 24;
  obj.load({ programs: [kind === 'ring' ? 'tp_ring' : 'tp_perf'] });
  const producer = spawn(PRODUCER, [String(count), String(interval)], { stdio: ['pipe', 'inherit', 'inherit'] });
  let exited = false;
  const exit = new Promise<void>((r) => producer.on('exit', () => ((exited = true), r())));
  obj.map('target').update(u32(0), u32(producer.pid!));
  const link = obj.program(kind === 'ring' ? 'tp_ring' : 'tp_perf').attachTracepoint();
  const reader = kind === 'ring' ? RingBuffer.open(obj.map('ring')) : PerfBuffer.open(obj.map('perf'), { pages: 4096 });
  // Start the waiting thread before the clock runs: its start-up is a one-off, not latency.
  await reader.wait({ timeoutMs: 50 });
  const lat = new Float64Array(count);
  let received = 0;
  const onRecord = latency
    ? (b: Uint8Array, o: number): void => {
        const now = process.hrtime.bigint();
        const ts = new DataView(b.buffer, b.byteOffset + o, 8).getBigUint64(0, true);
        if (received < count) lat[received] = Number(now - ts) / 1000;
        received++;
      }
    : (): void => {
        received++;
      };
  const delay = monitorEventLoopDelay({ resolution: 1 });
  // The loop's delay is what the rest of the application would feel; a timer keeps it honest
  // (the histogram only samples while the loop turns).
  const ticker = setInterval(() => undefined, 1);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  delay.enable();
  producer.stdin.write('\n');
  for (;;) {
    const woken = await reader.wait({ timeoutMs: 100 });
    // At most PER_TURN records, then the event loop turns (wait() answers from unread data
    // on its next turn): the loop's delay stays bounded however far behind the reader is.
    if (reader instanceof RingBuffer) reader.pollBatch(onRecord, PER_TURN);
    else reader.pollBatch(onRecord, { max: PER_TURN });
    const lost = reader instanceof PerfBuffer ? reader.lost() : 0;
    if (received + lost >= count) break;
    if (!woken && exited) break;
  }
  delay.disable();
  clearInterval(ticker);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(c0);
  await exit;
  const lost = reader instanceof PerfBuffer ? reader.lost() : count - received;
  reader.close();
  link.close();
  obj.close();
  const out: Json = {
    received,
    lost,
    seconds: secs,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    lagP50: delay.percentile(50) / 1e6,
    lagP99: delay.percentile(99) / 1e6,
    lagMax: delay.max / 1e6,
  };
  if (latency) {
    const l = Array.from(lat.subarray(0, Math.min(received, count))).sort((a, b) => a - b);
    Object.assign(out, { p50: l[l.length >> 1]!, p99: l[Math.floor(l.length * 0.99)]!, max: l[l.length - 1]! });
  } else out.perSec = received / secs;
  return out;
}

async function idle(seconds: number): Promise<Json> {
  const obj = BpfObject.open(OBJ).load({ programs: ['xdp_ring'] });
  const ring = RingBuffer.open(obj.map('ring'));
  const s0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await ring.wait({ timeoutMs: 1 }); // starts the thread
  // Wait until the thread is parked in epoll_wait: a wait that times out proves it is.
  await ring.wait({ timeoutMs: 200 });
  const startCpu = process.cpuUsage(s0);
  const startMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const c0 = process.cpuUsage();
  const woken = await ring.wait({ timeoutMs: seconds * 1000 });
  const cpu = process.cpuUsage(c0);
  if (woken) throw new Error('idle: a record came');
  ring.close();
  obj.close();
  return { cpuSeconds: (cpu.user + cpu.system) / 1e6, seconds, threadStartMs: startMs - 200, threadStartCpuMs: (startCpu.user + startCpu.system) / 1000 };
}

// ---- the run ----

const rows: { what: string; c: Json; ts: Json }[] = [];
const step = async (what: string, cf: () => Json, tf: () => Json | Promise<Json>): Promise<void> => {
  if (ONLY && !ONLY.test(what)) return;
  const cj = cf();
  const tj = await tf();
  rows.push({ what, c: cj, ts: tj });
  if (!JSON_OUT) console.error(`${what}: C ${JSON.stringify(cj)}\n${' '.repeat(what.length)}  tsbpf ${JSON.stringify(tj)}`);
};

await step('consume ring, pollBatch', () => c('consume-ring', RECORDS, REPS), () => consumeRing(RECORDS, true));
await step('consume ring, poll', () => c('consume-ring', RECORDS, REPS), () => consumeRing(RECORDS, false));
await step('consume perf, pollBatch', () => c('consume-perf', RECORDS, REPS), () => consumePerf(RECORDS, true));
await step('consume perf, poll', () => c('consume-perf', RECORDS, REPS), () => consumePerf(RECORDS, false));
await step('latency ring', () => c('latency-ring', PRODUCER, LAT_N, INTERVAL), () => live('ring', LAT_N, INTERVAL, true));
await step('latency perf', () => c('latency-perf', PRODUCER, LAT_N, INTERVAL), () => live('perf', LAT_N, INTERVAL, true));
await step('stream ring', () => c('stream-ring', PRODUCER, STREAM_N), () => live('ring', STREAM_N, 0, false));
await step('stream perf', () => c('stream-perf', PRODUCER, STREAM_PERF_N), () => live('perf', STREAM_PERF_N, 0, false));
await step('idle', () => c('idle', IDLE_S), () => idle(IDLE_S));

if (JSON_OUT) {
  console.log(JSON.stringify(rows, null, 1));
} else {
  const f = (x: number, d = 1): string => (x >= 100 ? x.toFixed(0) : x.toFixed(d));
  const r = (a: number, b: number): string => (a / b).toFixed(2);
  const out: string[] = ['| measure | C (libbpf) | tsbpf | tsbpf / C |', '|---|---|---|---|'];
  for (const { what, c: cj, ts } of rows) {
    if (what.startsWith('consume'))
      out.push(`| ${what} (${RECORDS} records in one batch), M records/s | ${f(cj.perSec! / 1e6)} | ${f(ts.perSec! / 1e6)} | ${r(ts.perSec!, cj.perSec!)} |`);
    else if (what.startsWith('latency')) {
      out.push(`| ${what} p50 (µs, ${LAT_N} events, 1 per ${INTERVAL} µs) | ${f(cj.p50!)} | ${f(ts.p50!)} | ${r(ts.p50!, cj.p50!)} (lower is better) |`);
      out.push(`| ${what} p99 (µs) | ${f(cj.p99!)} | ${f(ts.p99!)} | ${r(ts.p99!, cj.p99!)} (lower is better) |`);
    } else if (what.startsWith('stream')) {
      out.push(
        `| ${what}: received/s (${what.endsWith('ring') ? STREAM_N : STREAM_PERF_N} events back to back) | ${f(cj.perSec! / 1e3)} k (lost ${cj.lost}) | ${f(ts.perSec! / 1e3)} k (lost ${ts.lost}) | ${r(ts.perSec!, cj.perSec!)} |`,
      );
      out.push(`| ${what}: reader CPU s per 1M records | ${f((cj.cpuSeconds! / cj.received!) * 1e6, 2)} | ${f((ts.cpuSeconds! / ts.received!) * 1e6, 2)} | ${r(ts.cpuSeconds! / ts.received!, cj.cpuSeconds! / cj.received!)} (lower is better) |`);
      out.push(`| ${what}: event-loop delay p50 / p99 / max (ms) | — | ${f(ts.lagP50!, 2)} / ${f(ts.lagP99!, 2)} / ${f(ts.lagMax!, 1)} | |`);
    } else {
      out.push(`| idle reader: CPU ms over ${IDLE_S} s | ${f(cj.cpuSeconds! * 1000, 2)} | ${f(ts.cpuSeconds! * 1000, 2)} | |`);
      out.push(`| tsbpf's waiting thread start-up (once per reader): wall ms / CPU ms | — | ${f(ts.threadStartMs!)} / ${f(ts.threadStartCpuMs!)} | |`);
    }
  }
  console.log(out.join('\n'));
}
