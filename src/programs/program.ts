// A loaded BPF program: owns its fd, runs test runs, pins, describes itself.
import { readlinkSync } from 'node:fs';
import { UsageError } from '../errors.js';
import { dupFd, fdById, objGet, objPin } from '../syscall/bpf.js';
import { FdOwner } from '../syscall/fd.js';
import { closeFd } from '../syscall/libc.js';
import { attachRawTracepointLink, attachTcxLink, attachXdpLink, type Link, type TcxLinkOptions, type XdpLinkOptions } from '../link/index.js';
import { progTypeName } from '../sysinfo/names.js';
import { programInfoByFd, xlatedInstructionsByFd, type ProgramInfo } from './info.js';
import { loadProgram, type ProgramLoadOptions } from './load.js';
import { TestRunner, type TestRunOptions, type TestRunResult } from './test-run.js';

export class BpfProgram {
  readonly #owner: FdOwner;
  #runner: TestRunner | undefined;
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

  private constructor(fd: number, type: string, name: string, verifierLog?: string) {
    // A leaked program fd costs kernel memory, not behaviour (attachments hold their own
    // references), so the GC may close it.
    this.#owner = new FdOwner(fd, 'program', true);
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
    const { fd, log, typeValue, name } = loadProgram(opts);
    const prog = new BpfProgram(fd, progTypeName(typeValue), name, log);
    if (opts.expectedAttachType !== undefined)
      (prog as { expectedAttachType?: string }).expectedAttachType = opts.expectedAttachType.toLowerCase().replace(/^bpf_/, '');
    return prog;
  }

  /** Wraps a program fd someone else opened. The fd is duplicated: the caller still owns
   * (and closes) its own, and closing this program closes only the duplicate. */
  static fromFd(fd: number): BpfProgram {
    if (!Number.isInteger(fd) || fd < 0) throw new UsageError(`not a file descriptor: ${fd}`);
    checkIsProgram(fd);
    return BpfProgram.#adopt(dupFd(fd, `program fd ${fd}`), `fd ${fd}`);
  }

  /** Opens a program pinned on a bpf filesystem. */
  static fromPin(path: string): BpfProgram {
    checkPath(path);
    return BpfProgram.#adopt(objGet(path), `the object pinned at ${path}`);
  }

  /** Opens a loaded program by its id (e.g. from `bpftool prog list` or `listPrograms()`). */
  static fromId(id: number): BpfProgram {
    if (!Number.isInteger(id) || id <= 0 || id > 0xffffffff) throw new UsageError(`not a program id: ${id}`);
    return BpfProgram.#adopt(fdById('prog', id), `id ${id}`);
  }

  /** Wraps an fd we just opened; closes it if it is not a program. */
  static #adopt(fd: number, what: string): BpfProgram {
    try {
      checkIsProgram(fd, what);
      const info = programInfoByFd(fd);
      return new BpfProgram(fd, info.type, info.name);
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /** The program's fd; throws UsageError once closed. */
  get fd(): number {
    return this.#owner.fd;
  }

  get closed(): boolean {
    return this.#owner.closed;
  }

  /** Runs the program once (or `repeat` times) on `data` in the kernel. */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    this.#runner ??= new TestRunner(this.type);
    return this.#runner.run(this.fd, opts, `${this.type} program${this.name ? ` ${this.name}` : ''}`);
  }

  info(): ProgramInfo {
    return programInfoByFd(this.fd);
  }

  /** The instructions as the kernel keeps them after verification (for dumps). */
  xlatedInstructions(): Uint8Array {
    return xlatedInstructionsByFd(this.fd);
  }

  /** Attaches this XDP program to an interface through a bpf_link (see `attachXdpLink`).
   * The link owns the attachment: keep it (or pin it) for as long as the program should run. */
  attachXdp(ifindex: number, opts: XdpLinkOptions = {}): Link {
    return attachXdpLink(this, ifindex, opts);
  }

  /** Attaches this sched_cls program to an interface's tcx chain (see `attachTcxLink`). */
  attachTcx(ifindex: number, direction: 'ingress' | 'egress', opts: TcxLinkOptions = {}): Link {
    return attachTcxLink(this, ifindex, direction, opts);
  }

  /** Attaches a raw_tracepoint program to tracepoint `name`, or a tp_btf program (no name:
   * its target was fixed at load) through a link. */
  attachRawTracepoint(name?: string): Link {
    if (name === undefined && this.type === 'raw_tracepoint')
      throw new UsageError(`raw tracepoint program ${this.name} needs a tracepoint name, e.g. attachRawTracepoint('sys_enter')`);
    return attachRawTracepointLink(this, name);
  }

  /** Pins the program at a path on a bpf filesystem; it then outlives this process. */
  pin(path: string): void {
    checkPath(path);
    objPin(this.fd, path);
  }

  /** Closes this handle; the program lives on while pinned, attached or otherwise referenced. */
  close(): void {
    this.#owner.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}


function checkPath(path: unknown): void {
  if (typeof path !== 'string' || path === '') throw new UsageError(`a pin path must be a non-empty string on a bpf filesystem, got ${String(path)}`);
}

/** bpf fds are anonymous inodes named after their kind: 'anon_inode:bpf-prog' for programs. */
function checkIsProgram(fd: number, what = `fd ${fd}`): void {
  let target: string;
  try {
    target = readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    throw new UsageError(`${what} is not an open file descriptor`);
  }
  if (target !== 'anon_inode:bpf-prog') {
    const kind = /^anon_inode:bpf-(\w+)/.exec(target)?.[1];
    throw new UsageError(`${what} is not a BPF program (it is ${kind ? `a BPF ${kind}` : target})`);
  }
}
