// The text assembler: reads the syntax the disassembler prints (both flavours, and
// llvm-objdump's full listing lines), plus labels (`name:`) and comments (`;`, `#`, `//`).
// Jump targets are `+0x3`/`-1` (slots, relative to the next instruction) or label names;
// objdump's `<sym+0x18>` annotations are ignored.
import { ProgramBuilder } from './builder.js';
import { encode } from './codec.js';
import { AsmError } from './errors.js';
import { helperId } from './helpers.js';
import { LD_IMM64, type Instruction, type InstructionFields } from './instruction.js';
import { AluOp, AtomicOp, CallKind, Class, Endian, JmpOp, Mode, Size, Source } from './opcodes.js';

const NUM = '[-+]?(?:0[xX][0-9a-fA-F]+|\\d+)';
const REG = '([rw])(\\d+)';
const TARGET = `([-+](?:0[xX][0-9a-fA-F]+|\\d+)|[A-Za-z_.$][\\w.$]*)`;
const MEM = `\\(r(\\d+) ([-+]) (${NUM})\\)`; // (r1 + 0x8)
const ADDR = `r(\\d+) ([-+]) (${NUM})`; // r1 + 0x8 (xchg, cmpxchg)

const SIZES: Record<string, number> = { '8': Size.B, '16': Size.H, '32': Size.W, '64': Size.DW };
const ALU_OPS: Record<string, [number, number]> = {
  '+=': [AluOp.ADD, 0], '-=': [AluOp.SUB, 0], '*=': [AluOp.MUL, 0], '/=': [AluOp.DIV, 0],
  's/=': [AluOp.DIV, 1], '|=': [AluOp.OR, 0], '&=': [AluOp.AND, 0], '<<=': [AluOp.LSH, 0],
  '>>=': [AluOp.RSH, 0], '%=': [AluOp.MOD, 0], 's%=': [AluOp.MOD, 1], '^=': [AluOp.XOR, 0],
  's>>=': [AluOp.ARSH, 0], '=': [AluOp.MOV, 0],
};
const JMP_OPS: Record<string, number> = {
  '==': JmpOp.JEQ, '>': JmpOp.JGT, '>=': JmpOp.JGE, '&': JmpOp.JSET, '!=': JmpOp.JNE,
  's>': JmpOp.JSGT, 's>=': JmpOp.JSGE, '<': JmpOp.JLT, '<=': JmpOp.JLE, 's<': JmpOp.JSLT, 's<=': JmpOp.JSLE,
};
const ATOMIC_OPS: Record<string, number> = { '+=': AtomicOp.ADD, '|=': AtomicOp.OR, '&=': AtomicOp.AND, '^=': AtomicOp.XOR };
const FETCH_OPS: Record<string, number> = { add: AtomicOp.ADD, or: AtomicOp.OR, and: AtomicOp.AND, xor: AtomicOp.XOR };

type Target = { label: string; field: 'off' | 'imm' };
type Parsed = { fields: InstructionFields; target?: Target };

/** Thrown inside one line's parsing; turned into an AsmError with the line number. */
class LineError extends Error {}

type Rule = [RegExp, (m: RegExpMatchArray, labels: Set<string>) => Parsed];

const rx = (s: string) => new RegExp(`^${s}$`);

const RULES: Rule[] = [
  [rx('exit'), () => f(Class.JMP | JmpOp.EXIT)],
  [rx(`goto ${TARGET}`), (m) => jump(Class.JMP | JmpOp.JA, 0, 0, 0, m[1]!, 'off')],
  [rx(`gotol ${TARGET}`), (m) => jump(Class.JMP32 | JmpOp.JA, 0, 0, 0, m[1]!, 'imm')],
  [rx(`may_goto ${TARGET}`), (m) => jump(Class.JMP | JmpOp.JCOND, 0, 0, 0, m[1]!, 'off')],
  [
    rx(`if ${REG} (==|!=|>=|>|<=|<|s>=|s>|s<=|s<|&) (?:${REG}|(${NUM})) goto ${TARGET}`),
    (m) => {
      const cls = m[1] === 'w' ? Class.JMP32 : Class.JMP;
      const dst = reg(m[1]!, m[2]!, m[1]!);
      const op = cls | JMP_OPS[m[3]!]!;
      if (m[4] !== undefined) return jump(op | Source.X, dst, reg(m[4], m[5]!, m[1]!), 0, m[7]!, 'off');
      return jump(op | Source.K, dst, 0, imm32(m[6]!, cls === Class.JMP32), m[7]!, 'off');
    },
  ],
  [rx(`call (${NUM})`), (m) => f(Class.JMP | JmpOp.CALL, 0, CallKind.HELPER, 0, imm32(m[1]!))],
  [rx(`call pc([-+](?:0[xX][0-9a-fA-F]+|\\d+))`), (m) => f(Class.JMP | JmpOp.CALL, 0, CallKind.BPF_TO_BPF, 0, imm32(m[1]!))],
  [
    rx(`call kfunc (${NUM})(?:, (${NUM}))?`),
    (m) => f(Class.JMP | JmpOp.CALL, 0, CallKind.KFUNC, m[2] === undefined ? 0 : int(m[2], -0x8000, 0xffff, 'off') << 16 >> 16, imm32(m[1]!, true)),
  ],
  [
    rx('call ([A-Za-z_.$][\\w.$]*)'),
    (m, labels) => {
      if (labels.has(m[1]!)) return jump(Class.JMP | JmpOp.CALL, 0, CallKind.BPF_TO_BPF, 0, m[1]!, 'imm');
      const id = helperId(m[1]!);
      if (id === undefined) throw new LineError(`'${m[1]}' is neither a label nor a helper name`);
      return f(Class.JMP | JmpOp.CALL, 0, CallKind.HELPER, 0, id);
    },
  ],
  [
    rx(`ld_pseudo r(\\d+), (${NUM}), (${NUM})(?:, (${NUM}))?`),
    (m) => {
      const lo = BigInt(imm32(m[3]!, true) >>> 0);
      const hi = m[4] === undefined ? 0n : BigInt(imm32(m[4], true) >>> 0);
      const src = int(m[2]!, 1, 15, 'pseudo source');
      return ld64(reg('r', m[1]!), src, (hi << 32n) | lo);
    },
  ],
  [rx(`r(\\d+) = (${NUM}) ll`), (m) => ld64(reg('r', m[1]!), 0, big64(m[2]!))],
  [
    rx(`r0 = \\*\\(u(8|16|32) \\*\\)skb\\[(${NUM})\\]`),
    (m) => f(Class.LD | Mode.ABS | SIZES[m[1]!]!, 0, 0, 0, imm32(m[2]!)),
  ],
  [
    rx(`r0 = \\*\\(u(8|16|32) \\*\\)skb\\[r(\\d+)(?: ([-+]) (${NUM}))?\\]`),
    (m) => f(Class.LD | Mode.IND | SIZES[m[1]!]!, 0, reg('r', m[2]!), 0, m[4] === undefined ? 0 : signed(m[3]!, m[4], imm32)),
  ],
  [
    rx(`${REG} = \\*\\(([us])(8|16|32|64) \\*\\)${MEM}`),
    (m) => {
      const sx = m[3] === 's';
      if (sx ? m[4] === '64' || m[1] === 'w' : m[1] === 'w' && m[4] === '64') throw new LineError('no such load');
      return f(Class.LDX | (sx ? Mode.MEMSX : Mode.MEM) | SIZES[m[4]!]!, reg(m[1]!, m[2]!, m[1]!), reg('r', m[5]!), memOff(m[6]!, m[7]!));
    },
  ],
  [
    rx(`\\*\\(u(8|16|32|64) \\*\\)${MEM} = (?:${REG}|(${NUM}))`),
    (m) => {
      const base = reg('r', m[2]!);
      const off = memOff(m[3]!, m[4]!);
      if (m[5] === undefined) return f(Class.ST | Mode.MEM | SIZES[m[1]!]!, base, 0, off, imm32(m[7]!, m[1] !== '64'));
      if (m[5] === 'w' && m[1] === '64') throw new LineError('a 64-bit store takes an r register');
      return f(Class.STX | Mode.MEM | SIZES[m[1]!]!, base, reg(m[5], m[6]!), off);
    },
  ],
  [
    rx(`lock \\*\\(u(32|64) \\*\\)${MEM} (\\+=|\\|=|&=|\\^=) ${REG}`),
    (m) => atomic(m[1]!, m[2]!, m[3]!, m[4]!, m[6]!, m[7]!, ATOMIC_OPS[m[5]!]!),
  ],
  [
    rx(`${REG} = atomic_fetch_(add|or|and|xor)\\(\\(u(32|64) \\*\\)${MEM}, ${REG}\\)`),
    (m) => {
      same(m[1]! + m[2]!, m[8]! + m[9]!);
      return atomic(m[4]!, m[5]!, m[6]!, m[7]!, m[8]!, m[9]!, FETCH_OPS[m[3]!]! | AtomicOp.FETCH);
    },
  ],
  [
    rx(`${REG} = xchg(_64|32_32)\\(${ADDR}, ${REG}\\)`),
    (m) => {
      same(m[1]! + m[2]!, m[7]! + m[8]!);
      return atomic(m[3] === '_64' ? '64' : '32', m[4]!, m[5]!, m[6]!, m[7]!, m[8]!, AtomicOp.XCHG);
    },
  ],
  [
    rx(`([rw])0 = cmpxchg(_64|32_32)\\(${ADDR}, ([rw])0, ${REG}\\)`),
    (m) => {
      same(m[1]!, m[6]!);
      return atomic(m[2] === '_64' ? '64' : '32', m[3]!, m[4]!, m[5]!, m[7]!, m[8]!, AtomicOp.CMPXCHG);
    },
  ],
  [
    rx(`${REG} = -${REG}`),
    (m) => {
      same(m[1]! + m[2]!, m[3]! + m[4]!);
      return f(aluClass(m[1]!) | AluOp.NEG, reg(m[1]!, m[2]!, m[1]!));
    },
  ],
  [
    rx(`r(\\d+) = (le|be|bswap)(16|32|64) r(\\d+)`),
    (m) => {
      same(`r${m[1]}`, `r${m[4]}`);
      const code = m[2] === 'bswap' ? Class.ALU64 | AluOp.END | Endian.TO_LE : Class.ALU | AluOp.END | (m[2] === 'be' ? Endian.TO_BE : Endian.TO_LE);
      return f(code, reg('r', m[1]!), 0, 0, Number(m[3]));
    },
  ],
  [
    rx(`${REG} = \\(s(8|16|32)\\)${REG}`),
    (m) => f(aluClass(m[1]!) | AluOp.MOV | Source.X, reg(m[1]!, m[2]!, m[1]!), reg(m[4]!, m[5]!, m[1]!), Number(m[3])),
  ],
  [
    rx(`r(\\d+) = addr_space_cast\\(r(\\d+), (${NUM}), (${NUM})\\)`),
    (m) => {
      const imm = (int(m[3]!, 0, 0xffff, 'address space') << 16) | int(m[4]!, 0, 0xffff, 'address space');
      return f(Class.ALU64 | AluOp.MOV | Source.X, reg('r', m[1]!), reg('r', m[2]!), 1, imm);
    },
  ],
  [
    rx(`${REG} (=|\\+=|-=|\\*=|/=|s/=|\\|=|&=|<<=|>>=|s>>=|%=|s%=|\\^=) (?:${REG}|(${NUM}))`),
    (m) => {
      const cls = aluClass(m[1]!);
      const [op, off] = ALU_OPS[m[3]!]!;
      const dst = reg(m[1]!, m[2]!, m[1]!);
      if (m[4] !== undefined) return f(cls | op | Source.X, dst, reg(m[4], m[5]!, m[1]!), off);
      return f(cls | op | Source.K, dst, 0, off, imm32(m[6]!, cls === Class.ALU));
    },
  ],
];

function f(opcode: number, dst = 0, src = 0, off = 0, imm = 0): Parsed {
  return { fields: { opcode, dst, src, off, imm } };
}

function ld64(dst: number, src: number, imm64: bigint): Parsed {
  return { fields: { opcode: LD_IMM64, dst, src, off: 0, imm: Number(BigInt.asIntN(32, imm64)), imm64 } };
}

function jump(opcode: number, dst: number, src: number, imm: number, target: string, field: 'off' | 'imm'): Parsed {
  if (/^[-+]/.test(target)) {
    const rel = field === 'off' ? int(target, -0x8000, 0x7fff, 'jump offset') : imm32(target);
    return field === 'off' ? f(opcode, dst, src, rel, imm) : f(opcode, dst, src, 0, rel);
  }
  return { fields: { opcode, dst, src, off: 0, imm }, target: { label: target, field } };
}

function atomic(bits: string, base: string, sign: string, off: string, w: string, src: string, op: number): Parsed {
  if (bits === '64' && w === 'w') throw new LineError('a 64-bit atomic takes r registers');
  return f(Class.STX | Mode.ATOMIC | SIZES[bits]!, reg('r', base), reg(w, src), memOff(sign, off), op);
}

function aluClass(letter: string): number {
  return letter === 'w' ? Class.ALU : Class.ALU64;
}

/** A register number; `want` is the letter (r/w) the instruction's other operands use. */
function reg(letter: string, digits: string, want = letter): number {
  if (letter !== want) throw new LineError(`mixes ${want} and ${letter} registers`);
  const n = Number(digits);
  if (n > 10) throw new LineError(`${letter}${digits} is not a register (r0..r10)`);
  return n;
}

function same(a: string, b: string): void {
  if (a !== b) throw new LineError(`${a} and ${b} must be the same register`);
}

function parseNum(text: string): bigint {
  const neg = text.startsWith('-');
  const body = text.replace(/^[-+]/, '');
  const v = BigInt(body); // BigInt reads both 0x.. and decimal
  return neg ? -v : v;
}

function int(text: string, min: number, max: number, what: string): number {
  const v = parseNum(text);
  if (v < BigInt(min) || v > BigInt(max)) throw new LineError(`${what} ${text} is out of range`);
  return Number(v);
}

/** A 32-bit immediate; unsigned spellings (up to 0xffffffff) only where the operation is 32-bit. */
function imm32(text: string, unsignedOk = false): number {
  const v = parseNum(text);
  if (v >= -0x80000000n && v <= 0x7fffffffn) return Number(v);
  if (unsignedOk && v > 0n && v <= 0xffffffffn) return Number(BigInt.asIntN(32, v));
  throw new LineError(`immediate ${text} does not fit in 32 bits`);
}

function big64(text: string): bigint {
  const v = parseNum(text);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new LineError(`constant ${text} does not fit in 64 bits`);
  return BigInt.asUintN(64, v);
}

function signed(sign: string, text: string, conv: (t: string) => number): number {
  return conv(sign === '-' ? `-${text.replace(/^\+/, '')}` : text);
}

function memOff(sign: string, text: string): number {
  return int(sign === '-' ? `-${text.replace(/^\+/, '')}` : text, -0x8000, 0x7fff, 'offset');
}

const LISTING_PREFIX = /^\s*\d+:\t(?:[0-9a-f]{2} )*[0-9a-f]{2}\t/;
const SYMBOL_HEADER = /^[0-9a-f]+ <([^>]+)>:$/;
const LABEL = /^([A-Za-z_.$][\w.$]*):$/;

/** Parses assembly text into instructions. Errors are AsmErrors naming the line. */
export function parse(text: string): Instruction[] {
  const lines = text.split('\n');
  const statements: { line: number; text: string }[] = [];
  const labels = new Set<string>();
  lines.forEach((raw, i) => {
    const s = raw
      .replace(LISTING_PREFIX, '')
      .replace(/(;|\/\/|#).*$/, '')
      .replace(/\s+/g, ' ')
      .trim()
      .replace(/ <[^<>]*>$/, ''); // objdump's jump-target annotation
    if (!s) return;
    const header = SYMBOL_HEADER.exec(s) ?? LABEL.exec(s);
    if (header) labels.add(header[1]!);
    statements.push({ line: i + 1, text: header ? `${header[1]}:` : s });
  });

  const b = new ProgramBuilder();
  const slotLines: number[] = [];
  for (const { line, text: s } of statements) {
    try {
      if (s.endsWith(':') && labels.has(s.slice(0, -1))) {
        b.label(s.slice(0, -1));
        continue;
      }
      const parsed = parseStatement(s, labels);
      b.raw(parsed.fields, parsed.target);
      slotLines.push(line);
      if (parsed.fields.opcode === LD_IMM64) slotLines.push(line);
    } catch (err) {
      throw locate(err, line, s);
    }
  }
  try {
    return b.assemble().instructions;
  } catch (err) {
    const line = err instanceof AsmError && err.insnIndex !== undefined ? slotLines[err.insnIndex] : undefined;
    throw line === undefined ? err : locate(err, line, lines[line - 1]!.trim());
  }
}

/** Parses and encodes: `assemble(disassemble(bytes))` equals `bytes`. */
export function assemble(text: string): Uint8Array {
  return encode(parse(text));
}

function parseStatement(s: string, labels: Set<string>): Parsed {
  for (const [re, build] of RULES) {
    const m = s.match(re);
    if (m) return build(m, labels);
  }
  throw new LineError(s === '<unknown>' ? 'objdump could not decode this instruction' : 'unrecognised instruction');
}

function locate(err: unknown, line: number, text: string): AsmError {
  if (err instanceof LineError || err instanceof AsmError) {
    const msg = err instanceof AsmError ? err.message.replace(/ \(at [^)]*\)$/, '') : err.message;
    return new AsmError(`${msg}: '${text}'`, { line });
  }
  throw err;
}
