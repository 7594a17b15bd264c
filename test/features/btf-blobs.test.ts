// Pure: the tiny BTF objects the BTF-kind probes load are well formed and use the kind they
// are meant to probe (read back with tsbpf's own BTF parser).
import { describe, expect, it } from 'vitest';
import { Btf } from '../../src/btf/index.js';
import { btfIntBlob, btfProbeBlob } from '../../src/features/btf-blobs.js';
import { BTF_FEATURES, type BtfFeature } from '../../src/features/catalog.js';

const expected: Record<BtfFeature, (btf: Btf) => void> = {
  func: (b) => expect(b.type(3)).toMatchObject({ kind: 'func', name: 'probe', linkage: 'static', type: 2 }),
  func_global: (b) => expect(b.type(3)).toMatchObject({ kind: 'func', name: 'probe', linkage: 'global' }),
  datasec: (b) => {
    expect(b.type(2)).toMatchObject({ kind: 'var', name: 'x', type: 1, linkage: 'static' });
    expect(b.type(3)).toMatchObject({ kind: 'datasec', name: '.data', size: 4, vars: [{ type: 2, offset: 0, size: 4 }] });
  },
  float: (b) => expect(b.type(1)).toMatchObject({ kind: 'float', name: 'float', size: 4 }),
  decl_tag: (b) => expect(b.type(3)).toMatchObject({ kind: 'decl_tag', name: 'tag', type: 2, componentIdx: -1 }),
  type_tag: (b) => {
    expect(b.type(2)).toMatchObject({ kind: 'type_tag', name: 'tag', type: 1 });
    expect(b.type(3)).toMatchObject({ kind: 'ptr', type: 2 });
  },
  enum64: (b) => expect(b.type(1)).toMatchObject({ kind: 'enum64', name: 'e64', size: 8, values: [{ name: 'E', value: (1n << 32n) | 1n }] }),
};

describe('BTF probe objects', () => {
  for (const feature of Object.keys(BTF_FEATURES) as BtfFeature[]) {
    it(`${feature}: parses, validates, and uses the kind it probes`, () => {
      const btf = Btf.parse(btfProbeBlob(feature));
      btf.validate();
      expected[feature](btf);
    });
  }

  it('the int-only object for local-storage probe maps', () => {
    const btf = Btf.parse(btfIntBlob());
    expect(btf.lastTypeId).toBe(1);
    expect(btf.type(1)).toMatchObject({ kind: 'int', name: 'int', size: 4, signed: true, bits: 32 });
  });
});
