// Our disassembly against llvm-objdump-19's, line for line: every instruction of the
// exhaustive corpus, and every program section of the clang-built fixtures. CI installs
// llvm-19; a missing llvm-objdump-19 fails these tests rather than skipping them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assemble, disassemble, disassembleLines, disassembleListing, encode } from '../../src/asm/index.js';
import { unknownOpcodes, validCorpus } from './corpus.js';
import { bpfObjectWithText, isExecutable, readElf } from './elf.js';

const OBJDUMP = 'llvm-objdump-19';
const fixtures = join(import.meta.dirname, 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-asm-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function objdump(file: string, ...args: string[]): string {
  try {
    return execFileSync(OBJDUMP, ['-d', ...args, file], { maxBuffer: 1 << 30, encoding: 'utf8' });
  } catch (err) {
    throw new Error(`${OBJDUMP} is required for these tests (apt-get install llvm-19): ${(err as Error).message}`);
  }
}

/** objdump's output split by section: name → lines after the "Disassembly of section" header. */
function sectionsOf(output: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of output.split('\n')) {
    const m = /^Disassembly of section (.*):$/.exec(line);
    if (m) out.set(m[1]!, (current = []));
    else current?.push(line);
  }
  for (const lines of out.values()) {
    while (lines[0] === '') lines.shift();
    while (lines.at(-1) === '') lines.pop();
  }
  return out;
}

describe(`disassembly equals ${OBJDUMP} -d`, () => {
  const corpus = validCorpus();
  const file = join(tmp, 'corpus.o');
  writeFileSync(file, bpfObjectWithText(encode(corpus)));

  for (const alu32 of [false, true]) {
    it(`for all ${corpus.length} corpus instructions${alu32 ? ' (--mattr=+alu32)' : ''}`, () => {
      const theirs = objdump(file, '-z', '--no-show-raw-insn', '--no-leading-addr', ...(alu32 ? ['--mattr=+alu32'] : []))
        .split('\n')
        .filter((l) => l.startsWith('\t'))
        .map((l) => l.slice(1));
      const ours = disassembleLines(corpus, { syntax: 'objdump', alu32 });
      expect(theirs.length).toBe(ours.length);
      const diffs = ours.flatMap((l, i) => (l === theirs[i] ? [] : [`${i}: ours ${JSON.stringify(l)} theirs ${JSON.stringify(theirs[i])}`]));
      expect(diffs.slice(0, 20)).toEqual([]);
    });
  }

  it('prints <unknown> for the opcodes we call unknown, except callx (0x8d)', () => {
    const rows: number[][] = [];
    for (const op of unknownOpcodes()) for (const regs of [0x00, 0x01, 0x10]) for (const off of [0, 1, 8]) for (const imm of [0, 1, 16]) rows.push([op, regs, off, imm]);
    const b = Buffer.alloc(rows.length * 8);
    rows.forEach(([op, regs, off, imm], i) => {
      b.writeUInt8(op!, i * 8);
      b.writeUInt8(regs!, i * 8 + 1);
      b.writeInt16LE(off!, i * 8 + 2);
      b.writeInt32LE(imm!, i * 8 + 4);
    });
    const path = join(tmp, 'unknown.o');
    writeFileSync(path, bpfObjectWithText(b));
    const lines = objdump(path, '-z', '--no-show-raw-insn', '--no-leading-addr').split('\n').filter((l) => l.startsWith('\t'));
    expect(lines.length).toBe(rows.length);
    const decoded = new Set(lines.flatMap((l, i) => (l === '\t<unknown>' ? [] : [rows[i]![0]!])));
    expect([...decoded]).toEqual([0x8d]);
  });

  const objects = readdirSync(fixtures).filter((f) => f.endsWith('.o'));
  it('has fixtures', () => expect(objects.sort()).toEqual(['alu.o', 'legacy.o', 'maps_calls.o']));

  for (const name of objects) {
    it(`for every program section of fixtures/${name} (full listing)`, () => {
      const path = join(fixtures, name);
      const expected = sectionsOf(objdump(path));
      const elf = readElf(readFileSync(path));
      const programs = elf.sections.filter((s) => isExecutable(s) && s.data.length > 0);
      expect(programs.map((s) => s.name).sort()).toEqual([...expected.keys()].sort());
      for (const section of programs) {
        const symbols = elf.symbols
          .filter((s) => s.section === section.index && s.name !== '' && s.type <= 2)
          .map((s) => ({ name: s.name, offset: s.value }));
        const ours = disassembleListing(section.data, { syntax: 'objdump', symbols, section: section.name });
        expect(ours.split('\n'), section.name).toEqual(expected.get(section.name));
        // And the lossless text reads back to the same bytes.
        expect(Buffer.from(assemble(disassemble(section.data, { symbols }))).equals(Buffer.from(section.data))).toBe(true);
      }
    });
  }

  it('the fixtures cover the forms the issue lists', () => {
    const text = objects
      .map((o) => readElf(readFileSync(join(fixtures, o))))
      .flatMap((elf) => elf.sections.filter(isExecutable).map((s) => disassemble(s.data)))
      .join('\n');
    for (const re of [
      / s\/= /, / s%= /, /= \(s8\)w/, /= \(s32\)/, /= \*\(s8 \*\)/, /= bswap64 /, /= bswap32 /, /= bswap16 /,
      /^if w\d+ /m, /^if w\d+ s[<>] /m, /^if r\d+ == r/m, / = 0x0 ll$/m, /^call 0x1$/m, /^call pc-0x1$/m,
      /^lock \*\(u64 \*\)/m, /atomic_fetch_(add|or|and|xor)\(\(u64/, /atomic_fetch_add\(\(u32/, /xchg_64\(/, /xchg32_32\(/,
      /cmpxchg_64\(/, /cmpxchg32_32\(/, /^r0 = \*\(u16 \*\)skb\[0xc\]$/m, /skb\[r\d+\]/, /^goto [-+]0x/m, /^exit$/m,
    ]) {
      expect(text, String(re)).toMatch(re);
    }
  });
});
