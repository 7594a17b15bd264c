// Disassembly in llvm-objdump's syntax. Two flavours:
// - 'objdump' prints exactly what `llvm-objdump-19 -d` prints for the same bytes, including
//   where its text loses information (calls print the same for helpers, bpf-to-bpf and
//   kfuncs; ld_pseudo and LD_IND drop the second immediate; without alu32, 32-bit atomics
//   other than add are `<unknown>` and fetch-add prints like add).
// - 'lossless' (the default) prints the same text except in those cases, where it uses
//   small extensions the parser reads back, so parse(disassemble(x)) === x for every
//   instruction: `call pc+0x5`, `call kfunc 0x4d[, 0x3]`, `ld_pseudo r1, 0x2, 0x3, 0x10`,
//   `skb[r3 + 0xc]`, and the alu32 atomic forms.
import { decode, encode } from './codec.js';
import { displacement, memOffset, signedHex } from './format.js';
import { slotCount, type Instruction } from './instruction.js';
import { AtomicOp, CallKind, SLOT_SIZE } from './opcodes.js';

export interface SymbolInfo {
  readonly name: string;
  /** Byte offset of the symbol in the disassembled section. */
  readonly offset: number;
}

export interface DisassembleOptions {
  /** 'lossless' (default) or 'objdump' (llvm-objdump-19's exact text, see above). */
  readonly syntax?: 'lossless' | 'objdump';
  /** As `llvm-objdump --mattr=+alu32`: 32-bit loads, stores and atomics name w registers. */
  readonly alu32?: boolean;
  /** Symbols of the section, for jump targets printed as `<name+0x18>`. */
  readonly symbols?: readonly SymbolInfo[];
  /** The section's name, used for targets no symbol precedes (default `.text`). */
  readonly section?: string;
}

const ALU_SYMBOL: Record<string, string> = {
  add: '+=', sub: '-=', mul: '*=', div: '/=', or: '|=', and: '&=', lsh: '<<=', rsh: '>>=',
  mod: '%=', xor: '^=', arsh: 's>>=',
};
const JMP_SYMBOL: Record<string, string> = {
  jeq: '==', jgt: '>', jge: '>=', jset: '&', jne: '!=', jsgt: 's>', jsge: 's>=', jlt: '<',
  jle: '<=', jslt: 's<', jsle: 's<=',
};
const ATOMIC_SYMBOL: Record<number, [string, string]> = {
  [AtomicOp.ADD]: ['+=', 'add'],
  [AtomicOp.OR]: ['|=', 'or'],
  [AtomicOp.AND]: ['&=', 'and'],
  [AtomicOp.XOR]: ['^=', 'xor'],
};
const SIZE_BITS = { b: '8', h: '16', w: '32', dw: '64' } as const;

/** One line of text per instruction. Throws AsmError (with byte offset) on undecodable bytes. */
export function disassembleLines(input: Uint8Array | readonly Instruction[], opts: DisassembleOptions = {}): string[] {
  const insns = input instanceof Uint8Array ? decode(input) : input;
  const targets = new TargetNamer(opts.symbols ?? [], opts.section ?? '.text');
  const lines: string[] = [];
  let slot = 0;
  for (const insn of insns) {
    lines.push(format(insn, slot, opts, targets));
    slot += slotCount(insn);
  }
  return lines;
}

/** The instruction text, one instruction per line (no trailing newline). */
export function disassemble(input: Uint8Array | readonly Instruction[], opts: DisassembleOptions = {}): string {
  return disassembleLines(input, opts).join('\n');
}

/**
 * objdump's full listing: `   slot:\tbytes\ttext` lines, with `0000000000000000 <name>:`
 * headers before each symbol (separated by a blank line, as objdump does).
 */
export function disassembleListing(input: Uint8Array | readonly Instruction[], opts: DisassembleOptions = {}): string {
  const insns = input instanceof Uint8Array ? decode(input) : input;
  const bytes = input instanceof Uint8Array ? input : encode(insns);
  const texts = disassembleLines(insns, opts);
  const headers = new Map<number, string[]>();
  for (const s of opts.symbols ?? []) headers.set(s.offset, [...(headers.get(s.offset) ?? []), s.name]);
  const out: string[] = [];
  let slot = 0;
  insns.forEach((insn, i) => {
    const at = slot * SLOT_SIZE;
    for (const name of headers.get(at) ?? []) {
      if (out.length) out.push('');
      out.push(`${at.toString(16).padStart(16, '0')} <${name}>:`);
    }
    const n = slotCount(insn) * SLOT_SIZE;
    const hex = Array.from(bytes.subarray(at, at + n), (b) => b.toString(16).padStart(2, '0')).join(' ');
    out.push(`${String(slot).padStart(8)}:\t${hex}\t${texts[i]}`);
    slot += slotCount(insn);
  });
  return out.join('\n');
}

/** Names jump targets like objdump: the nearest symbol at or before the target, else the section. */
class TargetNamer {
  private readonly sorted: { name: string; offset: bigint; section: boolean }[];

  constructor(symbols: readonly SymbolInfo[], section: string) {
    this.sorted = [{ name: section, offset: 0n, section: true }, ...symbols.map((s) => ({ name: s.name, offset: BigInt(s.offset), section: false }))];
    // Stable sort; at equal offsets a real symbol wins over the section's name.
    this.sorted.sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : Number(b.section) - Number(a.section)));
  }

  /** `<name+0x10>` for a target byte address (wrapped to 64 bits, as objdump computes it). */
  name(target: bigint): string {
    const t = BigInt.asUintN(64, target);
    let best = this.sorted[0]!;
    for (const s of this.sorted) if (s.offset <= t) best = s;
    const delta = t - best.offset;
    return delta === 0n ? `<${best.name}>` : `<${best.name}+0x${delta.toString(16)}>`;
  }
}

/** Text of one instruction at `slot` (the slot matters only for jump-target annotations). */
export function formatInstruction(insn: Instruction, slot = 0, opts: DisassembleOptions = {}): string {
  return format(insn, slot, opts, new TargetNamer(opts.symbols ?? [], opts.section ?? '.text'));
}

function format(insn: Instruction, slot: number, opts: DisassembleOptions, namer: TargetNamer): string {
  const objdump = opts.syntax === 'objdump';
  const alu32 = opts.alu32 ?? false;
  const jumpTo = (rel: number) =>
    `${displacement(rel)} ${namer.name(BigInt(slot + 1 + rel) * BigInt(SLOT_SIZE))}`;

  switch (insn.kind) {
    case 'alu': {
      const r = insn.class === 'alu64' ? 'r' : 'w';
      const d = `${r}${insn.dst}`;
      const s = `${r}${insn.src}`;
      const operand = insn.source === 'x' ? s : signedHex(insn.imm);
      switch (insn.op) {
        case 'neg':
          return `${d} = -${d}`;
        case 'end': {
          const name = insn.class === 'alu64' ? 'bswap' : insn.source === 'x' ? 'be' : 'le';
          return `r${insn.dst} = ${name}${insn.imm} r${insn.dst}`;
        }
        case 'mov':
          if (insn.source === 'x' && insn.class === 'alu64' && insn.off === 1) {
            const imm = insn.imm >>> 0;
            return `${d} = addr_space_cast(${s}, ${signedHex(imm >>> 16)}, ${signedHex(imm & 0xffff)})`;
          }
          if (insn.source === 'x' && insn.off !== 0) return `${d} = (s${insn.off})${s}`;
          return `${d} = ${operand}`;
        case 'div':
        case 'mod':
          return `${d} ${insn.off === 1 ? 's' : ''}${ALU_SYMBOL[insn.op]} ${operand}`;
        default:
          return `${d} ${ALU_SYMBOL[insn.op]} ${operand}`;
      }
    }
    case 'jmp': {
      switch (insn.op) {
        case 'ja':
          return insn.class === 'jmp32' ? `gotol ${jumpTo(insn.imm)}` : `goto ${jumpTo(insn.off)}`;
        case 'jcond':
          return `may_goto ${jumpTo(insn.off)}`;
        case 'exit':
          return 'exit';
        case 'call':
          if (objdump || insn.src === CallKind.HELPER) return `call ${signedHex(insn.imm)}`;
          if (insn.src === CallKind.BPF_TO_BPF) return `call pc${displacement(insn.imm)}`;
          return `call kfunc ${signedHex(insn.imm)}${insn.off !== 0 ? `, ${signedHex(insn.off)}` : ''}`;
        default: {
          const r = insn.class === 'jmp' ? 'r' : 'w';
          const operand = insn.source === 'x' ? `${r}${insn.src}` : signedHex(insn.imm);
          return `if ${r}${insn.dst} ${JMP_SYMBOL[insn.op]} ${operand} goto ${jumpTo(insn.off)}`;
        }
      }
    }
    case 'ld_imm64': {
      if (insn.src === 0) return `r${insn.dst} = ${signedHex(BigInt.asIntN(64, insn.imm64))} ll`;
      // objdump prints ld_pseudo's immediates unsigned, unlike every other immediate.
      const hi = insn.imm64 >> 32n;
      const extra = !objdump && hi !== 0n ? `, 0x${hi.toString(16)}` : '';
      return `ld_pseudo\tr${insn.dst}, ${signedHex(insn.src)}, 0x${(insn.imm >>> 0).toString(16)}${extra}`;
    }
    case 'mem': {
      const bits = SIZE_BITS[insn.size];
      switch (insn.mode) {
        case 'abs':
          return `r0 = *(u${bits} *)skb[${signedHex(insn.imm)}]`;
        case 'ind': {
          const extra = objdump || insn.imm === 0 ? '' : ` ${insn.imm < 0 ? '-' : '+'} 0x${Math.abs(insn.imm).toString(16)}`;
          return `r0 = *(u${bits} *)skb[r${insn.src}${extra}]`;
        }
        case 'memsx':
          return `r${insn.dst} = *(s${bits} *)(${memOffset(`r${insn.src}`, insn.off)})`;
        case 'atomic':
          return formatAtomic(insn, bits, objdump && !alu32);
        default: {
          // mem (ld_imm64 has its own kind; ld has no other valid modes)
          const w = alu32 && insn.size !== 'dw' ? 'w' : 'r';
          const addr = `*(u${bits} *)(${memOffset(`r${insn.class === 'ldx' ? insn.src : insn.dst}`, insn.off)})`;
          if (insn.class === 'ldx') return `${w}${insn.dst} = ${addr}`;
          if (insn.class === 'st') return `${addr} = ${signedHex(insn.imm)}`;
          return `${addr} = ${w}${insn.src}`;
        }
      }
    }
  }
}

function formatAtomic(insn: Instruction, bits: string, plainObjdump: boolean): string {
  const is32 = bits === '32';
  if (is32 && plainObjdump) {
    // llvm-objdump without alu32 decodes only the 32-bit add, and ignores its fetch bit.
    if (insn.imm === AtomicOp.ADD || insn.imm === (AtomicOp.ADD | AtomicOp.FETCH)) {
      return `lock *(u32 *)(${memOffset(`r${insn.dst}`, insn.off)}) += r${insn.src}`;
    }
    return '<unknown>';
  }
  const r = is32 ? 'w' : 'r';
  const dst = memOffset(`r${insn.dst}`, insn.off);
  const src = `${r}${insn.src}`;
  if (insn.imm === AtomicOp.XCHG) return `${src} = xchg${is32 ? '32_32' : '_64'}(${dst}, ${src})`;
  if (insn.imm === AtomicOp.CMPXCHG) return `${r}0 = cmpxchg${is32 ? '32_32' : '_64'}(${dst}, ${r}0, ${src})`;
  const [sym, name] = ATOMIC_SYMBOL[insn.imm & ~AtomicOp.FETCH]!;
  if (insn.imm & AtomicOp.FETCH) return `${src} = atomic_fetch_${name}((u${bits} *)(${dst}), ${src})`;
  return `lock *(u${bits} *)(${dst}) ${sym} ${src}`;
}

