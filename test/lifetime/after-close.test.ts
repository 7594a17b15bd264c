// The crash of issue 10 as a regression test, in a child process: reading an mmap()ed view
// after its map is closed used to read unmapped memory (SIGSEGV, exit 139). Now every view
// keeps its mapping until the view is collected, and the child must exit 0.
import { describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/fd-guard.js';
import { runChild } from './spawn.js';

const CHILD = new URL('./fixtures/after-close.ts', import.meta.url).pathname;

describe.runIf(isRoot)('views after close (child process)', () => {
  it('reads and writes views of closed maps, objects and rings without dying; the mappings go with the views', async () => {
    const r = await runChild(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD], 290_000);
    expect({ signal: r.signal, status: r.status, stderr: r.stderr }).toEqual({ signal: null, status: 0, stderr: '' });
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({
      afterMapClose: 5,
      written: 9,
      seen: 7, // globals.c: __u64 seen = 7
      records: ['1234', '1234'],
      ringAfterClose: 'ClosedError',
      mappingsAfterGc: 0,
      attrKeepsPointee: true,
      attrReleasesPointee: true,
      fd0Open: false,
    });
    expect(out.mappingsWhileHeld).toBeGreaterThanOrEqual(3);
    expect(out.fdAfterStdinClosed).toBeGreaterThan(0);
  }, 300_000); // a child starting tsx in a QEMU guest takes most of a minute
});
