// A typed builder for hand-written programs: labels resolved at assembly time, maps
// referenced by name so a loader can patch their fds in later.
import { encode } from './codec.js';
import { AsmError } from './errors.js';
import { helperId, type HelperName } from './helpers.js';
import { LD_IMM64, makeInstruction, slotCount, type Instruction, type InstructionFields } from './instruction.js';
import { AluOp, AtomicOp, CallKind, Class, Endian, JmpOp, Mode, OFF_ADDR_SPACE_CAST, OFF_SIGNED, Pseudo, Size, Source } from './opcodes.js';
import { Register, isRegister } from './registers.js';
import { patchMapFd } from './maps.js';

export type Operand = Register | number;
export type Target = string | number;
export type MemSize = 'b' | 'h' | 'w' | 'dw';
export type HelperRef = HelperName | `bpf_${HelperName}` | number;

/** A map named in the program, to be replaced by its fd (ld_imm64 src 1 or 2). */
export interface MapReference {
  /** Slot index of the ld_imm64 (the kernel's instruction index; ld_imm64 counts two). */
  readonly insnIndex: number;
  readonly name: string;
  /** 'fd': the map itself (src 1); 'value': an address in its value at `offset` (src 2). */
  readonly kind: 'fd' | 'value';
  readonly offset: number;
}

export interface AssembledProgram {
  readonly bytes: Uint8Array;
  readonly instructions: Instruction[];
  readonly mapReferences: readonly MapReference[];
  /** Label name → slot index. */
  readonly labels: ReadonlyMap<string, number>;
  /** A copy of `bytes` with every map reference's fd filled in; throws if a name is missing. */
  resolveMaps(fds: Readonly<Record<string, number>> | ReadonlyMap<string, number>): Uint8Array;
}

interface Pending {
  fields: InstructionFields;
  /** A label whose slot becomes `off` (jumps) or `imm` (gotol, calls, ld_imm64 func). */
  target?: { label: string; field: 'off' | 'imm' };
  map?: { name: string; kind: 'fd' | 'value'; offset: number };
}

const SIZES: Record<MemSize, number> = { b: Size.B, h: Size.H, w: Size.W, dw: Size.DW };

type CondOp = 'jeq' | 'jgt' | 'jge' | 'jset' | 'jne' | 'jsgt' | 'jsge' | 'jlt' | 'jle' | 'jslt' | 'jsle';
const COND_OPS: Record<CondOp, number> = {
  jeq: JmpOp.JEQ,
  jgt: JmpOp.JGT,
  jge: JmpOp.JGE,
  jset: JmpOp.JSET,
  jne: JmpOp.JNE,
  jsgt: JmpOp.JSGT,
  jsge: JmpOp.JSGE,
  jlt: JmpOp.JLT,
  jle: JmpOp.JLE,
  jslt: JmpOp.JSLT,
  jsle: JmpOp.JSLE,
};

/**
 * Builds a program instruction by instruction. Methods return `this` for chaining.
 * Suffix 64/32 picks ALU64/ALU (and JMP/JMP32); an Operand is a Register or an immediate.
 * Jump targets are label names (resolved by `assemble`) or raw slot offsets.
 */
export class ProgramBuilder {
  private readonly items: Pending[] = [];
  private readonly labelSlots = new Map<string, number>();
  private slots = 0;

  /** Marks the next instruction's position. */
  label(name: string): this {
    if (this.labelSlots.has(name)) throw new AsmError(`label '${name}' defined twice`, { insnIndex: this.slots });
    this.labelSlots.set(name, this.slots);
    return this;
  }

  /**
   * Appends any instruction given by its raw fields (validated now). With `target`, the
   * label's position relative to the next slot is written into `off` (jumps) or `imm`
   * (gotol, bpf-to-bpf calls, ld_imm64 func) at assembly time.
   */
  raw(fields: InstructionFields, target?: { label: string; field: 'off' | 'imm' }): this {
    return this.push(target ? { fields, target } : { fields });
  }

  // ---- ALU ----
  add64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.ADD, dst, src); }
  sub64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.SUB, dst, src); }
  mul64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.MUL, dst, src); }
  div64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.DIV, dst, src); }
  sdiv64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.DIV, dst, src, OFF_SIGNED); }
  mod64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.MOD, dst, src); }
  smod64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.MOD, dst, src, OFF_SIGNED); }
  or64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.OR, dst, src); }
  and64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.AND, dst, src); }
  xor64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.XOR, dst, src); }
  lsh64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.LSH, dst, src); }
  rsh64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.RSH, dst, src); }
  arsh64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.ARSH, dst, src); }
  mov64(dst: Register, src: Operand): this { return this.alu(Class.ALU64, AluOp.MOV, dst, src); }
  neg64(dst: Register): this { return this.alu(Class.ALU64, AluOp.NEG, dst, 0); }

  add32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.ADD, dst, src); }
  sub32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.SUB, dst, src); }
  mul32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.MUL, dst, src); }
  div32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.DIV, dst, src); }
  sdiv32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.DIV, dst, src, OFF_SIGNED); }
  mod32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.MOD, dst, src); }
  smod32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.MOD, dst, src, OFF_SIGNED); }
  or32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.OR, dst, src); }
  and32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.AND, dst, src); }
  xor32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.XOR, dst, src); }
  lsh32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.LSH, dst, src); }
  rsh32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.RSH, dst, src); }
  arsh32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.ARSH, dst, src); }
  mov32(dst: Register, src: Operand): this { return this.alu(Class.ALU, AluOp.MOV, dst, src); }
  neg32(dst: Register): this { return this.alu(Class.ALU, AluOp.NEG, dst, 0); }

  /** dst = (s8|s16|s32) src, sign-extended to 64 bits. */
  movsx64(dst: Register, src: Register, bits: 8 | 16 | 32): this {
    return this.push({ fields: { opcode: Class.ALU64 | AluOp.MOV | Source.X, dst: reg(dst), src: reg(src), off: bits, imm: 0 } });
  }
  /** w dst = (s8|s16) w src. */
  movsx32(dst: Register, src: Register, bits: 8 | 16): this {
    return this.push({ fields: { opcode: Class.ALU | AluOp.MOV | Source.X, dst: reg(dst), src: reg(src), off: bits, imm: 0 } });
  }
  /** Converts dst to little endian, keeping the low `bits` (zero-extended). */
  le(dst: Register, bits: 16 | 32 | 64): this { return this.endian(Class.ALU, Endian.TO_LE, dst, bits); }
  /** Converts dst to big endian, keeping the low `bits` (zero-extended). */
  be(dst: Register, bits: 16 | 32 | 64): this { return this.endian(Class.ALU, Endian.TO_BE, dst, bits); }
  /** Unconditional byte swap of the low `bits` (ALU64 END, cpu v4). */
  bswap(dst: Register, bits: 16 | 32 | 64): this { return this.endian(Class.ALU64, Endian.TO_LE, dst, bits); }
  /** dst = addr_space_cast(src, dstAs, srcAs) (arena pointers). */
  addrSpaceCast(dst: Register, src: Register, dstAs: number, srcAs: number): this {
    const imm = ((dstAs & 0xffff) << 16) | (srcAs & 0xffff);
    return this.push({ fields: { opcode: Class.ALU64 | AluOp.MOV | Source.X, dst: reg(dst), src: reg(src), off: OFF_ADDR_SPACE_CAST, imm } });
  }

  // ---- jumps ----
  /** goto target (16-bit offset). */
  ja(target: Target): this { return this.jump(Class.JMP | JmpOp.JA, 0, 0, 0, target, 'off'); }
  /** gotol target (JMP32 JA: 32-bit offset in imm). */
  gotol(target: Target): this { return this.jump(Class.JMP32 | JmpOp.JA, 0, 0, 0, target, 'imm'); }
  /** may_goto target: the verifier-bounded loop escape. */
  mayGoto(target: Target): this { return this.jump(Class.JMP | JmpOp.JCOND, 0, 0, 0, target, 'off'); }

  jeq(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jeq', dst, src, target); }
  jne(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jne', dst, src, target); }
  jgt(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jgt', dst, src, target); }
  jge(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jge', dst, src, target); }
  jlt(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jlt', dst, src, target); }
  jle(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jle', dst, src, target); }
  jsgt(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jsgt', dst, src, target); }
  jsge(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jsge', dst, src, target); }
  jslt(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jslt', dst, src, target); }
  jsle(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jsle', dst, src, target); }
  jset(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP, 'jset', dst, src, target); }

  jeq32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jeq', dst, src, target); }
  jne32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jne', dst, src, target); }
  jgt32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jgt', dst, src, target); }
  jge32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jge', dst, src, target); }
  jlt32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jlt', dst, src, target); }
  jle32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jle', dst, src, target); }
  jsgt32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jsgt', dst, src, target); }
  jsge32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jsge', dst, src, target); }
  jslt32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jslt', dst, src, target); }
  jsle32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jsle', dst, src, target); }
  jset32(dst: Register, src: Operand, target: Target): this { return this.cond(Class.JMP32, 'jset', dst, src, target); }

  // ---- calls ----
  /** Calls a helper by name (`map_lookup_elem` or `bpf_map_lookup_elem`) or id. */
  call(helper: HelperRef): this {
    const id = typeof helper === 'number' ? helper : helperId(helper);
    if (id === undefined) throw new AsmError(`unknown helper '${String(helper)}'`, { insnIndex: this.slots });
    return this.push({ fields: { opcode: Class.JMP | JmpOp.CALL, dst: 0, src: CallKind.HELPER, off: 0, imm: imm32(id, 'helper id') } });
  }
  /** bpf-to-bpf call of the subprogram at `target` (label or relative slot offset). */
  callLocal(target: Target): this {
    return this.jump(Class.JMP | JmpOp.CALL, 0, CallKind.BPF_TO_BPF, 0, target, 'imm');
  }
  /** kfunc call by BTF id; `moduleFdIndex` selects a module's BTF in fd_array (0: vmlinux). */
  callKfunc(btfId: number, moduleFdIndex = 0): this {
    return this.push({ fields: { opcode: Class.JMP | JmpOp.CALL, dst: 0, src: CallKind.KFUNC, off: moduleFdIndex, imm: imm32(btfId, 'BTF id') } });
  }
  exit(): this {
    return this.push({ fields: { opcode: Class.JMP | JmpOp.EXIT, dst: 0, src: 0, off: 0, imm: 0 } });
  }

  // ---- loads and stores ----
  /** dst = *(size *)(src + off). */
  ldx(size: MemSize, dst: Register, src: Register, off: number): this {
    return this.push({ fields: { opcode: Class.LDX | Mode.MEM | SIZES[size], dst: reg(dst), src: reg(src), off, imm: 0 } });
  }
  /** dst = *(s8|s16|s32 *)(src + off), sign-extended (cpu v4). */
  ldxsx(size: 'b' | 'h' | 'w', dst: Register, src: Register, off: number): this {
    return this.push({ fields: { opcode: Class.LDX | Mode.MEMSX | SIZES[size], dst: reg(dst), src: reg(src), off, imm: 0 } });
  }
  ldxb(dst: Register, src: Register, off: number): this { return this.ldx('b', dst, src, off); }
  ldxh(dst: Register, src: Register, off: number): this { return this.ldx('h', dst, src, off); }
  ldxw(dst: Register, src: Register, off: number): this { return this.ldx('w', dst, src, off); }
  ldxdw(dst: Register, src: Register, off: number): this { return this.ldx('dw', dst, src, off); }
  /** *(size *)(dst + off) = imm. */
  st(size: MemSize, dst: Register, off: number, imm: number): this {
    return this.push({ fields: { opcode: Class.ST | Mode.MEM | SIZES[size], dst: reg(dst), src: 0, off, imm: imm32(imm, 'store immediate') } });
  }
  /** *(size *)(dst + off) = src. */
  stx(size: MemSize, dst: Register, off: number, src: Register): this {
    return this.push({ fields: { opcode: Class.STX | Mode.MEM | SIZES[size], dst: reg(dst), src: reg(src), off, imm: 0 } });
  }
  stxb(dst: Register, off: number, src: Register): this { return this.stx('b', dst, off, src); }
  stxh(dst: Register, off: number, src: Register): this { return this.stx('h', dst, off, src); }
  stxw(dst: Register, off: number, src: Register): this { return this.stx('w', dst, off, src); }
  stxdw(dst: Register, off: number, src: Register): this { return this.stx('dw', dst, off, src); }

  // ---- atomics: *(size *)(dst + off) op= src; with fetch, src receives the old value ----
  atomicAdd(size: 'w' | 'dw', dst: Register, off: number, src: Register, fetch = false): this { return this.atomic(size, dst, off, src, AtomicOp.ADD, fetch); }
  atomicOr(size: 'w' | 'dw', dst: Register, off: number, src: Register, fetch = false): this { return this.atomic(size, dst, off, src, AtomicOp.OR, fetch); }
  atomicAnd(size: 'w' | 'dw', dst: Register, off: number, src: Register, fetch = false): this { return this.atomic(size, dst, off, src, AtomicOp.AND, fetch); }
  atomicXor(size: 'w' | 'dw', dst: Register, off: number, src: Register, fetch = false): this { return this.atomic(size, dst, off, src, AtomicOp.XOR, fetch); }
  /** src = xchg(dst + off, src). */
  xchg(size: 'w' | 'dw', dst: Register, off: number, src: Register): this { return this.atomic(size, dst, off, src, AtomicOp.XCHG, false); }
  /** r0 = cmpxchg(dst + off, r0, src). */
  cmpxchg(size: 'w' | 'dw', dst: Register, off: number, src: Register): this { return this.atomic(size, dst, off, src, AtomicOp.CMPXCHG, false); }

  // ---- ld_imm64 ----
  /** dst = a 64-bit constant. */
  ld64(dst: Register, value: bigint | number): this {
    return this.ldImm64(dst, Pseudo.NONE, value);
  }
  /** dst = the map `map` (a name, patched later via mapReferences, or an fd). */
  ldMapFd(dst: Register, map: string | number): this {
    if (typeof map === 'number') return this.ldImm64(dst, Pseudo.MAP_FD, map);
    return this.push({ fields: ldImm64Fields(dst, Pseudo.MAP_FD, 0n), map: { name: map, kind: 'fd', offset: 0 } });
  }
  /** dst = address of byte `offset` of the (array) map's value. */
  ldMapValue(dst: Register, map: string | number, offset = 0): this {
    if (typeof map === 'number') return this.ldImm64(dst, Pseudo.MAP_VALUE, pair(map, offset, 'map fd', 'map value offset'));
    const fields = ldImm64Fields(dst, Pseudo.MAP_VALUE, pair(0, offset, 'map fd', 'map value offset'));
    return this.push({ fields, map: { name: map, kind: 'value', offset } });
  }
  /** dst = the kernel variable with BTF id `btfId` (module BTF fd in the high half). */
  ldBtfId(dst: Register, btfId: number, moduleBtfFd = 0): this {
    return this.ldImm64(dst, Pseudo.BTF_ID, pair(btfId, moduleBtfFd, 'BTF id', 'module BTF fd'));
  }
  /** dst = address of the subprogram at `target` (for callbacks). */
  ldFunc(dst: Register, target: Target): this {
    const fields = ldImm64Fields(dst, Pseudo.FUNC, 0n);
    if (typeof target === 'number') return this.ldImm64(dst, Pseudo.FUNC, BigInt.asUintN(32, BigInt(target)));
    return this.push({ fields, target: { label: target, field: 'imm' } });
  }
  /** dst = the map at index `index` of the load's fd_array. */
  ldMapIdx(dst: Register, index: number): this { return this.ldImm64(dst, Pseudo.MAP_IDX, index); }
  /** dst = address at `offset` in the value of the map at fd_array[index]. */
  ldMapIdxValue(dst: Register, index: number, offset = 0): this {
    return this.ldImm64(dst, Pseudo.MAP_IDX_VALUE, pair(index, offset, 'fd_array index', 'map value offset'));
  }

  // ---- legacy packet access (socket filters): r0 = *(size *)skb[imm] or skb[src + imm] ----
  ldAbs(size: 'b' | 'h' | 'w', imm: number): this {
    return this.push({ fields: { opcode: Class.LD | Mode.ABS | SIZES[size], dst: 0, src: 0, off: 0, imm: imm32(imm, 'offset') } });
  }
  ldInd(size: 'b' | 'h' | 'w', src: Register, imm = 0): this {
    return this.push({ fields: { opcode: Class.LD | Mode.IND | SIZES[size], dst: 0, src: reg(src), off: 0, imm: imm32(imm, 'offset') } });
  }

  /** Resolves labels and encodes. The builder can be extended and assembled again. */
  assemble(): AssembledProgram {
    const fields: InstructionFields[] = [];
    const mapReferences: MapReference[] = [];
    let slot = 0;
    this.items.forEach((item) => {
      let f = item.fields;
      if (item.target) {
        const dest = this.labelSlots.get(item.target.label);
        if (dest === undefined) throw new AsmError(`undefined label '${item.target.label}'`, { insnIndex: slot });
        const rel = dest - slot - 1;
        if (item.target.field === 'off') {
          if (rel < -0x8000 || rel > 0x7fff) {
            throw new AsmError(`jump to '${item.target.label}' (${rel} slots) does not fit in 16 bits; use gotol`, { insnIndex: slot });
          }
          f = { ...f, off: rel };
        } else {
          f = f.opcode === LD_IMM64 ? { ...f, imm: rel, imm64: BigInt.asUintN(32, BigInt(rel)) } : { ...f, imm: rel };
        }
      }
      if (item.map) mapReferences.push({ insnIndex: slot, ...item.map });
      fields.push(f);
      slot += slotCount(f);
    });
    const bytes = encode(fields);
    const instructions = fields.map((f) => makeInstruction(f));
    const labels = new Map(this.labelSlots);
    return {
      bytes,
      instructions,
      mapReferences,
      labels,
      resolveMaps(fds) {
        const lookup = fds instanceof Map ? (n: string) => fds.get(n) : (n: string) => (fds as Record<string, number>)[n];
        const out = bytes.slice();
        for (const ref of mapReferences) {
          const fd = lookup(ref.name);
          if (fd === undefined) throw new AsmError(`no fd given for map '${ref.name}'`, { insnIndex: ref.insnIndex });
          patchMapFd(out, ref.insnIndex, fd);
        }
        return out;
      },
    };
  }

  private push(item: Pending): this {
    try {
      makeInstruction(item.fields);
    } catch (err) {
      if (err instanceof AsmError) throw new AsmError(err.message.replace(/ \(at .*\)$/, ''), { insnIndex: this.slots });
      throw err;
    }
    this.items.push(item);
    this.slots += slotCount(item.fields);
    return this;
  }

  private alu(cls: number, op: number, dst: Register, src: Operand, off = 0): this {
    const fields = isRegister(src)
      ? { opcode: cls | op | Source.X, dst: reg(dst), src: src.index, off, imm: 0 }
      : { opcode: cls | op | Source.K, dst: reg(dst), src: 0, off, imm: imm32(src, 'immediate', cls === Class.ALU) };
    return this.push({ fields });
  }

  private endian(cls: number, dir: number, dst: Register, bits: number): this {
    return this.push({ fields: { opcode: cls | AluOp.END | dir, dst: reg(dst), src: 0, off: 0, imm: bits } });
  }

  private cond(cls: number, op: CondOp, dst: Register, src: Operand, target: Target): this {
    const code = cls | COND_OPS[op];
    return isRegister(src)
      ? this.jump(code | Source.X, reg(dst), src.index, 0, target, 'off')
      : this.jump(code | Source.K, reg(dst), 0, imm32(src, 'immediate', cls === Class.JMP32), target, 'off');
  }

  private jump(opcode: number, dst: number, src: number, imm: number, target: Target, field: 'off' | 'imm'): this {
    if (typeof target === 'number') {
      const fields = field === 'off' ? { opcode, dst, src, off: target, imm } : { opcode, dst, src, off: 0, imm: imm32(target, 'jump offset') };
      return this.push({ fields });
    }
    return this.push({ fields: { opcode, dst, src, off: 0, imm }, target: { label: target, field } });
  }

  private atomic(size: 'w' | 'dw', dst: Register, off: number, src: Register, op: number, fetch: boolean): this {
    const imm = op | (fetch ? AtomicOp.FETCH : 0);
    return this.push({ fields: { opcode: Class.STX | Mode.ATOMIC | SIZES[size], dst: reg(dst), src: reg(src), off, imm } });
  }

  private ldImm64(dst: Register, pseudo: number, value: bigint | number): this {
    const v = typeof value === 'number' ? toBigInt(value) : value;
    if (v < -(1n << 63n) || v >= 1n << 64n) throw new AsmError(`constant ${v} does not fit in 64 bits`, { insnIndex: this.slots });
    return this.push({ fields: ldImm64Fields(dst, pseudo, BigInt.asUintN(64, v)) });
  }
}

function ldImm64Fields(dst: Register, src: number, imm64: bigint): InstructionFields {
  return { opcode: LD_IMM64, dst: reg(dst), src, off: 0, imm: Number(BigInt.asIntN(32, imm64)), imm64 };
}

/** An ld_imm64 constant from its two 32-bit halves (first slot's imm, second slot's imm). */
function pair(lo: number, hi: number, loName: string, hiName: string): bigint {
  return (BigInt(imm32(hi, hiName, true) >>> 0) << 32n) | BigInt(imm32(lo, loName, true) >>> 0);
}

function reg(r: Register): number {
  if (!isRegister(r)) throw new AsmError(`${String(r)} is not a register (use R0..R10)`);
  return r.index;
}

function toBigInt(n: number): bigint {
  if (!Number.isSafeInteger(n)) throw new AsmError(`${n} is not a safe integer; pass a bigint`);
  return BigInt(n);
}

/**
 * A 32-bit immediate. 32-bit operations also take unsigned values up to 0xffffffff; 64-bit
 * ones sign-extend imm, so there 0xffffffff would silently mean -1 and is refused.
 */
function imm32(n: number, what: string, unsignedOk = false): number {
  if (!Number.isInteger(n)) throw new AsmError(`${what} ${n} is not an integer`);
  if (n >= -0x80000000 && n <= 0x7fffffff) return n;
  if (unsignedOk && n > 0 && n <= 0xffffffff) return n | 0;
  throw new AsmError(`${what} ${n} does not fit in a signed 32-bit immediate${unsignedOk ? '' : ' (use ld64 for 64-bit constants)'}`);
}
