// The one home of perf_event_open(2)'s ABI as tsbpf uses it: kprobes and uprobes through their
// PMUs, and tracepoints, attached to BPF programs. `struct perf_event_attr` up to PERF_ATTR_SIZE_VER6 (the kernel
// takes a shorter struct than its own and zero-fills the rest); test/syscall/abi.test.ts checks
// every member against the running kernel's BTF and the ioctl numbers against the uapi header.
import { struct } from './layout.js';

export const PERF_EVENT_ATTR = struct('perf_event_attr', [
  ['type', 'u32'],
  ['size', 'u32'],
  ['config', 'u64'],
  ['sample_period|sample_freq', 'u64'],
  ['sample_type', 'u64'],
  ['read_format', 'u64'],
  // The 64 one-bit flags (disabled, inherit, ...): a bitfield word, positions in PERF_ATTR_BIT.
  ['bits', 'u64'],
  ['wakeup_events|wakeup_watermark', 'u32'],
  ['bp_type', 'u32'],
  // For the kprobe PMU: config1 is the address of the function name (a C string), config2 the
  // offset into it; or config1 = 0 and config2 = the address to probe.
  ['config1|kprobe_func|uprobe_path|bp_addr', 'u64'],
  ['config2|kprobe_addr|probe_offset|bp_len', 'u64'],
  ['branch_sample_type', 'u64'],
  ['sample_regs_user', 'u64'],
  ['sample_stack_user', 'u32'],
  ['clockid', 's32'],
  ['sample_regs_intr', 'u64'],
  ['aux_watermark', 'u32'],
  ['sample_max_stack', 'u16'],
  ['__reserved_2', 'u16'],
  ['aux_sample_size', 'u32'],
]);

/** enum perf_type_id: the fixed PMU types (kprobe and uprobe PMUs have dynamic ones, read
 * from sysfs). */
export const perf_type_id = {
  PERF_TYPE_SOFTWARE: 1,
  PERF_TYPE_TRACEPOINT: 2,
} as const;

/** enum perf_sw_ids: the software event a perf buffer's per-CPU fds are opened as. */
export const perf_sw_ids = {
  PERF_COUNT_SW_BPF_OUTPUT: 10,
} as const;

/** enum perf_event_sample_format: a BPF output sample carries only its raw bytes. */
export const perf_event_sample_format = {
  PERF_SAMPLE_RAW: 1 << 10,
} as const;

/** enum perf_event_type: the record kinds a perf buffer's ring holds for BPF output. */
export const perf_event_type = {
  PERF_RECORD_LOST: 2,
  PERF_RECORD_SAMPLE: 9,
} as const;

/** `struct perf_event_header` is { u32 type; u16 misc; u16 size }; a lost record follows it
 * with { u64 id; u64 lost }, a raw sample with { u32 size; u8 data[size] }. */
export const PERF_EVENT_HEADER_SIZE = 8;

/** Where the ring's positions live in the first page of a perf mmap (struct
 * perf_event_mmap_page): data_head is the kernel's, data_tail ours. data_offset and
 * data_size (4.1+) say where the data pages start; older kernels put them at one page. */
export const PERF_EVENT_MMAP_PAGE = {
  data_head: 1024,
  data_tail: 1032,
  data_offset: 1040,
  data_size: 1048,
} as const;

/** PERF_ATTR_SIZE_VER6: what we pass as `size` (the layout above, padded). */
export const PERF_ATTR_SIZE_VER6 = 120;

/** Bit positions in `bits` (the kernel's bitfield order). */
export const PERF_ATTR_BIT = {
  disabled: 0,
  inherit: 1,
  exclude_user: 4,
  exclude_kernel: 5,
  /** Wake readers by bytes (wakeup_watermark) instead of by events (wakeup_events). */
  watermark: 14,
} as const;

/** perf_event_open(2) flags. */
export const PERF_FLAG_FD_CLOEXEC = 1 << 3;

/** ioctl(2) requests on a perf event fd: _IO('$', 0), _IO('$', 1), _IOW('$', 8, __u32). */
export const PERF_EVENT_IOC_ENABLE = 0x2400;
export const PERF_EVENT_IOC_DISABLE = 0x2401;
export const PERF_EVENT_IOC_SET_BPF = 0x40042408;

/** Where the kernel publishes the kprobe PMU (4.17+, CONFIG_KPROBES): its dynamic type
 * number, and which config bit makes a kretprobe (`config:0` → bit 0). */
export const KPROBE_PMU_TYPE_PATH = '/sys/bus/event_source/devices/kprobe/type';
export const KPROBE_PMU_RETPROBE_PATH = '/sys/bus/event_source/devices/kprobe/format/retprobe';

/** The uprobe PMU (4.17+, CONFIG_UPROBE_EVENTS): type number, the retprobe bit (`config:0`), and
 * where in `config` the reference counter's offset goes (`config:32-63`, 4.20+). */
export const UPROBE_PMU_TYPE_PATH = '/sys/bus/event_source/devices/uprobe/type';
export const UPROBE_PMU_RETPROBE_PATH = '/sys/bus/event_source/devices/uprobe/format/retprobe';
export const UPROBE_PMU_REF_CTR_PATH = '/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset';
/** PERF_UPROBE_REF_CTR_OFFSET_SHIFT (kernel/trace/trace_uprobe.c), when sysfs does not say. */
export const PERF_UPROBE_REF_CTR_OFFSET_SHIFT = 32;

/** Where tracefs is usually mounted, in the order tools look (the mount table decides). */
export const TRACEFS_PATHS = ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'] as const;
