// Feature probes against the running kernel: what each kernel we test on has (the host's
// 6.18, and 6.1 and 6.12 in the guests of scripts/vm), that a probe leaves nothing behind,
// that answers are cached, and that the library's own errors agree with the probes.
import { describe, expect, it } from 'vitest';
import { BpfError, NotSupportedError, UsageError, VerifierError, errnoName } from '../../src/errors.js';
import { features, kernelAtLeast, type FeatureQuery, type FeatureStatus } from '../../src/features/index.js';
import { kernelVersion } from '../../src/features/kernel.js';
import { BpfProgram } from '../../src/programs/index.js';
import { MAP_TYPE_NAMES, PROG_TYPE_NAMES, type ProgramType } from '../../src/syscall/abi/names.js';
import { query as tcxQuery } from '../../src/tcx/query.js';
import { guardFdLeaks, isRoot, openFdCount } from '../helpers/fd-guard.js';
import { lacks, needs, refuses } from '../helpers/features.js';
import { thrown } from '../helpers/thrown.js';

guardFdLeaks();

const kernel = features.kernel;
/** The guests say which Debian series they boot; on the host, major.minor of the release. */
const series = process.env.TSBPF_GUEST_KERNEL ?? kernelVersion(kernel)?.join('.') ?? kernel;

/**
 * What each kernel we test on answers, measured (scripts/vm for the guests). A list allows
 * several answers where machines of the same kind differ (arena is refused on some hosts).
 */
const EXPECTED: Record<string, Partial<Record<FeatureQuery, FeatureStatus | FeatureStatus[]>>> = {
  '6.1': {
    xdp_link: 'present',
    tcx: 'absent',
    netkit: 'absent',
    netfilter_link: 'absent',
    uprobe_multi: 'absent',
    sockmap_link: 'absent',
    arena: 'absent',
    bpf_token: 'absent',
    cgroup_mprog: 'absent',
    // Debian's 6.1 cloud kernel is built without CONFIG_FPROBE.
    kprobe_multi: 'absent',
    perf_link: 'present',
    cgroup_link: 'present',
    trampoline: 'present',
    lsm: 'present',
    xdp_frags: 'present',
    bpf_cookie: 'present',
    'prog:netfilter': 'absent',
    'prog:lsm': 'present',
    'prog:ext': 'present',
    'map:cgrp_storage': 'absent',
    'map:user_ringbuf': 'present',
    'btf:enum64': 'present',
    'kfunc:bpf_rcu_read_lock': 'absent',
  },
  '6.12': {
    xdp_link: 'present',
    tcx: 'present',
    netkit: 'present',
    netfilter_link: 'present',
    uprobe_multi: 'present',
    sockmap_link: 'present',
    arena: 'present',
    bpf_token: 'present',
    kprobe_multi: 'present',
    // Upstream 6.16, but Debian's 6.12 (6.12.118) carries the cgroup mprog backport: the probe,
    // not the version, decides.
    cgroup_mprog: 'present',
    trampoline: 'present',
    lsm: 'present',
    'prog:netfilter': 'present',
    'prog:lirc_mode2': 'absent',
    'map:cgrp_storage': 'present',
    'map:arena': 'present',
    'kfunc:bpf_rcu_read_lock': 'present',
  },
  // The development machines: trampolines (fentry/fexit/freplace/LSM) are refused with EPERM
  // even for root (NOTES.md); arena maps are refused on some and allowed on others.
  '6.18': {
    xdp_link: 'present',
    tcx: 'present',
    netfilter_link: 'present',
    uprobe_multi: 'present',
    perf_link: 'present',
    sockmap_link: 'present',
    cgroup_link: 'present',
    cgroup_mprog: 'present',
    xdp_frags: 'present',
    bpf_token: 'present',
    bpf_cookie: 'present',
    trampoline: 'refused',
    lsm: 'refused',
    arena: ['present', 'refused'],
    'prog:tracing': 'present',
    'prog:netfilter': 'present',
    'map:cgrp_storage': 'present',
    'btf:enum64': 'present',
    'kfunc:bpf_rcu_read_lock': 'present',
  },
};

const expected = EXPECTED[series];
// Skip reason: the table above holds the answers of the kernels we test on (6.1, 6.12, 6.18); on any other kernel there is nothing to compare with, so these checks skip (the probes themselves still run in the tests below).
const knownKernel = expected ? it : it.skip;

describe.runIf(isRoot)(`feature probes on this kernel (${kernel})`, () => {
  // Skip reason: only kernels with a row in EXPECTED (6.1, 6.12, 6.18) have answers to compare with.
  knownKernel(`answers what kernel ${series} is known to answer${expected ? '' : ` [skipped: no expectations recorded for kernel ${series}]`}`, () => {
    const got: Record<string, string> = {};
    const want: Record<string, string> = {};
    for (const [q, s] of Object.entries(expected ?? {})) {
      const a = features.probe(q as FeatureQuery);
      const ok = Array.isArray(s) ? s.includes(a.status) : s === a.status;
      got[q] = ok ? String(s) : `${a.status} (${a.detail})`;
      want[q] = String(s);
    }
    expect(got).toEqual(want);
  });

  it('refusals are EPERM-like and never worded as a missing kernel version', () => {
    const refused = features.list().map((f) => features.probe(f.id as FeatureQuery)).filter((a) => a.status === 'refused');
    for (const a of refused) {
      const e = features.error(a.id as FeatureQuery)!;
      expect(e, a.id).toBeInstanceOf(BpfError);
      expect(e, a.id).not.toBeInstanceOf(NotSupportedError);
      expect((e as BpfError).code, a.id).toBe(errnoName(a.errno || 1));
      expect(e.message, a.id).toMatch(/refused on this machine/);
      expect(e.message, a.id).not.toMatch(/need Linux/);
    }
  });

  it('absences name the version and this kernel, and do not ask for an upgrade a kernel this new does not need', () => {
    const absent = features.list().map((f) => features.probe(f.id as FeatureQuery)).filter((a) => a.status === 'absent');
    for (const a of absent) {
      const e = thrown<NotSupportedError>(() => features.check(a.id as FeatureQuery));
      expect(e, a.id).toBeInstanceOf(NotSupportedError);
      expect(e.kernel).toBe(kernel);
      expect(e.minKernel).toBe(a.minKernel);
      if (kernelAtLeast(kernel, a.minKernel!)) expect(e.message, a.id).toContain(`although Linux ${a.minKernel} introduced them`);
      else expect(e.message, a.id).toContain(`need Linux ${a.minKernel}; this kernel is ${kernel}`);
    }
  });

  it('answers are probed once and cached: the same frozen object', () => {
    const a = features.probe('tcx');
    expect(features.probe('tcx')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(features.programType('tc')).toBe(features.programType('sched_cls'));
    expect(features.helper('xdp', 'xdp_adjust_tail')).toBe(features.helper('xdp', 'bpf_xdp_adjust_tail'));
  });

  it('every probe there is, run here, leaves no fd behind and gives one of three answers', () => {
    const before = openFdCount();
    const queries: string[] = features.list().map((f) => f.id);
    for (const t of PROG_TYPE_NAMES.byName.keys()) if (t !== 'unspec') queries.push(`prog:${t}`);
    for (const t of MAP_TYPE_NAMES.byName.keys()) if (t !== 'unspec' && !t.endsWith('_deprecated')) queries.push(`map:${t}`);
    for (const k of ['func', 'datasec', 'func_global', 'float', 'decl_tag', 'type_tag', 'enum64']) queries.push(`btf:${k}`);
    for (const q of queries) {
      const a = features.probe(q as FeatureQuery);
      expect(['present', 'absent', 'refused'], q).toContain(a.status);
      expect(a.detail, q).not.toBe('');
      expect(a.kernel).toBe(kernel);
    }
    expect(openFdCount()).toBe(before);
  });

  it('every kernel we run has the basics', () => {
    for (const q of ['prog:xdp', 'prog:sched_cls', 'prog:socket_filter', 'map:hash', 'map:array', 'map:ringbuf', 'btf:func', 'btf:datasec'] as const)
      expect(features.probe(q).status, q).toBe('present');
    expect(features.has('map:hash')).toBe(true);
    expect(() => features.check('prog:xdp')).not.toThrow();
  });

  it('helpers: xdp may call bpf_xdp_adjust_tail (4.18); a socket filter may not', () => {
    expect(features.helper('xdp', 'bpf_xdp_adjust_tail').status).toBe('present');
    const a = features.helper('socket_filter', 'xdp_adjust_tail');
    expect(a).toMatchObject({ status: 'absent', id: 'helper:socket_filter:bpf_xdp_adjust_tail' });
    expect(a.detail).toMatch(/the verifier said "(unknown func|program of this type cannot use helper) bpf_xdp_adjust_tail#65"/);
    const e = thrown<NotSupportedError>(() => features.check('helper:socket_filter:bpf_xdp_adjust_tail'));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e.message).toBe(`calls to bpf_xdp_adjust_tail from socket_filter programs are not available on this kernel (${kernel})`);
  });

  it('kfuncs: by name in the kernel BTF', () => {
    expect(features.kfunc('bpf_tsbpf_no_such_kfunc').status).toBe('absent');
    // bpf_cast_to_kern_ctx came in 6.2; bpf_obj_new_impl too.
    expect(features.kfunc('bpf_cast_to_kern_ctx').status).toBe(kernelAtLeast(kernel, '6.2') ? 'present' : 'absent');
  });

  it('nonsense queries are UsageErrors, before any probe', () => {
    expect(() => features.probe('tcxx' as FeatureQuery)).toThrow(UsageError);
    expect(() => features.probe('map:nope' as FeatureQuery)).toThrow(/unknown map type 'nope'/);
    expect(() => features.probe('prog:nope' as FeatureQuery)).toThrow(/unknown program type 'nope'/);
    expect(() => features.probe('helper:xdp' as FeatureQuery)).toThrow(/helper:<program type>:<helper>/);
    expect(() => features.probe('helper:xdp:bpf_nope')).toThrow(/no helper named 'bpf_nope'/);
    expect(() => features.probe('btf:int' as FeatureQuery)).toThrow(/unknown BTF feature/);
    expect(() => features.helper('ext', 'map_lookup_elem')).toThrow(/not available for ext programs/);
  });
});

describe.runIf(isRoot)('the library interprets real failures as the probes do', () => {
  const RET0 = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  const ATTACH: Partial<Record<ProgramType, string>> = {
    cgroup_sock_addr: 'cgroup_inet4_connect',
    cgroup_sockopt: 'cgroup_getsockopt',
    sk_lookup: 'sk_lookup',
    netfilter: 'netfilter',
  };
  it('BpfProgram.load of every program type: NotSupportedError exactly where the type is absent', () => {
    for (const t of PROG_TYPE_NAMES.byName.keys()) {
      if (t === 'unspec') continue;
      const type = t as ProgramType;
      const a = features.programType(type);
      let err: unknown;
      try {
        BpfProgram.load({
          type,
          instructions: RET0,
          license: 'GPL',
          ...(ATTACH[type] ? { expectedAttachType: ATTACH[type] } : {}),
          ...(type === 'syscall' ? { flags: 1 << 4 } : {}),
        }).close();
      } catch (e) {
        err = e;
      }
      if (a.status === 'absent') {
        expect(err, type).toBeInstanceOf(NotSupportedError);
        expect((err as NotSupportedError).message, type).toMatch(new RegExp(`^${type} programs (need Linux ${a.minKernel!.replace('.', '\\.')}; this kernel is|are not available)`));
      } else if (a.status === 'refused') {
        expect(err, type).toBeInstanceOf(BpfError);
        expect(err, type).not.toBeInstanceOf(NotSupportedError);
        expect((err as BpfError).errno, type).toBe(a.errno);
      } else if (err !== undefined) {
        // Present: at most the kernel objects to the tiny program (tracing without a target,
        // struct_ops without its struct), never "not supported".
        expect(err, type).toBeInstanceOf(BpfError);
        expect(err, type).not.toBeInstanceOf(NotSupportedError);
        if ((err as BpfError).log) expect(err, type).toBeInstanceOf(VerifierError);
      }
    }
  });

  // Skip reason: needs tcx; skipped where absent or refused (the title says which).
  needs('tcx')('tcx.query of loopback works where tcx is present', () => {
    expect(tcxQuery(1, 'ingress')).toMatchObject({ programs: [] });
  });

  // Skip reason: checks the NotSupportedError, so it runs only where tcx is absent.
  lacks('tcx')('tcx.query where the kernel lacks tcx: NotSupportedError naming 6.6 and this kernel', () => {
    const e = thrown<NotSupportedError>(() => tcxQuery(1, 'ingress'));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(e.message).toMatch(/^tcx links .* need Linux 6\.6; this kernel is /);
    expect(e.message).toContain(kernel);
    expect(e.message).toMatch(/use tc\.attach\(/);
  });

  for (const [feature, version] of [
    ['tcx', '6.6'],
    ['netkit', '6.7'],
    ['arena', '6.9'],
    ['uprobe_multi', '6.6'],
    ['bpf_token', '6.9'],
    ['netfilter_link', '6.4'],
    ['sockmap_link', '6.10'],
  ] as const) {
    // Skip reason: checks the NotSupportedError, so it runs only where feature is absent.
    lacks(feature)(`features.check('${feature}') where the kernel lacks it: NotSupportedError naming ${version} and this kernel`, () => {
      const e = thrown<NotSupportedError>(() => features.check(feature));
      expect(e).toBeInstanceOf(NotSupportedError);
      expect(e.minKernel).toBe(version);
      expect(e.kernel).toBe(kernel);
      if (kernelAtLeast(kernel, version)) expect(e.message).toContain(`although Linux ${version} introduced them`);
      else expect(e.message).toContain(`need Linux ${version}; this kernel is ${kernel}`);
    });
  }

  // Skip reason: checks the EPERM, so it runs only where this machine refuses trampoline.
  refuses('trampoline')('trampolines refused here: a real fentry load through the library is the same EPERM, not NotSupportedError', () => {
    const a = features.probe('trampoline');
    const e = thrown<BpfError>(() => features.check('trampoline'));
    expect(e).toBeInstanceOf(BpfError);
    expect(e).not.toBeInstanceOf(NotSupportedError);
    expect(e.errno).toBe(a.errno);
    expect(e.message).toMatch(/^BPF trampolines .*: refused on this machine/);
  });
});
