import { describe, expect, it } from 'vitest';
import { AsmError, ProgramBuilder, R0, R1, R2, R6, R10, decode, patchMapFd } from '../../src/asm/index.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('ProgramBuilder', () => {
  it('encodes a counter program with labels, a named map and a helper call', () => {
    const b = new ProgramBuilder();
    b.mov64(R0, 0)
      .ldxw(R6, R1, 12)
      .jne(R6, 0x0800, 'out')
      .stxw(R10, -4, R6)
      .ldMapFd(R1, 'counters')
      .mov64(R2, R10)
      .add64(R2, -4)
      .call('map_lookup_elem')
      .jeq(R0, 0, 'out')
      .mov64(R1, 1)
      .atomicAdd('dw', R0, 0, R1)
      .mov64(R0, 2)
      .label('out')
      .exit();
    const p = b.assemble();
    // Slots: 0 mov, 1 ldx, 2 jne, 3 stx, 4-5 ld_imm64, 6 mov, 7 add, 8 call, 9 jeq, 10 mov, 11 xadd, 12 mov, 13 exit
    expect(p.labels.get('out')).toBe(13);
    expect(p.mapReferences).toEqual([{ insnIndex: 4, name: 'counters', kind: 'fd', offset: 0 }]);
    expect(p.bytes.length).toBe(14 * 8);
    const insns = decode(p.bytes);
    expect(insns.length).toBe(13);
    expect(hex(p.bytes.subarray(16, 24))).toBe('5506' + '0a00' + '00080000'); // jne r6, 0x800, +10
    expect(hex(p.bytes.subarray(32, 48))).toBe('1811000000000000' + '0000000000000000');
    expect(hex(p.bytes.subarray(64, 72))).toBe('8500000001000000');
    expect(hex(p.bytes.subarray(72, 80))).toBe('1500030000000000'); // jeq r0, 0, +3
    expect(hex(p.bytes.subarray(88, 96))).toBe('db10000000000000');
    const patched = p.resolveMaps({ counters: 7 });
    expect(hex(patched.subarray(32, 40))).toBe('1811000007000000');
    expect(hex(p.bytes.subarray(32, 40))).toBe('1811000000000000'); // the original is untouched
    expect(() => p.resolveMaps({})).toThrow(/no fd given for map 'counters'/);
  });

  it('counts ld_imm64 as two slots in backward jumps', () => {
    const p = new ProgramBuilder().label('top').ld64(R1, 0x1_0000_0002n).jne(R1, R2, 'top').exit().assemble();
    expect(decode(p.bytes)[1]!.off).toBe(-3);
    expect(decode(p.bytes)[0]!.imm64).toBe(0x1_0000_0002n);
  });

  it('tells registers from immediates', () => {
    const p = new ProgramBuilder().mov64(R1, R2).mov64(R1, 2).mov32(R1, 0xffffffff).exit().assemble();
    expect(hex(p.bytes.subarray(0, 24))).toBe('bf21000000000000' + 'b701000002000000' + 'b4010000ffffffff');
  });

  it('resolves bpf-to-bpf calls, ld_imm64 func and gotol relative to the next slot', () => {
    const p = new ProgramBuilder().callLocal('sub').ldFunc(R2, 'sub').gotol('sub').exit().label('sub').mov64(R0, 1).exit().assemble();
    const [call, ldf, gl] = decode(p.bytes);
    expect([call!.src, call!.imm]).toEqual([1, 4]);
    expect([ldf!.src, ldf!.imm, ldf!.imm64]).toEqual([4, 3, 3n]) // kernel: target = insn_idx + imm + 1;
    expect([gl!.opcode, gl!.imm, gl!.off]).toEqual([0x06, 1, 0]);
  });

  it('reports bad input as AsmError with the instruction index', () => {
    expect(() => new ProgramBuilder().ja('nowhere').assemble()).toThrow(/undefined label 'nowhere' \(at instruction 0\)/);
    expect(() => new ProgramBuilder().exit().label('a').label('a')).toThrow(/label 'a' defined twice/);
    expect(() => new ProgramBuilder().call('no_such_helper' as 'map_lookup_elem')).toThrow(AsmError);
    expect(() => new ProgramBuilder().mov64(R1, 0xffffffff)).toThrow(/use ld64/);
    expect(() => new ProgramBuilder().ldBtfId(R1, 1.5)).toThrow(/BTF id 1.5 is not an integer/);
    expect(() => new ProgramBuilder().ldMapValue(R1, 'm', 2 ** 32)).toThrow(/map value offset 4294967296 does not fit/);
    expect(() => new ProgramBuilder().exit().ldx('w', R1, R2, 0x8000)).toThrow(/off 32768 is not a signed 16-bit integer \(at instruction 1\)/);
    const far = new ProgramBuilder().ja('end');
    for (let i = 0; i < 0x8000; i++) far.mov64(R0, 0);
    far.label('end').exit();
    expect(() => far.assemble()).toThrow(/does not fit in 16 bits; use gotol/);
  });

  it('accepts helper names with the bpf_ prefix and raw ids', () => {
    const a = new ProgramBuilder().call('bpf_ktime_get_ns').call(5).assemble();
    expect(decode(a.bytes).map((i) => i.imm)).toEqual([5, 5]);
  });

  it('patchMapFd keeps map-value loads and rejects non-map slots', () => {
    const p = new ProgramBuilder().ldMapValue(R1, 'data', 16).ld64(R2, 0).mov64(R0, 0).exit().assemble();
    expect(p.mapReferences).toEqual([{ insnIndex: 0, name: 'data', kind: 'value', offset: 16 }]);
    const bytes = p.bytes.slice();
    patchMapFd(bytes, 0, 9);
    expect(decode(bytes)[0]!.imm64).toBe((16n << 32n) | 9n);
    expect(decode(bytes)[0]!.src).toBe(2);
    patchMapFd(bytes, 2, 3); // plain ld_imm64 (what clang leaves) becomes src 1
    expect(decode(bytes)[1]!.src).toBe(1);
    expect(() => patchMapFd(bytes, 4, 3)).toThrow(/instruction 4 is opcode 0xb7, not ld_imm64 \(at byte offset 32\)/);
    expect(() => patchMapFd(bytes, 5, 3)).toThrow(/no ld_imm64 at instruction 5/);
  });
});
