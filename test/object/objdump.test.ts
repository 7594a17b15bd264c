// Issue acceptance: tsbpf/asm's disassembly of every program section, as tsbpf's ELF reader
// finds them, equals llvm-objdump-19 -d — for our fixtures, the examples and xdp-tools' objects.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { disassembleListing } from '../../src/asm/index.js';
import { parseElf } from '../../src/elf/index.js';

const root = new URL('../../', import.meta.url).pathname;
const SHF_EXECINSTR = 0x4;
const STT_FUNC = 2;

function objects(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.o')).map((f) => join(dir, f)) : [];
}

const all = [
  ...objects(join(root, 'test/fixtures')),
  ...objects(join(root, 'examples/bpf')),
  ...objects('/usr/lib/x86_64-linux-gnu/bpf'),
];

/** llvm-objdump's listing by section name (lines after "Disassembly of section X:"). */
function objdumpSections(path: string): Map<string, string[]> {
  let text: string;
  try {
    text = execFileSync('llvm-objdump-19', ['-d', path], { encoding: 'utf8', maxBuffer: 1 << 28 });
  } catch (e) {
    throw new Error(`llvm-objdump-19 is required (apt-get install llvm-19): ${(e as Error).message}`);
  }
  const out = new Map<string, string[]>();
  let cur: string[] | undefined;
  for (const line of text.split('\n')) {
    const m = /^Disassembly of section (.*):$/.exec(line);
    if (m) out.set(m[1]!, (cur = []));
    else cur?.push(line);
  }
  for (const lines of out.values()) {
    while (lines[0] === '') lines.shift();
    while (lines.at(-1) === '') lines.pop();
  }
  return out;
}

describe('disassembly equals llvm-objdump-19 -d on every program section', () => {
  it('has objects to check', () => expect(all.length).toBeGreaterThan(20));

  for (const path of all) {
    it(path.replace(root, ''), () => {
      const elf = parseElf(readFileSync(path));
      const expected = objdumpSections(path);
      const programs = elf.sections.filter((s) => s.flags & SHF_EXECINSTR && s.data.length > 0);
      expect(programs.map((s) => s.name).sort()).toEqual([...expected.keys()].sort());
      for (const s of programs) {
        const symbols = elf.symbols
          .filter((y) => y.shndx === s.index && y.name !== '' && y.type <= STT_FUNC)
          .map((y) => ({ name: y.name, offset: y.value }));
        expect(disassembleListing(s.data, { syntax: 'objdump', symbols, section: s.name }).split('\n'), s.name).toEqual(expected.get(s.name));
      }
    });
  }
});
