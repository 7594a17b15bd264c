// examples/globals.ts: .rodata set before load decides the verdict, .data changed live changes
// the program's behaviour on the next run, .bss counters match the frames run exactly.
import { describe, expect, it } from 'vitest';
import { isRoot, runExample } from './run.js';

// Ten frame sizes, 64 + 150k bytes, ten runs each per second.
const SIZES = Array.from({ length: 10 }, (_, k) => 64 + 150 * k);
const BYTES_PER_SECOND = 10 * SIZES.reduce((a, b) => a + b, 0);

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/globals.ts', () => {
  it('counts in .bss, follows a live .data change, and keeps .rodata frozen', () => {
    const r = runExample('globals', ['--seconds', '2', '--action', 'tx']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.dataMaps).toEqual([
      { name: 'globals_.rodata', valueSize: 4, mmapable: true },
      { name: 'globals_.data', valueSize: 16, mmapable: true },
      { name: 'globals_.bss', valueSize: 40, mmapable: true },
    ]);
    expect(out.defaults).toEqual({ overLimitAction: 1, limit: 1000, nextSeq: 1000 });
    expect(out.action).toBe(3);
    // After the limit went to 500: XDP_PASS up to 500 bytes, the .rodata action (XDP_TX) above.
    expect(out.retvals).toEqual(Object.fromEntries(SIZES.map((n) => [String(n), n > 500 ? 3 : 2])));
    expect(out.halfway).toEqual({ packets: 100, bytes: BYTES_PER_SECOND, overLimit: 30, lastLen: 1414, lastSeq: 1099, nextSeq: 1100, limit: 1000 });
    expect(out.end).toEqual({ packets: 200, bytes: 2 * BYTES_PER_SECOND, overLimit: 30 + 70, lastLen: 1414, lastSeq: 1199, nextSeq: 1200, limit: 500 });
    expect(out.afterReset).toBe(1);
    expect(out.rodataError).toMatch(/'over_limit_action' is in \.rodata, which is frozen after load/);
  });

  it('uses the default action (XDP_DROP) and longer runs', () => {
    const r = runExample('globals', ['--seconds', '3']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.retvals['1414']).toBe(1);
    expect(out.halfway).toMatchObject({ packets: 200, overLimit: 60 });
    expect(out.end).toMatchObject({ packets: 300, overLimit: 60 + 70, lastSeq: 1299 });
  });

  it('refuses an unknown action', () => {
    const r = runExample('globals', ['--action', 'bounce']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--action must be one of drop, pass, tx/);
  });
});
