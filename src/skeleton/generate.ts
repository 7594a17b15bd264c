// `tsbpf gen skeleton prog.o`: a TypeScript module for one BPF object, as `bpftool gen skeleton`
// writes a C header. It holds an interface per struct/union its maps and globals use (named as
// in C), the skeleton's type (typed maps, programs by name, one object per data section), and
// the object's bytes (base64) or a path to them, so a tool is one import:
//
//   import { open } from './prog.skel.js';
//   using skel = open();
//   skel.rodata.drop_port = 53;          // .rodata settings, before load
//   skel.load();
//   skel.maps.flows.lookup({ saddr, dport });   // → { packets: bigint, bytes: bigint } | undefined
//   skel.bss.dropped;                    // .bss/.data globals, live after load
//   skel.programs.xdp_filter.attachXdp('eth0');
//
// The types come from the codecs the runtime decodes with (src/btf/codec.ts), so what the
// module says and what a lookup returns cannot disagree.
import { Buffer } from 'node:buffer';
import { basename } from 'node:path';
import { UsageError } from '../errors.js';
import { valueCodec, type ValueShape } from '../btf/codec.js';
import { openObjectSpec } from '../elf/index.js';
import type { ObjectSpec } from '../elf/spec.js';
import { describeObject, mapCodecs, namedType, sectionProp as sectionPropOf } from './layout.js';

export interface GenerateOptions {
  /** The module specifier the generated code imports tsbpf from. Default 'tsbpf'. */
  importFrom?: string;
  /**
   * Reference the object by this path, relative to the generated module (e.g. './prog.o'),
   * instead of embedding its bytes. The module then reads the file at open(), and refuses an
   * object whose types changed since generation.
   */
  objectPath?: string;
  /** The object's name (data map names, type names). Default: from `fileName`, else the object's. */
  name?: string;
  /** The file the object came from, named in the header comment. */
  fileName?: string;
  /**
   * More types to write interfaces for, by name (a struct, union, typedef or enum), with their
   * codecs under `skel.types`: ring buffer and perf event records, which BTF does not tie to a
   * map (`skel.types.event.decode(record)`).
   */
  types?: readonly string[];
}

// Names a generated interface may not take: TypeScript's reserved words and built-in types,
// and what the module imports or declares itself.
const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
    'instanceof new null return super switch this throw true try typeof var void while with as implements interface let package private ' +
    'protected public static yield any boolean number string symbol bigint object never unknown undefined type declare module namespace ' +
    'require global keyof infer readonly unique is asserts satisfies accessor Array Uint8Array Record Partial Readonly Object Function ' +
    'String Number Boolean Symbol BigInt Date Error Map Set Promise URL ' +
    'BpfMap BpfObjectOptions BpfProgram Init LoadOptions Skeleton SkeletonDesc TypedMap ValueCodec openSkeleton open load DESC OBJECT'
  ).split(' '),
);

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function pascal(s: string): string {
  const p = s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
  return /^[0-9]/.test(p) ? `_${p}` : p || 'Object';
}

/** Text from the object (names of sections, types, files) made safe inside a comment. */
function c(text: string): string {
  return text.replace(/\*\//g, '*\\/').replace(/[\r\n\u2028\u2029]/g, ' ');
}

function prop(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

class TypeWriter {
  /** Interface names by resolved BTF type id. */
  readonly #names = new Map<number, string>();
  readonly #taken = new Set<string>(RESERVED);
  readonly #decls: string[] = [];

  constructor(reserved: Iterable<string>) {
    for (const r of reserved) this.#taken.add(r);
  }

  get declarations(): string[] {
    return this.#decls;
  }

  /** The TypeScript type of a shape; named structs and unions become interfaces (once each). */
  type(s: ValueShape, indent = ''): string {
    switch (s.kind) {
      case 'number':
      case 'bigint':
      case 'boolean':
      case 'string':
        return s.kind;
      case 'bytes':
        return 'Uint8Array';
      case 'enum': {
        const names = s.names.map((n) => JSON.stringify(n));
        return [...names, s.big ? 'bigint' : 'number'].join(' | ');
      }
      case 'array': {
        const of = this.type(s.of, indent);
        return /[|{]/.test(of) ? `(${of})[]` : `${of}[]`;
      }
      case 'object': {
        if (!s.name) return this.#literal(s, indent);
        let name = this.#names.get(s.typeId);
        if (name === undefined) {
          name = IDENT.test(s.name) ? s.name : `_${s.name.replace(/[^A-Za-z0-9_$]/g, '_')}`;
          while (this.#taken.has(name)) name = `${name}_`;
          this.#taken.add(name);
          this.#names.set(s.typeId, name);
          const body = this.#members(s, '');
          this.#decls.push(`/** ${s.union ? 'union' : 'struct'} ${c(s.name)}${s.union ? ' (decoded: every member, as the bytes read as each; encoded: at most one)' : ''} */\nexport interface ${name} {\n${body}}\n`);
        }
        return name;
      }
    }
  }

  #members(s: Extract<ValueShape, { kind: 'object' }>, indent: string): string {
    return s.fields.map(([n, f]) => `${indent}  ${prop(n)}: ${this.type(f, `${indent}  `)};\n`).join('');
  }

  #literal(s: Extract<ValueShape, { kind: 'object' }>, indent: string): string {
    if (s.fields.length === 0) return 'Record<string, never>';
    return `{\n${this.#members(s, indent)}${indent}}`;
  }

  /** A name for a generated type, avoiding every C name used. */
  reserve(name: string): string {
    let n = name;
    while (this.#taken.has(n)) n = `${n}_`;
    this.#taken.add(n);
    return n;
  }
}

function base64Lines(bytes: Uint8Array): string {
  const b64 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 100) lines.push(`  '${b64.slice(i, i + 100)}',`);
  return lines.join('\n');
}

/** Writes the skeleton module of an object file's bytes (no privileges needed). */
export function generateSkeleton(object: Uint8Array, opts: GenerateOptions = {}): string {
  if (!(object instanceof Uint8Array)) throw new UsageError('generateSkeleton takes the bytes of a BPF object file');
  const name = opts.name ?? (opts.fileName ? basename(opts.fileName).replace(/\..*$/, '') : undefined);
  const spec: ObjectSpec = openObjectSpec(object, name !== undefined ? { name } : {});
  const btf = spec.btf;
  if (!btf) throw new UsageError(`${opts.fileName ?? 'the object'} has no BTF (build it with clang -g): a skeleton's types come from BTF`);
  const desc = describeObject(spec, opts.types ?? []);
  const importFrom = opts.importFrom ?? 'tsbpf';
  const base = pascal(spec.name);

  // C names first: interfaces keep them, the skeleton's own types step aside.
  const w = new TypeWriter([]);
  const mapLines: string[] = [];
  for (const m of desc.maps) {
    const mapSpec = spec.maps.get(m.name)!;
    let t: string;
    if (m.view === 'bytes') t = `BpfMap<'${mapSpec.type}'>`;
    else {
      const c = mapCodecs(btf, mapSpec);
      const k = c.key ? w.type(c.key.shape, '  ') : 'null';
      const v = w.type(c.value.shape, '  ');
      t = m.view === 'percpu' ? `TypedMap<${k}, ${v}, ${/[|{]/.test(v) ? `(${v})` : v}[]>` : `TypedMap<${k}, ${v}>`;
    }
    const why = m.view !== 'bytes' ? '' : mapSpec.kind === 'data' ? ` (its globals: skel.${sectionPropOf(m.name)})` : m.why ? ` (byte-level: ${m.why})` : '';
    mapLines.push(`  /** ${mapSpec.type} map '${c(m.name)}'${c(why)} */\n  readonly ${prop(m.prop)}: ${t};\n`);
  }
  const sectionDecls: { prop: string; iface: string; body: string; constant: boolean; map: string }[] = [];
  for (const s of desc.sections) {
    // Reads give the decoded type; writes take what the encoder accepts (a number for a u64…).
    const body = s.vars
      .map((v) => {
        const t = w.type(valueCodec(btf, spec.variables.get(v.name)!.btfType!).shape, '  ');
        return `  get ${prop(v.name)}(): ${t};\n  set ${prop(v.name)}(value: Init<${t}>);\n`;
      })
      .join('');
    sectionDecls.push({ prop: s.prop, iface: '', body, constant: s.constant, map: s.map });
  }
  const typeLines = (desc.types ?? []).map((t) => `  readonly ${prop(t.name)}: ValueCodec<${w.type(valueCodec(btf, namedType(btf, t.name)).shape, '  ')}>;\n`);
  const mapsName = w.reserve(`${base}Maps`);
  const progsName = w.reserve(`${base}Programs`);
  const typesName = w.reserve(`${base}Types`);
  const skelName = w.reserve(`${base}Skeleton`);
  for (const s of sectionDecls) s.iface = w.reserve(`${base}${pascal(s.prop)}`);

  const out: string[] = [];
  out.push(`// Generated by \`tsbpf gen skeleton${opts.fileName ? ` ${c(basename(opts.fileName))}` : ''}\` from the object's BTF: do not edit, regenerate.`);
  out.push(`// Object '${c(spec.name)}': ${desc.maps.length} maps, ${desc.programs.length} programs, ${desc.sections.reduce((n, s) => n + s.vars.length, 0)} globals; ${opts.objectPath ? `read from ${c(opts.objectPath)} (next to this module)` : 'its bytes are embedded below'}.`);
  for (const u of desc.untyped ?? []) out.push(`// Global '${c(u.name)}' is left out (read it with skel.object.global(${c(JSON.stringify(u.name))})): ${c(u.why)}`);
  out.push(`import { openSkeleton, type BpfMap, type BpfObjectOptions, type BpfProgram, type Init, type LoadOptions, type Skeleton, type SkeletonDesc, type TypedMap, type ValueCodec } from ${JSON.stringify(importFrom)};`);
  out.push('');
  out.push(...w.declarations);
  out.push(`export interface ${mapsName} {\n${mapLines.join('')}}\n`);
  out.push(`export interface ${progsName} {\n${desc.programs.map((p) => `  readonly ${prop(p)}: BpfProgram;\n`).join('')}}\n`);
  out.push(`/** Codecs of the types named when generating (--type): decode(bytes), toBytes(value). */\nexport interface ${typesName} {\n${typeLines.join('')}}\n`);
  for (const s of sectionDecls)
    out.push(
      `/** Globals in ${c(s.map)}: ${s.constant ? 'set before load() (constants to the verifier); read-only after' : 'initial values before load(), the live values after'}. Each read decodes a copy: assign a whole variable to change it. */\nexport interface ${s.iface} {\n${s.body}}\n`,
    );
  const sectionProps = sectionDecls.map((s) => `  readonly ${prop(s.prop)}: ${s.iface};\n`).join('');
  out.push(`export type ${skelName} = Skeleton<${mapsName}, ${progsName}, ${typesName}>${sectionProps ? ` & {\n${sectionProps}}` : ''};\n`);
  out.push(`const DESC: SkeletonDesc = ${JSON.stringify(desc, null, 2)};\n`);
  if (opts.objectPath) out.push(`const OBJECT = { url: new URL(${JSON.stringify(opts.objectPath)}, import.meta.url) };\n`);
  else out.push(`const OBJECT = {\n  base64: [\n${base64Lines(object).replace(/^/gm, '  ')}\n  ].join(''),\n};\n`);
  out.push(`/** Opens the object (no privileges needed): set constants, edit specs, then load(). */`);
  out.push(`export function open(opts?: BpfObjectOptions): ${skelName} {\n  return openSkeleton<${skelName}>(OBJECT, DESC, opts);\n}\n`);
  out.push(`/** open() and load() in one. */`);
  out.push(`export function load(opts?: BpfObjectOptions, loadOpts?: LoadOptions): ${skelName} {\n  const skel = open(opts);\n  try {\n    return skel.load(loadOpts);\n  } catch (e) {\n    skel.close();\n    throw e;\n  }\n}\n`);
  return out.join('\n');
}
