// Every example says what it needs when run without root, before touching anything.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { leftovers, root } from './run.js';

const EXAMPLES = ['xdp-drop', 'tc-rewrite', 'tcx-chain', 'pinned-maps', 'globals', 'assembler', 'core'];

describe('examples without root', () => {
  it.each(EXAMPLES)('%s exits 2 naming the privileges it needs', (name) => {
    const before = leftovers();
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', `${root}node_modules/.bin/tsx`, `examples/${name}.ts`], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, HOME: '/tmp' },
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^${name}: needs root \\(CAP_BPF[^)]*\\): sudo npx tsx examples/${name}\\.ts`));
    expect(leftovers()).toEqual(before);
  });
});
