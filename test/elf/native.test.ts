// Function offsets in host executables and libraries (for uprobes), checked against readelf:
// .dynsym before .symtab, static functions, shared libraries, versioned names, and errors.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ElfError, UsageError } from '../../src/errors.js';
import { functionOffsets, nativeFunctions } from '../../src/elf/native.js';
import { uprobeTarget } from '../helpers/native.js';
import { thrown } from '../helpers/thrown.js';

/** name -> file offset of each defined function, computed from readelf's symbol and section tables. */
function readelfOffsets(path: string): Map<string, number> {
  const sections = new Map<number, { addr: number; off: number }>();
  for (const line of execFileSync('readelf', ['-SW', path], { encoding: 'utf8' }).split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+\S+\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s/.exec(line);
    if (m) sections.set(Number(m[1]), { addr: parseInt(m[2]!, 16), off: parseInt(m[3]!, 16) });
  }
  const out = new Map<string, number>();
  for (const line of execFileSync('readelf', ['-sW', '--dyn-syms', path], { encoding: 'utf8', maxBuffer: 1 << 26 }).split('\n')) {
    const m = /^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+(FUNC|IFUNC)\s+\w+\s+\w+\s+(\d+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const s = sections.get(Number(m[3]))!;
    const name = m[4]!.replace(/@.*/, '');
    if (!out.has(name)) out.set(name, parseInt(m[1]!, 16) - s.addr + s.off);
  }
  return out;
}

describe('native ELF functions (uprobe offsets)', () => {
  it('an executable: global (.dynsym/.symtab) and static (.symtab only) functions, as readelf computes them', () => {
    const { exe } = uprobeTarget();
    const want = readelfOffsets(exe);
    const names = ['tsbpf_add', 'tsbpf_twice', 'main'];
    expect(functionOffsets(readFileSync(exe), names)).toEqual(names.map((n) => want.get(n)));
    const fns = nativeFunctions(readFileSync(exe));
    expect(fns.find((f) => f.name === 'tsbpf_twice')).toMatchObject({ binding: 'local', offset: want.get('tsbpf_twice') });
    // Imports are not functions of this file.
    expect(fns.some((f) => f.name === 'tsbpf_lib_sub')).toBe(false);
  });

  it('shared libraries: ours and the C library (versions, which readelf prints, are not part of names)', () => {
    const { lib } = uprobeTarget();
    expect(functionOffsets(readFileSync(lib), ['tsbpf_lib_sub'])).toEqual([readelfOffsets(lib).get('tsbpf_lib_sub')]);
    // The C library this process runs on.
    const libc = /\s(\/\S+\/libc\.so\.6)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))![1]!;
    const bytes = readFileSync(libc);
    expect(functionOffsets(bytes, ['malloc', 'free'])).toEqual([readelfOffsets(libc).get('malloc'), readelfOffsets(libc).get('free')]);
  });

  it('missing functions are a UsageError naming them and close matches; other files are ElfErrors', () => {
    const { exe } = uprobeTarget();
    const e = thrown<UsageError>(() => functionOffsets(readFileSync(exe), ['tsbpf_ad', 'nope_x'], exe));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(new RegExp(`${exe} has no function 'tsbpf_ad', 'nope_x' \\(similar: tsbpf_add\\)`));
    const bpf = readFileSync(new URL('../fixtures/attach_perf.o', import.meta.url));
    expect(thrown(() => functionOffsets(bpf, ['on_add']))).toBeInstanceOf(ElfError);
    expect(thrown(() => functionOffsets(bpf, ['on_add'])).message).toMatch(/e_type is 1, not ET_EXEC or ET_DYN/);
    expect(thrown(() => functionOffsets(Buffer.from('#!/bin/sh\n'), ['x']))).toBeInstanceOf(ElfError);
  });
});
