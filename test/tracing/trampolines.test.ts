// fentry, fexit, fmod_ret and LSM programs: loaded through BpfObject (targets resolved in
// kernel BTF), attached through tracing links, and fired — fentry/fexit/fmod_ret by a
// BPF_PROG_TEST_RUN of the tracing program (the kernel then calls bpf_fentry_test1 and
// bpf_modify_return_test), the LSM hook by this process's own mprotect(2) calls. Where the
// machine refuses trampolines (the 6.18 development hosts), the same loads assert the EPERM.
import { existsSync, readFileSync } from 'node:fs';
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfError, BpfObject, UsageError, VerifierError, type LinkInfo } from '../../src/index.js';
import { features } from '../../src/features/index.js';
import { loadKernelBtf } from '../../src/btf/index.js';
import { findKernelTarget, moduleBtfFd } from '../../src/link/targets.js';
import { BPF_BTF_INFO } from '../../src/syscall/abi/bpf.js';
import { Attr } from '../../src/syscall/attr.js';
import { objInfo } from '../../src/syscall/bpf.js';
import { SYS } from '../../src/syscall/abi/bpf.js';
import { PROT_READ, PROT_WRITE, MAP_SHARED, closeFd, rawSyscall } from '../../src/syscall/libc.js';
import { needs, refuses, type TestFn } from '../helpers/features.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';
import { thrown } from '../helpers/thrown.js';

const FIX = new URL('../fixtures/tracing_trampolines.o', import.meta.url).pathname;
const open = () => BpfObject.open(FIX).setConstant('target_tgid', process.pid);
const u64 = (obj: BpfObject, name: string): bigint => Buffer.from(obj.global(name)).readBigUInt64LE(0);

guardFdLeaks();

/**
 * fmod_ret needs a function the kernel lets BPF change: bpf_modify_return_test is one from 6.2
 * on, and before only with CONFIG_FUNCTION_ERROR_INJECTION (Debian's 6.1 lacks it: "is not
 * modifiable"). Found out by loading it.
 */
function modifyReturnTest(): TestFn {
  const trampolines = needs('trampoline');
  if (!features.has('trampoline')) return trampolines;
  try {
    open().load({ programs: ['modify_ret'] }).close();
    return trampolines;
  } catch (e) {
    if (e instanceof VerifierError && /bpf_modify_return_test\(\) is not modifiable/.test(e.log))
      // Skip reason: Debian's 6.1 kernel lacks CONFIG_FUNCTION_ERROR_INJECTION, so fmod_ret cannot change this target there; the test runs where the kernel allows it.
      return (name, fn) => it.skip(`${name} [skipped: this kernel does not let fmod_ret change bpf_modify_return_test (CONFIG_FUNCTION_ERROR_INJECTION off, Linux < 6.2)]`, fn);
    throw e;
  }
}

describe('fentry / fexit / fmod_ret', () => {
  const modifiable = modifyReturnTest();

  // Skip reason: needs trampoline; skipped where absent or refused (the title says which).
  needs('trampoline')('fentry and fexit see bpf_fentry_test1(1) return 2; nothing fires before attach or after close', () => {
    using obj = open().load({ programs: ['on_entry', 'on_exit'] });
    const entry = obj.program('on_entry');
    const exit = obj.program('on_exit');
    // A tracing test run calls bpf_fentry_test1..N whether or not anything is attached.
    expect(entry.testRun().retval).toBe(0);
    expect(u64(obj, 'fentry_hits')).toBe(0n);
    {
      using fe = entry.attachTrace({ cookie: 0xc0ffeen });
      using fx = exit.attachTrace();
      expect(entry.testRun().retval).toBe(0);
      expect(exit.testRun().retval).toBe(0);
      expect([u64(obj, 'fentry_hits'), u64(obj, 'fentry_arg'), u64(obj, 'fentry_cookie')]).toEqual([2n, 1n, 0xc0ffeen]);
      expect([u64(obj, 'fexit_hits'), u64(obj, 'fexit_arg'), u64(obj, 'fexit_ret')]).toEqual([2n, 1n, 2n]);
      // The tracing link names its target: the BTF object (vmlinux) and the function's id in it.
      const pi = entry.info();
      const li = fe.info() as Extract<LinkInfo, { type: 'tracing' }>;
      expect(li).toMatchObject({ type: 'tracing', attachType: 'trace_fentry', progId: pi.id, targetBtfId: pi.attachBtfId, targetObjId: pi.attachBtfObjId });
      expect(pi.attachBtfId).toBe(loadKernelBtf().typeByName('bpf_fentry_test1', 'func'));
      expect(fx.info()).toMatchObject({ type: 'tracing', attachType: 'trace_fexit' });
    }
    entry.testRun();
    expect(u64(obj, 'fentry_hits')).toBe(2n);
    expect(u64(obj, 'fexit_hits')).toBe(2n);
  });

  modifiable('fmod_ret replaces bpf_modify_return_test\'s result (and skips its side effect)', () => {
    using obj = open().load({ programs: ['modify_ret'] });
    const prog = obj.program('modify_ret');
    // retval = side effects << 16 | sum of results; kernels differ in how many functions they
    // call (6.7+ adds bpf_modify_return_test2), so compare with a run before attaching.
    const before = prog.testRun().retval;
    expect(u64(obj, 'modret_hits')).toBe(0n);
    using link = prog.attachTrace();
    const after = prog.testRun().retval;
    expect([u64(obj, 'modret_hits'), u64(obj, 'modret_a'), u64(obj, 'modret_b')]).toEqual([1n, 1n, 2n]);
    expect((after & 0xffff) - (before & 0xffff)).toBe(1234 - 4); // 1234 instead of a + ++*b = 4
    expect((before >>> 16) - (after >>> 16)).toBe(1); // *b was not incremented
    expect(link.info()).toMatchObject({ type: 'tracing', attachType: 'modify_return' });
  });

  // Skip reason: needs trampoline; skipped where absent or refused (the title says which).
  needs('trampoline')('fmod_ret on security_file_mprotect fails one mapping\'s mprotect with the program\'s EACCES', () => {
    using obj = open().load({ programs: ['fail_mprotect'] });
    const denied = anonPage();
    const other = anonPage();
    try {
      obj.setGlobal('deny_start', BigInt(denied));
      {
        using link = obj.program('fail_mprotect').attachTrace();
        expect(link.info()).toMatchObject({ type: 'tracing', attachType: 'modify_return' });
        expect(mprotect(denied)).toBe(-13); // -EACCES: the program's return value, not an LSM's
        expect(mprotect(other)).toBe(0);
        expect(u64(obj, 'modsec_hits')).toBe(1n);
      }
      expect(mprotect(denied)).toBe(0);
    } finally {
      rawSyscall(SYS.munmap, denied, PAGE);
      rawSyscall(SYS.munmap, other, PAGE);
    }
  });

  // Skip reason: needs trampoline; skipped where absent or refused (the title says which).
  needs('trampoline')('setAttachTarget moves an fentry program to bpf_fentry_test2(2, 3) before load', () => {
    using obj = open().setAttachTarget('retargeted', { function: 'bpf_fentry_test2' }).load({ programs: ['retargeted'] });
    const prog = obj.program('retargeted');
    expect(prog.info().attachBtfId).toBe(loadKernelBtf().typeByName('bpf_fentry_test2', 'func'));
    using link = prog.attachTrace();
    prog.testRun();
    expect([u64(obj, 'retarget_hits'), u64(obj, 'retarget_a'), u64(obj, 'retarget_b')]).toEqual([1n, 2n, 3n]);
  });

  // Skip reason: checks the EPERM, so it runs only where this machine refuses trampoline.
  refuses('trampoline')('where the machine refuses trampolines, the load is EPERM and says so', () => {
    const e = thrown<BpfError>(() => open().load({ programs: ['on_entry'] }));
    expect(e).toBeInstanceOf(BpfError);
    expect(e).toMatchObject({ code: 'EPERM', command: 'BPF_PROG_LOAD' });
    expect(e.message).toMatch(/program 'on_entry' \(section 'fentry\/bpf_fentry_test1'\)/);
    expect(e.message).toMatch(/refuses .*even for root: fentry\/fexit\/fmod_ret, freplace and LSM programs all run through BPF trampolines/);
  });
});

/** Whether the bpf LSM runs hooks here: listed in securityfs, or (securityfs not mounted) not
 * left out by an lsm= on the command line (CONFIG_LSM lists it on the kernels we test). */
function bpfLsmActive(): boolean {
  if (existsSync('/sys/kernel/security/lsm')) return readFileSync('/sys/kernel/security/lsm', 'utf8').split(',').includes('bpf');
  const m = /(?:^| )lsm=(\S+)/.exec(readFileSync('/proc/cmdline', 'utf8'));
  return !m || m[1]!.split(',').includes('bpf');
}

const MAP_ANONYMOUS = 0x20; // <sys/mman.h>; only this test maps anonymous memory
const PAGE = 4096;
/** A page of its own VMA: shared anonymous memory (its own shmem file) never merges with a
 * neighbour, so the hook sees vm_start == the address we mapped. */
function anonPage(): number {
  const addr = rawSyscall(SYS.mmap, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (addr < 0) throw new Error(`mmap: errno ${-addr}`);
  return addr;
}
const mprotect = (addr: number) => rawSyscall(SYS.mprotect, addr, PAGE, PROT_READ);

describe('LSM', () => {
  // Skip reason: a kernel booted without 'bpf' in lsm= cannot run LSM programs at all; the title says so.
  const lsmIt: TestFn = bpfLsmActive() ? needs('lsm') : (name, fn) => it.skip(`${name} [skipped: the bpf LSM is not active on this kernel (lsm= leaves it out)]`, fn);
  // Skip reason: needs the bpf LSM active (lsm=) and LSM programs allowed.
  lsmIt('lsm/file_mprotect counts this process\'s mprotect calls and denies one mapping (-EPERM) until the link closes', () => {
    using obj = open().load({ programs: ['deny_mprotect'] });
    const denied = anonPage();
    const other = anonPage();
    try {
      obj.setGlobal('deny_start', BigInt(denied));
      expect(mprotect(denied)).toBe(0); // not attached yet
      expect(u64(obj, 'lsm_hits')).toBe(0n);
      {
        using link = obj.program('deny_mprotect').attachTrace();
        expect(link.info()).toMatchObject({ type: 'tracing', attachType: 'lsm_mac' });
        expect(mprotect(denied)).toBe(-1); // -EPERM from the hook
        expect(mprotect(other)).toBe(0);
        expect(u64(obj, 'lsm_denied')).toBe(1n);
        // Every mprotect of this process counts (V8 makes its own), ours included.
        expect(u64(obj, 'lsm_hits')).toBeGreaterThanOrEqual(2n);
      }
      expect(mprotect(denied)).toBe(0);
      expect(u64(obj, 'lsm_denied')).toBe(1n);
    } finally {
      rawSyscall(SYS.munmap, denied, PAGE);
      rawSyscall(SYS.munmap, other, PAGE);
    }
  });

  // Skip reason: checks the EPERM, so it runs only where this machine refuses lsm.
  refuses('lsm')('where the machine refuses LSM programs, the load is EPERM and names trampolines', () => {
    const e = thrown<BpfError>(() => open().load({ programs: ['deny_mprotect'] }));
    expect(e).toMatchObject({ code: 'EPERM', command: 'BPF_PROG_LOAD' });
    expect(e.message).toMatch(/BPF trampolines/);
  });
});

describe('kernel module targets', () => {
  // fuse_getattr is in the fuse module in the 6.1 guest (virtiofs needs it) and built in elsewhere.
  const target = findKernelTarget('trace_fentry', 'fuse_getattr');
  // Skip reason: the test needs a kernel whose BTF has fuse_getattr (module or built in); without it there is no target to attach to.
  const moduleIt: TestFn = target ? needs('trampoline') : (name, fn) => it.skip(`${name} [skipped: this kernel has no fuse_getattr in its BTF]`, fn);
  // Skip reason: needs fuse_getattr in the kernel's BTF and trampolines.
  moduleIt('fentry on fuse_getattr: found in its BTF (module BTF via attach_btf_obj_fd when fuse is a module), fires on stat(2)', () => {
    using obj = open().load({ programs: ['module_fentry'] });
    const prog = obj.program('module_fentry');
    const info = prog.info();
    expect(info.attachBtfId).toBe(target!.btfId);
    if (target!.module !== undefined) {
      // The program holds the module's BTF object (attach_btf_obj_fd at load), not vmlinux's.
      const fd = moduleBtfFd(target!.module);
      try {
        const btfInfo = new Attr(BPF_BTF_INFO);
        objInfo(fd, btfInfo.bytes);
        expect(info.attachBtfObjId).toBe(btfInfo.get('id'));
      } finally {
        closeFd(fd);
      }
    }
    using link = prog.attachTrace();
    expect(link.info()).toMatchObject({ type: 'tracing', attachType: 'trace_fentry', targetBtfId: target!.btfId, targetObjId: info.attachBtfObjId });
    // Files of this checkout come from the host over virtiofs (fuse) in the guests.
    for (let i = 0; i < 20; i++) statSync(FIX);
    expect(u64(obj, 'module_hits')).toBeGreaterThanOrEqual(1n);
  });
});

describe('attach targets and attach calls: caller mistakes are UsageErrors before any syscall', () => {
  // Skip reason: needs prog:tracing; skipped where absent or refused (the title says which).
  needs('prog:tracing')('an unknown kernel function is named, with where it was looked for', () => {
    const obj = open().setAttachTarget('on_entry', { function: 'no_such_function_tsbpf' });
    const e = thrown(() => obj.load({ programs: ['on_entry'] }));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/program 'on_entry' .*the kernel BTF \(vmlinux and every module in \/sys\/kernel\/btf\) has no func 'no_such_function_tsbpf'/);
    const m = thrown(() => open().setAttachTarget('on_entry', { function: 'no_such_module_tsbpf:bpf_fentry_test1' }).load({ programs: ['on_entry'] }));
    expect(m.message).toMatch(/module no_such_module_tsbpf's BTF has no func 'bpf_fentry_test1'/);
  });

  // Skip reason: needs prog:tracing; skipped where absent or refused (the title says which).
  needs('prog:tracing')('setAttachTarget checks its arguments and the object state', () => {
    using obj = open();
    expect(() => obj.setAttachTarget('on_entry', {})).toThrow(UsageError);
    expect(() => obj.setAttachTarget('on_entry', { function: '' })).toThrow(/non-empty/);
    expect(() => obj.setAttachTarget('nope', { function: 'x' })).toThrow(/no program named 'nope'/);
    obj.setAttachTarget('on_entry', { function: 'bpf_fentry_test2' });
    expect(obj.programSpec('on_entry').attachTarget).toEqual({ function: 'bpf_fentry_test2' });
  });

  // Skip reason: needs prog:tracing; skipped where absent or refused (the title says which).
  needs('prog:tracing')('a lsm hook name resolves to bpf_lsm_<hook>; an iterator to bpf_iter_<target>', () => {
    // Resolution alone (load would need trampolines for LSM): the spec keeps the short name.
    using obj = open();
    expect(obj.programSpec('deny_mprotect').attachTo).toBe('file_mprotect');
    obj.setAttachTarget('deny_mprotect', { function: 'no_such_hook' });
    expect(() => obj.load({ programs: ['deny_mprotect'] })).toThrow(/has no func 'bpf_lsm_no_such_hook'/);
  });
});
