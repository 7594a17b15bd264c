// Programs a caller adds to a dispatcher: an XDP program of an opened (not yet loaded)
// BpfObject, with its run configuration read from the object's `.xdp_run_config` BTF (or
// libxdp's defaults: priority 50, XDP_PASS continues) unless the call overrides it. Such a
// program is loaded as an freplace (EXT) program against its slot in the new dispatcher, as
// libxdp loads it: program type EXT, no expected attach type, BPF_F_XDP_HAS_FRAGS cleared
// (the dispatcher carries it for all of them). An object already loaded by an earlier attempt
// brings its EXT program as it is; the kernel links it to any dispatcher's slot (5.10+).
import { BtfError, UsageError } from '../../errors.js';
import { xdpRunConfig } from '../../btf/xdp-metadata.js';
import { BpfObject } from '../../object/index.js';
import type { BpfProgram } from '../../programs/index.js';
import type { ProgramSpec } from '../../elf/index.js';
import { BPF_F_XDP_HAS_FRAGS } from '../../syscall/abi/bpf.js';
import { loadTimeNs } from './state.js';
import { DEFAULT_CHAIN_CALL_ACTIONS, DEFAULT_PRIORITY, type OrderKey, type XdpAction, actionsBitmap } from './protocol.js';

/** One program to add: `xdp.multi.attach(ifindex, [{ object, program, priority?, chainCallActions? }])`. */
export interface MultiAttachProgram {
  /** An object opened with BpfObject.open and not loaded yet: attach loads it. */
  object: BpfObject;
  /** The XDP program's C function name. */
  program: string;
  /** Run priority, lower first; default: the object's XDP_RUN_CONFIG, else 50. */
  priority?: number;
  /** Verdicts that continue the chain; default: the object's XDP_RUN_CONFIG, else ['pass']. */
  chainCallActions?: readonly (XdpAction | string)[];
}

/** A program on its way into a dispatcher. */
export class NewComponent {
  readonly object: BpfObject;
  readonly program: string;
  readonly priority: number;
  readonly actionBits: number;
  /** Declared multi-buffer safe (an `xdp.frags` section, or BPF_F_XDP_HAS_FRAGS set on its spec). */
  readonly frags: boolean;
  readonly #insnCount: number;

  constructor(entry: MultiAttachProgram, what: string) {
    if (!entry || typeof entry !== 'object') throw new UsageError(`${what}: each program is { object, program, priority?, chainCallActions? }`);
    const { object, program } = entry;
    if (!(object instanceof BpfObject)) throw new UsageError(`${what}: 'object' must be a BpfObject (BpfObject.open(file)), not yet loaded`);
    if (typeof program !== 'string' || program === '') throw new UsageError(`${what}: 'program' must name a program of the object`);
    this.object = object;
    this.program = program;
    const label = `${what}: program '${program}' of object '${object.spec.name}'`;
    let frags: boolean;
    if (object.loaded) {
      // Loaded by an earlier attach (its program already EXT); anything else cannot be changed into one.
      const p = object.program(program);
      if (p.type !== 'ext')
        throw new UsageError(`${label} is already loaded as a ${p.type} program; a dispatcher needs it loaded as an extension: pass a BpfObject that is opened but not loaded`);
      frags = fragsOf.get(p) ?? false;
      this.#insnCount = 0;
    } else {
      const spec = object.programSpec(program);
      if (spec.type !== 'xdp')
        throw new UsageError(`${label} is ${spec.type ? `a ${spec.type}` : 'not a typed'} program (section '${spec.sectionName}'); only XDP programs run in a dispatcher`);
      frags = (spec.flags & BPF_F_XDP_HAS_FRAGS) !== 0;
      this.#insnCount = spec.instructions.length / 8;
    }
    this.frags = frags;

    let declared;
    try {
      declared = object.btf ? xdpRunConfig(object.btf, program) : undefined;
    } catch (e) {
      if (e instanceof BtfError) throw new UsageError(`${label}: its XDP_RUN_CONFIG cannot be used: ${e.message}`);
      throw e;
    }
    let bits = DEFAULT_CHAIN_CALL_ACTIONS;
    for (const [action, on] of declared?.actions ?? []) bits = on ? bits | (1 << action) : bits & ~(1 << action);
    if (entry.chainCallActions !== undefined) bits = actionsBitmap(entry.chainCallActions as readonly string[], label);
    const priority = entry.priority ?? declared?.priority ?? DEFAULT_PRIORITY;
    if (!Number.isInteger(priority) || priority < 0 || priority > 0xffffffff)
      throw new UsageError(`${label}: priority must be an integer from 0 to 4294967295, got ${String(entry.priority)}`);
    this.priority = priority;
    this.actionBits = bits;
  }

  /** The loaded EXT program, once loaded. */
  get loadedProgram(): BpfProgram | undefined {
    return this.object.loaded ? this.object.program(this.program) : undefined;
  }

  /** libxdp's sort key; a loaded program sorts as loaded (before an unloaded one of the same name). */
  key(): OrderKey {
    const p = this.loadedProgram;
    if (p) {
      const i = p.info();
      return { priority: this.priority, name: this.program, loaded: true, insnCount: 0, tag: i.tag, loadTimeNs: loadTimeNs(p), id: i.id };
    }
    return { priority: this.priority, name: this.program, loaded: false, insnCount: this.#insnCount, tag: '', loadTimeNs: 0n, id: 0 };
  }
}

/** Frags of EXT programs we loaded (their spec's flag is cleared for the load). */
const fragsOf = new WeakMap<BpfProgram, boolean>();

/**
 * Loads the unloaded components as EXT programs, each against its slot function of
 * `dispatcher`; programs of one object are loaded together, in one `load()`. If a load fails,
 * that object's specs are put back as they were and it stays unloaded.
 */
export function loadComponents(items: { component: NewComponent; target: string }[], dispatcher: BpfProgram): void {
  const byObject = new Map<BpfObject, { component: NewComponent; target: string }[]>();
  for (const it of items) {
    if (it.component.object.loaded) continue;
    const list = byObject.get(it.component.object) ?? [];
    list.push(it);
    byObject.set(it.component.object, list);
  }
  for (const [object, list] of byObject) {
    const saved = list.map(({ component }) => {
      const spec = object.programSpec(component.program);
      return { spec, type: spec.type, expectedAttachType: spec.expectedAttachType, flags: spec.flags, attachTarget: spec.attachTarget };
    });
    try {
      for (const { component, target } of list) {
        const spec: ProgramSpec = object.programSpec(component.program);
        spec.type = 'ext';
        spec.expectedAttachType = undefined;
        spec.flags &= ~BPF_F_XDP_HAS_FRAGS;
        object.setAttachTarget(component.program, { program: dispatcher, function: target });
      }
      object.load({ programs: list.map((x) => x.component.program) });
    } catch (e) {
      for (const s of saved) {
        s.spec.type = s.type;
        s.spec.expectedAttachType = s.expectedAttachType;
        s.spec.flags = s.flags;
        if (s.attachTarget === undefined) delete s.spec.attachTarget;
        else s.spec.attachTarget = s.attachTarget;
      }
      throw e;
    }
    for (const { component } of list) fragsOf.set(object.program(component.program), component.frags);
  }
}
