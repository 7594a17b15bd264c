// The public path: BpfProgram.attachXdp / attachTcx (src/programs) delegate to this folder's
// attachXdpLink / attachTcxLink; the Links they return own the hooks like any other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfProgram } from '../../src/programs/index.js';
import * as tcx from '../../src/tcx/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { needs } from '../helpers/features.js';
import { VethNs } from './net.js';
import { TCX_DROP, TCX_NEXT, XDP_DROP, constInsns } from './progs.js';

describe.runIf(isRoot)('BpfProgram attach methods', () => {
  guardFdLeaks();
  let net: VethNs;
  beforeAll(() => {
    net = new VethNs();
  });
  afterAll(() => net?.cleanup());

  it('prog.attachXdp returns the Link that owns the hook', () => {
    using p = BpfProgram.load({ type: 'xdp', instructions: constInsns(XDP_DROP), license: 'GPL', name: 'pa_drop' });
    const link = p.attachXdp(net.ifindex, { mode: 'drv' });
    try {
      expect(net.ping(1)).toBe(0);
      expect(link.info()).toMatchObject({ type: 'xdp', ifindex: net.ifindex, progId: p.info().id });
    } finally {
      link.close();
    }
    expect(net.ping(2)).toBe(2);
  });

  // Skip reason: needs tcx; skipped where absent or refused (the title says which).
  needs('tcx')('prog.attachTcx places programs like tcx.attach', () => {
    using next = BpfProgram.load({ type: 'sched_cls', instructions: constInsns(TCX_NEXT), license: 'GPL', name: 'pa_next' });
    using drop = BpfProgram.load({ type: 'sched_cls', instructions: constInsns(TCX_DROP), license: 'GPL', name: 'pa_drop' });
    using a = drop.attachTcx(net.ifindex, 'ingress');
    using b = next.attachTcx(net.ifindex, 'ingress', { before: a });
    expect(tcx.query(net.ifindex, 'ingress').programs).toEqual([
      { progId: next.info().id, linkId: b.info().id },
      { progId: drop.info().id, linkId: a.info().id },
    ]);
    expect(net.ping(1)).toBe(0);
  });
});
