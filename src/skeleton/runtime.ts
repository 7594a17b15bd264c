// What a generated skeleton module (`tsbpf gen skeleton prog.o`) calls: it opens the object
// (embedded bytes or a file next to the module), checks that the object still has the layouts
// the module's types were generated from, and builds the skeleton — typed maps, programs by
// name, and one object per data section whose properties read and write the globals through
// their BTF types (before load: the initial values; after load: the kernel's live values).
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { valueCodec, type ValueCodec } from '../btf/codec.js';
import { BpfObject, type BpfObjectOptions, type LoadOptions } from '../object/object.js';
import type { BpfProgram } from '../programs/program.js';
import { typedMap, typedPerCpuMap } from '../maps/typed.js';
import { describeObject, namedType, type SkeletonDesc } from './layout.js';

/** Where the object's bytes are: embedded (base64) or a file (a URL relative to the module). */
export type SkeletonSource = { readonly base64: string } | { readonly url: URL | string };

/**
 * The part of a skeleton that is the same for every object; a generated module adds its typed
 * `maps`, `programs` and data sections (`rodata`, `bss`, `data`…) on top.
 */
export class Skeleton<Maps = Record<string, unknown>, Programs = Record<string, BpfProgram>, Types = Record<string, ValueCodec>> {
  /** The object underneath: its specs can still be edited before load (mapSpec, programSpec). */
  readonly object: BpfObject;
  /** Codecs of the types the module was generated with (`--type NAME`): `skel.types.event.decode(record)`. */
  readonly types: Types;
  readonly #desc: SkeletonDesc;
  #maps: Maps | undefined;
  #programs: Programs | undefined;

  /** @internal: use the generated module's open(). */
  constructor(object: BpfObject, desc: SkeletonDesc) {
    this.object = object;
    this.#desc = desc;
    const types: Record<string, ValueCodec> = {};
    for (const t of desc.types ?? []) types[t.name] = valueCodec(object.spec.btf!, namedType(object.spec.btf!, t.name));
    this.types = Object.freeze(types) as Types;
    for (const s of desc.sections) Object.defineProperty(this, s.prop, { value: this.#section(s), enumerable: true });
  }

  /** Creates the maps and loads the programs (see BpfObject.load). */
  load(opts?: LoadOptions): this {
    this.object.load(opts);
    return this;
  }

  get loaded(): boolean {
    return this.object.loaded;
  }

  /** Maps by name: typed views for maps with BTF key/value types, BpfMap for the rest. After load. */
  get maps(): Maps {
    if (this.#maps) return this.#maps;
    this.#needLoaded('maps');
    const spec = this.object.spec;
    const out: Record<string, unknown> = {};
    for (const m of this.#desc.maps) {
      const map = this.object.map(m.name);
      const mapSpec = spec.maps.get(m.name)!;
      const types = () => ({ btf: spec.btf!, keyType: mapSpec.btfKeyType ?? 0, valueType: mapSpec.btfValueType! });
      out[m.prop] = m.view === 'typed' ? typedMap(map, types()) : m.view === 'percpu' ? typedPerCpuMap(map, types()) : map;
    }
    return (this.#maps = out as Maps);
  }

  /** Programs by C function name. After load (only those loaded: autoload, load({ programs })). */
  get programs(): Programs {
    if (this.#programs) return this.#programs;
    this.#needLoaded('programs');
    const out: Record<string, BpfProgram> = {};
    for (const name of this.#desc.programs) {
      try {
        out[name] = this.object.program(name);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        // Not loaded (autoload off, or left out of load({ programs })): reading it says why.
        Object.defineProperty(out, name, { get: () => this.object.program(name), enumerable: false });
      }
    }
    return (this.#programs = out as Programs);
  }

  /** Closes the programs and maps (links stay with whoever holds them). */
  close(): void {
    this.object.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #needLoaded(what: string): void {
    if (!this.object.loaded)
      throw new UsageError(`skeleton '${this.#desc.name}': ${what} exist after load() (before it, edit the object through skel.object.mapSpec()/programSpec())`);
  }

  /** One data section's globals as properties: decoded on read, encoded on write. */
  #section(s: SkeletonDesc['sections'][number]): object {
    const obj = this.object;
    const btf = obj.spec.btf!;
    const view: Record<string, unknown> = {};
    for (const { name } of s.vars) {
      const codec = valueCodec(btf, obj.spec.variables.get(name)!.btfType!);
      Object.defineProperty(view, name, {
        enumerable: true,
        get: () => codec.decode(obj.global(name)),
        set: (value: unknown) => {
          const bytes = codec.toBytes(value as never, `${s.prop}.${name}`);
          if (s.constant) {
            if (obj.loaded) throw new UsageError(`${s.prop}.${name} is a constant (${s.map}): set it before load()`);
            obj.setConstant(name, bytes);
          } else obj.setGlobal(name, bytes);
        },
      });
    }
    return Object.seal(view);
  }
}

function bytesOf(source: SkeletonSource): { bytes: Uint8Array; path?: string } {
  if ('base64' in source) return { bytes: new Uint8Array(Buffer.from(source.base64, 'base64')) };
  const path = source.url instanceof URL ? fileURLToPath(source.url) : source.url;
  try {
    const b = readFileSync(path);
    return { bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength), path };
  } catch (e) {
    throw new UsageError(`skeleton: cannot read the BPF object ${path}: ${(e as Error).message}`);
  }
}

/** What differs between the layout a module was generated for and the object's. */
function layoutDiffs(want: SkeletonDesc, have: SkeletonDesc): string[] {
  const diffs: string[] = [];
  const maps = new Map(have.maps.map((m) => [m.name, m]));
  for (const m of want.maps) {
    const h = maps.get(m.name);
    if (!h) diffs.push(`map '${m.name}' is gone`);
    else if (h.view !== m.view || h.digest !== m.digest) diffs.push(`map '${m.name}' has other key/value types`);
  }
  for (const p of want.programs) if (!have.programs.includes(p)) diffs.push(`program '${p}' is gone`);
  const types = new Map((have.types ?? []).map((t) => [t.name, t.digest]));
  for (const t of want.types ?? []) if (types.get(t.name) !== t.digest) diffs.push(`type '${t.name}' ${types.has(t.name) ? 'has another layout' : 'is gone'}`);
  const vars = new Map(have.sections.flatMap((s) => s.vars.map((v) => [v.name, { ...v, map: s.map }] as const)));
  for (const s of want.sections)
    for (const v of s.vars) {
      const h = vars.get(v.name);
      if (!h || h.map !== s.map) diffs.push(`global '${v.name}' is no longer in ${s.map}`);
      else if (h.digest !== v.digest) diffs.push(`global '${v.name}' has another type`);
    }
  return diffs;
}

/**
 * Opens the object of a generated skeleton. The layout check makes an object rebuilt with other
 * types (after the module was generated from it) a UsageError listing what changed, instead of
 * values silently decoded with the old types.
 */
export function openSkeleton<S>(source: SkeletonSource, desc: SkeletonDesc, opts: BpfObjectOptions = {}): S {
  const { bytes, path } = bytesOf(source);
  const object = BpfObject.open(bytes, { name: desc.name, ...opts });
  let have: SkeletonDesc;
  try {
    have = describeObject(object.spec, (desc.types ?? []).map((t) => t.name));
  } catch (e) {
    // A type the module names is not in the object at all.
    have = describeObject(object.spec);
    if (!(e instanceof UsageError)) {
      object.close();
      throw e;
    }
  }
  const diffs = layoutDiffs(desc, have);
  if (diffs.length) {
    object.close();
    throw new UsageError(`skeleton '${desc.name}': ${path ?? 'the embedded object'} does not match the generated module (${diffs.join('; ')}); run tsbpf gen skeleton again`);
  }
  return new Skeleton(object, desc) as S;
}
