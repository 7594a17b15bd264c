import { describe, expect, it } from 'vitest';
import { AsmError, ProgramBuilder, R0, R1, R2, R3, R6, R10, assemble, decode, disassemble, disassembleListing, parse } from '../../src/asm/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('every builder method, as text', () => {
  it('prints what llvm-objdump would', () => {
    const b = new ProgramBuilder()
      .label('top')
      .add64(R1, 1).sub64(R1, R2).mul64(R1, -3).div64(R1, R2).sdiv64(R1, 7).mod64(R1, R2).smod64(R1, R2)
      .or64(R1, 0x10).and64(R1, R2).xor64(R1, R2).lsh64(R1, 3).rsh64(R1, R2).arsh64(R1, 1).mov64(R1, R2).neg64(R1)
      .add32(R1, 0xffffffff).sdiv32(R1, R2).smod32(R1, 3).mov32(R1, R2).neg32(R3)
      .movsx64(R1, R2, 32).movsx32(R1, R2, 16).le(R1, 16).be(R1, 32).bswap(R1, 64).addrSpaceCast(R1, R2, 1, 0)
      .jeq(R1, 0x800, 'top').jset32(R1, R2, 'top').jsle(R1, -1, 'end').ja('end').gotol('top').mayGoto('end')
      .ldx('dw', R1, R10, -8).ldxsx('h', R1, R2, 2).st('w', R10, -4, 5).stx('b', R10, -1, R1)
      .atomicAdd('dw', R1, 0, R2).atomicOr('w', R1, 4, R2, true).atomicAnd('dw', R1, 0, R2, true).atomicXor('w', R1, 0, R2)
      .xchg('w', R1, 0, R2).cmpxchg('dw', R1, 8, R2)
      .ld64(R1, -2n).ldMapFd(R1, 'm').ldMapValue(R2, 5, 16).ldBtfId(R3, 77).ldFunc(R2, 'end').ldMapIdx(R1, 1).ldMapIdxValue(R1, 2, 8)
      .ldAbs('h', 12).ldInd('b', R6, 3)
      .call('get_prandom_u32').callLocal('end').callKfunc(1234, 2)
      .label('end')
      .exit();
    expect(disassemble(b.assemble().bytes).split('\n')).toEqual([
      'r1 += 0x1', 'r1 -= r2', 'r1 *= -0x3', 'r1 /= r2', 'r1 s/= 0x7', 'r1 %= r2', 'r1 s%= r2',
      'r1 |= 0x10', 'r1 &= r2', 'r1 ^= r2', 'r1 <<= 0x3', 'r1 >>= r2', 'r1 s>>= 0x1', 'r1 = r2', 'r1 = -r1',
      'w1 += -0x1', 'w1 s/= w2', 'w1 s%= 0x3', 'w1 = w2', 'w3 = -w3',
      'r1 = (s32)r2', 'w1 = (s16)w2', 'r1 = le16 r1', 'r1 = be32 r1', 'r1 = bswap64 r1', 'r1 = addr_space_cast(r2, 0x1, 0x0)',
      'if r1 == 0x800 goto -0x1b <.text>', 'if w1 & w2 goto -0x1c <.text>', 'if r1 s<= -0x1 goto +0x20 <.text+0x1e8>',
      'goto +0x1f <.text+0x1e8>', 'gotol -0x1f <.text>', 'may_goto +0x1d <.text+0x1e8>',
      'r1 = *(u64 *)(r10 - 0x8)', 'r1 = *(s16 *)(r2 + 0x2)', '*(u32 *)(r10 - 0x4) = 0x5', '*(u8 *)(r10 - 0x1) = r1',
      'lock *(u64 *)(r1 + 0x0) += r2', 'w2 = atomic_fetch_or((u32 *)(r1 + 0x4), w2)', 'r2 = atomic_fetch_and((u64 *)(r1 + 0x0), r2)',
      'lock *(u32 *)(r1 + 0x0) ^= w2', 'w2 = xchg32_32(r1 + 0x0, w2)', 'r0 = cmpxchg_64(r1 + 0x8, r0, r2)',
      'r1 = -0x2 ll', 'ld_pseudo\tr1, 0x1, 0x0', 'ld_pseudo\tr2, 0x2, 0x5, 0x10', 'ld_pseudo\tr3, 0x3, 0x4d',
      'ld_pseudo\tr2, 0x4, 0xa', 'ld_pseudo\tr1, 0x5, 0x1', 'ld_pseudo\tr1, 0x6, 0x2, 0x8',
      'r0 = *(u16 *)skb[0xc]', 'r0 = *(u8 *)skb[r6 + 0x3]',
      'call 0x7', 'call pc+0x1', 'call kfunc 0x4d2, 0x2', 'exit',
    ]);
  });
});

describe('parse / assemble', () => {
  it('reads labels, comments, helper names and label calls', () => {
    const text = `
      ; count IPv4 packets
      r0 = 0x0
      r6 = *(u16 *)(r1 + 0xc)   // ethertype
      if r6 != 0x8 goto out     # not IPv4
      call bump
      call bpf_ktime_get_ns
    out:
      exit
    bump:
      r0 = 0x1
      exit
    `;
    const insns = parse(text);
    expect(insns.map((i) => [i.opcode, i.src, i.off, i.imm])).toEqual([
      [0xb7, 0, 0, 0], [0x69, 1, 12, 0], [0x55, 0, 2, 8], [0x85, 1, 0, 2], [0x85, 0, 0, 5], [0x95, 0, 0, 0], [0xb7, 0, 0, 1], [0x95, 0, 0, 0],
    ]);
    expect(insns[1]!.dst).toBe(6);
  });

  it("reads llvm-objdump's full listing back, headers included", () => {
    const p = new ProgramBuilder().mov64(R0, 0).label('loop').ld64(R1, 1n << 40n).jne(R1, 0, 'loop').exit().assemble();
    const listing = disassembleListing(p.bytes, { symbols: [{ name: 'prog', offset: 0 }] });
    expect(listing).toBe(
      [
        '0000000000000000 <prog>:',
        '       0:\tb7 00 00 00 00 00 00 00\tr0 = 0x0',
        '       1:\t18 01 00 00 00 00 00 00 00 00 00 00 00 01 00 00\tr1 = 0x10000000000 ll',
        '       3:\t55 01 fd ff 00 00 00 00\tif r1 != 0x0 goto -0x3 <prog+0x8>',
        '       4:\t95 00 00 00 00 00 00 00\texit',
      ].join('\n'),
    );
    expect(hex(assemble(listing))).toBe(hex(p.bytes));
  });

  it('accepts unsigned spellings only for 32-bit operations', () => {
    expect(decode(assemble('w1 = 0xffffffff'))[0]!.imm).toBe(-1);
    expect(decode(assemble('if w1 == 0xffffffff goto +0'))[0]!.imm).toBe(-1);
    expect(() => assemble('r1 = 0xffffffff')).toThrow(/immediate 0xffffffff does not fit in 32 bits/);
    expect(decode(assemble('r1 = 0xffffffffffffffff ll'))[0]!.imm64).toBe(0xffff_ffff_ffff_ffffn);
    expect(decode(assemble('r1 = -0x8000000000000000 ll'))[0]!.imm64).toBe(1n << 63n);
  });

  it('names the line of every error', () => {
    const cases: [string, RegExp][] = [
      ['r0 = 0\nr1 = bogus', /unrecognised instruction: 'r1 = bogus' \(at line 2\)/],
      ['<unknown>', /objdump could not decode this instruction: '<unknown>' \(at line 1\)/],
      ['exit\nr11 = 1', /r11 is not a register \(r0\.\.r10\): 'r11 = 1' \(at line 2\)/],
      ['w1 += r2', /mixes w and r registers/],
      ['r1 = -r2', /r1 and r2 must be the same register/],
      ['r1 = *(u64 *)(r2 + 0x8000)', /offset 0x8000 is out of range/],
      ['goto nowhere', /undefined label 'nowhere': 'goto nowhere' \(at line 1\)/],
      ['x:\nx:\nexit', /label 'x' defined twice: 'x:' \(at line 2\)/],
      ['call no_such_thing', /'no_such_thing' is neither a label nor a helper name/],
      ['w1 = *(u64 *)(r2 + 0x0)', /no such load/],
      ['lock *(u64 *)(r1 + 0x0) += w2', /a 64-bit atomic takes r registers/],
      ['r1 = 0x10000000000000000 ll', /does not fit in 64 bits/],
      ['r1 = le8 r1', /unrecognised instruction/],
      ['r1 = bswap16 r2', /r1 and r2 must be the same register/],
      ['ld_pseudo r1, 0x7, 0x0', /pseudo source 7 is not 0\.\.6: 'ld_pseudo r1, 0x7, 0x0' \(at line 1\)/],
      ['exit\n\n  if r1 > 0 goto +0x8000', /jump offset \+0x8000 is out of range: .* \(at line 3\)/],
    ];
    for (const [text, re] of cases) {
      let caught: unknown;
      try {
        assemble(text);
      } catch (err) {
        caught = err;
      }
      expect(caught, text).toBeInstanceOf(AsmError);
      expect((caught as AsmError).message, text).toMatch(re);
    }
  });
});
