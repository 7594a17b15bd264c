// The pure description of a BPF object file: what a loader needs to create maps, load BTF
// and load programs. Plain data (plus the parsed BTF), editable before load.
import type { Btf, BtfExt } from '../btf/index.js';
import type { AttachTarget } from './sections.js';
import type { AttachType, MapType, ProgramType } from './names.js';

/** A relocation recorded against one instruction of a program, as found in the ELF file. */
export type InsnRelocation =
  /** `ld_imm64` of a map (BPF_PSEUDO_MAP_FD once the map exists). */
  | { readonly kind: 'map'; readonly insn: number; readonly map: string }
  /** `ld_imm64` of an address in a global data map; `offset` is the symbol's offset in the section. */
  | { readonly kind: 'data'; readonly insn: number; readonly map: string; readonly offset: number }
  /** bpf-to-bpf call; `symbolOffset` is the target symbol's byte offset in `.text`. */
  | { readonly kind: 'call'; readonly insn: number; readonly symbolOffset: number }
  /** `ld_imm64` of a subprogram address (callbacks: BPF_PSEUDO_FUNC). */
  | { readonly kind: 'func'; readonly insn: number; readonly symbolOffset: number }
  /** A `.kconfig` or `.ksyms` extern: `call` is a kfunc call, otherwise an `ld_imm64`. */
  | { readonly kind: 'extern'; readonly insn: number; readonly extern: string; readonly call: boolean };

export interface ProgramSpec {
  /** The C function name. */
  readonly name: string;
  /** The ELF section name, without libbpf's leading '?' (no-autoload) marker. */
  readonly sectionName: string;
  readonly sectionIndex: number;
  /** Entry programs have a type; `.text` subprograms have none. */
  type: ProgramType | undefined;
  expectedAttachType: AttachType | undefined;
  /** prog_flags implied by the section name (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS). */
  flags: number;
  /** The text after the section's first '/', e.g. `do_unlinkat` for `kprobe/do_unlinkat`. */
  attachTo: string | undefined;
  /** `attachTo` parsed for the section kind (kprobe function+offset, tracepoint category/name...). */
  readonly target: AttachTarget | undefined;
  /** The section needs a BTF attach target (fentry, fexit, lsm, iter, tp_btf, freplace). */
  readonly btfAttach: boolean;
  /**
   * Overrides the attach target before load, as libbpf's `bpf_program__set_attach_target`:
   * `function` alone renames the kernel target of an fentry/fexit/fmod_ret/lsm/iter/tp_btf
   * program (`module:function` looks in that kernel module only); with `program` (a loaded
   * program, or its fd) it names a global function of that BPF program — required for freplace,
   * and allowed for fentry/fexit on BPF programs.
   */
  attachTarget?: AttachTargetOverride;
  /** False for sections written `SEC("?...")`: libbpf does not load those by default. */
  autoload: boolean;
  readonly isSubprogram: boolean;
  /** The symbol is global (or weak); static entry programs are refused, static subprograms are fine. */
  readonly global: boolean;
  /** Global but hidden/internal: libbpf marks its BTF FUNC static for the verifier. */
  readonly hidden: boolean;
  /** First instruction's index within the section. */
  readonly sectionInsnOffset: number;
  /**
   * The instructions as in the ELF file (8 bytes each); `linkProgram` never changes them. A view
   * (byteOffset may be non-zero) of a copy the spec owns, shared with its other programs' views.
   */
  readonly instructions: Uint8Array;
  /** Relocations against this program's instructions, sorted by `insn` (program-relative). */
  readonly relocations: readonly InsnRelocation[];
}

/** What `ProgramSpec.attachTarget` holds. */
export interface AttachTargetOverride {
  /** The function (kernel, or global in `program`); default: the section's (`fentry/<function>`). */
  function?: string;
  /** A loaded BPF program (anything with its fd, e.g. a BpfProgram) or the fd itself. */
  program?: { readonly fd: number } | number;
}

export type MapKind = 'btf' | 'legacy' | 'data' | 'kconfig';
export type Pinning = 'none' | 'by_name';

export interface MapSpec {
  /** How programs and users refer to it: the variable name, or the section name for data maps (`.rodata`). */
  readonly name: string;
  /** The name given to the kernel (at most 15 characters; libbpf's `<object>.<section>` for data maps). */
  kernelName: string;
  readonly kind: MapKind;
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  numaNode: number;
  mapExtra: bigint;
  pinning: Pinning;
  /** BTF type ids (in the object's BTF) of key and value, when the definition names them. */
  btfKeyType: number | undefined;
  btfValueType: number | undefined;
  /** Map-in-map: the inner map's definition (its `name` is `<outer>.inner`). */
  inner: MapSpec | undefined;
  /** Declarative initial values (`.values = { [i] = &x }`): a map name or a program name per slot. */
  readonly initialSlots: ReadonlyArray<{ readonly index: number; readonly map?: string; readonly program?: string }>;
  /** Global data maps: the initial value (zeroes for .bss, filled by the loader for .kconfig). */
  readonly data: Uint8Array | undefined;
  /** Freeze after writing `data` (.rodata*, .kconfig): programs can then treat it as constant. */
  readonly freeze: boolean;
  readonly sectionName: string;
  readonly sectionIndex: number;
  readonly sectionOffset: number;
}

export interface VariableSpec {
  readonly name: string;
  /** The data map holding it (a key of `ObjectSpec.maps`). */
  readonly map: string;
  readonly offset: number;
  readonly size: number;
  /** BTF type of the variable (VAR's type), when the object has BTF. */
  readonly btfType: number | undefined;
  /** Global linkage (not `static`, not `__hidden`): exposed through a skeleton by libbpf. */
  readonly global: boolean;
  /** In a read-only section (`const volatile`): set it before load with `setConstant`. */
  readonly constant: boolean;
}

export type KconfigType = 'bool' | 'tristate' | 'char' | 'int' | 'char_array';

export interface ExternSpec {
  readonly name: string;
  readonly kind: 'kconfig' | 'ksym';
  readonly weak: boolean;
  /** The VAR or FUNC type id in the object's BTF. */
  readonly btfId: number;
  /** A kfunc (`extern int f(...) __ksym`) rather than a variable. */
  readonly isFunction: boolean;
  /** ksym variables: the resolved type id (0 = `void`: a typeless ksym, resolved by address). */
  readonly typeId: number;
  /** kconfig: where the value lives in the `.kconfig` map and how to encode it. */
  readonly kconfig: { readonly type: KconfigType; readonly size: number; readonly align: number; readonly signed: boolean; readonly offset: number } | undefined;
}

export interface ObjectSpec {
  /** Object name (file name up to its first '.'), used in data map names as libbpf does. */
  readonly name: string;
  readonly license: string;
  /** The `version` section (kernel version for old kprobe loading), 0 when absent. */
  readonly kernelVersion: number;
  /** Entry programs by C function name, in libbpf's order (section, then offset). */
  readonly programs: ReadonlyMap<string, ProgramSpec>;
  /** `.text` functions by name: appended to entry programs that call them. */
  readonly subprograms: ReadonlyMap<string, ProgramSpec>;
  readonly maps: ReadonlyMap<string, MapSpec>;
  readonly variables: ReadonlyMap<string, VariableSpec>;
  readonly externs: ReadonlyMap<string, ExternSpec>;
  /** The object's BTF, with DATASEC sizes and offsets filled in from the symbol table. */
  readonly btf: Btf | undefined;
  /** The parsed `.BTF.ext` (func_info, line_info, CO-RE records by section); `linkProgram` re-bases them. */
  readonly btfExt: BtfExt | undefined;
}
