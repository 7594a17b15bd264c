// Name lookups stay right while a BTF is edited between lookups (what a loader's fixups do):
// the name index is kept current rather than rebuilt, so it must never go stale.
import { describe, expect, it } from 'vitest';
import { Btf } from '../../src/btf/index.js';

const int = (name: string) => ({ kind: 'int' as const, name, size: 4, signed: true, char: false, bool: false, bitOffset: 0, bits: 32 });

describe('BTF name lookups across edits', () => {
  it('follows renames, additions and flavours, lowest id first', () => {
    const b = Btf.create();
    const a = b.add(int('alpha'));
    const c = b.add({ kind: 'struct', name: 'task___v1', size: 0, members: [] });
    expect(b.typeByName('alpha')).toBe(a);
    expect(b.typesByEssentialName('task')).toEqual([c]);
    b.replace(a, int('beta'));
    expect(b.typeByName('alpha')).toBeUndefined();
    expect(b.typeByName('beta', 'int')).toBe(a);
    const d = b.add(int('beta'));
    expect(b.typesByName('beta')).toEqual([a, d]);
    b.replace(c, { kind: 'struct', name: 'task', size: 0, members: [] });
    expect(b.typesByEssentialName('task')).toEqual([c]);
    expect(b.typeByName('task___v1')).toBeUndefined();
    b.replace(d, int(''));
    expect(b.typesByName('beta')).toEqual([a]);
    b.replace(d, int('aardvark'));
    b.replace(a, int('aardvark'));
    expect(b.typesByName('aardvark')).toEqual([a, d]);
  });
});
