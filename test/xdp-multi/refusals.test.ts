// What xdp.multi refuses, and that a refusal changes nothing: someone else's program on the hook
// (netlink or link), dispatchers of another protocol version, one held by a link, one whose pins
// are gone, another mode, an eleventh program, bad arguments; and, where the machine has no
// freplace (this host: EPERM), the NotSupportedError. None of this needs an extension program
// to load, so it runs on every kernel; hand-made dispatchers stand in for other tools' ones.
import { existsSync, mkdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfObject, NotSupportedError, XdpMultiError, UsageError, isNotSupported, xdp } from '../../src/index.js';
import { dispatcherObjectPath } from '../../src/xdp/multi/dispatcher.js';
import { DISPATCHER_MAGIC, encodeConfig, type DispatcherConfig } from '../../src/xdp/multi/protocol.js';
import { refuses } from '../helpers/features.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';
import { thrown } from '../helpers/thrown.js';
import { actionProgram, XDP_PASS } from '../helpers/tiny-prog.js';
import { V1_DISPATCHER, component, multiTestbed } from './helpers.js';

guardFdLeaks();

// Whatever a test left on the hook goes, with its pins; hand-made dispatchers too.
const bed = multiTestbed({ reset: 'hard' });

const config = (o: Partial<DispatcherConfig> = {}): DispatcherConfig => ({
  magic: DISPATCHER_MAGIC,
  version: 2,
  numProgsEnabled: 0,
  isXdpFrags: false,
  chainCallActions: new Array(10).fill(0),
  runPrios: new Array(10).fill(0),
  programFlags: new Array(10).fill(0),
  ...o,
});

/** A dispatcher loaded by hand from `path` with a raw configuration value, on the hook in skb mode. */
function handDispatcher(path: string, value: Uint8Array, opts: { pinDir?: boolean; link?: boolean } = {}): { obj: BpfObject; id: number; close(): void } {
  const obj = BpfObject.open(path);
  obj.setConstant('conf', value);
  obj.load({ programs: ['xdp_dispatcher'] });
  const prog = obj.program('xdp_dispatcher');
  const id = prog.info().id;
  if (opts.pinDir) mkdirSync(`${bed.fs.xdpDir}/dispatch-${bed.v.hostIndex}-${id}`, { recursive: true });
  const link = opts.link ? prog.attachXdp(bed.v.hostIndex, { mode: 'skb' }) : undefined;
  if (!link) xdp.attach(bed.v.hostIndex, prog, { mode: 'skb' });
  return {
    obj,
    id,
    close() {
      link?.close();
      obj.close();
    },
  };
}

describe('xdp.multi leaves what it may not change alone', () => {
  // Skip reason: checks the EPERM, so it runs only where this machine refuses trampoline.
  refuses('trampoline')('where the machine refuses freplace: NotSupportedError, the hook, the object and bpffs untouched', () => {
    using obj = component(bed.fs);
    const e = thrown(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }], { mode: 'skb' }));
    expect(e).toBeInstanceOf(NotSupportedError);
    expect(isNotSupported(e)).toBe(true);
    expect(e).toMatchObject({ errno: 1, code: 'EPERM', minKernel: '5.10' });
    expect(e.message).toMatch(/XDP dispatchers \(several programs on one interface, each an freplace extension of a dispatcher slot\) are not available on this kernel/);
    expect(e.message).toMatch(/use xdp\.attach\(\) or prog\.attachXdp\(\)/);
    expect(e.message).toMatch(/BPF trampolines .*EPERM/);
    expect(xdp.query(bed.v.hostIndex).attached).toBe('none');
    expect(bed.fs.entries()).toEqual([]);
    // The object can still be used another way: not loaded, its program still an XDP one.
    expect(obj.loaded).toBe(false);
    expect(obj.programSpec('mp_alpha')).toMatchObject({ type: 'xdp', expectedAttachType: 'xdp' });
    expect(obj.programSpec('mp_alpha').attachTarget).toBeUndefined();
    expect(xdp.multi.query(bed.v.hostIndex)).toBeUndefined();
  });

  it('a program attached over netlink is refused, named, untouched — by attach, detach and detachAll', () => {
    const other = actionProgram('xdp', XDP_PASS, 'not_a_disp');
    try {
      xdp.attach(bed.v.hostIndex, other, { mode: 'skb' });
      using obj = component(bed.fs);
      const e = thrown<XdpMultiError>(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }]));
      expect(e).toBeInstanceOf(XdpMultiError);
      expect(e).toMatchObject({ problem: 'foreign', code: 'EBUSY', ifindex: bed.v.hostIndex, progId: other.id });
      expect(e.message).toContain(`holds program ${other.id} "not_a_disp" in skb mode, attached through netlink (no bpf_link), which is not an XDP dispatcher`);
      expect(obj.loaded).toBe(false);
      expect(thrown<XdpMultiError>(() => xdp.multi.detach(bed.v.hostIndex, other.id)).problem).toBe('foreign');
      expect(thrown<XdpMultiError>(() => xdp.multi.detachAll(bed.v.hostIndex)).problem).toBe('foreign');
      expect(xdp.multi.query(bed.v.hostIndex)).toBeUndefined();
      expect(xdp.query(bed.v.hostIndex)).toMatchObject({ attached: 'skb', skbProgId: other.id });
      expect(bed.fs.entries()).toEqual([]);
    } finally {
      other.close();
    }
  });

  it('so is a program held by an XDP link, named with its link', () => {
    using obj = component(bed.fs);
    obj.load({ programs: ['mp_beta'] });
    const prog = obj.program('mp_beta');
    using link = prog.attachXdp(bed.v.hostIndex, { mode: 'skb' });
    using other = component(bed.fs);
    const e = thrown<XdpMultiError>(() => xdp.multi.attach(bed.v.hostIndex, [{ object: other, program: 'mp_alpha' }]));
    expect(e.problem).toBe('foreign');
    expect(e.message).toContain(`program ${prog.info().id} "mp_beta" in skb mode, held by bpf_link ${link.info().id}`);
    expect(xdp.query(bed.v.hostIndex).skbProgId).toBe(prog.info().id);
    link.close();
  });

  it('a dispatcher of a newer protocol version is not read, let alone replaced (EOPNOTSUPP, as libxdp)', () => {
    const d = handDispatcher(dispatcherObjectPath(), encodeConfig(config({ version: 3 })), { pinDir: true });
    try {
      const q = thrown<XdpMultiError>(() => xdp.multi.query(bed.v.hostIndex));
      expect(q).toMatchObject({ problem: 'newer-version', code: 'EOPNOTSUPP', progId: d.id });
      expect(q.message).toMatch(/is protocol version 3; tsbpf speaks version 2/);
      using obj = component(bed.fs);
      expect(thrown<XdpMultiError>(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }])).problem).toBe('newer-version');
      expect(thrown<XdpMultiError>(() => xdp.multi.detachAll(bed.v.hostIndex)).problem).toBe('newer-version');
      expect(xdp.query(bed.v.hostIndex).skbProgId).toBe(d.id);
      expect(bed.fs.entries()).toEqual([`dispatch-${bed.v.hostIndex}-${d.id}`]);
    } finally {
      d.close();
    }
  });

  it('a version-1 dispatcher is listed, refused as a base for new programs, and can be removed whole', () => {
    const value = new Uint8Array(84); // v1: u8 num_progs_enabled, u32 chain_call_actions[10], u32 run_prios[10]
    const d = handDispatcher(V1_DISPATCHER, value, { pinDir: true });
    try {
      const q = xdp.multi.query(bed.v.hostIndex)!;
      expect(q.dispatcher).toMatchObject({ id: d.id, version: 1, mode: 'skb', frags: false, builtBy: 'libxdp', pinDir: `${bed.fs.xdpDir}/dispatch-${bed.v.hostIndex}-${d.id}` });
      expect(q.programs).toEqual([]);
      using obj = component(bed.fs);
      const e = thrown<XdpMultiError>(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }]));
      expect(e).toMatchObject({ problem: 'older-version', code: 'EBUSY', progId: d.id });
      expect(e.message).toMatch(/protocol version 1; like libxdp, tsbpf will not replace it with a version-2 one/);
      expect(obj.loaded).toBe(false);
      expect(xdp.query(bed.v.hostIndex).skbProgId).toBe(d.id);
      // Taking everything out is allowed: the dispatcher and its directory go.
      xdp.multi.detachAll(bed.v.hostIndex);
      expect(xdp.query(bed.v.hostIndex).attached).toBe('none');
      expect(bed.fs.entries()).toEqual([]);
    } finally {
      d.close();
    }
  });

  it('a dispatcher held by a bpf_link cannot be swapped over netlink: refused, naming the link', () => {
    const d = handDispatcher(dispatcherObjectPath(), encodeConfig(config()), { pinDir: true, link: true });
    try {
      const q = xdp.multi.query(bed.v.hostIndex)!;
      expect(q.dispatcher).toMatchObject({ id: d.id, version: 2, builtBy: 'tsbpf' });
      expect(q.dispatcher.linkId).toBeGreaterThan(0);
      using obj = component(bed.fs);
      const e = thrown<XdpMultiError>(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }]));
      expect(e.problem).toBe('held-by-link');
      expect(e.message).toContain(`held by bpf_link ${q.dispatcher.linkId}`);
    } finally {
      d.close();
    }
    expect(xdp.query(bed.v.hostIndex).attached).toBe('none');
  });

  it('a dispatcher whose pins are gone: its programs are unknown, so nothing is added; detachAll removes it', () => {
    const d = handDispatcher(dispatcherObjectPath(), encodeConfig(config({ numProgsEnabled: 1, chainCallActions: [0x80000004, 0, 0, 0, 0, 0, 0, 0, 0, 0], runPrios: [50, 0, 0, 0, 0, 0, 0, 0, 0, 0] })));
    try {
      const q = xdp.multi.query(bed.v.hostIndex)!;
      expect(q.dispatcher).toMatchObject({ id: d.id, unpinned: true });
      expect(q.programs).toEqual([]);
      using obj = component(bed.fs);
      expect(thrown<XdpMultiError>(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }])).problem).toBe('unpinned');
      xdp.multi.detachAll(bed.v.hostIndex);
      expect(xdp.query(bed.v.hostIndex).attached).toBe('none');
    } finally {
      d.close();
    }
  });

  it('joining a dispatcher in another mode is refused; so is an eleventh program', () => {
    const d = handDispatcher(dispatcherObjectPath(), encodeConfig(config()), { pinDir: true });
    try {
      using obj = component(bed.fs);
      const e = thrown<XdpMultiError>(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }], { mode: 'drv' }));
      expect(e).toMatchObject({ problem: 'mode', code: 'EINVAL' });
      expect(e.message).toMatch(/runs in skb mode; programs join it in that mode/);
    } finally {
      d.close();
    }
    const objs = Array.from({ length: 11 }, () => component(bed.fs));
    try {
      const e = thrown<XdpMultiError>(() => xdp.multi.attach(bed.v.hostIndex, objs.map((object) => ({ object, program: 'mp_alpha' }))));
      expect(e).toMatchObject({ problem: 'full', code: 'E2BIG' });
      expect(e.message).toMatch(/a dispatcher has 10 slots; ifindex \d+ would need 11/);
      expect(objs.every((o) => !o.loaded)).toBe(true);
    } finally {
      for (const o of objs) o.close();
    }
  });

  it('bad arguments are UsageErrors before anything is read or loaded', () => {
    using obj = component(bed.fs);
    const usage = (f: () => unknown, re: RegExp) => {
      const e = thrown(f);
      expect(e).toBeInstanceOf(UsageError);
      expect(e.message).toMatch(re);
    };
    usage(() => xdp.multi.attach(bed.v.hostIndex, []), /give at least one \{ object, program \}/);
    usage(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }], { mode: 'hw' as 'skb' }), /mode must be 'skb' or 'drv'/);
    usage(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'nope' }]), /no program named 'nope'/);
    usage(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha', priority: -1 }]), /priority must be an integer from 0 to 4294967295/);
    usage(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha', chainCallActions: ['continue'] }]), /'continue' is not an XDP verdict/);
    usage(() => xdp.multi.attach(bed.v.hostIndex, [{ object: obj, program: 'mp_alpha' }, { object: obj, program: 'mp_alpha' }]), /listed twice/);
    usage(() => xdp.multi.attach(bed.v.hostIndex, [{ object: {} as BpfObject, program: 'mp_alpha' }]), /'object' must be a BpfObject/);
    using tc = BpfObject.open(new URL('../fixtures/globals.o', import.meta.url).pathname);
    const tcProg = [...tc.spec.programs.values()].find((p) => p.type !== 'xdp')!;
    usage(() => xdp.multi.attach(bed.v.hostIndex, [{ object: tc, program: tcProg.name }]), /only XDP programs run in a dispatcher/);
    usage(() => xdp.multi.detach(bed.v.hostIndex, 0), /a program id is a positive integer|name the program by its id/);
    const missing = thrown<XdpMultiError>(() => xdp.multi.detach(bed.v.hostIndex, 12345));
    expect(missing).toMatchObject({ problem: 'not-found', code: 'ENOENT' });
    expect(obj.loaded).toBe(false);
    expect(existsSync(`${bed.fs.xdpDir}`)).toBe(true);
    expect(bed.fs.entries()).toEqual([]);
  });
});
