import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TsbpfError } from '../../src/errors.js';
import { linkProgram, openObjectSpec } from '../../src/elf/index.js';
import { FIXTURES, fixtureBytes } from './helpers.js';
import { mutate, rng, structuralFields } from './fuzz-helpers.js';

// Hostile input: mutated and truncated fixtures, random bytes, bogus offsets, indices and
// counts. openObjectSpec (and linkProgram on whatever opens) may only throw tsbpf's own
// errors, with a message; never RangeError/TypeError from a typed-array read.
const CASES = Number(process.env.TSBPF_FUZZ_CASES ?? 100_000);
// In chunks, so no single test blocks vitest's worker for long.
const CHUNK = 10_000;

describe('ELF fuzzing', () => {
  const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.o'));
  const srcs = names.map(fixtureBytes);
  const fields = srcs.map(structuralFields);

  let opened = 0;
  const kinds = new Map<string, number>();
  for (let from = 0; from < CASES; from += CHUNK) {
    const to = Math.min(CASES, from + CHUNK);
    it(`mutated objects ${from}..${to - 1} throw only TsbpfErrors`, () => runCases(from, to), 120_000);
  }

  async function runCases(from: number, to: number): Promise<void> {
    for (let i = from; i < to; i++) {
      // Let the worker answer vitest's RPC: a loaded 2-core machine can stretch a chunk past its timeout.
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
      const next = rng(i + 1);
      const k = next() % srcs.length;
      const bytes = mutate(srcs[k]!, fields[k]!, next);
      try {
        const spec = openObjectSpec(bytes);
        // Link a few programs of what opened: relocation and linking see the same corruption.
        let n = 0;
        for (const p of spec.programs.keys()) {
          if (n++ === 3) break;
          linkProgram(spec, p);
        }
        opened++;
      } catch (e) {
        if (!(e instanceof TsbpfError)) throw new Error(`case ${i} (${names[k]}): ${String((e as Error)?.stack ?? e)}`);
        expect(e.message.length).toBeGreaterThan(10);
        kinds.set(e.name, (kinds.get(e.name) ?? 0) + 1);
      }
    }
  }

  it(`the ${CASES} cases exercised both outcomes and both parsers' errors`, () => {
    expect(opened).toBeGreaterThan(CASES / 20);
    expect(kinds.get('ElfError')).toBeGreaterThan(CASES / 4);
    expect(kinds.get('BtfError') ?? 0).toBeGreaterThan(0);
  });

  it('bogus counts and offsets in the headers are refused quickly', () => {
    const src = fixtureBytes('calls.o');
    const t0 = performance.now();
    for (const [at, bytes] of [
      [60, [0xff, 0xff]], // e_shnum
      [40, [0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]], // e_shoff
      [62, [0xfe, 0xff]], // e_shstrndx
    ] as const) {
      const b = src.slice();
      b.set(bytes, at);
      expect(() => openObjectSpec(b)).toThrow(TsbpfError);
    }
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('random bytes never get past the identification', () => {
    const next = rng(7);
    for (let i = 0; i < 2000; i++) {
      const b = new Uint8Array(next() % 512);
      for (let j = 0; j < b.byteLength; j++) b[j] = next() & 0xff;
      expect(() => openObjectSpec(b)).toThrow(TsbpfError);
    }
  });
});
