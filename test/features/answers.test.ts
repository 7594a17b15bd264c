// Pure: what each probe's reply means on kernels we are not running, and the errors those
// answers make. No kernel calls, no root.
import { describe, expect, it } from 'vitest';
import { ERRNO } from '../../src/errno-names.js';
import { BpfError, NotSupportedError, notSupportedMessage } from '../../src/errors.js';
import { answerError, fromHelperLoad, fromProgLoad, fromResult } from '../../src/features/answer.js';
import { NAMED_FEATURES, PROGRAM_TYPE_SINCE, MAP_TYPE_SINCE } from '../../src/features/catalog.js';
import { kernelAtLeast, kernelVersionCode } from '../../src/features/kernel.js';
import { answerFromResult, PROBE_RULES } from '../../src/features/rules.js';
import { MAP_TYPE_NAMES, PROG_TYPE_NAMES } from '../../src/syscall/abi/names.js';
import { thrown } from '../helpers/thrown.js';

const { EPERM, EACCES, EINVAL, E2BIG, EBADF, ENXIO, EAFNOSUPPORT, EFAULT, EOPNOTSUPP, ENOTSUPP, ENOMEM, ENOENT } = ERRNO;
const K61 = '6.1.0-57-cloud-amd64';
const K612 = '6.12.48+deb12-cloud-amd64';

describe('errno → answer', () => {
  it('a result or a proof errno is present; EPERM/EACCES refused; EINVAL/E2BIG/EOPNOTSUPP/ENOTSUPP absent', () => {
    const rule = { command: 'BPF_LINK_CREATE', present: [EBADF] };
    expect(fromResult(3, rule)).toMatchObject({ status: 'present', errno: 0 });
    expect(fromResult(-EBADF, rule)).toMatchObject({ status: 'present', errno: EBADF });
    for (const e of [EPERM, EACCES]) expect(fromResult(-e, rule)).toMatchObject({ status: 'refused', errno: e });
    for (const e of [EINVAL, E2BIG, EOPNOTSUPP, ENOTSUPP]) expect(fromResult(-e, rule)).toMatchObject({ status: 'absent', errno: e });
    // Without the rule, EBADF proves nothing: it is an unexpected errno, never "absent".
    expect(fromResult(-EBADF, { command: 'BPF_LINK_CREATE' })).toMatchObject({ status: 'refused', errno: EBADF });
  });

  it('an unexpected errno is not "absent", and a transient one is marked so it is not cached', () => {
    const o = fromResult(-ENOMEM, { command: 'BPF_MAP_CREATE' });
    expect(o).toMatchObject({ status: 'refused', errno: ENOMEM, transient: true });
    expect(o.detail).toMatch(/did not expect/);
    expect(fromResult(-ENOENT, { command: 'BPF_MAP_CREATE' }).transient).toBeUndefined();
  });

  it('details say what the kernel answered', () => {
    expect(fromResult(-EINVAL, PROBE_RULES.tcx).detail).toBe(
      'BPF_PROG_QUERY answered EINVAL: the kernel does not know the type, command, attach type or flag',
    );
    expect(fromResult(-EOPNOTSUPP, PROBE_RULES.kprobe_multi).detail).toMatch(/EOPNOTSUPP: the kernel was built without it/);
    expect(fromResult(-EBADF, PROBE_RULES.bpf_token).detail).toMatch(/^BPF_TOKEN_CREATE answered EBADF/);
  });
});

describe('each probe on kernels we are not running', () => {
  // (feature, what 6.1 answers, what 6.12 answers): the errnos those kernels give the probes
  // (measured in the scripts/vm guests).
  const cases: [keyof typeof PROBE_RULES, number, number][] = [
    ['tcx', -EINVAL, 0],
    ['netkit', -EINVAL, -ENXIO],
    ['netfilter_link', -EINVAL, -EAFNOSUPPORT],
    ['uprobe_multi', -EINVAL, -EBADF],
    ['sockmap_link', -EINVAL, -EBADF],
    ['bpf_token', -EINVAL, -EBADF],
    ['arena', -EINVAL, 3],
    ['cgroup_mprog', -EINVAL, -EBADF],
  ];
  for (const [feature, on61, on612] of cases) {
    it(`${feature}: absent on 6.1 with a message naming ${NAMED_FEATURES[feature].minKernel} and the kernel`, () => {
      const a = answerFromResult(feature, on61, K61);
      expect(a.status).toBe('absent');
      const e = answerError(a);
      expect(e).toBeInstanceOf(NotSupportedError);
      const ns = e as NotSupportedError;
      expect(ns.minKernel).toBe(NAMED_FEATURES[feature].minKernel);
      expect(ns.kernel).toBe(K61);
      expect(ns.errno).toBe(EINVAL);
      expect(ns.message).toContain(`need Linux ${NAMED_FEATURES[feature].minKernel}; this kernel is ${K61}`);
      const b = answerFromResult(feature, on612, K612);
      expect(b.status).toBe('present');
      expect(answerError(b)).toBeUndefined();
    });
  }

  it('6.1 answers a tcx query with EINVAL: "tcx links … need Linux 6.6; this kernel is 6.1…; use tc.attach(…) instead"', () => {
    const e = answerError(answerFromResult('tcx', -EINVAL, K61))!;
    expect(e.message).toMatch(new RegExp(`^tcx links .* need Linux 6\\.6; this kernel is ${K61.replace(/\./g, '\\.')}; use tc\\.attach\\(`));
  });

  it('arena: EINVAL on 6.1 is NotSupportedError; EPERM (a machine that refuses it) is a BpfError, never "needs Linux"', () => {
    expect(answerError(answerFromResult('arena', -EINVAL, K61))).toBeInstanceOf(NotSupportedError);
    const refused = answerError(answerFromResult('arena', -EPERM, '6.18.44-fc-v1252'))!;
    expect(refused).toBeInstanceOf(BpfError);
    expect(refused).not.toBeInstanceOf(NotSupportedError);
    expect(refused).toMatchObject({ errno: EPERM, code: 'EPERM', command: 'BPF_MAP_CREATE' });
    expect(refused.message).toMatch(/^arena maps .*: refused on this machine \(6\.18\.44-fc-v1252\)/);
    expect(refused.message).toMatch(/not a matter of kernel version/);
    expect(refused.message).not.toMatch(/need Linux/);
  });

  it('a feature compiled out of a kernel new enough is "not available", not "needs Linux X"', () => {
    const a = answerFromResult('kprobe_multi', -EOPNOTSUPP, '6.18.44-fc-v1252');
    expect(a.status).toBe('absent');
    const e = answerError(a) as NotSupportedError;
    expect(e.message).toMatch(/^kprobe_multi links .* are not available on this kernel \(6\.18\.44-fc-v1252\), although Linux 5\.18 introduced them/);
    expect(e.message).toMatch(/use one perf-event kprobe per function instead$/);
    expect(e.message).not.toMatch(/need Linux/);
    // The same errno on an older kernel is a version matter.
    expect(answerError(answerFromResult('kprobe_multi', -EINVAL, '5.15.0-100-generic'))!.message).toMatch(/need Linux 5\.18; this kernel is 5\.15/);
  });

  it('kprobe_multi: EFAULT (the unmapped address list) is present', () => {
    expect(answerFromResult('kprobe_multi', -EFAULT, K612).status).toBe('present');
  });

  it('trampolines: EPERM is refused (this host), success present, EINVAL absent (before 5.5)', () => {
    expect(answerFromResult('trampoline', -EPERM, '6.18.44').status).toBe('refused');
    expect(answerFromResult('trampoline', 5, K612).status).toBe('present');
    const old = answerFromResult('trampoline', -EINVAL, '5.4.0-150-generic');
    expect(answerError(old)!.message).toMatch(/^BPF trampolines .* need Linux 5\.5; this kernel is 5\.4\.0-150-generic; use kprobe\/kretprobe programs instead$/);
  });
});

describe('program loads', () => {
  it('EINVAL with no log: the type is unknown (absent)', () => {
    expect(fromProgLoad(-EINVAL, '')).toMatchObject({ status: 'absent', errno: EINVAL });
  });

  it('a log means the verifier ran: the type is known, only the tiny probe program was wrong for it', () => {
    const o = fromProgLoad(-EINVAL, 'Tracing programs must provide btf_id\nprocessed 0 insns (limit 1000000)\n');
    expect(o).toMatchObject({ status: 'present', errno: EINVAL });
    expect(o.detail).toContain('"Tracing programs must provide btf_id"');
    expect(fromProgLoad(-ENOTSUPP, 'processed 0 insns (limit 1000000) max_states_per_insn 0\n').status).toBe('present');
    // EACCES with a log is the verifier's "no", not a permission check.
    expect(fromProgLoad(-EACCES, 'R2 !read_ok\n').status).toBe('present');
  });

  it('EPERM is a refusal, log or not', () => {
    expect(fromProgLoad(-EPERM, '').status).toBe('refused');
    expect(fromProgLoad(-EPERM, 'something\n').status).toBe('refused');
    expect(fromProgLoad(-EACCES, '').status).toBe('refused');
  });

  it('helpers: missing only when the verifier says so', () => {
    expect(fromHelperLoad(-EINVAL, 'invalid func unknown#212\n')).toMatchObject({ status: 'absent' });
    expect(fromHelperLoad(-EINVAL, '0: (85) call bpf_sys_bpf#166\nunknown func bpf_sys_bpf#166\n')).toMatchObject({ status: 'absent' });
    const o = fromHelperLoad(-EINVAL, 'program of this type cannot use helper bpf_xdp_adjust_tail#65\n');
    expect(o.status).toBe('absent');
    expect(o.detail).toContain('"program of this type cannot use helper bpf_xdp_adjust_tail#65"');
    expect(fromHelperLoad(-EACCES, '0: (85) call bpf_xdp_adjust_tail#65\nR2 !read_ok\n').status).toBe('present');
    expect(fromHelperLoad(4, '').status).toBe('present');
    expect(fromHelperLoad(-EPERM, '').status).toBe('refused');
  });
});

describe('NotSupportedError', () => {
  it('names the feature, the version and the running kernel, and the alternative', () => {
    const e = new NotSupportedError('tcx links', '6.6', 'tc.attach()', EINVAL, K61);
    expect(e).toMatchObject({ feature: 'tcx links', minKernel: '6.6', alternative: 'tc.attach()', errno: EINVAL, kernel: K61, code: 'EINVAL' });
    expect(e.message).toBe(`tcx links need Linux 6.6; this kernel is ${K61}; use tc.attach() instead`);
  });

  it('defaults to the running kernel', () => {
    const e = new NotSupportedError('things', '99.1');
    expect(e.kernel).toMatch(/^\d+\.\d+/);
    expect(e.message).toBe(`things need Linux 99.1; this kernel is ${e.kernel}`);
  });

  it('without a version, or on a kernel new enough, it does not ask for an upgrade', () => {
    expect(notSupportedMessage('calls to bpf_foo from xdp programs', undefined, K612)).toBe(`calls to bpf_foo from xdp programs are not available on this kernel (${K612})`);
    expect(notSupportedMessage('netkit links', '6.7', '6.18.44')).toMatch(/^netkit links are not available on this kernel \(6\.18\.44\), although Linux 6\.7 introduced them/);
  });

  it('check() of an absent answer throws it', () => {
    const e = thrown<NotSupportedError>(() => {
      throw answerError(answerFromResult('bpf_token', -EINVAL, K61))!;
    });
    expect(e.message).toMatch(/^BPF tokens .* need Linux 6\.9; this kernel is 6\.1\.0-57-cloud-amd64; use CAP_BPF/);
  });
});

describe('catalog', () => {
  it('every program and map type of the ABI has the version that introduced it', () => {
    for (const t of PROG_TYPE_NAMES.byName.keys()) if (t !== 'unspec') expect(PROGRAM_TYPE_SINCE, t).toHaveProperty(t);
    for (const t of MAP_TYPE_NAMES.byName.keys())
      if (t !== 'unspec' && !t.endsWith('_deprecated')) expect(MAP_TYPE_SINCE, t).toHaveProperty(t);
    expect(PROGRAM_TYPE_SINCE.netfilter).toBe('6.4');
    expect(MAP_TYPE_SINCE.arena).toBe('6.9');
  });

  it('every named feature has a title in the plural and a version', () => {
    for (const [id, f] of Object.entries(NAMED_FEATURES)) {
      expect(f.title, id).toMatch(/s\b|\)$/);
      expect(f.minKernel, id).toMatch(/^\d+\.\d+$/);
    }
  });
});

describe('kernel versions', () => {
  it('compares releases', () => {
    expect(kernelAtLeast(K61, '6.6')).toBe(false);
    expect(kernelAtLeast('6.6.0', '6.6')).toBe(true);
    expect(kernelAtLeast('6.18.44-fc-v445', '6.6')).toBe(true);
    expect(kernelAtLeast('5.8.18', '5.9')).toBe(false);
    expect(kernelAtLeast('10.0.0', '6.9')).toBe(true);
    expect(kernelAtLeast('weird', '5.9')).toBe(true); // never a false "needs Linux X"
  });

  it('KERNEL_VERSION of a release', () => {
    expect(kernelVersionCode('4.19.0-21-amd64')).toBe((4 << 16) + (19 << 8));
    expect(kernelVersionCode('5.4.300')).toBe((5 << 16) + (4 << 8) + 255);
    expect(kernelVersionCode('x')).toBe(0);
  });
});
