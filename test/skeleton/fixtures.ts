// What the skeleton suites share: the fixture objects, split by whether they have BTF.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject } from '../../src/index.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OBJECTS = [
  ...readdirSync(join(ROOT, 'test/fixtures')).filter((f) => f.endsWith('.o')).map((f) => join(ROOT, 'test/fixtures', f)),
  ...readdirSync(join(ROOT, 'bpf')).filter((f) => f.endsWith('.o')).map((f) => join(ROOT, 'bpf', f)),
].sort();
export const base = (f: string) => f.split('/').pop()!.replace(/\.o$/, '');

/** Which objects have BTF (skeletons), which have none, which do not open at all. */
export const withBtf: string[] = [];
export const without: { file: string; why: string }[] = [];
for (const f of OBJECTS) {
  try {
    const o = BpfObject.open(f);
    if (o.btf) withBtf.push(f);
    else without.push({ file: f, why: 'no BTF' });
  } catch (e) {
    without.push({ file: f, why: (e as Error).message });
  }
}
