// tsbpf obj inspect|load
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../../index.js';
import { CoreRelocationError, CoreRelocator, loadKernelBtf, type Btf, type BtfKind } from '../../btf/index.js';
import { ElfFile, isAttachType, isProgramType, linkProgram, type ObjectSpec, type ProgramTypeOverride } from '../../elf/index.js';
import { TsbpfError, UsageError, withHint } from '../../errors.js';
import { btfTypeName as typeName, decodeValue, formatDecoded, type Decoded } from '../../btf/index.js';
import { type Verb, positionals, str, strs } from '../command.js';
import { CliUsageError, NotFoundError } from '../errors.js';
import { table } from '../output.js';
import { applySettings } from './source.js';
import { flagNames } from './map.js';

function rmdirQuiet(d: string): void {
  try {
    rmdirSync(d);
  } catch {
    /* not empty (a by-name map pinned there), or gone */
  }
}

const SHT: Record<number, string> = {
  0: 'NULL', 1: 'PROGBITS', 2: 'SYMTAB', 3: 'STRTAB', 4: 'RELA', 8: 'NOBITS', 9: 'REL',
  0x6fff4c03: 'LLVM_ADDRSIG', 0x6fff4c00: 'LLVM_ODRTAB',
};

function sectionFlags(f: number): string {
  return `${f & 1 ? 'W' : ''}${f & 2 ? 'A' : ''}${f & 4 ? 'X' : ''}`;
}

function readObject(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NotFoundError(`${file}: no such file`);
    throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** `--type NAME=TYPE[:ATTACH_TYPE]` for programs in sections that follow no SEC() convention. */
function programTypes(specs: string[], usage: string): Record<string, ProgramTypeOverride> | undefined {
  if (!specs.length) return undefined;
  const out: Record<string, ProgramTypeOverride> = {};
  for (const s of specs) {
    const m = /^([^=]+)=([a-z0-9_]+)(?::([a-z0-9_]+))?$/.exec(s);
    if (!m) throw new CliUsageError(`--type wants NAME=TYPE[:ATTACH_TYPE] (e.g. loads=xdp), got '${s}'`, usage);
    const [, name, type, attach] = m;
    if (!isProgramType(type!)) throw new CliUsageError(`--type ${name}: '${type}' is not a program type (xdp, sched_cls, socket_filter, ...)`, usage);
    if (attach !== undefined && !isAttachType(attach)) throw new CliUsageError(`--type ${name}: '${attach}' is not an attach type`, usage);
    out[name!] = { type: type!, ...(attach ? { expectedAttachType: attach as ProgramTypeOverride['expectedAttachType'] } : {}) };
  }
  return out;
}

function openObject(file: string, opts: { pinRoot?: string; types?: string[]; usage: string }): BpfObject {
  readObject(file); // a missing file is "not found", not a usage error
  const types = programTypes(opts.types ?? [], opts.usage);
  return BpfObject.open(file, { ...(opts.pinRoot ? { pinRoot: opts.pinRoot } : {}), ...(types ? { programTypes: types } : {}) });
}

interface CoreRow {
  program: string;
  insn: number;
  kind: string;
  local: string;
  result: 'ok' | 'poison' | 'error';
  target?: string;
  value?: string;
  error?: string;
}

function coreRelocations(spec: ObjectSpec): { rows: CoreRow[]; note?: string } {
  const rows: CoreRow[] = [];
  if (!spec.btf || !spec.btfExt || ![...spec.btfExt.coreRelos.values()].some((l) => l.length)) return { rows };
  let kernel: Btf;
  try {
    kernel = loadKernelBtf();
  } catch (e) {
    return { rows, note: `kernel BTF unavailable, CO-RE relocations not computed: ${(e as Error).message}` };
  }
  const relocator = new CoreRelocator(spec.btf, kernel);
  for (const p of spec.programs.values()) {
    let linked;
    try {
      linked = linkProgram(spec, p.name);
    } catch {
      continue;
    }
    for (const r of linked.coreRelos) {
      try {
        const res = relocator.compute(r);
        rows.push({
          program: p.name,
          insn: r.insnIndex,
          kind: r.kind,
          local: res.localSpec,
          result: res.poison ? 'poison' : 'ok',
          ...(res.targetSpec ? { target: res.targetSpec } : {}),
          ...(res.poison ? {} : { value: res.origValue === res.newValue ? `${res.newValue}` : `${res.origValue} -> ${res.newValue}` }),
        });
      } catch (e) {
        if (!(e instanceof TsbpfError)) throw e;
        rows.push({
          program: p.name,
          insn: r.insnIndex,
          kind: r.kind,
          local: e instanceof CoreRelocationError ? `${e.localType} "${e.accessStr}"` : r.accessStr,
          result: 'error',
          error: e instanceof CoreRelocationError ? e.reason : e.message,
        });
      }
    }
  }
  return { rows };
}

function inspect(file: string, types: string[], usage: string) {
  const bytes = readObject(file);
  const obj = openObject(file, { types, usage });
  const spec = obj.spec;
  const elf = new ElfFile(bytes);
  const btf = spec.btf;
  const tn = (id: number | undefined): string | undefined => (btf && id ? typeName(btf, id) : undefined);

  const sections = elf.sections.slice(1).map((s) => ({ index: s.index, name: s.name, type: SHT[s.type] ?? `0x${s.type.toString(16)}`, size: s.size, flags: sectionFlags(s.flags) }));
  const programs = [...spec.programs.values()].map((p) => {
    let linkedInsns: number | undefined;
    try {
      linkedInsns = linkProgram(spec, p.name).instructions.length / 8;
    } catch {
      linkedInsns = undefined;
    }
    return {
      name: p.name,
      section: p.sectionName,
      type: p.type ?? null,
      attachType: p.expectedAttachType ?? null,
      insns: p.instructions.length / 8,
      ...(linkedInsns !== undefined ? { linkedInsns } : {}),
      autoload: p.autoload,
      ...(p.attachTo ? { attachTo: p.attachTo } : {}),
    };
  });
  const subprograms = [...spec.subprograms.values()].map((p) => ({ name: p.name, insns: p.instructions.length / 8 }));
  const maps = [...spec.maps.values()].map((m) => ({
    name: m.name,
    kernelName: m.kernelName,
    kind: m.kind,
    type: m.type,
    keySize: m.keySize,
    valueSize: m.valueSize,
    maxEntries: m.maxEntries,
    flags: m.flags,
    flagNames: flagNames(m.flags),
    pinning: m.pinning,
    keyType: tn(m.btfKeyType) ?? null,
    valueType: tn(m.btfValueType) ?? null,
    ...(m.inner ? { inner: { type: m.inner.type, keySize: m.inner.keySize, valueSize: m.inner.valueSize, maxEntries: m.inner.maxEntries } } : {}),
    ...(m.initialSlots.length ? { initialSlots: m.initialSlots.map((s) => ({ ...s })) } : {}),
  }));
  const globals = [...spec.variables.values()].map((v) => {
    const data = spec.maps.get(v.map)?.data;
    const raw = data ? data.subarray(v.offset, v.offset + v.size) : undefined;
    let value: Decoded | undefined;
    if (raw && btf && v.btfType) {
      try {
        value = decodeValue(btf, v.btfType, raw);
      } catch {
        value = undefined;
      }
    }
    return {
      name: v.name,
      section: v.map,
      offset: v.offset,
      size: v.size,
      type: tn(v.btfType) ?? null,
      constant: v.constant,
      global: v.global,
      ...(raw ? { hex: Buffer.from(raw).toString('hex') } : {}),
      ...(value !== undefined ? { value } : {}),
    };
  });
  const externs = [...spec.externs.values()].map((e) => ({ name: e.name, kind: e.kind, weak: e.weak, function: e.isFunction }));
  let btfSummary: unknown = null;
  if (btf) {
    const byKind: Partial<Record<BtfKind, number>> = {};
    for (let id = 1; id <= btf.lastTypeId; id++) {
      const k = btf.kindOf(id);
      byKind[k] = (byKind[k] ?? 0) + 1;
    }
    const count = (m: Map<string, unknown[]> | undefined): number => [...(m?.values() ?? [])].reduce((a, l) => a + l.length, 0);
    btfSummary = {
      types: btf.lastTypeId,
      stringBytes: btf.header?.strLen ?? btf.strings.length,
      byKind,
      funcInfo: count(spec.btfExt?.funcInfo),
      lineInfo: count(spec.btfExt?.lineInfo),
      coreRelos: count(spec.btfExt?.coreRelos),
    };
  }
  const core = coreRelocations(spec);
  return {
    file,
    name: spec.name,
    license: spec.license,
    ...(spec.kernelVersion ? { kernelVersion: spec.kernelVersion } : {}),
    sections,
    programs,
    subprograms,
    maps,
    globals,
    externs,
    btf: btfSummary,
    core: core.rows,
    ...(core.note ? { coreNote: core.note } : {}),
  };
}

type Inspection = ReturnType<typeof inspect>;

function inspectText(r: Inspection): string {
  const out: string[] = [`object ${r.name} (${r.file}), license ${JSON.stringify(r.license)}`, ''];
  out.push('sections:', table(['IDX', 'NAME', 'TYPE', 'SIZE', 'FLAGS'], r.sections.map((s) => [s.index, s.name, s.type, s.size, s.flags || '-'])), '');
  out.push('programs:', r.programs.length ? table(['NAME', 'SECTION', 'TYPE', 'ATTACH TYPE', 'INSNS', 'LINKED', 'AUTOLOAD'], r.programs.map((p) => [p.name, p.section, p.type ?? '-', p.attachType ?? '-', p.insns, p.linkedInsns, p.autoload ? 'yes' : 'no'])) : '  none', '');
  if (r.subprograms.length) out.push('subprograms:', table(['NAME', 'INSNS'], r.subprograms.map((p) => [p.name, p.insns])), '');
  out.push('maps:', r.maps.length ? table(['NAME', 'TYPE', 'KEY', 'VALUE', 'MAX', 'FLAGS', 'PINNING', 'KERNEL NAME'], r.maps.map((m) => [m.name, m.type, `${m.keyType ?? '-'} (${m.keySize})`, `${m.valueType ?? '-'} (${m.valueSize})`, m.maxEntries, m.flagNames.join(',') || '-', m.pinning, m.kernelName])) : '  none', '');
  if (r.globals.length) out.push('globals:', table(['NAME', 'SECTION', 'TYPE', 'SIZE', 'CONST', 'VALUE'], r.globals.map((g) => [g.name, g.section, g.type ?? '-', g.size, g.constant ? 'yes' : 'no', g.value !== undefined ? formatDecoded(g.value) : (g.hex ?? '-')])), '');
  if (r.externs.length) out.push('externs:', table(['NAME', 'KIND', 'WEAK', 'FUNCTION'], r.externs.map((e) => [e.name, e.kind, e.weak ? 'yes' : 'no', e.function ? 'yes' : 'no'])), '');
  if (r.btf) {
    const b = r.btf as { types: number; stringBytes: number; byKind: Record<string, number>; funcInfo: number; lineInfo: number; coreRelos: number };
    out.push(`btf: ${b.types} types (${Object.entries(b.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}), ${b.stringBytes} string bytes; .BTF.ext: ${b.funcInfo} func_info, ${b.lineInfo} line_info, ${b.coreRelos} CO-RE relocations`);
  } else out.push('btf: none');
  if (r.core.length) {
    out.push('', 'CO-RE relocations against this kernel:');
    out.push(table(['PROGRAM', 'INSN', 'KIND', 'LOCAL', 'RESULT'], r.core.map((c) => [c.program, c.insn, c.kind, c.local, c.result === 'ok' ? `${c.target ?? '(no target)'} = ${c.value}` : c.result === 'poison' ? 'poison (no match: the instruction becomes an invalid call)' : `error: ${c.error}`])));
  }
  if (r.coreNote) out.push(`note: ${r.coreNote}`);
  return out.join('\n');
}

const inspectVerb: Verb = {
  name: 'obj inspect',
  usage: 'obj inspect FILE [--type NAME=TYPE[:ATTACH]]...',
  options: { type: { value: true, repeat: true } },
  summary: 'what an object file holds, and the CO-RE relocations it would get on this kernel',
  help: '--type NAME=TYPE[:ATTACH] gives the program type of a program whose section follows no SEC() convention.\n\nShows sections, programs (type, attach type, instruction counts), maps (types, BTF key/value types, pinning), globals with their initial values, externs, a BTF summary, and every CO-RE relocation computed against /sys/kernel/btf/vmlinux. Loads nothing.',
  run(args) {
    const [file] = positionals(args, 1, 1, this.usage);
    const r = inspect(file!, strs(args, 'type'), this.usage);
    return { data: r, human: () => inspectText(r) };
  },
};

const loadVerb: Verb = {
  name: 'obj load',
  usage: 'obj load FILE --pin-dir DIR [--set NAME=VALUE]... [--program NAME]... [--type NAME=TYPE[:ATTACH]]...',
  summary: 'load an object and pin its programs (DIR/progs/NAME) and maps (DIR/maps/NAME)',
  help: [
    '--pin-dir DIR     a directory on bpffs (created if needed); programs are pinned at',
    '                  DIR/progs/<function name>, maps at DIR/maps/<map name>; bpffs takes no',
    '                  dots, so data maps pin as DIR/maps/rodata, bss, data_counters. Maps declared',
    '                  LIBBPF_PIN_BY_NAME use DIR/maps as their pin root: a second load with',
    '                  the same DIR reuses them.',
    '--set NAME=VALUE  set a global before load (const volatile ones included). VALUE: an',
    '                  integer (42, -1, 0x2a), true/false, str:TEXT (zero-padded), hex:BYTES',
    '--program NAME    load only these programs (repeatable); default: every autoload program',
    '--type NAME=TYPE[:ATTACH]  program type (and expected attach type) for a program whose',
    '                  section follows no SEC() convention',
  ].join('\n'),
  options: { 'pin-dir': { value: true }, set: { value: true, repeat: true }, program: { value: true, repeat: true }, type: { value: true, repeat: true } },
  run(args) {
    const [file] = positionals(args, 1, 1, this.usage);
    const dir = str(args, 'pin-dir');
    if (!dir) throw new CliUsageError('--pin-dir DIR is required: the programs and maps are pinned there (otherwise they would vanish when this command exits)', this.usage);
    const obj = openObject(file!, { pinRoot: join(dir, 'maps'), types: strs(args, 'type'), usage: this.usage });
    try {
      applySettings(obj, strs(args, 'set'), file!);
      const wanted = strs(args, 'program');
      for (const n of wanted) if (!obj.spec.programs.has(n)) throw new NotFoundError(`${file} has no program named '${n}'; programs: ${[...obj.spec.programs.keys()].join(', ') || 'none'}`);
      const progNames = wanted.length ? wanted : [...obj.spec.programs.values()].filter((p) => p.autoload).map((p) => p.name);
      const progPath = (n: string): string => join(dir, 'progs', n);
      // bpffs refuses names with a '.': data maps pin as 'rodata', 'bss', 'data_counters'.
      const pinName = (n: string): string => n.replace(/^\./, '').replace(/\./g, '_');
      const mapPath = (n: string): string => join(dir, 'maps', pinName(n));
      const seen = new Map<string, string>();
      for (const m of obj.spec.maps.values()) {
        const other = seen.get(pinName(m.name));
        if (other !== undefined) throw new CliUsageError(`maps '${other}' and '${m.name}' would both pin at ${mapPath(m.name)}`, this.usage);
        seen.set(pinName(m.name), m.name);
      }
      // Refuse before loading anything rather than leave half an object pinned.
      for (const n of progNames) if (existsSync(progPath(n))) throw new CliUsageError(`${progPath(n)} already exists: unpin it (rm) or choose another --pin-dir`, this.usage);
      for (const m of obj.spec.maps.values())
        if (m.pinning !== 'by_name' && existsSync(mapPath(m.name))) throw new CliUsageError(`${mapPath(m.name)} already exists: unpin it (rm) or choose another --pin-dir`, this.usage);
      const createdDirs = [dir, join(dir, 'progs'), join(dir, 'maps')].filter((d) => !existsSync(d));
      mkdirSync(join(dir, 'progs'), { recursive: true });
      mkdirSync(join(dir, 'maps'), { recursive: true });
      try {
        obj.load(wanted.length ? { programs: wanted } : {});
      } catch (e) {
        // Leave no empty directories behind a load the kernel refused.
        for (const d of createdDirs.reverse()) rmdirQuiet(d);
        if (e instanceof TsbpfError && /follows no known SEC\(\) convention/.test(e.message)) throw withHint(e, 'on the command line: --type NAME=TYPE');
        throw e;
      }
      const pinned: { kind: 'prog' | 'map'; name: string; id: number; path: string; type: string; reused?: boolean }[] = [];
      const made: string[] = [];
      try {
        for (const spec of obj.spec.maps.values()) {
          const m = obj.map(spec.name);
          const path = mapPath(spec.name);
          const byName = spec.pinning === 'by_name';
          if (!byName) {
            m.pin(path);
            made.push(path);
          }
          pinned.push({ kind: 'map', name: spec.name, id: m.info().id, path, type: m.type, ...(byName ? { reused: m.pinnedPath !== path } : {}) });
        }
        for (const n of progNames) {
          const p = obj.program(n);
          p.pin(progPath(n));
          made.push(progPath(n));
          pinned.push({ kind: 'prog', name: n, id: p.info().id, path: progPath(n), type: p.type });
        }
      } catch (e) {
        for (const path of made) rmSync(path, { force: true });
        throw e;
      }
      return {
        data: { file, name: obj.spec.name, pinDir: dir, pinned },
        human: () => table(['KIND', 'NAME', 'ID', 'TYPE', 'PINNED AT'], pinned.map((p) => [p.kind, p.name, p.id, p.type, `${p.path}${p.reused ? ' (reused)' : ''}`])),
      };
    } finally {
      obj.close();
    }
  },
};

export const objVerbs: Verb[] = [inspectVerb, loadVerb];
