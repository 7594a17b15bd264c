// The probes: for each feature, the cheapest kernel call that proves it, read through the
// pure mappings of ./answer.ts. Every fd a probe makes is closed before it returns; a probe
// that needs an invalid argument to stop the kernel early uses fd -1 or an unmapped address,
// so nothing is ever attached.
import { Class, JmpOp, AluOp, Source } from '../asm/opcodes.js';
import { encode } from '../asm/codec.js';
import type { InstructionFields } from '../asm/instruction.js';
import { BtfError, UsageError } from '../errors.js';
import { kernelBtf } from '../object/kernel-btf.js';
import type { BtfKind } from '../btf/types.js';
import {
  BPF_F_BEFORE,
  BPF_F_SLEEPABLE,
  BPF_F_XDP_HAS_FRAGS,
  BPF_LOG_LEVEL1,
  BTF_LOAD_ATTR,
  LINK_CREATE_ATTR,
  LINK_CREATE_KPROBE_MULTI_ATTR,
  LINK_CREATE_NETFILTER_ATTR,
  LINK_CREATE_UPROBE_MULTI_ATTR,
  MAP_CREATE_ATTR,
  PROG_LOAD_ATTR,
  PROG_QUERY_ATTR,
  TOKEN_CREATE_ATTR,
  bpf_attach_type,
  bpf_cmd,
  bpf_func_id,
  bpf_map_create_flags,
  bpf_map_type,
  bpf_prog_type,
} from '../syscall/abi/bpf.js';
import type { AttachType, MapType, ProgramType } from '../syscall/abi/names.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr, cString } from '../syscall/bpf.js';
import { closeFd, stableBuffer } from '../syscall/libc.js';
import { ERRNO } from '../errno-names.js';
import { fromEvidence, fromHelperLoad, fromProgLoad, fromResult, type ErrnoRule, type Outcome } from './answer.js';
import { PROBE_RULES as R } from './rules.js';
import { btfIntBlob, btfProbeBlob } from './btf-blobs.js';
import type { BtfFeature, NamedFeature } from './catalog.js';
import { kernelAtLeast, kernelRelease, kernelVersionCode } from './kernel.js';

const { EAGAIN } = ERRNO;
const PAGE_SIZE = 4096;
/** An fd no process has (bpf attrs carry fds as u32). */
const BAD_FD = 0xffffffff;

// ---- instructions ----

const mov0: InstructionFields = { opcode: Class.ALU64 | AluOp.MOV | Source.K, dst: 0, src: 0, off: 0, imm: 0 };
const exit: InstructionFields = { opcode: Class.JMP | JmpOp.EXIT, dst: 0, src: 0, off: 0, imm: 0 };
const call = (helper: number): InstructionFields => ({ opcode: Class.JMP | JmpOp.CALL, dst: 0, src: 0, off: 0, imm: helper });
const RETURN_0 = encode([mov0, exit]);

// ---- program loads ----

interface ProgSpec {
  type: number;
  insns?: Uint8Array;
  attach?: AttachType;
  attachBtfId?: number;
  flags?: number;
}

/** Loads a probe program with a log; returns the fd or -errno, and the log. The caller closes. */
function loadProbe(spec: ProgSpec): { r: number; log: string } {
  const insns = spec.insns ?? RETURN_0;
  const code = stableBuffer(insns.length);
  code.set(insns);
  const license = cString('GPL');
  const logBuf = stableBuffer(16 * 1024);
  const attr = new Attr(PROG_LOAD_ATTR)
    .set('prog_type', spec.type)
    .set('insn_cnt', insns.length / 8)
    .setPointer('insns', code)
    .setPointer('license', license)
    .set('log_level', BPF_LOG_LEVEL1)
    .set('log_size', logBuf.length)
    .setPointer('log_buf', logBuf)
    .set('prog_flags', spec.flags ?? 0)
    // Kernels before 5.0 want KERNEL_VERSION in kprobe programs; others ignore it.
    .set('kern_version', kernelVersionCode(kernelRelease()))
    .set('expected_attach_type', spec.attach !== undefined ? bpf_attach_type[`BPF_${spec.attach.toUpperCase()}` as keyof typeof bpf_attach_type] : 0)
    .set('attach_btf_id', spec.attachBtfId ?? 0);
  let r = 0;
  for (let i = 0; i < 5; i++) {
    r = bpfAttr(bpf_cmd.BPF_PROG_LOAD, attr);
    if (r !== -EAGAIN) break;
  }
  const end = logBuf.indexOf(0);
  const log = logBuf.subarray(0, end < 0 ? logBuf.length : end).toString('utf8');
  return { r, log };
}

function closeIfFd(r: number): void {
  if (r >= 0) closeFd(r);
}

/** What a program type needs to get as far as the verifier with `r0 = 0; exit`. */
const PROG_PROBE: Partial<Record<ProgramType, Omit<ProgSpec, 'type'>>> = {
  cgroup_sock_addr: { attach: 'cgroup_inet4_connect' },
  cgroup_sockopt: { attach: 'cgroup_getsockopt' },
  sk_lookup: { attach: 'sk_lookup' },
  netfilter: { attach: 'netfilter' },
  syscall: { flags: BPF_F_SLEEPABLE },
};

export function progTypeValueOf(type: ProgramType): number {
  return bpf_prog_type[`BPF_PROG_TYPE_${type.toUpperCase()}` as keyof typeof bpf_prog_type];
}

/** Does the kernel know this program type? Tracing, LSM and EXT programs get as far as the
 * verifier's "must provide btf_id", struct_ops as far as its struct check: either proves it. */
export function probeProgramType(type: ProgramType): Outcome {
  const { r, log } = loadProbe({ type: progTypeValueOf(type), ...PROG_PROBE[type] });
  closeIfFd(r);
  return fromProgLoad(r, log);
}

/** Program types whose helper probes need a real attach target, and which one. */
const HELPER_TARGET: Partial<Record<ProgramType, { attach: AttachType; name: string; kind: BtfKind }>> = {
  tracing: { attach: 'trace_raw_tp', name: 'btf_trace_sched_switch', kind: 'typedef' },
  lsm: { attach: 'lsm_mac', name: 'bpf_lsm_file_mprotect', kind: 'func' },
};

/** 'bpf_xdp_adjust_tail' or 'xdp_adjust_tail' → its id in this build's enum, or undefined. */
export function helperId(name: string): number | undefined {
  const bare = name.startsWith('bpf_') ? name.slice(4) : name;
  return (bpf_func_id as Readonly<Record<string, number>>)[`BPF_FUNC_${bare}`];
}

/** Can programs of this type call this helper? */
export function probeHelper(type: ProgramType, helper: number): Outcome {
  if (type === 'ext' || type === 'struct_ops')
    throw new UsageError(`helper probes are not available for ${type} programs: they need a target program or struct to load at all`);
  const spec: ProgSpec = { type: progTypeValueOf(type), ...PROG_PROBE[type], insns: encode([call(helper), exit]) };
  const target = HELPER_TARGET[type];
  if (target) {
    const id = kernelBtfId(target.name, target.kind);
    if (id === undefined) return { status: 'refused', errno: 0, command: 'kernel BTF', detail: `no ${target.kind} ${target.name} in kernel BTF to attach a ${type} probe program to` };
    spec.attach = target.attach;
    spec.attachBtfId = id;
  }
  const { r, log } = loadProbe(spec);
  closeIfFd(r);
  return fromHelperLoad(r, log);
}

// ---- maps ----

interface MapSpec {
  key: number;
  value: number;
  max: number;
  flags?: number;
  /** A BTF blob with `int` as type 1, used as key and value type (local storage). */
  btfInt?: boolean;
  vmlinuxValueTypeId?: number;
  innerMap?: boolean;
  /** Errnos that prove the type is there (struct_ops: the kernel looked the value type up). */
  present?: readonly number[];
}

const F = bpf_map_create_flags;
const storage: MapSpec = { key: 4, value: 4, max: 0, flags: F.BPF_F_NO_PREALLOC, btfInt: true };
const MAP_PROBE: Partial<Record<MapType, MapSpec>> = {
  stack_trace: { key: 4, value: 8, max: 1 },
  lpm_trie: { key: 8, value: 8, max: 1, flags: F.BPF_F_NO_PREALLOC },
  array_of_maps: { key: 4, value: 4, max: 1, innerMap: true },
  hash_of_maps: { key: 4, value: 4, max: 1, innerMap: true },
  // sizeof(struct bpf_cgroup_storage_key): the key every kernel since 4.19 accepts.
  cgroup_storage: { key: 16, value: 8, max: 0 },
  percpu_cgroup_storage: { key: 16, value: 8, max: 0 },
  queue: { key: 0, value: 4, max: 1 },
  stack: { key: 0, value: 4, max: 1 },
  bloom_filter: { key: 0, value: 4, max: 1 },
  ringbuf: { key: 0, value: 0, max: PAGE_SIZE },
  user_ringbuf: { key: 0, value: 0, max: PAGE_SIZE },
  arena: { key: 0, value: 0, max: 1, flags: F.BPF_F_MMAPABLE },
  sk_storage: storage,
  inode_storage: storage,
  task_storage: storage,
  cgrp_storage: storage,
  // No real value type: the kernel answers ENOTSUPP ("not a struct_ops type") only once it
  // knows struct_ops maps.
  struct_ops: { key: 4, value: 4, max: 1, vmlinuxValueTypeId: 1, present: [ERRNO.ENOTSUPP] },
};

export function mapTypeValueOf(type: MapType): number {
  return bpf_map_type[`BPF_MAP_TYPE_${type.toUpperCase()}` as keyof typeof bpf_map_type];
}

function createMap(typeValue: number, spec: MapSpec, btfFd = 0, innerFd = 0): number {
  const attr = new Attr(MAP_CREATE_ATTR)
    .set('map_type', typeValue)
    .set('key_size', spec.key)
    .set('value_size', spec.value)
    .set('max_entries', spec.max)
    .set('map_flags', spec.flags ?? 0)
    .set('inner_map_fd', innerFd)
    .set('btf_vmlinux_value_type_id', spec.vmlinuxValueTypeId ?? 0);
  if (btfFd > 0) attr.set('btf_fd', btfFd).set('btf_key_type_id', 1).set('btf_value_type_id', 1);
  return bpfAttr(bpf_cmd.BPF_MAP_CREATE, attr);
}

/** Does the kernel create maps of this type (with the smallest valid parameters)? */
export function probeMapType(type: MapType): Outcome {
  const spec = MAP_PROBE[type] ?? { key: 4, value: 4, max: 1 };
  let btfFd = 0;
  let innerFd = 0;
  try {
    if (spec.btfInt) {
      btfFd = loadBtf(btfIntBlob());
      if (btfFd < 0) return fromResult(btfFd, { command: 'BPF_BTF_LOAD' });
    }
    if (spec.innerMap) {
      innerFd = createMap(mapTypeValueOf('array'), { key: 4, value: 4, max: 1 });
      if (innerFd < 0) return fromResult(innerFd, { command: 'BPF_MAP_CREATE' });
    }
    const r = createMap(mapTypeValueOf(type), spec, btfFd, innerFd);
    closeIfFd(r);
    return fromResult(r, { command: 'BPF_MAP_CREATE', ...(spec.present ? { present: spec.present } : {}) });
  } finally {
    if (btfFd > 0) closeFd(btfFd);
    if (innerFd > 0) closeFd(innerFd);
  }
}

// ---- BTF ----

function loadBtf(blob: Uint8Array): number {
  const buf = stableBuffer(blob.length);
  buf.set(blob);
  const attr = new Attr(BTF_LOAD_ATTR).setPointer('btf', buf).set('btf_size', blob.length);
  return bpfAttr(bpf_cmd.BPF_BTF_LOAD, attr);
}

export function probeBtf(feature: BtfFeature): Outcome {
  const r = loadBtf(btfProbeBlob(feature));
  closeIfFd(r);
  return fromResult(r, { command: 'BPF_BTF_LOAD' });
}

// ---- kernel BTF ----

/** The id of a type in the running kernel's BTF, or undefined (also when there is no BTF). */
export function kernelBtfId(name: string, kind: BtfKind): number | undefined {
  try {
    return kernelBtf().typeByName(name, kind);
  } catch (e) {
    if (e instanceof BtfError) return undefined;
    throw e;
  }
}

function hasKernelBtf(): boolean {
  try {
    kernelBtf();
    return true;
  } catch (e) {
    if (e instanceof BtfError) return false;
    throw e;
  }
}

/** A function of this name in the kernel's BTF (vmlinux, then loaded modules). */
export function probeKfunc(name: string): Outcome {
  if (!hasKernelBtf()) return { status: 'refused', errno: 0, command: 'kernel BTF', detail: 'this kernel has no BTF (/sys/kernel/btf/vmlinux): kfuncs cannot be resolved here' };
  if (kernelBtfId(name, 'func') !== undefined) return fromEvidence(true, `a function named ${name}`, 'vmlinux BTF');
  return fromEvidence(false, `function named ${name}`, 'vmlinux BTF');
}

/** Whether an enum of the kernel's BTF has an enumerator (uapi enums are all there). */
function kernelEnumHas(enumName: string, enumerator: string): boolean | undefined {
  if (!hasKernelBtf()) return undefined;
  const id = kernelBtfId(enumName, 'enum');
  if (id === undefined) return false;
  const t = kernelBtf().type(id);
  return t.kind === 'enum' && t.values.some((v) => v.name === enumerator);
}

// ---- link and attach probes ----

function linkCreate(attr: Attr<string>): number {
  return bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
}

/** Loads a probe program, runs `then` with its fd, closes it. A load the kernel refuses or
 * does not know is the answer; one rejected otherwise means the probe could not run here. */
function withProgram(spec: ProgSpec, then: (fd: number) => Outcome): Outcome {
  const { r, log } = loadProbe(spec);
  if (r < 0) {
    const o = fromProgLoad(r, log);
    if (o.status !== 'present') return o;
    return { ...o, status: 'refused', detail: `the probe's program was rejected (${o.detail}), so the probe could not run` };
  }
  try {
    return then(r);
  } finally {
    closeFd(r);
  }
}

/** BPF_PROG_QUERY of loopback (ifindex 1 in every network namespace) for an attach type. */
function queryLoopback(attach: number, rule: ErrnoRule): Outcome {
  const attr = new Attr(PROG_QUERY_ATTR).set('target_ifindex', 1).set('attach_type', attach);
  return fromResult(bpfAttr(bpf_cmd.BPF_PROG_QUERY, attr), rule);
}

const NAMED_PROBES: Record<NamedFeature, () => Outcome> = {
  // A tcx query of loopback answers 0 (an empty chain); a kernel without tcx rejects the
  // attach type with EINVAL.
  tcx: () => queryLoopback(bpf_attach_type.BPF_TCX_INGRESS, R.tcx),
  // netkit looks the device up and finds loopback is no netkit device (ENXIO); without netkit
  // the attach type is unknown (EINVAL).
  netkit: () => queryLoopback(bpf_attach_type.BPF_NETKIT_PRIMARY, R.netkit),
  // Every failure of an XDP link create is EINVAL, with or without XDP links, so the evidence
  // is the kernel's own enum of link types.
  xdp_link: () => {
    const has = kernelEnumHas('bpf_link_type', 'BPF_LINK_TYPE_XDP');
    // Without BTF, the release is the best evidence left (backports then go unseen).
    if (has === undefined) return fromEvidence(kernelAtLeast(kernelRelease(), '5.9'), 'version 5.9 or later', 'kernel release');
    return fromEvidence(has, 'BPF_LINK_TYPE_XDP in enum bpf_link_type');
  },
  // pf 0 (NFPROTO_UNSPEC) is refused with EAFNOSUPPORT by a kernel that has netfilter links.
  netfilter_link: () =>
    withProgram({ type: progTypeValueOf('netfilter'), attach: 'netfilter' }, (fd) => {
      const attr = new Attr(LINK_CREATE_NETFILTER_ATTR).set('prog_fd', fd).set('attach_type', bpf_attach_type.BPF_NETFILTER);
      const r = linkCreate(attr);
      closeIfFd(r);
      return fromResult(r, R.netfilter_link);
    }),
  // One address to attach to, at an unmapped user address: a kernel with kprobe_multi fails
  // copying it in (EFAULT); one without rejects the attach type (EINVAL); one built without
  // fprobe says EOPNOTSUPP.
  kprobe_multi: () =>
    withProgram({ type: progTypeValueOf('kprobe'), attach: 'trace_kprobe_multi' }, (fd) => {
      const attr = new Attr(LINK_CREATE_KPROBE_MULTI_ATTR)
        .set('prog_fd', fd)
        .set('attach_type', bpf_attach_type.BPF_TRACE_KPROBE_MULTI)
        .set('kprobe_multi.cnt', 1)
        .set('kprobe_multi.addrs', 8);
      const r = linkCreate(attr);
      closeIfFd(r);
      return fromResult(r, R.kprobe_multi);
    }),
  // A uprobe on "/" (not a regular file): EBADF from a kernel that has uprobe_multi.
  uprobe_multi: () =>
    withProgram({ type: progTypeValueOf('kprobe'), attach: 'trace_uprobe_multi' }, (fd) => {
      const path = cString('/');
      const offsets = stableBuffer(8);
      const attr = new Attr(LINK_CREATE_UPROBE_MULTI_ATTR)
        .set('prog_fd', fd)
        .set('attach_type', bpf_attach_type.BPF_TRACE_UPROBE_MULTI)
        .setPointer('uprobe_multi.path', path)
        .setPointer('uprobe_multi.offsets', offsets)
        .set('uprobe_multi.cnt', 1);
      const r = linkCreate(attr);
      closeIfFd(r);
      return fromResult(r, R.uprobe_multi);
    }),
  // A perf link to fd -1: EBADF once the kernel looks the perf event up.
  perf_link: () =>
    withProgram({ type: progTypeValueOf('tracepoint') }, (fd) => {
      const attr = new Attr(LINK_CREATE_ATTR).set('prog_fd', fd).set('target_fd', BAD_FD).set('attach_type', bpf_attach_type.BPF_PERF_EVENT);
      const r = linkCreate(attr);
      closeIfFd(r);
      return fromResult(r, R.perf_link);
    }),
  // A sockmap link to map fd -1: EBADF from the map lookup.
  sockmap_link: () =>
    withProgram({ type: progTypeValueOf('sk_skb'), attach: 'sk_skb_stream_verdict' }, (fd) => {
      const attr = new Attr(LINK_CREATE_ATTR).set('prog_fd', fd).set('target_fd', BAD_FD).set('attach_type', bpf_attach_type.BPF_SK_SKB_STREAM_VERDICT);
      const r = linkCreate(attr);
      closeIfFd(r);
      return fromResult(r, R.sockmap_link);
    }),
  // A cgroup link to cgroup fd -1: EBADF from the cgroup lookup.
  cgroup_link: () => cgroupLink(0),
  // The same with BPF_F_BEFORE: kernels before cgroup mprog refuse any flag first (EINVAL).
  cgroup_mprog: () => cgroupLink(BPF_F_BEFORE),
  // fentry on bpf_fentry_test1 (the function BPF_PROG_TEST_RUN calls for tracing programs).
  trampoline: () => attachByBtf('tracing', 'trace_fentry', 'bpf_fentry_test1'),
  lsm: () => attachByBtf('lsm', 'lsm_mac', 'bpf_lsm_file_mprotect'),
  xdp_frags: () => {
    // An unknown prog_flags bit is EINVAL before the verifier runs.
    const { r, log } = loadProbe({ type: progTypeValueOf('xdp'), flags: BPF_F_XDP_HAS_FRAGS });
    closeIfFd(r);
    return fromProgLoad(r, log);
  },
  arena: () => probeMapType('arena'),
  // bpffs fd -1: EBADF from a kernel with the command; EINVAL (unknown command) without.
  bpf_token: () => {
    const attr = new Attr(TOKEN_CREATE_ATTR).set('bpffs_fd', BAD_FD);
    const r = bpfAttr(bpf_cmd.BPF_TOKEN_CREATE, attr);
    closeIfFd(r);
    return fromResult(r, R.bpf_token);
  },
  bpf_cookie: () => {
    const id = helperId('get_attach_cookie');
    if (id === undefined) return { status: 'absent', errno: 0, command: 'bpf_func_id', detail: 'this build of tsbpf does not know bpf_get_attach_cookie' };
    return probeHelper('tracepoint', id);
  },
};

function cgroupLink(flags: number): Outcome {
  return withProgram({ type: progTypeValueOf('cgroup_skb'), attach: 'cgroup_inet_ingress' }, (fd) => {
    const attr = new Attr(LINK_CREATE_ATTR)
      .set('prog_fd', fd)
      .set('target_fd', BAD_FD)
      .set('attach_type', bpf_attach_type.BPF_CGROUP_INET_INGRESS)
      .set('flags', flags);
    const r = linkCreate(attr);
    closeIfFd(r);
    return fromResult(r, flags === 0 ? R.cgroup_link : R.cgroup_mprog);
  });
}

/** Loads a program of `type` against a kernel function found in BTF: trampolines and LSM. */
function attachByBtf(type: ProgramType, attach: AttachType, func: string): Outcome {
  if (!hasKernelBtf()) return { status: 'absent', errno: 0, command: 'kernel BTF', detail: 'this kernel has no BTF (/sys/kernel/btf/vmlinux), which these programs need' };
  const id = kernelBtfId(func, 'func');
  if (id === undefined) {
    // bpf_lsm_* functions exist only with CONFIG_BPF_LSM; bpf_fentry_test1 in every kernel with BPF and networking.
    return type === 'lsm'
      ? { status: 'absent', errno: 0, command: 'vmlinux BTF', detail: `vmlinux BTF has no ${func}: the kernel was built without CONFIG_BPF_LSM` }
      : { status: 'refused', errno: 0, command: 'vmlinux BTF', detail: `vmlinux BTF has no ${func} to probe with` };
  }
  // Success, or EPERM where the machine refuses trampolines; EINVAL/ENOTSUPP where the kernel
  // (or its architecture) has none. The verifier's last words go into the detail.
  const { r, log } = loadProbe({ type: progTypeValueOf(type), attach, attachBtfId: id });
  closeIfFd(r);
  const o = fromResult(r, { command: 'BPF_PROG_LOAD' });
  const last = log.trim().split('\n').pop();
  return r < 0 && last ? { ...o, detail: `${o.detail} (verifier: "${last}")` } : o;
}

export function probeNamed(name: NamedFeature): Outcome {
  return NAMED_PROBES[name]();
}
