// uprobes on a small binary built here (test/helpers/native): a uprobe on tsbpf_add counts its
// calls and sees its arguments, a uretprobe its return value; a static function (found only in
// .symtab) and a shared library's function (.dynsym) are found by name; the pid filter keeps
// other processes out; the legacy ioctl and uprobe_multi links (6.6+, cookies per location).
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BpfError, BpfObject, NotSupportedError, UsageError, type LinkInfo } from '../../src/index.js';
import { kernelAtLeast, kernelRelease } from '../../src/features/index.js';
import { functionOffsets } from '../../src/elf/native.js';
import { resolveBinary } from '../../src/link/uprobe.js';
import { readFileSync } from 'node:fs';
import { lacks, needs } from '../helpers/features.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { uprobeTarget } from '../helpers/native.js';
import { thrown } from '../helpers/thrown.js';

const FIX = new URL('../fixtures/attach_perf.o', import.meta.url).pathname;
const N = 25;
const u64 = (obj: BpfObject, name: string, i = 0): bigint => Buffer.from(obj.global(name)).readBigUInt64LE(i * 8);
const s64 = (obj: BpfObject, name: string): bigint => Buffer.from(obj.global(name)).readBigInt64LE(0);

/** The sum uprobe_target prints for n iterations. */
const expectedSum = (n: number): number => Array.from({ length: n }, (_, i) => i + 1000 + 2 * i + (i - 7)).reduce((a, b) => a + b, 0);

interface Target {
  pid: number;
  /** Lets the target run its loop and resolves with what it printed. */
  go(): Promise<string>;
}

/** Starts uprobe_target, which waits for a byte on stdin before it calls anything. */
function start(n = N): Target {
  const p = spawn(uprobeTarget().exe, [String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the exit can be reported before the pipes are read to the end and
  // closed, and a pipe still open at the suite's end is counted as a leaked fd.
  const done = new Promise<string>((resolve, reject) => p.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`uprobe_target exited ${code}`)))));
  return {
    pid: p.pid!,
    go() {
      p.stdin.end('g');
      return done;
    },
  };
}

// Skip reason: uprobe_multi links came in Linux 6.6; the uprobe_multi test skips without them (6.1)
// and the 'without uprobe_multi' test asserts the NotSupportedError, so it skips where they exist.
// Each skipped title names the feature and kernel.
describe.runIf(isRoot)('uprobes', () => {
  guardFdLeaks();
  const { exe, lib } = isRoot ? uprobeTarget() : { exe: '', lib: '' };
  const open = (pid: number) => BpfObject.open(FIX).setConstant('target_tgid', pid).load({ programs: ['on_add', 'on_add_return', 'count_any'] });

  // Skip reason: needs perf_link; skipped where absent or refused (the title says which).
  needs('perf_link')('a uprobe sees every call and its arguments, a uretprobe the return value; the cookie; nothing once closed', async () => {
    const t = start();
    using obj = open(t.pid);
    {
      using entry = obj.program('on_add').attachUprobe({ binary: exe, function: 'tsbpf_add' }, { pid: t.pid, cookie: 77n });
      using exit = obj.program('on_add_return').attachUprobe({ binary: exe, function: 'tsbpf_add' }, { retprobe: true, pid: t.pid });
      expect(await t.go()).toBe(String(expectedSum(N)));
      expect(u64(obj, 'uprobe_calls')).toBe(BigInt(N));
      expect(u64(obj, 'uprobe_a')).toBe(BigInt(N - 1)); // the last call: tsbpf_add(N - 1, 1000)
      expect(u64(obj, 'uprobe_b')).toBe(1000n);
      expect(u64(obj, 'uprobe_cookie')).toBe(77n);
      expect(u64(obj, 'uretprobe_calls')).toBe(BigInt(N));
      expect(s64(obj, 'uretprobe_ret')).toBe(BigInt(N - 1 + 1000));
      const info = entry.info() as Extract<LinkInfo, { type: 'perf_event' }>;
      expect(info).toMatchObject({ type: 'perf_event', progId: obj.program('on_add').info().id });
      if (kernelAtLeast(kernelRelease(), '6.6')) {
        const offset = functionOffsets(readFileSync(exe), ['tsbpf_add'])[0];
        expect(info).toMatchObject({ perfEventKind: 'uprobe', uprobe: { path: exe, offset } });
        expect(exit.info()).toMatchObject({ perfEventKind: 'uretprobe', uprobe: { path: exe, offset } });
        if (kernelAtLeast(kernelRelease(), '6.9')) expect(info.uprobe!.cookie).toBe(77n);
      }
    }
    const t2 = start();
    await t2.go();
    expect(u64(obj, 'uprobe_calls')).toBe(BigInt(N));
  });

  // Skip reason: needs perf_link; skipped where absent or refused (the title says which).
  needs('perf_link')('a static function (only in .symtab) and a shared library function (.dynsym) are found by name', async () => {
    const t = start();
    using obj = open(t.pid);
    using twice = obj.program('on_add').attachUprobe({ binary: exe, function: 'tsbpf_twice' }, { pid: t.pid });
    using sub = obj.program('on_add_return').attachUprobe({ binary: lib, function: 'tsbpf_lib_sub' }, { retprobe: true, pid: t.pid });
    await t.go();
    expect(u64(obj, 'uprobe_calls')).toBe(BigInt(N));
    expect(u64(obj, 'uprobe_a')).toBe(BigInt(N - 1)); // tsbpf_twice(N - 1)
    expect(u64(obj, 'uretprobe_calls')).toBe(BigInt(N));
    expect(s64(obj, 'uretprobe_ret')).toBe(BigInt(N - 1 - 7)); // tsbpf_lib_sub(N - 1, 7)
    expect(twice.info().type).toBe('perf_event');
    expect(sub.info().type).toBe('perf_event');
  });

  // Skip reason: needs perf_link; skipped where absent or refused (the title says which).
  needs('perf_link')('the pid filter: only the chosen process fires the probe, although both run the file', async () => {
    const [a, b] = [start(), start()];
    using obj = open(0);
    using link = obj.program('count_any').attachUprobe({ binary: exe, function: 'tsbpf_add' }, { pid: a.pid });
    await Promise.all([a.go(), b.go()]);
    expect(u64(obj, 'any_calls')).toBe(BigInt(N));
    expect(link.info().type).toBe('perf_event');
  });

  // Skip reason: needs perf_link; skipped where absent or refused (the title says which).
  needs('perf_link')("without arguments the target comes from the section, as libbpf's SEC(\"uretprobe/<binary>:<function>\")", async () => {
    const t = start();
    using obj = open(t.pid);
    const p = obj.program('on_add_return');
    p.section = `uretprobe/${exe}:tsbpf_add`;
    using link = p.attachUprobe({ pid: t.pid });
    await t.go();
    expect(u64(obj, 'uretprobe_calls')).toBe(BigInt(N));
    expect(s64(obj, 'uretprobe_ret')).toBe(BigInt(N - 1 + 1000));
    expect(link.info().type).toBe('perf_event');
  });

  it('the legacy attach (PERF_EVENT_IOC_SET_BPF): the perf event owns the uprobe; no cookie', async () => {
    const t = start();
    using obj = open(t.pid);
    {
      using ev = obj.program('on_add').attachUprobeLegacy({ binary: exe, function: 'tsbpf_add' }, { pid: t.pid });
      expect(ev).toMatchObject({ kind: 'uprobe', target: `${exe}:tsbpf_add` });
      await t.go();
      expect(u64(obj, 'uprobe_calls')).toBe(BigInt(N));
      expect(u64(obj, 'uprobe_cookie')).toBe(0n);
    }
    expect(() => obj.program('on_add').attachUprobeLegacy({ binary: exe, function: 'tsbpf_add' }, { cookie: 1 } as object)).toThrow(/cookies need a perf link/);
  });

  // Skip reason: needs uprobe_multi; skipped where absent or refused (the title says which).
  needs('uprobe_multi')('uprobe_multi: one link over several functions, a cookie each; by pattern; uretprobes', async () => {
    const t = start();
    using obj = BpfObject.open(FIX).setConstant('target_tgid', t.pid).load({ programs: ['on_multi', 'on_multi_return'] });
    using link = obj.program('on_multi').attachUprobeMulti(exe, { functions: ['tsbpf_add', 'tsbpf_twice'], cookies: [1, 2], pid: t.pid });
    // Binary, pattern and retprobe from the section: uretprobe.multi/<binary>:tsbpf_*.
    obj.program('on_multi_return').section = `uretprobe.multi/${exe}:tsbpf_*`;
    using ret = obj.program('on_multi_return').attachUprobeMulti({ pid: t.pid });
    // The pid reads back while the process lives (0 once it is gone).
    expect(link.info()).toMatchObject({ type: 'uprobe_multi', path: exe, count: 2, pid: t.pid });
    expect(ret.info()).toMatchObject({ type: 'uprobe_multi', count: 2, flags: 1 });
    await t.go();
    expect(u64(obj, 'multi_calls', 1)).toBe(BigInt(N));
    expect(u64(obj, 'multi_calls', 2)).toBe(BigInt(N));
    expect(u64(obj, 'multi_calls', 0)).toBe(0n);
    expect(u64(obj, 'multi_ret_calls')).toBe(BigInt(2 * N)); // tsbpf_add and tsbpf_twice (the library's function is not in this file)
  });

  // Skip reason: checks the NotSupportedError, so it runs only where uprobe_multi is absent.
  lacks('uprobe_multi')('without uprobe_multi, the attach is NotSupportedError naming one uprobe per location', () => {
    using obj = BpfObject.open(FIX).load({ programs: ['on_multi'] });
    const e = thrown<NotSupportedError>(() => obj.program('on_multi').attachUprobeMulti(exe, { functions: ['tsbpf_add'] }));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e.minKernel).toBe('6.6');
    expect(e.message).toMatch(/use one perf-event uprobe per location: prog\.attachUprobe/);
  });

  it('a missing function, file or process is named; mistakes are UsageErrors', () => {
    using obj = BpfObject.open(FIX).load({ programs: ['on_add', 'on_multi'] });
    const p = obj.program('on_add');
    expect(() => p.attachUprobe({ binary: exe, function: 'tsbpf_nope' })).toThrow(new RegExp(`${exe} has no function 'tsbpf_nope'`));
    expect(() => p.attachUprobe({ binary: '/no/such/binary', function: 'f' })).toThrow(/\/no\/such\/binary does not exist/);
    expect(() => p.attachUprobe({ binary: 'libno-such-tsbpf.so', function: 'f' })).toThrow(/no library named libno-such-tsbpf\.so in LD_LIBRARY_PATH/);
    expect(resolveBinary('sh', { PATH: '/no/where:/bin' })).toBe('/bin/sh');
    expect(resolveBinary('libc.so.6')).toMatch(/^\/.*\/libc\.so\.6$/);
    expect(() => p.attachUprobe({ binary: exe })).toThrow(/name a function, or give a file offset/);
    expect(() => p.attachUprobe()).toThrow(/name the binary and function/);
    expect(() => p.attachUprobe({ binary: exe, function: 'tsbpf_add' }, { pid: -3 })).toThrow(/pid must be a positive process id/);
    const gone = thrown<BpfError>(() => p.attachUprobe({ binary: exe, function: 'tsbpf_add' }, { pid: 0x3ffffff0 }));
    expect(gone).toBeInstanceOf(BpfError);
    expect(gone.message).toMatch(/ESRCH — there is no process/);
    expect(() => obj.program('on_multi').attachUprobe({ binary: exe, function: 'tsbpf_add' })).toThrow(/loaded for uprobe_multi .*attachUprobeMulti/);
    expect(() => p.attachUprobeMulti(exe, { functions: ['tsbpf_add'] })).toThrow(/uprobe_multi needs trace_uprobe_multi/);
    expect(() => obj.program('on_multi').attachUprobeMulti(exe, { functions: ['a'], pattern: 'b' })).toThrow(UsageError);
  });
});
