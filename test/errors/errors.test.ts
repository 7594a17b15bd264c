// The error family's plumbing: context chained with `cause` (class and fields kept),
// NotSupportedError's code agreeing with its errno, and isNotSupported through cause chains.
import { describe, expect, it } from 'vitest';
import {
  BpfError,
  ClosedError,
  NotSupportedError,
  TsbpfError,
  UsageError,
  VerifierError,
  isNotSupported,
  withContext,
  withHint,
} from '../../src/index.js';

const EINVAL = 22;
const ENOTSUPP = 524;

describe('withContext / withHint', () => {
  it('keeps the class, the fields and the original as cause', () => {
    const v = new VerifierError({ errno: 13, command: 'BPF_PROG_LOAD', log: '0: (b7) r0 = 0\n1: (95) exit\nR0 !read_ok\n' });
    const w = withContext(v, "program 'f' (section 'xdp')");
    expect(w).toBeInstanceOf(VerifierError);
    expect(w).not.toBe(v);
    expect(w.message).toBe(`program 'f' (section 'xdp'): ${v.message}`);
    expect(w.cause).toBe(v);
    expect({ errno: w.errno, code: w.code, command: w.command, log: w.log, summary: w.summary }).toEqual({
      errno: 13,
      code: 'EACCES',
      command: 'BPF_PROG_LOAD',
      log: v.log,
      summary: v.summary,
    });
    expect(w.stack?.startsWith(`VerifierError: ${w.message}\n    at `)).toBe(true);
    // The original is untouched: whoever else holds it sees what the kernel said.
    expect(v.message).not.toMatch(/program 'f'/);
  });

  it('appends a hint the same way', () => {
    const e = new BpfError({ errno: 16, command: 'RTM_SETLINK' });
    const h = withHint(e, 'on the command line: --force');
    expect(h).toBeInstanceOf(BpfError);
    expect(h.message).toBe(`${e.message} (on the command line: --force)`);
    expect(h.cause).toBe(e);
  });

  it('leaves errors that are not ours alone', () => {
    const plain = new Error('x');
    expect(withContext(plain, 'ctx')).toBe(plain);
  });
});

describe('NotSupportedError', () => {
  it('code is the name of its errno', () => {
    const withErrno = new NotSupportedError('tcx links', '6.6', 'tc.attach()', EINVAL, '6.1.0');
    expect([withErrno.errno, withErrno.code]).toEqual([EINVAL, 'EINVAL']);
    const without = new NotSupportedError('tcx links', '6.6', undefined, undefined, '6.1.0');
    expect([without.errno, without.code]).toEqual([ENOTSUPP, 'ENOTSUPP']);
  });

  it('isNotSupported finds it directly and through causes, and nothing else', () => {
    const ns = new NotSupportedError('arena maps', '6.9', undefined, EINVAL, '6.1.0');
    expect(isNotSupported(ns)).toBe(true);
    expect(isNotSupported(new TsbpfError('outer', { cause: ns }))).toBe(true);
    expect(isNotSupported(withContext(ns, 'map arena'))).toBe(true);
    expect(isNotSupported(new BpfError({ errno: ENOTSUPP, command: 'BPF_MAP_CREATE' }))).toBe(false);
    expect(isNotSupported(new UsageError('no'))).toBe(false);
    expect(isNotSupported('ENOTSUPP')).toBe(false);
    expect(isNotSupported(undefined)).toBe(false);
    // A cause cycle cannot hang it.
    const a = new TsbpfError('a');
    const b = new TsbpfError('b', { cause: a });
    Object.defineProperty(a, 'cause', { value: b });
    expect(isNotSupported(a)).toBe(false);
  });
});

describe('ClosedError', () => {
  it('is a UsageError naming what is closed', () => {
    const e = new ClosedError('map', "hash map 'counts'");
    expect(e).toBeInstanceOf(UsageError);
    expect(e.kind).toBe('map');
    expect(e.message).toBe("hash map 'counts' is closed");
  });
});
