// BPF_PROG_TEST_RUN: runs a loaded program on a buffer inside the kernel, no device needed.
import { ERRNO } from '../errno-names.js';
import { BpfError, UsageError, errnoName } from '../errors.js';
import { BPF_F_TEST_RUN_ON_CPU, TEST_RUN_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { stableBuffer } from '../syscall/libc.js';

const { EAGAIN, ENOSPC } = ERRNO;

/** Room for what a program may add in front of (bpf_xdp_adjust_head: XDP_PACKET_HEADROOM)
 * or behind the packet, so the usual rewrites fit the first output buffer. */
const OUTPUT_SLACK = 256 + 256;

export interface TestRunOptions {
  /** The packet (or other input) the program sees. */
  data?: Uint8Array;
  /** The context passed in (e.g. `struct xdp_md`, `struct __sk_buff`); returned updated. */
  ctx?: Uint8Array;
  /** Runs back to back (default 1); `durationNs` is then the mean per run. raw_tracepoint
   * and syscall programs run once and refuse this. */
  repeat?: number;
  /** Size of the output data buffer (default: input + 512 bytes). If the program's output is
   * larger, the run is repeated with a buffer of the size the kernel reports — so a program
   * with side effects (map updates) runs once more. */
  dataOutSize?: number;
  /** BPF_F_TEST_RUN_ON_CPU, BPF_F_TEST_XDP_LIVE_FRAMES... (BPF_F_TEST_RUN_ON_CPU is set for you with `cpu`). */
  flags?: number;
  /** Run on this CPU (raw_tracepoint programs). */
  cpu?: number;
  /** XDP live-frames mode: how many frames per batch. */
  batchSize?: number;
}

export interface TestRunResult {
  /** The program's return value (XDP_PASS = 2, XDP_DROP = 1, ...). */
  retval: number;
  /** The output packet: a copy of data_size_out bytes. */
  data: Uint8Array;
  /** The output context, when a context was passed in (syscall programs: the context as the
   * program left it; raw_tracepoint programs give none back). */
  ctx?: Uint8Array;
  /** Mean nanoseconds per run, as the kernel measured. */
  durationNs: number;
}

type Key = keyof typeof TEST_RUN_ATTR.members;

function checkCount(what: string, v: number | undefined): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new UsageError(`${what} must be an unsigned 32-bit integer, got ${v}`);
}

/** Types whose test run takes only a context and refuses output buffers and repeat:
 * raw_tracepoint leaves the context as it was, syscall writes its result into ctx_in. */
const CTX_ONLY = new Set(['raw_tracepoint', 'syscall']);

/** One per program: the attr and buffers are reused across runs (benchmarks call this a lot). */
export class TestRunner {
  readonly #attr = new Attr<Key>(TEST_RUN_ATTR);
  #in = stableBuffer(0);
  #out = stableBuffer(0);

  constructor(readonly progType: string) {}

  run(progFd: number, opts: TestRunOptions, context: string): TestRunResult {
    if (!opts || typeof opts !== 'object') throw new UsageError('testRun needs an options object: { data, ctx?, repeat? }');
    const data = opts.data ?? new Uint8Array(0);
    if (!(data instanceof Uint8Array)) throw new UsageError('testRun: data must be a Uint8Array');
    if (opts.ctx !== undefined && !(opts.ctx instanceof Uint8Array)) throw new UsageError('testRun: ctx must be a Uint8Array');
    for (const k of ['repeat', 'dataOutSize', 'flags', 'cpu', 'batchSize'] as const) checkCount(k, opts[k]);

    if (this.#in.length < data.length) this.#in = stableBuffer(data.length);
    this.#in.set(data);
    const ctxOnly = CTX_ONLY.has(this.progType);
    // No output buffer unless there is a packet to return (or the caller asks for one).
    let outSize = opts.dataOutSize ?? (data.length && !ctxOnly ? data.length + OUTPUT_SLACK : 0);
    const ctxIn = opts.ctx?.length ? stableBuffer(opts.ctx.length) : undefined;
    const ctxOut = opts.ctx?.length && !ctxOnly ? stableBuffer(opts.ctx.length) : undefined;
    if (ctxIn) ctxIn.set(opts.ctx!);
    let flags = opts.flags ?? 0;
    if (opts.cpu !== undefined) flags |= BPF_F_TEST_RUN_ON_CPU;

    for (let grown = false; ; ) {
      if (this.#out.length < outSize) this.#out = stableBuffer(outSize);
      const a = this.#attr.zero();
      a.set('prog_fd', progFd)
        .set('data_size_in', data.length)
        .setPointer('data_in', data.length ? this.#in : null)
        .set('data_size_out', outSize)
        .setPointer('data_out', outSize ? this.#out : null)
        .set('repeat', opts.repeat ?? 0)
        .set('flags', flags)
        .set('cpu', opts.cpu ?? 0)
        .set('batch_size', opts.batchSize ?? 0);
      if (ctxIn) a.set('ctx_size_in', ctxIn.length).setPointer('ctx_in', ctxIn);
      if (ctxOut) a.set('ctx_size_out', ctxOut.length).setPointer('ctx_out', ctxOut);
      let r: number;
      for (let i = 0; (r = bpfAttr(bpf_cmd.BPF_PROG_TEST_RUN, a)) === -EAGAIN && i < 5; i++);
      if (r === -ENOSPC && !grown && a.get('data_size_out') > outSize) {
        // The kernel wrote as much as fitted and reported the full size: run again with room.
        outSize = a.get('data_size_out');
        grown = true;
        continue;
      }
      if (r < 0) throw testRunError(-r, context, opts);
      const n = Math.min(a.get('data_size_out'), outSize);
      const result: TestRunResult = {
        retval: a.get('retval'),
        data: new Uint8Array(this.#out.subarray(0, n)),
        durationNs: a.get('duration'),
      };
      if (ctxOut) result.ctx = new Uint8Array(ctxOut.subarray(0, Math.min(a.get('ctx_size_out'), ctxOut.length)));
      else if (ctxIn && this.progType === 'syscall') result.ctx = new Uint8Array(ctxIn);
      return result;
    }
  }
}

function testRunError(errno: number, context: string, opts: TestRunOptions): BpfError {
  const command = 'BPF_PROG_TEST_RUN';
  const code = errnoName(errno);
  let advice: string | undefined;
  if (code === 'ENOTSUPP' || code === 'EOPNOTSUPP')
    advice = 'this program type cannot be test-run on this kernel (test runs exist for xdp, sched_cls, socket_filter, cgroup_skb, raw_tracepoint, tracing, syscall, flow_dissector, sk_lookup, netfilter...)';
  else if (code === 'EINVAL')
    advice = `the kernel refused the run's inputs: data of ${opts.data?.length ?? 0} bytes${opts.ctx ? `, ctx of ${opts.ctx.length} bytes` : ''} (XDP/skb programs need at least an Ethernet header (14 bytes); ctx must match the program type's context struct; some types take no data or no repeat)`;
  else if (code === 'ENOSPC') advice = 'the output did not fit; pass a larger dataOutSize';
  else if (code === 'EPERM') advice = 'test runs need root or CAP_BPF (and CAP_NET_ADMIN for networking programs)';
  return new BpfError({ errno, command, context }, `${command} (${context}) failed: ${code}${advice ? ` — ${advice}` : ''}`);
}
