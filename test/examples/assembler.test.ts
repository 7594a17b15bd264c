// examples/assembler.ts: the hand-assembled program passes the verifier, drops exactly the
// chosen EtherType, counts every frame by EtherType, and its disassembly reassembles exactly.
import { describe, expect, it } from 'vitest';
import { isRoot, runExample } from './run.js';

// Needs root (loads programs); npm test and CI run as root, so this always runs there.
describe.runIf(isRoot)('examples/assembler.ts', () => {
  it('counts per EtherType and drops the default (0x88b5)', () => {
    const r = runExample('assembler');
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.slots).toBe(33);
    expect(out.mapReferences).toEqual([
      { insnIndex: 9, name: 'by_ethertype', kind: 'fd', offset: 0 },
      { insnIndex: 19, name: 'by_ethertype', kind: 'fd', offset: 0 },
    ]);
    expect(out.roundTrip).toBe(true);
    expect(out.verifiedInsns).toBeGreaterThan(0);
    expect(out.disassembly).toContain('lock *(u64 *)(r0 + 0x0) += r1');
    expect(out.disassembly).toContain('r7 = be16 r7');
    expect(out.disassembly.filter((l: string) => /^call 0x[12]$/.test(l))).toEqual(['call 0x1', 'call 0x2']);
    expect(out.verdicts.map((v: { frame: string; retval: number }) => [v.frame, v.retval])).toEqual([
      ['IPv4', 2], ['IPv4', 2], ['IPv4', 2], ['ARP', 2], ['ARP', 2], ['IPv6', 2], ['blocked', 1], ['blocked', 1],
    ]);
    expect(out.counts).toEqual({ '0x0800': 3, '0x0806': 2, '0x86dd': 1, '0x88b5': 2 });
    expect(r.stdout).toMatch(/13: call 0x1\t; map_lookup_elem/);
  });

  it('drops another EtherType given on the command line', () => {
    const r = runExample('assembler', ['--drop-ethertype', '0x0806']);
    expect(r.status, r.stderr).toBe(0);
    const out = r.json();
    expect(out.disassembly).toContain('if r7 != 0x806 goto +0x1 <.text+0xf0>');
    expect(out.verdicts.filter((v: { retval: number }) => v.retval === 1).map((v: { frame: string }) => v.frame)).toEqual(['ARP', 'ARP', 'blocked', 'blocked']);
    expect(out.counts).toEqual({ '0x0800': 3, '0x0806': 4, '0x86dd': 1 });
  });

  it('refuses an EtherType wider than 16 bits', () => {
    const r = runExample('assembler', ['--drop-ethertype', '70000']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/must fit in 16 bits/);
  });
});
