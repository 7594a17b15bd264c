// The public entry point on hostile bytes: BpfObject.open (and, for whatever still opens,
// load()) throws only tsbpf's typed errors, never a RangeError/TypeError, and leaks no fd.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BpfObject, TsbpfError } from '../../src/index.js';
import { guardFdLeaks } from '../helpers/fd-guard.js';
import { mutate, rng, structuralFields } from '../elf/fuzz-helpers.js';

const FIX = new URL('../fixtures/', import.meta.url).pathname;
const names = readdirSync(FIX).filter((f) => f.endsWith('.o'));
const srcs = names.map((n) => new Uint8Array(readFileSync(FIX + n)));
const fields = srcs.map(structuralFields);

guardFdLeaks();

// Objects that declare maps pinned by name are pinned under this root; pinning makes missing
// directories of the path (as libbpf does), so the root is created and must go at the end.
const pinRoot = `/sys/fs/bpf/tsbpf-hostile-${process.pid}`;
afterAll(() => rmSync(pinRoot, { recursive: true, force: true }));

describe('BpfObject on hostile bytes', () => {
  it('open: 5000 mutated objects, only typed errors', async () => {
    let opened = 0;
    for (let i = 0; i < 5000; i++) {
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
      const next = rng(1_000_003 + i);
      const k = next() % srcs.length;
      try {
        BpfObject.open(mutate(srcs[k]!, fields[k]!, next));
        opened++;
      } catch (e) {
        if (!(e instanceof TsbpfError)) throw new Error(`case ${i} (${names[k]}): ${String((e as Error)?.stack ?? e)}`);
      }
    }
    expect(opened).toBeGreaterThan(100);
  });

  it('load: 300 mutated objects that still open either load or fail with a typed error, releasing everything', async () => {
    let loaded = 0;
    let refused = 0;
    for (let i = 0; i < 4000 && loaded + refused < 300; i++) {
      const next = rng(7_000_001 + i);
      const k = next() % srcs.length;
      let obj: BpfObject;
      try {
        obj = BpfObject.open(mutate(srcs[k]!, fields[k]!, next), { pinRoot });
      } catch {
        continue;
      }
      try {
        obj.load();
        loaded++;
      } catch (e) {
        if (!(e instanceof TsbpfError)) throw new Error(`load case ${i} (${names[k]}): ${String((e as Error)?.stack ?? e)}`);
        refused++;
      } finally {
        obj.close();
      }
    }
    expect(loaded + refused).toBeGreaterThan(50);
  });
});
