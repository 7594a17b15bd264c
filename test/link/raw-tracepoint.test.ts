// Raw tracepoint links: a raw_tp and a tp_btf program count this process's syscalls while
// attached, and stop when the link closes.
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfObject, Link, UsageError } from '../../src/index.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';

const FIX = new URL('../fixtures/obj_tracepoints.o', import.meta.url).pathname;
const hits = (obj: BpfObject, name: string) => new DataView(obj.global(name).buffer).getBigUint64(0, true);
const syscalls = (n: number) => {
  for (let i = 0; i < n; i++) statSync('/');
};

guardFdLeaks();

describe('raw tracepoint links', () => {
  for (const [prog, counter, tp] of [
    ['count_raw', 'raw_hits', 'sys_enter'],
    ['count_btf', 'btf_hits', undefined],
  ] as const) {
    it(`${prog}: counts while attached, stops after close`, () => {
      using obj = BpfObject.open(FIX).setConstant('target_tgid', process.pid).load();
      syscalls(50);
      expect(hits(obj, counter)).toBe(0n);
      using link: Link = obj.program(prog).attachRawTracepoint(tp);
      syscalls(200);
      const seen = hits(obj, counter);
      expect(seen).toBeGreaterThanOrEqual(200n);
      // BPF_RAW_TRACEPOINT_OPEN makes a raw_tracepoint link for tp_btf programs too.
      expect(link.info()).toMatchObject({ type: 'raw_tracepoint', progId: obj.program(prog).info().id });
      link.close();
      const after = hits(obj, counter);
      syscalls(200);
      expect(hits(obj, counter)).toBe(after);
    });
  }

  it('a raw_tp program needs a tracepoint name; an unknown one is the kernel\'s ENOENT', () => {
    using obj = BpfObject.open(FIX).load({ programs: ['count_raw'] });
    expect(() => obj.program('count_raw').attachRawTracepoint()).toThrow(UsageError);
    expect(() => obj.program('count_raw').attachRawTracepoint('no_such_tracepoint_tsbpf')).toThrow(/BPF_RAW_TRACEPOINT_OPEN.*ENOENT/);
  });
});
