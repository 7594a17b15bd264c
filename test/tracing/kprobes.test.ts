// kprobes, kretprobes and kprobe_multi on the getpid/getppid syscalls, which this test makes
// itself (raw syscalls: Node caches its pid). The programs count only this process. A perf
// kprobe and a kprobe_multi link are separate calls (never one standing in for the other);
// where the kernel lacks one, the call throws NotSupportedError saying why.
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { BpfError, BpfObject, NotSupportedError, UsageError, type LinkInfo } from '../../src/index.js';
import { kernelAtLeast } from '../../src/features/index.js';
import { resolveKprobePattern } from '../../src/link/kprobe.js';
import { SYS } from '../../src/syscall/abi/bpf.js';
import { rawSyscall } from '../../src/syscall/libc.js';
import { lacks, needs, type TestFn } from '../helpers/features.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { thrown } from '../helpers/thrown.js';

const FIX = new URL('../fixtures/tracing_kprobes.o', import.meta.url).pathname;
const open = () => BpfObject.open(FIX).setConstant('target_tgid', process.pid);
const u64 = (obj: BpfObject, name: string, i = 0): bigint => Buffer.from(obj.global(name)).readBigUInt64LE(i * 8);
const getpid = (n: number) => {
  for (let i = 0; i < n; i++) rawSyscall(SYS.getpid);
};
const getpgid = (n: number) => {
  for (let i = 0; i < n; i++) rawSyscall(SYS.getpgid, 0);
};
const getppid = (n: number) => {
  for (let i = 0; i < n; i++) rawSyscall(SYS.getppid);
};
/** n calls, give or take the odd one another thread of this process makes. */
const about = (v: bigint, n: number) => {
  expect(v).toBeGreaterThanOrEqual(BigInt(n));
  expect(v).toBeLessThan(BigInt(n + 5));
};

const hasKprobePmu = existsSync('/sys/bus/event_source/devices/kprobe/type');
// Skip reasons: kprobe tests need the kprobe PMU (CONFIG_KPROBES, absent on this 6.18 host, present in the guests); the 'without kprobes' tests assert the NotSupportedError and so skip where kprobes exist, or without root. Each skipped title names its reason.
const withKprobes = (...q: Parameters<typeof needs>): TestFn =>
  hasKprobePmu ? needs(...q) : (name, fn) => it.skip(`${name} [skipped: no kprobe PMU (CONFIG_KPROBES off)]`, fn);
const withoutKprobes: TestFn = hasKprobePmu
  // Skip reason: the 'without kprobes' tests assert the NotSupportedError, so they skip where kprobes exist (the guests).
  ? (name, fn) => it.skip(`${name} [skipped: this kernel has kprobes]`, fn)
  : isRoot
    ? (name, fn) => it(name, fn)
    // Skip reason: perf_event_open of a kprobe needs root; unprivileged runs skip, naming it.
    : (name, fn) => it.skip(`${name} [skipped: needs root]`, fn);

guardFdLeaks();

describe('perf-event kprobes', () => {
  // Skip reason: needs the kprobe PMU and perf_link (the guests); skipped on this host (CONFIG_KPROBES off).
  withKprobes('perf_link')('kprobe and kretprobe on __x64_sys_getpid count each call, see its result and the cookie; stop when closed', () => {
    using obj = open().load({ programs: ['count_getpid', 'getpid_returns'] });
    getpid(10);
    expect(u64(obj, 'kprobe_hits')).toBe(0n);
    {
      // Function and retprobe from the sections (kprobe/…, kretprobe/…).
      using entry = obj.program('count_getpid').attachKprobe({ cookie: 0xabcdef0123n });
      using exit = obj.program('getpid_returns').attachKprobe();
      getpid(25);
      about(u64(obj, 'kprobe_hits'), 25);
      about(u64(obj, 'kretprobe_hits'), 25);
      expect(u64(obj, 'kprobe_cookie')).toBe(0xabcdef0123n);
      expect(u64(obj, 'kretprobe_ret')).toBe(BigInt(process.pid));
      const info = entry.info() as Extract<LinkInfo, { type: 'perf_event' }>;
      expect(info).toMatchObject({ type: 'perf_event', progId: obj.program('count_getpid').info().id });
      if (kernelAtLeast(release(), '6.6')) {
        // 6.6+ describe the probe; older kernels report the link type only.
        expect(info).toMatchObject({ perfEventKind: 'kprobe', kprobe: { function: '__x64_sys_getpid', offset: 0 } });
        expect(exit.info()).toMatchObject({ perfEventKind: 'kretprobe', kprobe: { function: '__x64_sys_getpid' } });
      }
    }
    const after = u64(obj, 'kprobe_hits');
    getpid(10);
    expect(u64(obj, 'kprobe_hits')).toBe(after);
  });

  // Skip reason: needs the kprobe PMU (the guests); skipped on this host (CONFIG_KPROBES off).
  withKprobes()('the legacy attach (PERF_EVENT_IOC_SET_BPF) counts too; the perf event fd owns it', () => {
    using obj = open().load({ programs: ['count_getpid'] });
    {
      using ev = obj.program('count_getpid').attachKprobeLegacy('__x64_sys_getpid');
      expect(ev).toMatchObject({ kind: 'kprobe', function: '__x64_sys_getpid', offset: 0 });
      getpid(15);
      about(u64(obj, 'kprobe_hits'), 15);
      expect(u64(obj, 'kprobe_cookie')).toBe(0n); // no cookie through the ioctl
    }
    const after = u64(obj, 'kprobe_hits');
    getpid(5);
    expect(u64(obj, 'kprobe_hits')).toBe(after);
  });

  // Skip reason: needs the kprobe PMU (the guests); skipped on this host (CONFIG_KPROBES off).
  withKprobes()('a function the kernel lacks is named as such', () => {
    using obj = open().load({ programs: ['count_getpid'] });
    const e = thrown<BpfError>(() => obj.program('count_getpid').attachKprobe('no_such_function_tsbpf'));
    expect(e).toBeInstanceOf(BpfError);
    expect(e.command).toBe('perf_event_open');
    expect(e.message).toMatch(/kprobe on no_such_function_tsbpf\) failed: E\w+ — the kernel has no function named 'no_such_function_tsbpf'/);
  });

  // Skip reason: checks the NotSupportedError, so it runs only without kprobes (this host), as root.
  withoutKprobes('without kprobes (CONFIG_KPROBES off) both attach calls throw NotSupportedError saying so', () => {
    using obj = open().load({ programs: ['count_getpid'] });
    const p = obj.program('count_getpid');
    for (const attach of [() => p.attachKprobe(), () => p.attachKprobeLegacy()]) {
      const e = thrown<NotSupportedError>(attach);
      expect(e).toBeInstanceOf(NotSupportedError);
      expect(e.feature).toMatch(/^kprobes \(perf_event_open with the kprobe PMU: there is no \/sys\/bus\/event_source\/devices\/kprobe, the kernel was built without CONFIG_KPROBES\)/);
      expect(e.minKernel).toBe('4.17');
      expect(e.message).toMatch(/use fentry\/fexit programs \(prog\.attachTrace\(\)\) or raw tracepoints/);
    }
  });
});

describe('kprobe_multi', () => {
  // Skip reason: needs kprobe_multi; skipped where absent or refused (the title says which).
  needs('kprobe_multi')('symbols with cookies: each function fires with its own cookie', () => {
    using obj = open().load({ programs: ['count_multi'] });
    using link = obj.program('count_multi').attachKprobeMulti({ symbols: ['__x64_sys_getpid', '__x64_sys_getppid'], cookies: [1, 2] });
    getpid(6);
    getppid(9);
    about(u64(obj, 'multi_hits', 1), 6);
    about(u64(obj, 'multi_hits', 2), 9);
    expect(u64(obj, 'multi_hits', 0)).toBe(0n);
    expect(link.info()).toMatchObject({ type: 'kprobe_multi', count: 2, retprobe: false });
  });

  // Skip reason: needs kprobe_multi; skipped where absent or refused (the title says which).
  needs('kprobe_multi')('a pattern (from the section) attaches to every traceable match; kretprobe.multi on exit', () => {
    using obj = open().load({ programs: ['count_multi', 'count_multi_ret'] });
    // Patterns match the names ftrace lists; where a syscall's __x64_sys_ name is an alias of
    // its __do_sys_ body (6.12), ftrace lists the other name, so what matches varies.
    const matches = resolveKprobePattern('__x64_sys_getp*id');
    const calls: Record<string, [() => void, number]> = {
      __x64_sys_getpid: [() => getpid(4), 4],
      __x64_sys_getppid: [() => getppid(3), 3],
      __x64_sys_getpgid: [() => getpgid(5), 5],
    };
    expect(matches.length).toBeGreaterThan(0);
    expect(matches.every((m) => m.startsWith('__x64_sys_getp') && m.endsWith('id'))).toBe(true);
    using link = obj.program('count_multi').attachKprobeMulti(); // kprobe.multi/__x64_sys_getp*id
    using ret = obj.program('count_multi_ret').attachKprobeMulti(); // kretprobe.multi/__x64_sys_getppid
    for (const [call] of Object.values(calls)) call();
    const expected = matches.reduce((n, m) => n + (calls[m]?.[1] ?? 0), 0);
    about(u64(obj, 'multi_hits', 0), expected); // no cookies: slot 0
    about(u64(obj, 'multi_ret_hits'), 3);
    expect(link.info()).toMatchObject({ type: 'kprobe_multi', count: matches.length, retprobe: false });
    expect(ret.info()).toMatchObject({ type: 'kprobe_multi', count: 1, retprobe: true });
  });

  // Skip reason: checks the NotSupportedError, so it runs only where kprobe_multi is absent.
  lacks('kprobe_multi')('where the kernel lacks kprobe_multi, the attach is NotSupportedError naming it (and CONFIG_FPROBE when that is why)', () => {
    using obj = open().load({ programs: ['count_multi'] });
    const e = thrown<NotSupportedError>(() => obj.program('count_multi').attachKprobeMulti({ symbols: ['__x64_sys_getpid'] }));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e.minKernel).toBe('5.18');
    if (e.errno === 95) expect(e.feature).toMatch(/answers EOPNOTSUPP: the kernel was built without CONFIG_FPROBE/);
    expect(e.message).toMatch(/use one perf-event kprobe per function: prog\.attachKprobe\(fn\)/);
  });
});

describe.runIf(isRoot)('kprobe attach calls: caller mistakes are UsageErrors before any syscall', () => {
  it('the kind of program decides the call', () => {
    using obj = open().load({ programs: ['count_getpid', 'count_multi'] });
    const single = obj.program('count_getpid');
    const multi = obj.program('count_multi');
    expect(() => multi.attachKprobe('__x64_sys_getpid')).toThrow(/loaded for kprobe_multi .*attach it with attachKprobeMulti\(\)/);
    expect(() => single.attachKprobeMulti({ symbols: ['x'] })).toThrow(/expected attach type trace_kprobe_multi|needs trace_kprobe_multi/);
    expect(() => single.attachTrace()).toThrow(/this kprobe program attaches with attachKprobe\(\)/);
  });

  it('options are checked', () => {
    using obj = open().load({ programs: ['count_getpid', 'count_multi'] });
    const single = obj.program('count_getpid');
    const multi = obj.program('count_multi');
    expect(() => single.attachKprobe('a b')).toThrow(UsageError);
    expect(() => single.attachKprobe('f', { retprobe: true, offset: 4 })).toThrow(/a kretprobe cannot take an offset/);
    expect(() => single.attachKprobe('f', { cookie: -1 })).toThrow(/cookie must be an unsigned 64-bit integer/);
    expect(() => single.attachKprobeLegacy('f', { cookie: 1 } as object)).toThrow(/cookies need a perf link/);
    expect(() => multi.attachKprobeMulti({ symbols: ['a', 'b'], cookies: [1] })).toThrow(/cookies must have one entry per function \(2\)/);
    expect(() => multi.attachKprobeMulti({ symbols: ['a', 'a'] })).toThrow(/'a' is listed twice/);
    expect(() => multi.attachKprobeMulti({ symbols: ['a'], pattern: 'b*' })).toThrow(/exactly one of symbols, pattern or addresses \(got symbols and pattern\)/);
    expect(() => multi.attachKprobeMulti({ pattern: 'no_such_function_tsbpf_*' })).toThrow(/no traceable kernel function matches/);
  });
});

describe('kprobe_multi patterns', () => {
  it('resolve from available_filter_functions (module names dropped, ftrace placeholders skipped), else kallsyms text symbols', () => {
    const filter = 'do_sys_openat2\nvfs_read\nvfs_readv\n__ftrace_invalid_address___1234\nfuse_read [fuse]\nvfs_read\n';
    expect(resolveKprobePattern('vfs_read*', { filterFunctions: filter })).toEqual(['vfs_read', 'vfs_readv']);
    expect(resolveKprobePattern('*read', { filterFunctions: filter })).toEqual(['fuse_read', 'vfs_read']);
    expect(resolveKprobePattern('vfs_rea?', { filterFunctions: filter })).toEqual(['vfs_read']);
    expect(resolveKprobePattern('__ftrace*', { filterFunctions: filter })).toEqual([]);
    const kallsyms = 'ffffffff81000000 T vfs_read\nffffffff81000010 t vfs_readv\nffffffff81000020 D vfs_read_data\nffffffff81000030 t vfs_read.cold\n';
    expect(resolveKprobePattern('vfs_read*', { kallsyms })).toEqual(['vfs_read', 'vfs_readv']);
  });
});
