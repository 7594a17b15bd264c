// Pure: what a failed link creation means on kernels we are not running, and how before/after
// are encoded. No root needed.
import { describe, expect, it } from 'vitest';
import { BpfError, NotSupportedError, UsageError } from '../../src/errors.js';
import {
  EBUSY,
  EINVAL,
  ESTALE,
  haveLinkFeature,
  kernelAtLeast,
  linkCreateError,
  tcxSupportFromQueryResult,
} from '../../src/link/features.js';
import { features } from '../../src/features/index.js';
import { Link } from '../../src/link/index.js';
import { placement } from '../../src/link/tcx.js';
import { BPF_F_AFTER, BPF_F_BEFORE, BPF_F_ID, BPF_F_LINK } from '../../src/syscall/abi/bpf.js';
import { isRoot } from '../helpers/fd-guard.js';

describe('link feature support', () => {
  it('a 6.1 kernel answers a tcx link with EINVAL: that becomes NotSupportedError naming tcx, 6.6 and tc.attach', () => {
    const err = linkCreateError(EINVAL, { feature: 'tcx', ifindex: 3, where: 'ingress' }, false, '6.1.0-57-cloud-amd64');
    expect(err).toBeInstanceOf(NotSupportedError);
    const ns = err as NotSupportedError;
    expect(ns.feature).toMatch(/^tcx links/);
    expect(ns.minKernel).toBe('6.6');
    expect(ns.kernel).toBe('6.1.0-57-cloud-amd64');
    expect(ns.errno).toBe(EINVAL);
    expect(ns.message).toMatch(/^tcx links .* need Linux 6\.6; this kernel is 6\.1\.0-57-cloud-amd64; use tc\.attach\(/);
  });

  it('a kernel before 5.9 answers an XDP link with EINVAL: NotSupportedError naming 5.9 and xdp.attach', () => {
    const err = linkCreateError(EINVAL, { feature: 'xdp', ifindex: 3 }, false, '5.4.0-150-generic');
    expect(err).toBeInstanceOf(NotSupportedError);
    expect(err.message).toMatch(/XDP links .*need Linux 5\.9; this kernel is 5\.4\.0-150-generic; use xdp\.attach\(/);
  });

  it('EINVAL on a kernel that has the feature is the caller\'s mistake, not "not supported"', () => {
    const err = linkCreateError(EINVAL, { feature: 'tcx', ifindex: 3, where: 'ingress' }, true);
    expect(err).toBeInstanceOf(BpfError);
    expect(err).not.toBeInstanceOf(NotSupportedError);
    expect(err.message).toMatch(/EINVAL — the program is not a sched_cls/);
    // Other errnos never mean "not supported", whatever the probe said.
    expect(linkCreateError(EBUSY, { feature: 'xdp', ifindex: 3 }, false)).not.toBeInstanceOf(NotSupportedError);
  });

  it('ESTALE says the revision is stale, with both revisions when known', () => {
    const err = linkCreateError(ESTALE, { feature: 'tcx', ifindex: 3, where: 'egress', expectedRevision: 4, currentRevision: () => 6 }, true);
    expect(err).toMatchObject({ code: 'ESTALE', command: 'BPF_LINK_CREATE' });
    expect(err.message).toContain('tcx egress on ifindex 3');
    expect(err.message).toContain('stale revision: expected revision 4 but the chain is at revision 6');
  });

  it('compares kernel releases as the probes need', () => {
    expect(kernelAtLeast('6.1.0-18-cloud-amd64', '6.6')).toBe(false);
    expect(kernelAtLeast('6.6.0', '6.6')).toBe(true);
    expect(kernelAtLeast('6.18.44-fc-v445', '6.6')).toBe(true);
    expect(kernelAtLeast('5.8.18', '5.9')).toBe(false);
    expect(kernelAtLeast('5.10.0', '5.9')).toBe(true);
    expect(kernelAtLeast('weird', '5.9')).toBe(true); // never a false "not supported"
  });

  it("reads tcx support from the probe's BPF_PROG_QUERY result", () => {
    expect(tcxSupportFromQueryResult(0)).toBe(true);
    expect(tcxSupportFromQueryResult(-EINVAL)).toBe(false); // 6.1: unknown attach type
    expect(tcxSupportFromQueryResult(-1)).toBeUndefined(); // EPERM: can't tell
  });

  it.runIf(isRoot)('agrees with the feature probes on this kernel (6.18 and 6.12 have both, 6.1 lacks tcx)', () => {
    expect(haveLinkFeature('xdp')).toBe(features.probe('xdp_link').status !== 'absent');
    expect(haveLinkFeature('tcx')).toBe(features.probe('tcx').status !== 'absent');
    expect(haveLinkFeature('xdp')).toBe(true); // every kernel we test on (5.9+)
  });
});

describe('tcx placement encoding', () => {
  it('maps before/after targets to mprog flags and the relative field', () => {
    expect(placement({})).toEqual({ flags: 0, relative: 0 });
    expect(placement({ before: null })).toMatchObject({ flags: BPF_F_BEFORE, relative: 0 });
    expect(placement({ after: null })).toMatchObject({ flags: BPF_F_AFTER, relative: 0 });
    expect(placement({ before: { fd: 7 } })).toMatchObject({ flags: BPF_F_BEFORE, relative: 7 });
    expect(placement({ after: { progId: 42 } })).toMatchObject({ flags: BPF_F_AFTER | BPF_F_ID, relative: 42 });
    expect(placement({ before: { linkId: 9 } })).toMatchObject({ flags: BPF_F_BEFORE | BPF_F_LINK | BPF_F_ID, relative: 9 });
    const link = Link.adopt(123); // never touched: only its fd is read
    expect(placement({ after: link })).toMatchObject({ flags: BPF_F_AFTER | BPF_F_LINK, relative: 123 });
  });

  it('refuses contradictory or malformed targets before any syscall', () => {
    expect(() => placement({ before: { fd: 3 }, after: { fd: 4 } })).toThrow(UsageError);
    expect(() => placement({ before: null, after: { fd: 4 } })).toThrow(/not both/);
    expect(() => placement({ before: null, after: null })).toThrow(/not both/);
    expect(() => placement({ before: { progId: 0 } })).toThrow(/positive integer/);
    expect(() => placement({ after: { linkId: 1.5 } })).toThrow(UsageError);
    expect(() => placement({ before: 'first' as unknown as null })).toThrow(UsageError);
  });
});
