// BpfObject: an ELF object opened into a spec (pure, no privileges), then loaded the way
// libbpf loads it — BTF, maps (pinned ones reused), kconfig and ksyms, CO-RE, map fds
// patched in, programs loaded with func_info/line_info, declarative map slots filled.
import { basename } from 'node:path';
import { BtfError, ClosedError, UsageError, VerifierError, withContext, withHint } from '../errors.js';
import {
  Btf,
  CoreRelocator,
  btfFeaturesUsed,
  type BtfFeatures,
  decodeValue,
  type Decoded,
  applyCoreRelocation,
  sanitizeBtf,
  type CoreRelo,
  type FuncInfo,
  type LineInfo,
} from '../btf/index.js';
import {
  copyObjectSpec,
  getVariable,
  linkProgram,
  objectNameFromPath,
  openObjectSpec,
  setVariable,
  type LinkedProgram,
  type MapSpec,
  type ObjectSpec,
  type OpenObjectOptions,
  type ProgramSpec,
} from '../elf/index.js';
import { BpfMap } from '../maps/index.js';
import { fdOf, type FdLike } from '../maps/create.js';
import { checkMapCompatible } from '../maps/spec.js';
import { features } from '../features/index.js';
import type { BtfFeature } from '../features/catalog.js';
import { closeOnError } from '../syscall/kernel-object.js';
import { BpfProgram } from '../programs/index.js';
import { BPF_PSEUDO_BTF_ID, BPF_PSEUDO_KFUNC_CALL, bpf_map_create_flags } from '../syscall/abi/bpf.js';
import { BPF_CALL, INSN_SIZE, setInsnImm, setInsnSrc } from '../elf/insn.js';
import { findKernelTarget, findProgramTarget, kernelTargetMissing, moduleBtfFd } from '../link/targets.js';
import { closeFd } from '../syscall/libc.js';
import { runSteps, runStepsAsync, type Steps } from '../syscall/steps.js';
import { BtfHandle } from './btf-handle.js';
import { kernelBtf } from './kernel-btf.js';
import { readObjectFile } from './read-object.js';
import { fillKconfig, type KconfigValues } from './kconfig.js';
import { resolveKsym, type KsymResolution } from './ksyms.js';


export interface BpfObjectOptions extends OpenObjectOptions {
  /** Directory for maps declared with `pinning = LIBBPF_PIN_BY_NAME`. Default `/sys/fs/bpf`. */
  pinRoot?: string;
  /** Target BTF for CO-RE and ksyms: a path, raw bytes or a parsed Btf. Default: the running kernel's. */
  kernelBtf?: string | Uint8Array | Btf;
  /** Values for `__kconfig` externs, overriding the running kernel's configuration. */
  kconfig?: Record<string, string>;
}

export interface LoadOptions {
  /** Load only these programs (by C function name); default: every program marked autoload. */
  programs?: readonly string[];
  /**
   * Existing maps to use instead of creating the declared ones, by map name (cilium/ebpf's
   * MapReplacements, libbpf's bpf_map__reuse_fd): each must be compatible with its spec (type,
   * sizes, max entries, flags), is used as it is (no initial data written, no pin made), and
   * stays the caller's — the object works on a duplicate of its fd.
   */
  mapReplacements?: Readonly<Record<string, FdLike>>;
}

// The BTF probe (src/features) behind each sanitizer switch.
const BTF_PROBE: Record<keyof BtfFeatures, BtfFeature> = {
  func: 'func',
  funcGlobal: 'func_global',
  datasec: 'datasec',
  float: 'float',
  declTag: 'decl_tag',
  typeTag: 'type_tag',
  enum64: 'enum64',
};

export class BpfObject {
  /** The spec this object was opened with: edit it before load(). load() works on a copy, so
   * the spec stays as it is and can be loaded again (BpfObject.fromSpec). */
  readonly spec: ObjectSpec;
  /** The copy the last load() worked on (kconfig filled in); undefined before. */
  #loaded: ObjectSpec | undefined;
  /** What the kernel takes of the object's BTF (probed at load; all true without BTF). */
  #btfFeatures: Partial<BtfFeatures> = {};
  readonly #opts: BpfObjectOptions;
  readonly #maps = new Map<string, BpfMap>();
  readonly #programs = new Map<string, BpfProgram>();
  readonly #globalsViews = new Map<string, Uint8Array>();
  #btfHandle: BtfHandle | undefined;
  #kernelBtf: Btf | undefined;
  #state: 'open' | 'loaded' | 'closed' = 'open';
  /** A load is under way (a loadAsync waiting for the verifier): no second one may start. */
  #loading = false;

  private constructor(spec: ObjectSpec, opts: BpfObjectOptions) {
    this.spec = spec;
    this.#opts = opts;
  }

  /** Parses an object file (a path or its bytes). Needs no privileges and loads nothing. */
  static open(pathOrBytes: string | Uint8Array, opts: BpfObjectOptions = {}): BpfObject {
    let bytes: Uint8Array;
    let name = opts.name;
    if (typeof pathOrBytes === 'string') {
      try {
        // A reused buffer (the spec keeps no view of it), and a plain Uint8Array: the parsers
        // then see one array shape (Buffer is a subclass), which keeps their reads monomorphic.
        bytes = readObjectFile(pathOrBytes);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new UsageError(`cannot read BPF object ${pathOrBytes}: ${(e as Error).message}`, {
          cause: e,
          ...(typeof code === 'string' ? { code } : {}),
        });
      }
      name ??= objectNameFromPath(basename(pathOrBytes));
    } else if (pathOrBytes instanceof Uint8Array) bytes = pathOrBytes;
    else throw new UsageError('BpfObject.open takes a file path or the object bytes (Uint8Array)');
    const specOpts = { ...opts, ...(name !== undefined ? { name } : {}) };
    if (typeof pathOrBytes !== 'string') return new BpfObject(openObjectSpec(bytes, specOpts), opts);
    try {
      return new BpfObject(openObjectSpec(bytes, specOpts), opts);
    } catch (e) {
      // The parser sees bytes only: say which file they came from (same class, same fields).
      throw withContext(e, `BPF object ${pathOrBytes}`);
    }
  }

  /** An object over a spec already opened (`obj.spec` of another object, edited or not): the
   * same spec loads any number of times, each load the same way. */
  static fromSpec(spec: ObjectSpec, opts: BpfObjectOptions = {}): BpfObject {
    if (spec === null || typeof spec !== 'object' || !(spec.programs instanceof Map) || !(spec.maps instanceof Map))
      throw new UsageError('BpfObject.fromSpec needs an ObjectSpec (the spec of an opened BpfObject)');
    return new BpfObject(spec, opts);
  }

  /** The object's parsed BTF (DATASECs fixed up), if it has any. */
  get btf(): Btf | undefined {
    return this.spec.btf;
  }

  get loaded(): boolean {
    return this.#state === 'loaded';
  }

  /** Loaded programs, in the object's order. Empty before `load()`. */
  get programs(): BpfProgram[] {
    return [...this.#programs.values()];
  }

  /** Maps: declared ones by variable name, data maps by section name ('.rodata', '.bss'...). */
  get maps(): BpfMap[] {
    return [...this.#maps.values()];
  }

  /** A loaded program by its C function name. */
  program(name: string): BpfProgram {
    const p = this.#programs.get(name);
    if (p) return p;
    this.#checkOpen();
    if (this.#state === 'open') throw new UsageError(`program '${name}': the object is not loaded yet (call load(); programSpec('${name}') edits it before load)`);
    const known = [...this.spec.programs.keys()];
    throw new UsageError(
      this.spec.programs.has(name)
        ? `program '${name}' was not loaded (autoload off, or not selected in load({ programs }))`
        : `no program named '${name}' in object '${this.spec.name}'; programs: ${known.join(', ') || 'none'}`,
    );
  }

  /** A map by variable name, or a data map by section name ('.data', '.rodata', '.bss', '.data.counters'). */
  map(name: string): BpfMap {
    const m = this.#maps.get(name);
    if (m) return m;
    this.#checkOpen();
    if (this.#state === 'open') throw new UsageError(`map '${name}': the object is not loaded yet (call load(); mapSpec('${name}') edits it before load)`);
    throw new UsageError(`no map named '${name}' in object '${this.spec.name}'; maps: ${[...this.#maps.keys()].join(', ') || 'none'}`);
  }

  /** A program's spec, to edit before load (type, expectedAttachType, flags, autoload). */
  programSpec(name: string): ProgramSpec {
    const p = this.spec.programs.get(name);
    if (!p) throw new UsageError(`no program named '${name}' in object '${this.spec.name}'; programs: ${[...this.spec.programs.keys()].join(', ') || 'none'}`);
    return p;
  }

  /** A map's spec, to edit before load (maxEntries, flags, pinning, inner map...). */
  mapSpec(name: string): MapSpec {
    const m = this.spec.maps.get(name);
    if (!m) throw new UsageError(`no map named '${name}' in object '${this.spec.name}'; maps: ${[...this.spec.maps.keys()].join(', ') || 'none'}`);
    return m;
  }

  /**
   * Overrides a `const volatile` global (in `.rodata*`) before load. Numbers and bigints are
   * written little-endian in the variable's size (from BTF/the symbol); byte arrays must match it.
   */
  setConstant(name: string, value: number | bigint | boolean | Uint8Array): this {
    this.#checkOpen();
    if (this.#state !== 'open') throw new UsageError(`setConstant('${name}'): the object is already loaded; constants are fixed at load (use setGlobal for .data/.bss)`);
    const v = this.spec.variables.get(name);
    if (v && !v.constant) throw new UsageError(`'${name}' is in ${v.map}, not a read-only section: use setGlobal('${name}', …)`);
    setVariable(this.spec, name, value);
    return this;
  }

  /**
   * Writes a global variable: before load, its initial value (any data section); after load,
   * the live value in the kernel (`.data`, `.bss` and custom writable sections).
   */
  setGlobal(name: string, value: number | bigint | boolean | Uint8Array): this {
    this.#checkOpen();
    if (this.#state === 'open') {
      setVariable(this.spec, name, value);
      return this;
    }
    const v = this.#variable(name);
    const mapSpec = this.#loaded!.maps.get(v.map)!;
    if (mapSpec.freeze) throw new UsageError(`'${name}' is in ${v.map}, which is frozen after load: set it with setConstant before load()`);
    const bytes = encodeValue(name, v.size, value);
    const live = this.#liveView(v.map);
    if (live) live.set(bytes, v.offset);
    else {
      const map = this.map(v.map);
      const cur = map.lookup(new Uint8Array(4)) as Uint8Array;
      cur.set(bytes, v.offset);
      map.update(new Uint8Array(4), cur);
    }
    return this;
  }

  /** A global variable's bytes: the initial value before load, the live kernel value after. */
  global(name: string): Uint8Array {
    this.#checkOpen();
    if (this.#state === 'open') return getVariable(this.spec, name);
    const v = this.#variable(name);
    const live = this.#liveView(v.map);
    if (live) return live.slice(v.offset, v.offset + v.size);
    const cur = this.map(v.map).lookup(new Uint8Array(4)) as Uint8Array;
    return cur.slice(v.offset, v.offset + v.size);
  }

  /**
   * A global variable decoded through its BTF type: integers as numbers (bigints past 2^53),
   * structs as objects, arrays as lists, char arrays as strings, enums by name. Live after load.
   */
  globalValue(name: string): Decoded {
    const v = this.#variable(name);
    const btf = this.spec.btf;
    if (!btf || v.btfType === undefined) throw new UsageError(`variable '${name}' has no BTF type to decode it with; read its bytes with global('${name}')`);
    return decodeValue(btf, v.btfType, this.global(name));
  }

  /**
   * Creates the maps and loads the programs, from a copy of `spec` (which load never changes).
   * On failure, everything created is released.
   */
  load(opts: LoadOptions = {}): this {
    return runSteps(this.#loadSteps(opts));
  }

  /**
   * load() with the programs' verification off the main thread (koffi's worker pool), one
   * program after another: the event loop keeps turning while the verifier runs. The same
   * result and the same errors as load() (VerifierError with the log, BpfError, UsageError),
   * as a rejection. Maps and BTF are created in between, on this thread (microseconds each).
   * close() while it runs releases what was made; the load then rejects with ClosedError.
   */
  loadAsync(opts: LoadOptions = {}): Promise<this> {
    return runStepsAsync(this.#loadSteps(opts));
  }

  /** load() as a task (src/syscall/steps.ts): each BPF_PROG_LOAD is a step. */
  *#loadSteps(opts: LoadOptions): Steps<this> {
    this.#checkOpen();
    if (this.#state === 'loaded') throw new UsageError('this object is already loaded');
    if (this.#loading) throw new UsageError('this object is being loaded (a loadAsync() has not finished)');
    const spec = copyObjectSpec(this.spec);
    const selected = this.#selectPrograms(spec, opts.programs);
    this.#checkSlots(spec, selected);
    const replacements = this.#replacements(spec, opts.mapReplacements);
    // Attach targets first: an unknown target function is a UsageError before anything is created.
    const targets = this.#resolveTargets(selected);
    this.#loaded = spec;
    this.#loading = true;
    try {
      this.#loadBtf(spec);
      this.#createMaps(spec, replacements);
      for (const p of selected) {
        yield* this.#loadProgram(spec, p, targets.get(p.name));
        // Closed while the kernel was verifying (only an async load can be).
        this.#checkOpen();
      }
      this.#fillSlots(spec);
      this.#state = 'loaded';
      return this;
    } catch (e) {
      this.#release();
      this.#loaded = undefined;
      throw e;
    } finally {
      this.#loading = false;
    }
  }

  /** Closes every map, program and BTF fd the object owns. Pinned objects stay pinned. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    // A loadAsync in flight: the kernel may be reading map fds by number in the program being
    // verified. Closing them now could make that load fail, or (with the numbers reused) bind
    // it to someone else's map; the load releases everything when its step returns.
    if (this.#loading) return;
    this.#release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  // ---- load steps ----

  #selectPrograms(spec: ObjectSpec, names: readonly string[] | undefined): ProgramSpec[] {
    if (!names) return [...spec.programs.values()].filter((p) => p.autoload);
    return names.map((n) => {
      this.programSpec(n); // a UsageError naming the programs there are
      return spec.programs.get(n)!;
    });
  }

  #replacements(spec: ObjectSpec, given: LoadOptions['mapReplacements']): Map<string, FdLike> {
    const out = new Map<string, FdLike>();
    if (given === undefined) return out;
    if (given === null || typeof given !== 'object') throw new UsageError('mapReplacements must be an object: { mapName: map }');
    for (const [name, m] of Object.entries(given)) {
      if (!spec.maps.has(name))
        throw new UsageError(`mapReplacements: no map named '${name}' in object '${spec.name}'; maps: ${[...spec.maps.keys()].join(', ') || 'none'}`);
      out.set(name, m);
    }
    return out;
  }

  #kernel(): Btf {
    if (this.#kernelBtf) return this.#kernelBtf;
    const k = this.#opts.kernelBtf;
    if (k instanceof Btf) this.#kernelBtf = k;
    else if (k instanceof Uint8Array) this.#kernelBtf = Btf.parse(k);
    else this.#kernelBtf = kernelBtf(k);
    return this.#kernelBtf;
  }

  /**
   * Loads the object's BTF, sanitised for this kernel as libbpf does: a kind the kernel lacks
   * (FLOAT, DECL_TAG, TYPE_TAG, ENUM64, global func linkage…) is rewritten as an older kind of
   * the same size. Only the kinds the object uses are probed (once per process).
   */
  #loadBtf(spec: ObjectSpec): void {
    const btf = spec.btf;
    if (!btf) return;
    const supported: Partial<BtfFeatures> = {};
    for (const f of btfFeaturesUsed(btf)) supported[f] = features.btfKind(BTF_PROBE[f]).status !== 'absent';
    this.#btfFeatures = supported;
    this.#btfHandle = BtfHandle.load(sanitizeBtf(btf, supported).encode());
  }

  #createMaps(spec: ObjectSpec, replacements: ReadonlyMap<string, FdLike>): void {
    const kconfig = spec.maps.get('.kconfig');
    if (kconfig?.data) {
      const overrides = this.#opts.kconfig;
      let values: KconfigValues | undefined;
      if (overrides) {
        const base = new Map(kconfigDefaults());
        for (const [k, v] of Object.entries(overrides)) base.set(k, v);
        values = base;
      }
      fillKconfig(kconfig.data, spec.externs.values(), values);
    }
    for (const m of spec.maps.values()) {
      const replacement = replacements.get(m.name);
      this.#maps.set(m.name, replacement !== undefined ? this.#replacementMap(m, replacement) : this.#createMap(m));
    }
  }

  #createMap(spec: MapSpec): BpfMap {
    const btf = this.#btfHandle;
    return BpfMap.fromSpec(spec, {
      ...(btf ? { btf } : {}),
      ...(this.#opts.pinRoot !== undefined ? { pinRoot: this.#opts.pinRoot } : {}),
    });
  }

  /** The object's own handle on a caller's map standing in for a declared one. */
  #replacementMap(spec: MapSpec, given: FdLike): BpfMap {
    const map = BpfMap.fromFd(fdOf(given, `mapReplacements['${spec.name}']`));
    return closeOnError(map, () => {
      checkMapCompatible(map.info(), spec, 'the replacement map', `pass a map made from this spec (BpfMap.fromSpec(obj.mapSpec('${spec.name}')))`);
      return map;
    });
  }

  /**
   * Sets what a BTF-targeted program attaches to, before load (libbpf's
   * `bpf_program__set_attach_target`): a kernel function by name for fentry/fexit/fmod_ret/
   * lsm/iter/tp_btf (`'module:function'` searches one kernel module), or, with `program`, a
   * global function of a loaded BPF program — what freplace needs, and fentry/fexit can use.
   * The same as assigning `programSpec(name).attachTarget`.
   */
  setAttachTarget(name: string, target: { function?: string; program?: { readonly fd: number } | number }): this {
    this.#checkOpen();
    if (this.#state !== 'open') throw new UsageError(`setAttachTarget('${name}'): the object is already loaded; a target is fixed at load`);
    const p = this.programSpec(name);
    if (!needsBtfTarget(p))
      throw new UsageError(`program '${name}' (section '${p.sectionName}') has no BTF attach target; only fentry/fexit/fmod_ret/freplace/lsm/iter/tp_btf programs do (or a program whose type was set to 'ext', as libxdp makes its components)`);
    if (!target || typeof target !== 'object') throw new UsageError(`setAttachTarget('${name}', { function?, program? })`);
    if (target.function !== undefined && (typeof target.function !== 'string' || target.function === ''))
      throw new UsageError(`setAttachTarget('${name}'): function must be a non-empty string`);
    if (target.function === undefined && target.program === undefined) throw new UsageError(`setAttachTarget('${name}'): give a function, a program, or both`);
    p.attachTarget = { ...target };
    return this;
  }

  /**
   * Resolves every selected program's BTF attach target, as libbpf does: vmlinux, then kernel
   * modules; or a function of a loaded BPF program (freplace). Reads BTF only — except for a
   * target program's BTF, which the kernel holds.
   */
  #resolveTargets(selected: readonly ProgramSpec[]): Map<string, ResolvedTarget> {
    const out = new Map<string, ResolvedTarget>();
    for (const p of selected) {
      if (!needsBtfTarget(p)) continue;
      const what = `program '${p.name}' (section '${p.sectionName}')`;
      const override = p.attachTarget;
      const fn = override?.function ?? p.attachTo;
      if (override?.program !== undefined) {
        const fd = typeof override.program === 'number' ? override.program : override.program?.fd;
        if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new UsageError(`${what}: attachTarget.program must be a loaded program or its fd`);
        if (!fn) throw new UsageError(`${what}: attachTarget needs the function of the target program to attach to`);
        const t = findProgramTarget(fd, fn, what);
        if (p.type === 'ext' && t.linkage !== 'global')
          throw new UsageError(`${what}: function '${fn}' of program ${t.progId} is ${t.linkage}; freplace can only replace global functions`);
        out.set(p.name, { attachBtfId: t.btfId, attachProgFd: fd });
        continue;
      }
      if (p.type === 'ext')
        throw new UsageError(
          `${what}: an freplace program needs its target program: obj.setAttachTarget('${p.name}', { program: targetProg${fn ? '' : ", function: 'name'"} }) before load`,
        );
      if (!fn) throw new UsageError(`${what} needs an attach target in its section name, or setAttachTarget('${p.name}', { function })`);
      // The running kernel's BTF, whatever `kernelBtf` CO-RE uses: these ids go to this kernel.
      const t = findKernelTarget(p.expectedAttachType, fn, kernelBtf());
      if (!t) throw kernelTargetMissing(what, p.expectedAttachType, fn);
      out.set(p.name, { attachBtfId: t.btfId, ...(t.module !== undefined ? { module: t.module } : {}) });
    }
    return out;
  }

  *#loadProgram(spec: ObjectSpec, p: ProgramSpec, target: ResolvedTarget | undefined): Steps<void> {
    if (!p.type)
      throw new UsageError(
        `program '${p.name}' (section '${p.sectionName}') has no program type: its section follows no known SEC() convention (libbpf: "missing BPF prog type"); ` +
          `give one at open with programTypes: { ${JSON.stringify(p.name)}: { type: 'xdp' } }, or before load with programSpec(${JSON.stringify(p.name)}).type = 'xdp', ` +
          `or leave it out with load({ programs: [...] })`,
      );
    const linked = linkProgram(spec, p.name);
    const insns = linked.instructions.slice();
    this.#applyCore(spec, p, linked, insns);
    const missingKfuncs = this.#patchRelocations(spec, linked, insns);
    // func_info and line_info point into BTF FUNCs: a kernel without them gets neither.
    const btf = this.#btfHandle && this.#btfFeatures.func !== false ? this.#extInfo(linked) : undefined;
    // A module's BTF object is held open only through the load (the program keeps its own reference).
    const btfObjFd = target?.module !== undefined ? moduleBtfFd(target.module) : undefined;
    try {
      const prog = yield* BpfProgram.loadSteps({
        type: p.type,
        instructions: insns,
        license: spec.license,
        name: p.name,
        ...(p.expectedAttachType ? { expectedAttachType: p.expectedAttachType } : {}),
        ...(p.flags ? { flags: p.flags } : {}),
        ...(spec.kernelVersion ? { kernVersion: spec.kernelVersion } : {}),
        ...(btf ? { btf } : {}),
        ...(target ? { attachBtfId: target.attachBtfId } : {}),
        ...(target?.attachProgFd !== undefined ? { attachProgFd: target.attachProgFd } : {}),
        ...(btfObjFd !== undefined ? { attachBtfObjFd: btfObjFd } : {}),
      });
      prog.section = p.sectionName;
      prog.functionName = p.name;
      this.#programs.set(p.name, prog);
    } catch (e) {
      throw withContext(withMissingKfuncHint(e, missingKfuncs), `program '${p.name}' (section '${p.sectionName}')`);
    } finally {
      if (btfObjFd !== undefined) closeFd(btfObjFd);
    }
  }

  #applyCore(spec: ObjectSpec, p: ProgramSpec, linked: LinkedProgram<FuncInfo, LineInfo, CoreRelo>, insns: Uint8Array): void {
    if (linked.coreRelos.length === 0) return;
    const local = spec.btf;
    if (!local) throw new BtfError(`program '${p.name}' has CO-RE relocations but the object has no BTF`);
    const relocator = new CoreRelocator(local, this.#kernel());
    for (const r of linked.coreRelos) {
      try {
        applyCoreRelocation(insns, r.insnIndex, relocator.compute(r), { accessStr: r.accessStr });
      } catch (e) {
        throw withContext(e, `program '${p.name}'`);
      }
    }
  }

  /** Resolves map, data, ksym and kfunc relocations in place; returns the calls left to __weak
   * kfuncs the kernel lacks (instruction index and name), for the verifier error's hint. */
  #patchRelocations(spec: ObjectSpec, linked: LinkedProgram<FuncInfo, LineInfo, CoreRelo>, insns: Uint8Array): MissingKfuncCall[] {
    const missing: MissingKfuncCall[] = [];
    const setImm = (i: number, v: number): void => setInsnImm(insns, i, v | 0);
    const setSrc = (i: number, src: number): void => setInsnSrc(insns, i, src);
    const setOff = (i: number, off: number): void => {
      insns[i * INSN_SIZE + 2] = off & 0xff;
      insns[i * INSN_SIZE + 3] = (off >> 8) & 0xff;
    };
    const ksyms = new Map<string, KsymResolution>();
    const ksym = (name: string): KsymResolution => {
      let r = ksyms.get(name);
      if (!r) {
        const e = spec.externs.get(name);
        if (!e) throw new UsageError(`relocation against unknown extern '${name}'`);
        r = resolveKsym(e, this.#kernel());
        ksyms.set(name, r);
      }
      return r;
    };
    for (const r of linked.relocations) {
      switch (r.kind) {
        case 'map':
        case 'data': {
          const map = this.#maps.get(r.map);
          if (!map) throw new UsageError(`instruction ${r.insn} refers to map '${r.map}', which was not created`);
          setImm(r.insn, map.fd);
          break;
        }
        case 'ksym': {
          const k = ksym(r.extern);
          if (k.kind === 'btf') {
            setSrc(r.insn, BPF_PSEUDO_BTF_ID);
            setImm(r.insn, k.id);
            setImm(r.insn + 1, 0); // vmlinux: BTF object fd 0
          } else if (k.kind === 'address') {
            setSrc(r.insn, 0);
            setImm(r.insn, Number(BigInt.asIntN(32, k.address)));
            setImm(r.insn + 1, Number(BigInt.asIntN(32, k.address >> 32n)));
          } else {
            setSrc(r.insn, 0);
            setImm(r.insn, 0);
            setImm(r.insn + 1, 0);
          }
          break;
        }
        case 'kfunc': {
          const k = ksym(r.extern);
          if (k.kind === 'btf') {
            setImm(r.insn, k.id);
            setOff(r.insn, 0); // vmlinux, not a module: no fd_array slot
          } else {
            // An unresolved __weak kfunc: a kfunc call to BTF id 0, which the verifier accepts
            // as long as the call is dead code (guarded by `if (kfunc)`) and refuses if reached.
            // These are libbpf 1.1's instructions (Debian 12's, and bpftool's here), so the
            // program's tag is libbpf's; libbpf 1.2 instead poisons the call as an invalid helper.
            insns[r.insn * INSN_SIZE] = BPF_CALL;
            setSrc(r.insn, BPF_PSEUDO_KFUNC_CALL);
            setOff(r.insn, 0);
            setImm(r.insn, 0);
            missing.push({ insn: r.insn, name: r.extern });
          }
          break;
        }
        case 'call':
        case 'func':
          break; // linkProgram resolved them
      }
    }
    return missing;
  }

  #extInfo(linked: LinkedProgram<FuncInfo, LineInfo, CoreRelo>) {
    const fi = new Uint8Array(linked.funcInfo.length * 8);
    const fdv = new DataView(fi.buffer);
    linked.funcInfo.forEach((f, i) => {
      fdv.setUint32(i * 8, f.insnIndex, true);
      fdv.setUint32(i * 8 + 4, f.typeId, true);
    });
    const li = new Uint8Array(linked.lineInfo.length * 16);
    const ldv = new DataView(li.buffer);
    linked.lineInfo.forEach((l, i) => {
      ldv.setUint32(i * 16, l.insnIndex, true);
      ldv.setUint32(i * 16 + 4, l.fileNameOff, true);
      ldv.setUint32(i * 16 + 8, l.lineOff, true);
      ldv.setUint32(i * 16 + 12, ((l.line << 10) | (l.col & 0x3ff)) >>> 0, true);
    });
    return {
      fd: this.#btfHandle!.fd,
      funcInfoRecSize: 8,
      lineInfoRecSize: 16,
      ...(fi.length ? { funcInfo: fi } : {}),
      ...(li.length ? { lineInfo: li } : {}),
    };
  }

  /**
   * A prog array slot initialised (`.values = { [1] = &tail }`) to a program that is not being
   * loaded would stay empty and the tail call through it would fall through silently. libbpf
   * refuses the load ("failed to initialize slot"); so do we, before anything is created.
   */
  #checkSlots(objectSpec: ObjectSpec, selected: readonly ProgramSpec[]): void {
    const loading = new Set(selected.map((p) => p.name));
    for (const spec of objectSpec.maps.values())
      for (const slot of spec.initialSlots)
        if (slot.program !== undefined && !loading.has(slot.program))
          throw new UsageError(
            `map '${spec.name}': failed to initialize slot [${slot.index}] to prog '${slot.program}': that program is not being loaded ` +
              `(autoload off, or left out of load({ programs })), and an empty slot would make the tail call fall through silently; load '${slot.program}' too`,
          );
  }

  #fillSlots(objectSpec: ObjectSpec): void {
    for (const spec of objectSpec.maps.values()) {
      if (!spec.initialSlots.length) continue;
      const map = this.#maps.get(spec.name)!;
      for (const slot of spec.initialSlots) {
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, slot.index, true);
        if (slot.program !== undefined) {
          map.update(key, this.#programs.get(slot.program)!); // #checkSlots made sure it is loaded
        } else if (slot.map !== undefined) {
          const inner = this.#maps.get(slot.map);
          if (!inner) throw new UsageError(`map '${spec.name}' slot ${slot.index} refers to map '${slot.map}', which was not created`);
          map.update(key, inner);
        }
      }
    }
  }

  // ---- globals ----

  #variable(name: string) {
    const v = this.spec.variables.get(name);
    if (!v) throw new UsageError(`no global variable '${name}' in object '${this.spec.name}'; variables: ${[...this.spec.variables.keys()].join(', ') || 'none'}`);
    return v;
  }

  /** A live mmap of a data map when the kernel allows it (BPF_F_MMAPABLE, not frozen). */
  #liveView(mapName: string): Uint8Array | undefined {
    const cached = this.#globalsViews.get(mapName);
    if (cached) return cached;
    // What was loaded decides, not edits made to `spec` since.
    const spec = this.#loaded?.maps.get(mapName);
    if (!spec || spec.freeze || !(spec.flags & bpf_map_create_flags.BPF_F_MMAPABLE)) return undefined;
    const view = this.map(mapName).mmap();
    this.#globalsViews.set(mapName, view);
    return view;
  }

  #checkOpen(): void {
    if (this.#state === 'closed') throw new ClosedError('object', 'this object');
  }

  #release(): void {
    this.#globalsViews.clear();
    for (const p of this.#programs.values()) p.close();
    for (const m of this.#maps.values()) m.close();
    this.#programs.clear();
    this.#maps.clear();
    this.#btfHandle?.close();
    this.#btfHandle = undefined;
  }
}

/** Programs loaded against a BTF target: those of a BTF-targeted section, and any program
 * turned into an extension before load (an XDP program made a dispatcher's component). */
function needsBtfTarget(p: ProgramSpec): boolean {
  return p.btfAttach || p.type === 'ext';
}

/** A program's BTF attach target, resolved before load. */
interface ResolvedTarget {
  attachBtfId: number;
  /** The kernel module whose BTF holds the target (its fd becomes attach_btf_obj_fd). */
  module?: string;
  /** freplace, or fentry/fexit on a BPF program: the target program's fd. */
  attachProgFd?: number;
}

function kconfigDefaults(): KconfigValues {
  // Imported lazily so that opening an object never reads /proc/config.gz.
  return kernelConfigCache();
}

import { kernelConfig as kernelConfigCache } from './kconfig.js';

function encodeValue(name: string, size: number, value: number | bigint | boolean | Uint8Array): Uint8Array {
  if (value instanceof Uint8Array) {
    if (value.byteLength !== size) throw new UsageError(`variable '${name}' is ${size} bytes; got ${value.byteLength}`);
    return value;
  }
  if (size < 1 || size > 8) throw new UsageError(`variable '${name}' is ${size} bytes: set it with a Uint8Array`);
  if (typeof value === 'number' && !Number.isInteger(value)) throw new UsageError(`variable '${name}': ${value} is not an integer`);
  const big = typeof value === 'bigint' ? value : BigInt(Number(value));
  const bits = BigInt(size * 8);
  if (big < -(1n << (bits - 1n)) || big >= 1n << bits) throw new UsageError(`variable '${name}' (${size} bytes) cannot hold ${value}`);
  const out = new Uint8Array(size);
  let u = BigInt.asUintN(size * 8, big);
  for (let i = 0; i < size; i++) {
    out[i] = Number(u & 0xffn);
    u >>= 8n;
  }
  return out;
}

/** A call left to a __weak kfunc the running kernel lacks. */
interface MissingKfuncCall {
  readonly insn: number;
  readonly name: string;
}

/**
 * The verifier refuses a reachable call to a missing __weak kfunc with a line that names
 * neither ("call #0", then "R0 !read_ok" or "invalid kernel function call not eliminated"):
 * say which kfunc it was and how such calls are written.
 */
function withMissingKfuncHint(e: unknown, calls: readonly MissingKfuncCall[]): unknown {
  if (!(e instanceof VerifierError) || calls.length === 0) return e;
  const reached = calls.filter((c) => new RegExp(`^${c.insn}: \\(85\\) call [\\w-]*#0\\b`, 'm').test(e.log ?? ''));
  if (reached.length === 0) return e;
  const names = [...new Set(reached.map((c) => `'${c.name}'`))].join(', ');
  return withHint(e, `the verifier reached a call to the __weak kfunc ${names}, which this kernel lacks: call it only under \`if (${reached[0]!.name})\` (bpf_ksym_exists), so that the call is dead code where the kfunc is missing`);
}
