// A loaded program's instructions as the kernel keeps them after verification, disassembled,
// with the C source lines from the program's BTF line_info and function names from its
// func_info. The kernel's rewrites need a few names the object-file disassembler does not
// know: helper calls hold an address offset (named through /proc/kallsyms), map loads hold
// map ids, and some instructions are kernel-internal (per-CPU address moves).
import { readFileSync } from 'node:fs';
import { decode, formatInstruction, type Instruction } from '../asm/index.js';
import { loadKernelBtf, type Btf } from '../btf/index.js';
import { BpfMap, type BpfProgram } from '../index.js';
import { parsedBtfById, progExtInfo, type ProgLineInfo } from './kinfo.js';

export interface XlatedLine {
  /** Instruction index (ld_imm64 takes two). */
  index: number;
  /** The instruction bytes, hex. */
  bytes: string;
  text: string;
  /** Function starting here (func_info). */
  func?: string;
  /** Source position starting here (line_info). */
  source?: { file: string; line: number; col: number; text: string };
}

export interface XlatedDump {
  insns: XlatedLine[];
  /** Whether source lines were available. */
  lineInfo: boolean;
  note?: string;
}

const SLOT = 8;
const LD_IMM64 = 0x18;

let kallsyms: { base: bigint; byAddr: Map<bigint, string> } | null | undefined;

/** Helper and kernel function names by address, read once (only when a dump has calls). */
function symbols(): { base: bigint; byAddr: Map<bigint, string> } | null {
  if (kallsyms !== undefined) return kallsyms;
  kallsyms = null;
  try {
    const text = readFileSync('/proc/kallsyms', 'latin1');
    const byAddr = new Map<bigint, string>();
    let base: bigint | undefined;
    for (const line of text.split('\n')) {
      const sp1 = line.indexOf(' ');
      if (sp1 < 0) continue;
      const kind = line[sp1 + 1];
      if (kind !== 'T' && kind !== 't') continue;
      const rest = line.slice(sp1 + 3);
      const name = rest.split(/[\s\t]/)[0]!;
      const addr = BigInt(`0x${line.slice(0, sp1)}`);
      if (addr === 0n) continue; // kptr_restrict hides addresses: nothing to name
      if (name === '__bpf_call_base') base = addr;
      if (!byAddr.has(addr)) byAddr.set(addr, name);
    }
    if (base !== undefined) kallsyms = { base, byAddr };
  } catch {
    /* no kallsyms: calls stay numeric */
  }
  return kallsyms;
}

function hexBytes(b: Uint8Array): string {
  return Buffer.from(b).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

/** Kernel-internal encodings the ISA (and so src/asm) does not have. */
function internalText(b: Uint8Array): string {
  const code = b[0]!;
  const dst = b[1]! & 0xf;
  const src = b[1]! >> 4;
  const off = new DataView(b.buffer, b.byteOffset, 8).getInt16(2, true);
  // BPF_ALU64|BPF_MOV|BPF_X with off BPF_ADDR_PERCPU: the verifier's per-CPU address move.
  if (code === 0xbf && off === -1) return `r${dst} = &(void __percpu *)(r${src})`;
  return `<kernel-internal instruction, code 0x${code.toString(16).padStart(2, '0')}>`;
}

function mapLabel(id: number, names: Map<number, string>): string {
  let name = names.get(id);
  if (name === undefined) {
    try {
      const m = BpfMap.fromId(id);
      name = m.name;
      m.close();
    } catch {
      name = '';
    }
    names.set(id, name);
  }
  return `map[id:${id}${name ? ` ${name}` : ''}]`;
}

function describe(insn: Instruction, slot: number, raw: Uint8Array, mapNames: Map<number, string>, kfuncs: () => Btf | undefined): string {
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (insn.kind === 'ld_imm64' && (insn.src === 1 || insn.src === 2)) {
    const id = dv.getUint32(4, true);
    const base = `r${insn.dst} = ${mapLabel(id, mapNames)}`;
    return insn.src === 1 ? base : `${base}[0]+${dv.getUint32(12, true)}`;
  }
  let text = formatInstruction(insn, slot);
  if (insn.kind === 'jmp' && insn.op === 'call') {
    if (insn.src === 0) {
      const syms = symbols();
      const name = syms?.byAddr.get(syms.base + BigInt(insn.imm));
      if (name) text = `call ${name}#${insn.imm}`;
    } else if (insn.src === 2) {
      const k = kfuncs();
      try {
        const name = k?.name(insn.imm);
        if (name) text = `call kfunc ${name}#${insn.imm}`;
      } catch {
        /* not a vmlinux id */
      }
    }
  }
  // Jump targets as instruction numbers rather than object-file section offsets.
  return text.replace(/ <\.text\+0x([0-9a-f]+)>$/, (_m, hex: string) => ` <${parseInt(hex, 16) / SLOT}>`);
}

export function dumpXlated(prog: BpfProgram): XlatedDump {
  const bytes = prog.xlatedInstructions();
  if (bytes.length === 0)
    return { insns: [], lineInfo: false, note: 'the kernel did not return the instructions (kernel.kptr_restrict or missing privileges)' };
  let note: string | undefined;
  let btf: Btf | undefined;
  const lines = new Map<number, ProgLineInfo>();
  const funcs = new Map<number, number>();
  try {
    const ext = progExtInfo(prog.fd);
    if (ext.btfId) {
      btf = parsedBtfById(ext.btfId);
      for (const l of ext.lineInfo) if (!lines.has(l.insnOff)) lines.set(l.insnOff, l);
      for (const f of ext.funcInfo) funcs.set(f.insnOff, f.typeId);
    }
    if (!ext.btfId) note = 'the program has no BTF: no source lines';
    else if (!ext.lineInfo.length) note = 'the program was loaded without line_info: no source lines';
  } catch (e) {
    note = `source lines unavailable: ${(e as Error).message}`;
  }
  let kernelBtf: Btf | undefined | null;
  const kfuncs = (): Btf | undefined => {
    if (kernelBtf === undefined) {
      try {
        kernelBtf = loadKernelBtf();
      } catch {
        kernelBtf = null;
      }
    }
    return kernelBtf ?? undefined;
  };
  const mapNames = new Map<number, string>();
  const out: XlatedLine[] = [];
  for (let slot = 0; slot * SLOT < bytes.length; ) {
    const width = bytes[slot * SLOT] === LD_IMM64 ? 2 : 1;
    const raw = bytes.subarray(slot * SLOT, Math.min(bytes.length, (slot + width) * SLOT));
    let text: string;
    try {
      const [insn] = decode(raw);
      text = describe(insn!, slot, raw, mapNames, kfuncs);
    } catch {
      text = internalText(raw);
    }
    const line: XlatedLine = { index: slot, bytes: hexBytes(raw), text };
    const fn = funcs.get(slot);
    if (fn !== undefined && btf) line.func = btf.name(fn);
    const li = lines.get(slot);
    if (li && btf) {
      line.source = {
        file: safeString(btf, li.fileNameOff),
        line: li.line,
        col: li.col,
        text: safeString(btf, li.lineOff).trim(),
      };
    }
    out.push(line);
    slot += width;
  }
  return { insns: out, lineInfo: lines.size > 0, ...(note ? { note } : {}) };
}

function safeString(btf: Btf, off: number): string {
  try {
    return btf.strings.get(off);
  } catch {
    return '';
  }
}

/** bpftool-like text: function headers, `; source @ file:line` before the first instruction of each line. */
export function formatXlated(d: XlatedDump, opts: { bytes?: boolean } = {}): string {
  const out: string[] = [];
  const width = String(Math.max(0, (d.insns.at(-1)?.index ?? 0))).length;
  for (const l of d.insns) {
    if (l.func) out.push(`${out.length ? '\n' : ''}${l.func}:`);
    if (l.source) out.push(`; ${l.source.text} @ ${l.source.file.split('/').pop()}:${l.source.line}:${l.source.col}`);
    out.push(`${String(l.index).padStart(width)}: ${opts.bytes ? `(${l.bytes}) ` : ''}${l.text.replace(/\t/g, ' ')}`);
  }
  if (d.note) out.push(`; note: ${d.note}`);
  return out.join('\n');
}
