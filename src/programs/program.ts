// A loaded BPF program: owns its fd, runs test runs, pins, describes itself.
import { UsageError } from '../errors.js';
import { KernelObject, closeOnError, duplicateFd, openById, openPinned } from '../syscall/kernel-object.js';
import { attachRawTracepointLink, attachTcxLink, attachTcxLinkAsync, attachXdpLink, attachXdpLinkAsync, type Link, type TcxLinkOptions, type XdpLinkOptions } from '../link/index.js';
import {
  attachFreplaceLink,
  attachIterLink,
  attachKprobeLegacy,
  attachKprobeLink,
  attachKprobeMultiLink,
  attachTracingLink,
  type IterLink,
  type IterLinkOptions,
  type KprobeMultiOptions,
  type KprobeOptions,
  type PerfEventAttachment,
  type ProgramRef,
  type TraceAttachType,
  type TraceLinkOptions,
} from '../link/index.js';
import {
  attachCgroupLink,
  attachNetfilterLink,
  attachNetkitLink,
  attachNetnsLink,
  attachSockmapLink,
  attachTracepointLegacy,
  attachTracepointLink,
  attachUprobeLegacy,
  attachUprobeLink,
  attachUprobeMultiLink,
  type CgroupAttachType,
  type CgroupLinkOptions,
  type MapRef,
  type NetfilterHook,
  type NetfilterLinkOptions,
  type NetkitLinkOptions,
  type NetkitSide,
  type SockmapAttachType,
  type TracepointOptions,
  type UprobeMultiOptions,
  type UprobeOptions,
  type UprobeTarget,
} from '../link/index.js';
import type { CgroupRef } from '../cgroup/ref.js';
import type { NetnsRef } from '../netns/index.js';
import { parseProgramSection } from '../elf/sections.js';
import { progTypeName } from '../sysinfo/names.js';
import { programInfoByFd, xlatedInstructionsByFd, type ProgramInfo } from './info.js';
import { loadProgramSteps, type LoadedProgram, type ProgramLoadOptions } from './load.js';
import { runSteps, runStepsAsync, type Steps } from '../syscall/steps.js';
import { TestRunner, type TestRunOptions, type TestRunResult } from './test-run.js';

export class BpfProgram extends KernelObject {
  #runner: TestRunner | undefined;
  /** Loaded by this process (so `expectedAttachType` is known, even when unset), not opened by fd/pin/id. */
  #loadedHere = false;
  /** Lowercase program type, e.g. 'xdp'. */
  readonly type: string;
  /** The name the kernel keeps (at most 15 characters). */
  readonly name: string;
  /** The verifier log of a load that asked for one with `logLevel`. */
  readonly verifierLog?: string;
  /** The expected attach type it was loaded with (lowercase, e.g. 'xdp', 'tcx_ingress'), if any. */
  readonly expectedAttachType?: string;
  /** For programs from an object file: the ELF section and the C function name. */
  section?: string;
  functionName?: string;

  private constructor(fd: number, type: string, name: string, verifierLog?: string, pinnedPath?: string) {
    // A leaked program fd costs kernel memory, not behaviour (attachments hold their own
    // references), so the GC may close it.
    super(fd, 'prog', true, pinnedPath);
    this.type = type;
    this.name = name;
    if (verifierLog !== undefined) this.verifierLog = verifierLog;
  }

  /**
   * Loads a program. On failure throws a VerifierError (a BpfError whose `log` is the whole
   * verifier log and whose message quotes the lines naming the refused instruction), or a
   * BpfError saying what the kernel refused (e.g. a program type it does not allow).
   */
  static load(opts: ProgramLoadOptions): BpfProgram {
    return runSteps(BpfProgram.loadSteps(opts));
  }

  /**
   * load() with the verifier running off the main thread (koffi's worker pool): the event loop
   * keeps turning during a long verification. The same program, and the same errors
   * (VerifierError with the whole log, BpfError, UsageError), as a rejection.
   */
  static loadAsync(opts: ProgramLoadOptions): Promise<BpfProgram> {
    return runStepsAsync(BpfProgram.loadSteps(opts));
  }

  /** @internal The load as a task (src/syscall/steps.ts), for load, loadAsync and BpfObject. */
  static *loadSteps(opts: ProgramLoadOptions): Steps<BpfProgram> {
    return BpfProgram.#loaded(yield* loadProgramSteps(opts), opts);
  }

  static #loaded({ fd, log, typeValue, name }: LoadedProgram, opts: ProgramLoadOptions): BpfProgram {
    const prog = new BpfProgram(fd, progTypeName(typeValue), name, log);
    prog.#loadedHere = true;
    if (opts.expectedAttachType !== undefined)
      (prog as { expectedAttachType?: string }).expectedAttachType = opts.expectedAttachType.toLowerCase().replace(/^bpf_/, '');
    return prog;
  }

  /** Wraps a program fd someone else opened. The fd is duplicated: the caller keeps (and
   * closes) its own, and closing this program closes only the duplicate. */
  static fromFd(fd: number): BpfProgram {
    return BpfProgram.#wrap(duplicateFd('prog', fd));
  }

  /** Opens a program pinned on a bpf filesystem; `unpin()` then removes that pin. */
  static fromPin(path: string): BpfProgram {
    return BpfProgram.#wrap(openPinned('prog', path), path);
  }

  /** Opens a loaded program by its id (e.g. from `bpftool prog list` or `listPrograms()`). */
  static fromId(id: number): BpfProgram {
    return BpfProgram.#wrap(openById('prog', id));
  }

  /** A BpfProgram over an fd we own and know to be a program (closed if its info cannot be read). */
  static #wrap(fd: number, pinnedPath?: string): BpfProgram {
    return closeOnError(fd, () => {
      const info = programInfoByFd(fd);
      return new BpfProgram(fd, info.type, info.name, undefined, pinnedPath);
    });
  }

  override describe(): string {
    return `${this.type} program${this.name ? ` '${this.name}'` : ''}`;
  }

  /** Runs the program once (or `repeat` times) on `data` in the kernel. */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    this.#runner ??= new TestRunner(this.type);
    return this.#runner.run(this.fd, opts, `${this.type} program${this.name ? ` ${this.name}` : ''}`);
  }

  info(): ProgramInfo {
    return programInfoByFd(this.fd);
  }

  protected idOf(fd: number): number {
    return programInfoByFd(fd).id;
  }

  /** The instructions as the kernel keeps them after verification (for dumps). */
  xlatedInstructions(): Uint8Array {
    return xlatedInstructionsByFd(this.fd);
  }

  /** Attaches this XDP program to an interface through a bpf_link (see `attachXdpLink`).
   * The link owns the attachment: keep it (or pin it) for as long as the program should run. */
  attachXdp(iface: number | string, opts: XdpLinkOptions = {}): Link {
    return attachXdpLink(iface, this, opts);
  }

  /** Attaches this sched_cls program to an interface's tcx chain (see `attachTcxLink`). */
  attachTcx(iface: number | string, direction: 'ingress' | 'egress', opts: TcxLinkOptions = {}): Link {
    return attachTcxLink(iface, direction, this, opts);
  }

  /** attachXdp with the kernel's RCU wait off the main thread (`link.closeAsync()` detaches). */
  attachXdpAsync(iface: number | string, opts: XdpLinkOptions = {}): Promise<Link> {
    return attachXdpLinkAsync(iface, this, opts);
  }

  /** attachTcx with the kernel's RCU wait off the main thread (`link.closeAsync()` detaches). */
  attachTcxAsync(iface: number | string, direction: 'ingress' | 'egress', opts: TcxLinkOptions = {}): Promise<Link> {
    return attachTcxLinkAsync(iface, direction, this, opts);
  }

  /** Attaches a raw_tracepoint program to tracepoint `name`, or a tp_btf program (no name:
   * its target was fixed at load) through a link. */
  attachRawTracepoint(name?: string): Link {
    if (name === undefined && this.type === 'raw_tracepoint')
      throw new UsageError(`raw tracepoint program ${this.name} needs a tracepoint name, e.g. attachRawTracepoint('sys_enter')`);
    return attachRawTracepointLink(this, name);
  }

  /**
   * Attaches an fentry/fexit/fmod_ret or LSM program to the kernel (or BPF) function it was
   * loaded for, through a `tracing` link (BPF_LINK_CREATE with its attach type; on kernels
   * whose BPF_LINK_CREATE refuses tracing programs, BPF_RAW_TRACEPOINT_OPEN, which makes the
   * same link). `cookie` (5.19+) is what `bpf_get_attach_cookie()` returns in the program.
   */
  attachTrace(opts: TraceLinkOptions = {}): Link {
    const what = this.#what('attachTrace');
    const at = this.expectedAttachType;
    if (this.type !== 'tracing' && this.type !== 'lsm') throw new UsageError(`${what}: attachTrace is for fentry/fexit/fmod_ret (tracing) and LSM programs${this.#otherCall()}`);
    if (at === 'trace_iter') throw new UsageError(`${what}: an iterator program is attached with attachIter()`);
    if (at === 'trace_raw_tp') throw new UsageError(`${what}: a tp_btf program is attached with attachRawTracepoint()`);
    if (at === 'lsm_cgroup') throw new UsageError(`${what}: lsm_cgroup programs attach to a cgroup, which tsbpf does not do yet`);
    return attachTracingLink(this, at as TraceAttachType | undefined, opts, what);
  }

  /**
   * Attaches an freplace (EXT) program: where it was loaded to go (`attachTarget` at load), or
   * to global function `fn` of `target` (5.10+; same BTF signature). The replaced function runs
   * this program instead while the link exists.
   */
  attachFreplace(target?: ProgramRef, fn?: string): Link {
    const what = this.#what('attachFreplace');
    if (this.type !== 'ext') throw new UsageError(`${what}: attachFreplace is for freplace (ext) programs${this.#otherCall()}`);
    if ((target === undefined) !== (fn === undefined)) throw new UsageError(`${what}: give both the target program and the function name, or neither`);
    return attachFreplaceLink(this, target === undefined ? undefined : { program: target, function: fn! }, what);
  }

  /** Attaches an iterator program (`iter/<target>`): read it with `link.readText()` or `link.open()`. */
  attachIter(opts: IterLinkOptions = {}): IterLink {
    const what = this.#what('attachIter');
    if (this.type !== 'tracing' || (this.expectedAttachType !== undefined && this.expectedAttachType !== 'trace_iter'))
      throw new UsageError(`${what}: attachIter is for iterator programs (iter/ sections)${this.#otherCall()}`);
    return attachIterLink(this, opts, what);
  }

  /**
   * Attaches a kprobe (or kretprobe) program to kernel function `fn` through a perf event and a
   * perf link (5.15+). Left out, `fn`, its offset and the retprobe flag come from the section
   * name (`kprobe/do_sys_openat2`, `kretprobe/…`).
   */
  attachKprobe(fn?: string | KprobeOptions, opts: KprobeOptions = {}): Link {
    const what = this.#what('attachKprobe');
    const [f, o] = this.#kprobeTarget(what, fn, opts);
    return attachKprobeLink(f, this, o, what);
  }

  /**
   * As attachKprobe, but through the legacy PERF_EVENT_IOC_SET_BPF (for kernels before 5.15):
   * the returned perf event owns the attachment; it has no pin, no info and no cookie.
   */
  attachKprobeLegacy(fn?: string | Omit<KprobeOptions, 'cookie'>, opts: Omit<KprobeOptions, 'cookie'> = {}): PerfEventAttachment {
    const what = this.#what('attachKprobeLegacy');
    const [f, o] = this.#kprobeTarget(what, fn, opts);
    return attachKprobeLegacy(f, this, o, what);
  }

  /**
   * Attaches a kprobe_multi program (`kprobe.multi/<glob>`, `kretprobe.multi/…`) to many
   * functions through one link (5.18+, CONFIG_FPROBE). Left out, the pattern and the retprobe
   * flag come from the section name.
   */
  attachKprobeMulti(opts: KprobeMultiOptions = {}): Link {
    const what = this.#what('attachKprobeMulti');
    if (this.type !== 'kprobe') throw new UsageError(`${what}: attachKprobeMulti is for kprobe programs${this.#otherCall()}`);
    if ((this.expectedAttachType !== undefined || this.#loadedHere) && this.expectedAttachType !== 'trace_kprobe_multi')
      throw new UsageError(
        `${what}: the program was loaded ${this.expectedAttachType ? `with expected attach type ${this.expectedAttachType}` : 'without an expected attach type'}; kprobe_multi needs trace_kprobe_multi (a kprobe.multi/ section); a kprobe/ program attaches with attachKprobe()`,
      );
    const o = { ...opts };
    if (o.symbols === undefined && o.pattern === undefined && o.addresses === undefined) {
      const sec = this.section !== undefined ? parseProgramSection(this.section) : undefined;
      if (sec?.target?.kind !== 'multi') throw new UsageError(`${what}: give { symbols }, { pattern } or { addresses } (the program's section names no pattern)`);
      o.pattern = sec.target.pattern;
      o.retprobe ??= sec.target.retprobe;
    }
    return attachKprobeMultiLink(this, o, what);
  }

  #kprobeTarget<O extends KprobeOptions>(what: string, fn: string | O | undefined, opts: O): [string, O] {
    if (this.type !== 'kprobe') throw new UsageError(`${what}: kprobes attach kprobe programs${this.#otherCall()}`);
    if (this.expectedAttachType === 'trace_kprobe_multi')
      throw new UsageError(`${what}: the program was loaded for kprobe_multi (a kprobe.multi/ section): attach it with attachKprobeMulti()`);
    if (typeof fn === 'object' && fn !== null) {
      opts = fn;
      fn = undefined;
    }
    const o = { ...opts };
    if (fn === undefined) {
      const sec = this.section !== undefined ? parseProgramSection(this.section) : undefined;
      if (sec?.target?.kind !== 'kprobe')
        throw new UsageError(`${what}: name the kernel function (the program's section${this.section ? ` '${this.section}'` : ''} does not)`);
      fn = sec.target.function;
      o.offset ??= sec.target.offset || undefined;
      o.retprobe ??= sec.target.retprobe;
      if (o.offset === undefined) delete o.offset;
    }
    return [fn, o];
  }

  /**
   * Attaches this cgroup program to a cgroup v2 directory (path or fd) through a link. Left out,
   * the attach type is the one the program was loaded for (`cgroup_skb/egress` →
   * cgroup_inet_egress). `before`/`after`/`expectedRevision` need cgroup mprog (6.16).
   */
  attachCgroup(cgroup: CgroupRef, attachType?: CgroupAttachType | CgroupLinkOptions, opts: CgroupLinkOptions = {}): Link {
    const what = this.#what('attachCgroup');
    if (typeof attachType === 'object' && attachType !== null) {
      opts = attachType;
      attachType = undefined;
    }
    const at = (attachType ?? this.expectedAttachType) as CgroupAttachType | undefined;
    if (at === undefined)
      throw new UsageError(`${what}: name the cgroup attach type (e.g. 'cgroup_inet_egress'): the program was not loaded with one`);
    return attachCgroupLink(cgroup, at, this, opts, what);
  }

  /** Attaches this sk_lookup program to a network namespace (default: this thread's) through a link (5.9+). */
  attachSkLookup(netns?: NetnsRef): Link {
    const what = this.#what('attachSkLookup');
    if (this.type !== 'sk_lookup') throw new UsageError(`${what}: attachSkLookup is for sk_lookup programs${this.#otherCall()}`);
    return attachNetnsLink(netns, 'sk_lookup', this, what);
  }

  /** Attaches this flow_dissector program to a network namespace (default: this thread's) through a link (5.7+). */
  attachFlowDissector(netns?: NetnsRef): Link {
    const what = this.#what('attachFlowDissector');
    if (this.type !== 'flow_dissector') throw new UsageError(`${what}: attachFlowDissector is for flow_dissector programs${this.#otherCall()}`);
    return attachNetnsLink(netns, 'flow_dissector', this, what);
  }

  /** Attaches this sk_msg/sk_skb program to a sockmap or sockhash through a link (6.10+). Left out, the attach type is the one it was loaded for. */
  attachSockmap(map: MapRef, attachType?: SockmapAttachType): Link {
    const what = this.#what('attachSockmap');
    const at = attachType ?? (this.expectedAttachType as SockmapAttachType | undefined) ?? (this.type === 'sk_msg' ? 'sk_msg_verdict' : undefined);
    if (at === undefined) throw new UsageError(`${what}: name the sockmap attach type ('sk_skb_stream_verdict', 'sk_skb_verdict', 'sk_skb_stream_parser' or 'sk_msg_verdict')`);
    return attachSockmapLink(map, at, this, what);
  }

  /** Attaches this netfilter program to a netfilter hook through a link (6.4+). */
  attachNetfilter(hook: NetfilterHook, opts: NetfilterLinkOptions = {}): Link {
    const what = this.#what('attachNetfilter');
    if (this.type !== 'netfilter') throw new UsageError(`${what}: attachNetfilter is for netfilter programs${this.#otherCall()}`);
    return attachNetfilterLink(hook, this, opts, what);
  }

  /** Attaches this sched_cls program to one side of a netkit device (the primary's ifindex) through a link (6.7+). */
  attachNetkit(iface: number | string, side: NetkitSide, opts: NetkitLinkOptions = {}): Link {
    return attachNetkitLink(iface, side, this, opts, this.#what('attachNetkit'));
  }

  /**
   * Attaches this tracepoint program to kernel tracepoint `category:name` through a perf event
   * and a perf link (5.15+). Left out, both come from the section (`tracepoint/sock/inet_sock_set_state`).
   */
  attachTracepoint(category?: string | TracepointOptions, name?: string, opts: TracepointOptions = {}): Link {
    const what = this.#what('attachTracepoint');
    const [c, n, o] = this.#tracepointTarget(what, category, name, opts);
    return attachTracepointLink(c, n, this, o, what);
  }

  /** As attachTracepoint, through the legacy PERF_EVENT_IOC_SET_BPF: the perf event owns it; no pin, info or cookie. */
  attachTracepointLegacy(category?: string, name?: string): PerfEventAttachment {
    const what = this.#what('attachTracepointLegacy');
    const [c, n] = this.#tracepointTarget(what, category, name, {});
    return attachTracepointLegacy(c, n, this, what);
  }

  /**
   * Attaches this kprobe program as a uprobe (or uretprobe) on a function of an executable or
   * shared library, through a perf event and a perf link (5.15+). Left out, the target and the
   * retprobe flag come from the section (`uprobe//usr/lib/libssl.so.3:SSL_write`).
   */
  attachUprobe(target?: UprobeTarget | UprobeOptions, opts: UprobeOptions = {}): Link {
    const what = this.#what('attachUprobe');
    const [t, o] = this.#uprobeTarget(what, target, opts);
    return attachUprobeLink(t, this, o, what);
  }

  /** As attachUprobe, through the legacy PERF_EVENT_IOC_SET_BPF: the perf event owns it; no pin, info or cookie. */
  attachUprobeLegacy(target?: UprobeTarget | Omit<UprobeOptions, 'cookie'>, opts: Omit<UprobeOptions, 'cookie'> = {}): PerfEventAttachment {
    const what = this.#what('attachUprobeLegacy');
    const [t, o] = this.#uprobeTarget(what, target, opts);
    return attachUprobeLegacy(t, this, o, what);
  }

  /**
   * Attaches this uprobe_multi program (`uprobe.multi/<binary>:<glob>`) to many locations of one
   * file through one link (6.6+). Left out, the binary, the pattern and the retprobe flag come
   * from the section.
   */
  attachUprobeMulti(binary?: string | UprobeMultiOptions, opts: UprobeMultiOptions = {}): Link {
    const what = this.#what('attachUprobeMulti');
    if (this.type !== 'kprobe') throw new UsageError(`${what}: attachUprobeMulti is for kprobe programs${this.#otherCall()}`);
    if ((this.expectedAttachType !== undefined || this.#loadedHere) && this.expectedAttachType !== 'trace_uprobe_multi')
      throw new UsageError(`${what}: the program was loaded ${this.expectedAttachType ? `with expected attach type ${this.expectedAttachType}` : 'without an expected attach type'}; uprobe_multi needs trace_uprobe_multi (a uprobe.multi/ section); a uprobe/ program attaches with attachUprobe()`);
    if (typeof binary === 'object' && binary !== null) {
      opts = binary;
      binary = undefined;
    }
    const o = { ...opts };
    let b = binary;
    const sec = this.section !== undefined ? parseProgramSection(this.section) : undefined;
    const st = sec?.target?.kind === 'uprobe' ? sec.target : undefined;
    if (b === undefined) {
      if (!st) throw new UsageError(`${what}: name the binary (the program's section names none)`);
      b = st.binary;
    }
    if (o.functions === undefined && o.pattern === undefined && o.offsets === undefined) {
      if (!st?.function) throw new UsageError(`${what}: give { functions }, { pattern } or { offsets } (the program's section names no function)`);
      o.pattern = st.function;
    }
    o.retprobe ??= st?.retprobe;
    if (o.retprobe === undefined) delete o.retprobe;
    return attachUprobeMultiLink(b, this, o, what);
  }

  #tracepointTarget<O extends TracepointOptions>(what: string, category: string | O | undefined, name: string | undefined, opts: O): [string, string, O] {
    if (this.type !== 'tracepoint') throw new UsageError(`${what}: tracepoints attach tracepoint programs${this.#otherCall()}`);
    if (typeof category === 'object' && category !== null) {
      opts = category;
      category = undefined;
    }
    if (category === undefined && name === undefined) {
      const sec = this.section !== undefined ? parseProgramSection(this.section) : undefined;
      if (sec?.target?.kind !== 'tracepoint') throw new UsageError(`${what}: name the tracepoint (category and name): the program's section${this.section ? ` '${this.section}'` : ''} does not`);
      return [sec.target.category, sec.target.name, opts];
    }
    if (category === undefined || name === undefined) throw new UsageError(`${what}: give both the tracepoint's category and its name (e.g. 'sched', 'sched_switch')`);
    return [category, name, opts];
  }

  #uprobeTarget<O extends UprobeOptions>(what: string, target: UprobeTarget | O | undefined, opts: O): [UprobeTarget, O] {
    if (this.type !== 'kprobe') throw new UsageError(`${what}: uprobes attach kprobe programs${this.#otherCall()}`);
    if (this.expectedAttachType === 'trace_uprobe_multi')
      throw new UsageError(`${what}: the program was loaded for uprobe_multi (a uprobe.multi/ section): attach it with attachUprobeMulti()`);
    if (target !== undefined && typeof target === 'object' && target !== null && !('binary' in target)) {
      opts = target as O;
      target = undefined;
    }
    const o = { ...opts };
    if (target === undefined) {
      const sec = this.section !== undefined ? parseProgramSection(this.section) : undefined;
      if (sec?.target?.kind !== 'uprobe')
        throw new UsageError(`${what}: name the binary and function ({ binary, function }): the program's section${this.section ? ` '${this.section}'` : ''} does not`);
      const t = sec.target;
      o.retprobe ??= t.retprobe;
      return [{ binary: t.binary, ...(t.function !== undefined ? { function: t.function } : {}), offset: t.offset }, o];
    }
    return [target as UprobeTarget, o];
  }

  #what(call: string): string {
    return `${call} of ${this.type} program ${this.functionName ?? this.name}`;
  }

  /** Which attach call suits this program instead, for UsageErrors. */
  #otherCall(): string {
    const at = this.expectedAttachType;
    const call =
      this.type === 'ext'
        ? 'attachFreplace()'
        : this.type === 'lsm'
          ? 'attachTrace()'
          : this.type === 'kprobe'
            ? at === 'trace_kprobe_multi'
              ? 'attachKprobeMulti()'
              : at === 'trace_uprobe_multi'
                ? 'attachUprobeMulti()'
                : 'attachKprobe() or attachUprobe()'
            : this.type === 'tracing'
              ? at === 'trace_iter'
                ? 'attachIter()'
                : at === 'trace_raw_tp'
                  ? 'attachRawTracepoint()'
                  : 'attachTrace()'
              : this.type === 'raw_tracepoint'
                ? 'attachRawTracepoint()'
                : this.type === 'xdp'
                  ? 'attachXdp()'
                  : this.type === 'sched_cls'
                    ? 'attachTcx() or attachNetkit()'
                    : this.type === 'tracepoint'
                      ? 'attachTracepoint()'
                      : this.type.startsWith('cgroup_') || this.type === 'sock_ops'
                        ? 'attachCgroup()'
                        : this.type === 'sk_lookup'
                          ? 'attachSkLookup()'
                          : this.type === 'flow_dissector'
                            ? 'attachFlowDissector()'
                            : this.type === 'sk_msg' || this.type === 'sk_skb'
                              ? 'attachSockmap()'
                              : this.type === 'netfilter'
                                ? 'attachNetfilter()'
                                : this.type === 'socket_filter'
                                  ? 'socketFilter.attach(socket, prog)'
                                  : undefined;
    return call ? `; this ${this.type} program attaches with ${call}` : '';
  }}
