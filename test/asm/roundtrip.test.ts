import { describe, expect, it } from 'vitest';
import {
  AsmError,
  assemble,
  decode,
  disassemble,
  disassembleLines,
  encode,
  invalidReason,
  makeInstruction,
  parse,
  type Instruction,
} from '../../src/asm/index.js';
import { unknownOpcodes, validCorpus } from './corpus.js';

const corpus = validCorpus();
const unknown = unknownOpcodes();
const bytes = encode(corpus);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Valid opcodes written out from the ISA (RFC 9669 + cpu v4 + may_goto), independently of the code. */
function expectedValidOpcodes(): Set<number> {
  const s = new Set<number>();
  for (const cls of [0x04, 0x07]) {
    for (let op = 0x00; op <= 0xc0; op += 0x10) {
      if (op === 0x80) s.add(cls | op); // neg: K only
      else s.add(cls | op).add(cls | op | 0x08);
    }
  }
  s.add(0xd4).add(0xdc).add(0xd7); // le, be, bswap
  for (const op of [0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xa0, 0xb0, 0xc0, 0xd0]) {
    s.add(0x05 | op).add(0x0d | op).add(0x06 | op).add(0x0e | op);
  }
  s.add(0x05).add(0x06).add(0x85).add(0x95).add(0xe5); // ja, gotol, call, exit, may_goto
  s.add(0x18).add(0x20).add(0x28).add(0x30).add(0x40).add(0x48).add(0x50);
  for (const size of [0x00, 0x08, 0x10, 0x18]) s.add(0x61 | size).add(0x62 | size).add(0x63 | size);
  s.add(0x81).add(0x89).add(0x91); // ldxsx
  s.add(0xc3).add(0xdb); // atomics
  return s;
}

describe('exhaustive opcode coverage', () => {
  it('accepts exactly the ISA opcodes and names the rest unknown', () => {
    const expected = expectedValidOpcodes();
    expect(expected.size).toBe(256 - 130);
    expect(unknown.length + expected.size).toBe(256);
    for (const op of unknown) expect(expected.has(op), `0x${op.toString(16)}`).toBe(false);
    expect(new Set(corpus.map((i) => i.opcode))).toEqual(expected);
  });

  it('decode(encode(x)) returns the same fields', () => {
    expect(corpus.length).toBeGreaterThan(30_000);
    const back = decode(bytes);
    expect(back.length).toBe(corpus.length);
    expect(back).toEqual(corpus);
  });

  for (const alu32 of [false, true]) {
    it(`assemble(disassemble(x)) === x for every valid instruction (lossless${alu32 ? ', alu32' : ''})`, () => {
      const text = disassemble(bytes, { alu32 });
      const again = assemble(text);
      if (hex(again) !== hex(bytes)) {
        const first = corpus.findIndex((insn, i) => hex(encode([insn])) !== hex(encode([decode(again)[i]!])));
        expect.fail(`first mismatch: ${disassembleLines([corpus[first]!])[0]}`);
      }
    });
  }

  it("objdump syntax reads back exactly, except where llvm-objdump's text drops a field", () => {
    const lossless = disassembleLines(corpus, { alu32: true });
    const objdump = disassembleLines(corpus, { syntax: 'objdump', alu32: true });
    const lossy = new Set<string>();
    corpus.forEach((insn, i) => {
      if (objdump[i] === lossless[i]) return;
      lossy.add(lossyForm(insn));
      // The objdump text still assembles, to the form with the dropped field zeroed.
      const back = parse(objdump[i]!)[0]!;
      expect(back.opcode).toBe(insn.opcode);
      expect(back.dst).toBe(insn.dst);
    });
    expect([...lossy].sort()).toEqual(['call bpf-to-bpf', 'call kfunc', 'ld_imm64 pseudo high imm', 'ld_ind imm']);
    const unchanged = corpus.filter((_, i) => objdump[i] === lossless[i]);
    expect(hex(assemble(disassemble(unchanged, { syntax: 'objdump', alu32: true })))).toBe(hex(encode(unchanged)));
  });
});

function lossyForm(insn: Instruction): string {
  if (insn.kind === 'jmp' && insn.op === 'call') return insn.src === 1 ? 'call bpf-to-bpf' : 'call kfunc';
  if (insn.kind === 'ld_imm64') return 'ld_imm64 pseudo high imm';
  if (insn.kind === 'mem' && insn.mode === 'ind') return 'ld_ind imm';
  return `unexpected: ${disassembleLines([insn])[0]}`;
}

describe('bad bytes', () => {
  const good = encode([makeInstruction({ opcode: 0xb7, dst: 0, src: 0, off: 0, imm: 0 })]);
  const slot = (opcode: number, dst: number, src: number, off: number, imm: number) => {
    const b = Buffer.alloc(8);
    b[0] = opcode;
    b[1] = (src << 4) | dst;
    b.writeInt16LE(off, 2);
    b.writeInt32LE(imm, 4);
    return b;
  };
  const at = (b: Uint8Array): AsmError => {
    try {
      decode(b);
    } catch (err) {
      expect(err).toBeInstanceOf(AsmError);
      return err as AsmError;
    }
    throw new Error('decode accepted bad bytes');
  };

  it('names every unknown opcode with its byte offset', () => {
    for (const op of unknown) {
      const err = at(Buffer.concat([good, slot(op, 0, 0, 0, 0)]));
      expect(err.offset).toBe(8);
      expect(err.message).toBe(`unknown opcode 0x${op.toString(16).padStart(2, '0')} (at instruction 1, byte offset 8)`);
    }
  });

  it('refuses non-zero reserved fields and registers above r10, like the kernel', () => {
    const cases: [Buffer, RegExp][] = [
      [slot(0x87, 1, 0, 0, 5), /imm must be 0 for opcode 0x87/], // neg with imm
      [slot(0x07, 1, 2, 0, 5), /src must be 0 for opcode 0x07/], // add K with a src
      [slot(0x0f, 1, 2, 1, 0), /off must be 0 for opcode 0x0f/],
      [slot(0xbf, 1, 2, 4, 0), /mov off 4 is not a sign-extension width/],
      [slot(0xbc, 1, 2, 32, 0), /mov off 32 is not a sign-extension width \(0, 8, 16\)/],
      [slot(0xd4, 1, 0, 0, 8), /byte swap width 8/],
      [slot(0x95, 1, 0, 0, 0), /dst must be 0 for opcode 0x95/],
      [slot(0x85, 0, 3, 0, 1), /call kind \(src\) 3/],
      [slot(0x85, 0, 1, 2, 1), /off must be 0 for opcode 0x85/],
      [slot(0xdb, 1, 2, 0, 0x11), /atomic operation 0x11/],
      [slot(0x61, 11, 1, 0, 0), /dst r11 does not exist/],
      [slot(0x0f, 1, 15, 0, 0), /src r15 does not exist/],
      [slot(0x30, 1, 0, 0, 0), /dst must be 0 for opcode 0x30/],
    ];
    for (const [b, re] of cases) {
      const err = at(Buffer.concat([good, b]));
      expect(err.message).toMatch(re);
      expect(err.offset).toBe(8);
    }
  });

  it('reports truncated programs and broken ld_imm64 pairs', () => {
    expect(at(Buffer.concat([good, good.subarray(0, 5)])).message).toBe(
      'program is 13 bytes, not a multiple of 8: last instruction truncated (at byte offset 8)',
    );
    expect(at(Buffer.concat([good, slot(0x18, 1, 0, 0, 1)])).message).toBe('ld_imm64 is missing its second slot (at instruction 1, byte offset 8)');
    const badSecond = at(Buffer.concat([slot(0x18, 1, 0, 0, 1), slot(0xb7, 0, 0, 0, 0)]));
    expect(badSecond.offset).toBe(8);
    expect(badSecond.message).toMatch(/second slot of ld_imm64 must have opcode, registers and off all 0/);
    expect(at(Buffer.concat([slot(0x18, 1, 0, 0, 1), slot(0, 0, 1, 0, 0)])).offset).toBe(8);
    expect(at(Buffer.concat([slot(0x18, 1, 7, 0, 1), slot(0, 0, 0, 0, 0)])).message).toMatch(/pseudo source 7 is not 0\.\.6 \(at instruction 0, byte offset 0\)/);
  });

  it('decodes from a subarray at a non-zero byteOffset', () => {
    const backing = Buffer.concat([Buffer.alloc(3), good]);
    expect(decode(backing.subarray(3))).toEqual(decode(good));
  });

  it('never lets anything but AsmError escape on random bytes or text', () => {
    let seed = 0x1234567;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    let decoded = 0;
    for (let n = 0; n < 3000; n++) {
      const b = Uint8Array.from({ length: rand() % 40 }, rand);
      try {
        decode(b);
        decoded++;
      } catch (err) {
        expect(err).toBeInstanceOf(AsmError);
      }
      const text = Buffer.from(b).toString('latin1');
      try {
        parse(text);
      } catch (err) {
        expect(err).toBeInstanceOf(AsmError);
      }
    }
    expect(decoded).toBeGreaterThan(0);
  });
});

describe('encode', () => {
  it('refuses invalid fields with the instruction index', () => {
    const ok = makeInstruction({ opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 });
    expect(() => encode([ok, { opcode: 0xb7, dst: 1, src: 0, off: 0, imm: 2 ** 31 }])).toThrow(
      'imm 2147483648 is not a signed 32-bit integer (at instruction 1, byte offset 8)',
    );
    expect(() => encode([ok, { opcode: 0x18, dst: 1, src: 0, off: 0, imm: 0, imm64: 1n << 64n }])).toThrow(
      'ld_imm64 constant 18446744073709551616 does not fit in 64 bits (at instruction 1, byte offset 8)',
    );
    expect(() => encode([{ opcode: 0x18, dst: 1, src: 0, off: 0, imm: 1.5 }])).toThrow(AsmError);
    expect(() => makeInstruction({ opcode: 0x18, dst: 1, src: 0, off: 0, imm: 1.5 })).toThrow(AsmError);
    expect(encode([{ opcode: 0x18, dst: 1, src: 0, off: 0, imm: -1 }]).subarray(12, 16)).toEqual(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(invalidReason({ opcode: 0x100, dst: 0, src: 0, off: 0, imm: 0 })).toBe('opcode 256 is not a byte');
    expect(invalidReason({ opcode: 0x07, dst: 1.5, src: 0, off: 0, imm: 0 })).toBe('register fields must be 0..15');
  });

  it('puts the high half of ld_imm64 in the second slot', () => {
    const b = encode([makeInstruction({ opcode: 0x18, dst: 2, src: 0, off: 0, imm: 0, imm64: 0x1122334455667788n })]);
    expect(hex(b)).toBe('1802000088776655' + '0000000044332211');
  });
});
