// The one home of bpf(2)'s ABI: the anonymous structs of `union bpf_attr`, the info structs,
// and the uapi #defines that BTF cannot carry. Enums live in ./enums.ts (generated from BTF).
import { struct } from './layout.js';

export * from './enums.js';

/** x86_64 syscall numbers used by the syscall layer. */
export const SYS = {
  close: 3,
  mmap: 9,
  munmap: 11,
  socket: 41,
  sendto: 44,
  recvfrom: 45,
  bind: 49,
  getsockname: 51,
  setsockopt: 54,
  fcntl: 72,
  bpf: 321,
  // tracing: perf events for kprobes, and the calls the tracing tests trigger
  read: 0,
  mprotect: 10,
  ioctl: 16,
  getpid: 39,
  getppid: 110,
  getpgid: 121,
  perf_event_open: 298,
  // multi-program XDP: libxdp's lock on the bpffs xdp directory
  flock: 73,
  // attach points: socket filters (SO_ATTACH_BPF is queried with getsockopt), and entering a
  // network namespace for the attach calls that act on the caller's (netfilter, flow dissector)
  getsockopt: 55,
  setns: 308,
  // event readers: ring and perf buffers woken through epoll, stopped through an eventfd
  write: 1,
  epoll_wait: 232,
  epoll_ctl: 233,
  eventfd2: 290,
  epoll_create1: 291,
  // pinning the calling thread to one CPU: tests of per-CPU buffers, whose producing test runs
  // must land on the same CPU's ring
  sched_setaffinity: 203,
  sched_getaffinity: 204,
} as const;

/** statfs(2) f_type of a bpf filesystem (uapi linux/magic.h). */
export const BPF_FS_MAGIC = 0xcafe4a11;

/** flock(2) operations. */
export const LOCK_EX = 2;
export const LOCK_UN = 8;

/** fcntl(2) command: duplicate an fd with close-on-exec set. */
export const F_DUPFD_CLOEXEC = 1030;

/** Large enough for every command on kernels up to 6.18; the kernel accepts a shorter attr
 * only if every byte past what it knows is zero, so we size to what we use per command. */
export const BPF_ATTR_MAX_SIZE = 160;

export const BPF_OBJ_NAME_LEN = 16;
export const BPF_TAG_SIZE = 8;

/** Ring buffer record header (an anonymous enum in the uapi): `u32 len` with these two bits,
 * then `u32 pg_off`; records are padded to 8 bytes. */
export const BPF_RINGBUF_BUSY_BIT = 2 ** 31;
export const BPF_RINGBUF_DISCARD_BIT = 2 ** 30;
export const BPF_RINGBUF_HDR_SZ = 8;

// #defines from include/uapi/linux/bpf.h (not in BTF; checked against the installed headers,
// or by behaviour in the tcx tests for the ones newer than those headers).
export const BPF_F_ALLOW_OVERRIDE = 1 << 0;
export const BPF_F_ALLOW_MULTI = 1 << 1;
export const BPF_F_REPLACE = 1 << 2;
export const BPF_F_BEFORE = 1 << 3; // 6.6+, mprog
export const BPF_F_AFTER = 1 << 4; // 6.6+, mprog
export const BPF_F_ID = 1 << 5; // 6.6+, mprog
/** mprog: the relative_fd/relative_id names a link, not a program. Same bit as the map flag. */
export const BPF_F_LINK = 1 << 13; // 6.6+, mprog
/** link_create.netfilter.flags: reassemble IP fragments before the program runs (6.6+). */
export const BPF_F_NETFILTER_IP_DEFRAG = 1 << 0;
export const BPF_F_STRICT_ALIGNMENT = 1 << 0;
export const BPF_F_ANY_ALIGNMENT = 1 << 1;
export const BPF_F_TEST_RND_HI32 = 1 << 2;
export const BPF_F_TEST_STATE_FREQ = 1 << 3;
export const BPF_F_SLEEPABLE = 1 << 4;
export const BPF_F_XDP_HAS_FRAGS = 1 << 5;
export const BPF_F_XDP_DEV_BOUND_ONLY = 1 << 6; // 6.3+
export const BPF_F_QUERY_EFFECTIVE = 1 << 0;
export const BPF_F_TEST_RUN_ON_CPU = 1 << 0;
export const BPF_F_TEST_XDP_LIVE_FRAMES = 1 << 1;
export const BPF_PSEUDO_MAP_FD = 1;
export const BPF_PSEUDO_MAP_VALUE = 2;
export const BPF_PSEUDO_BTF_ID = 3;
export const BPF_PSEUDO_FUNC = 4;
export const BPF_PSEUDO_MAP_IDX = 5;
export const BPF_PSEUDO_MAP_IDX_VALUE = 6;
export const BPF_PSEUDO_CALL = 1;
export const BPF_PSEUDO_KFUNC_CALL = 2;

/** log_level bits for BPF_PROG_LOAD / BPF_BTF_LOAD. */
export const BPF_LOG_LEVEL1 = 1;
export const BPF_LOG_LEVEL2 = 2;
export const BPF_LOG_STATS = 4;

// ---- union bpf_attr, one layout per anonymous member ----

export const MAP_CREATE_ATTR = struct('bpf_attr.map_create', [
  ['map_type', 'u32'],
  ['key_size', 'u32'],
  ['value_size', 'u32'],
  ['max_entries', 'u32'],
  ['map_flags', 'u32'],
  ['inner_map_fd', 'u32'],
  ['numa_node', 'u32'],
  ['map_name', 'char[16]'],
  ['map_ifindex', 'u32'],
  ['btf_fd', 'u32'],
  ['btf_key_type_id', 'u32'],
  ['btf_value_type_id', 'u32'],
  ['btf_vmlinux_value_type_id', 'u32'],
  ['map_extra', 'u64'],
  ['value_type_btf_obj_fd', 's32'],
  ['map_token_fd', 's32'],
]);

export const MAP_ELEM_ATTR = struct('bpf_attr.map_elem', [
  ['map_fd', 'u32'],
  ['key', 'u64'],
  ['value|next_key', 'u64'],
  ['flags', 'u64'],
]);

export const MAP_BATCH_ATTR = struct('bpf_attr.batch', [
  ['in_batch', 'u64'],
  ['out_batch', 'u64'],
  ['keys', 'u64'],
  ['values', 'u64'],
  ['count', 'u32'],
  ['map_fd', 'u32'],
  ['elem_flags', 'u64'],
  ['flags', 'u64'],
]);

export const PROG_LOAD_ATTR = struct('bpf_attr.prog_load', [
  ['prog_type', 'u32'],
  ['insn_cnt', 'u32'],
  ['insns', 'u64'],
  ['license', 'u64'],
  ['log_level', 'u32'],
  ['log_size', 'u32'],
  ['log_buf', 'u64'],
  ['kern_version', 'u32'],
  ['prog_flags', 'u32'],
  ['prog_name', 'char[16]'],
  ['prog_ifindex', 'u32'],
  ['expected_attach_type', 'u32'],
  ['prog_btf_fd', 'u32'],
  ['func_info_rec_size', 'u32'],
  ['func_info', 'u64'],
  ['func_info_cnt', 'u32'],
  ['line_info_rec_size', 'u32'],
  ['line_info', 'u64'],
  ['line_info_cnt', 'u32'],
  ['attach_btf_id', 'u32'],
  ['attach_prog_fd|attach_btf_obj_fd', 'u32'],
  ['core_relo_cnt', 'u32'],
  ['fd_array', 'u64'],
  ['core_relos', 'u64'],
  ['core_relo_rec_size', 'u32'],
  ['log_true_size', 'u32'],
  ['prog_token_fd', 's32'],
  ['fd_array_cnt', 'u32'],
]);

export const OBJ_ATTR = struct('bpf_attr.obj', [
  ['pathname', 'u64'],
  ['bpf_fd', 'u32'],
  ['file_flags', 'u32'],
  ['path_fd', 's32'],
]);

export const PROG_ATTACH_ATTR = struct('bpf_attr.prog_attach', [
  ['target_fd|target_ifindex', 'u32'],
  ['attach_bpf_fd', 'u32'],
  ['attach_type', 'u32'],
  ['attach_flags', 'u32'],
  ['replace_bpf_fd', 'u32'],
  ['relative_fd|relative_id', 'u32'],
  ['expected_revision', 'u64'],
]);

export const TEST_RUN_ATTR = struct('bpf_attr.test', [
  ['prog_fd', 'u32'],
  ['retval', 'u32'],
  ['data_size_in', 'u32'],
  ['data_size_out', 'u32'],
  ['data_in', 'u64'],
  ['data_out', 'u64'],
  ['repeat', 'u32'],
  ['duration', 'u32'],
  ['ctx_size_in', 'u32'],
  ['ctx_size_out', 'u32'],
  ['ctx_in', 'u64'],
  ['ctx_out', 'u64'],
  ['flags', 'u32'],
  ['cpu', 'u32'],
  ['batch_size', 'u32'],
]);

export const GET_ID_ATTR = struct('bpf_attr.get_id', [
  ['start_id|prog_id|map_id|btf_id|link_id', 'u32'],
  ['next_id', 'u32'],
  ['open_flags', 'u32'],
  ['fd_by_id_token_fd', 's32'],
]);

export const INFO_ATTR = struct('bpf_attr.info', [
  ['bpf_fd', 'u32'],
  ['info_len', 'u32'],
  ['info', 'u64'],
]);

export const PROG_QUERY_ATTR = struct('bpf_attr.query', [
  ['target_fd|target_ifindex', 'u32'],
  ['attach_type', 'u32'],
  ['query_flags', 'u32'],
  ['attach_flags', 'u32'],
  ['prog_ids', 'u64'],
  ['prog_cnt|count', 'u32'],
  ['prog_attach_flags', 'u64'],
  ['link_ids', 'u64'],
  ['link_attach_flags', 'u64'],
  ['revision', 'u64'],
]);

export const RAW_TRACEPOINT_OPEN_ATTR = struct('bpf_attr.raw_tracepoint', [
  ['name', 'u64'],
  ['prog_fd', 'u32'],
  ['cookie', 'u64'],
]);

export const BTF_LOAD_ATTR = struct('bpf_attr.btf_load', [
  ['btf', 'u64'],
  ['btf_log_buf', 'u64'],
  ['btf_size', 'u32'],
  ['btf_log_size', 'u32'],
  ['btf_log_level', 'u32'],
  ['btf_log_true_size', 'u32'],
  ['btf_flags', 'u32'],
  ['btf_token_fd', 's32'],
]);

/** link_create with the shape of its tcx/netkit/cgroup (mprog) tail; other link kinds use
 * only the common head (XDP) or `target_btf_id`, which shares the tail's first u32. */
export const LINK_CREATE_ATTR = struct('bpf_attr.link_create', [
  ['prog_fd|map_fd', 'u32'],
  ['target_fd|target_ifindex', 'u32'],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
  ['relative_fd|relative_id|target_btf_id', 'u32'],
  ['expected_revision', 'u64'],
]);

/** link_create's netfilter tail (6.4+); its own `flags` (BPF_F_NETFILTER_IP_DEFRAG) is 6.6+. */
export const LINK_CREATE_NETFILTER_ATTR = struct('bpf_attr.link_create', [
  ['prog_fd', 'u32'],
  ['target_fd', 'u32'],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
  ['pf', 'u32'],
  ['hooknum', 'u32'],
  ['priority', 's32'],
  ['netfilter.flags', 'u32'],
]);

/** link_create's kprobe_multi tail (5.18+). */
export const LINK_CREATE_KPROBE_MULTI_ATTR = struct('bpf_attr.link_create', [
  ['prog_fd', 'u32'],
  ['target_fd', 'u32'],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
  ['kprobe_multi.flags', 'u32'],
  ['kprobe_multi.cnt', 'u32'],
  ['kprobe_multi.syms', 'u64'],
  ['kprobe_multi.addrs', 'u64'],
  ['kprobe_multi.cookies', 'u64'],
]);

/** link_create's uprobe_multi tail (6.6+). */
export const LINK_CREATE_UPROBE_MULTI_ATTR = struct('bpf_attr.link_create', [
  ['prog_fd', 'u32'],
  ['target_fd', 'u32'],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
  ['uprobe_multi.path', 'u64'],
  ['uprobe_multi.offsets', 'u64'],
  ['uprobe_multi.ref_ctr_offsets', 'u64'],
  ['uprobe_multi.cookies', 'u64'],
  ['uprobe_multi.cnt', 'u32'],
  ['uprobe_multi.flags', 'u32'],
  ['uprobe_multi.pid', 'u32'],
]);

export const LINK_UPDATE_ATTR = struct('bpf_attr.link_update', [
  ['link_fd', 'u32'],
  ['new_prog_fd|new_map_fd', 'u32'],
  ['flags', 'u32'],
  ['old_prog_fd|old_map_fd', 'u32'],
]);

export const LINK_DETACH_ATTR = struct('bpf_attr.link_detach', [['link_fd', 'u32']]);

/** link_create for fentry/fexit/fmod_ret/LSM and freplace: `tracing.target_btf_id` shares
 * its bytes with the plain `target_btf_id`; `tracing.cookie` is 5.19+. */
export const LINK_CREATE_TRACING_ATTR = struct('bpf_attr.link_create', [
  ['prog_fd', 'u32'],
  ['target_fd', 'u32'],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
  ['tracing.target_btf_id', 'u32'],
  ['tracing.cookie', 'u64'],
]);

/** link_create for iterators: a pointer to a `union bpf_iter_link_info` and its length. */
export const LINK_CREATE_ITER_ATTR = struct('bpf_attr.link_create', [
  ['prog_fd', 'u32'],
  ['target_fd', 'u32'],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
  ['iter_info', 'u64'],
  ['iter_info_len', 'u32'],
]);

/** link_create of a perf event (BPF_PERF_EVENT, 5.15+): target_fd is the perf event fd. */
export const LINK_CREATE_PERF_EVENT_ATTR = struct('bpf_attr.link_create', [
  ['prog_fd', 'u32'],
  ['target_fd', 'u32'],
  ['attach_type', 'u32'],
  ['flags', 'u32'],
  ['perf_event.bpf_cookie', 'u64'],
]);

/** BPF_ITER_CREATE: a readable fd (seq_file) of one run of an iterator link. */
export const ITER_CREATE_ATTR = struct('bpf_attr.iter_create', [
  ['link_fd', 'u32'],
  ['flags', 'u32'],
]);

/** `union bpf_iter_link_info`, one layout per member (checked in abi.test.ts). */
export const BPF_ITER_LINK_INFO = {
  map: struct('bpf_iter_link_info.map', [['map_fd', 'u32']]),
  cgroup: struct('bpf_iter_link_info.cgroup', [['order', 'u32'], ['cgroup_fd', 'u32'], ['cgroup_id', 'u64']]),
  task: struct('bpf_iter_link_info.task', [['tid', 'u32'], ['pid', 'u32'], ['pid_fd', 'u32']]),
} as const;

export const ENABLE_STATS_ATTR = struct('bpf_attr.enable_stats', [['type', 'u32']]);

export const PROG_BIND_MAP_ATTR = struct('bpf_attr.prog_bind_map', [
  ['prog_fd', 'u32'],
  ['map_fd', 'u32'],
  ['flags', 'u32'],
]);

/** BPF_TOKEN_CREATE (6.9+): a token from a bpffs mounted with delegation options. */
export const TOKEN_CREATE_ATTR = struct('bpf_attr.token_create', [
  ['flags', 'u32'],
  ['bpffs_fd', 'u32'],
]);

// ---- info structs (BPF_OBJ_GET_INFO_BY_FD) ----

export const BPF_PROG_INFO = struct('bpf_prog_info', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['tag', 'u8[8]'],
  ['jited_prog_len', 'u32'],
  ['xlated_prog_len', 'u32'],
  ['jited_prog_insns', 'u64'],
  ['xlated_prog_insns', 'u64'],
  ['load_time', 'u64'],
  ['created_by_uid', 'u32'],
  ['nr_map_ids', 'u32'],
  ['map_ids', 'u64'],
  ['name', 'char[16]'],
  ['ifindex', 'u32'],
  ['gpl_compatible', 'u32'], // a 1-bit bitfield in the uapi: bit 0 of this word
  ['netns_dev', 'u64'],
  ['netns_ino', 'u64'],
  ['nr_jited_ksyms', 'u32'],
  ['nr_jited_func_lens', 'u32'],
  ['jited_ksyms', 'u64'],
  ['jited_func_lens', 'u64'],
  ['btf_id', 'u32'],
  ['func_info_rec_size', 'u32'],
  ['func_info', 'u64'],
  ['nr_func_info', 'u32'],
  ['nr_line_info', 'u32'],
  ['line_info', 'u64'],
  ['jited_line_info', 'u64'],
  ['nr_jited_line_info', 'u32'],
  ['line_info_rec_size', 'u32'],
  ['jited_line_info_rec_size', 'u32'],
  ['nr_prog_tags', 'u32'],
  ['prog_tags', 'u64'],
  ['run_time_ns', 'u64'],
  ['run_cnt', 'u64'],
  ['recursion_misses', 'u64'],
  ['verified_insns', 'u32'],
  ['attach_btf_obj_id', 'u32'],
  ['attach_btf_id', 'u32'],
]);

export const BPF_MAP_INFO = struct('bpf_map_info', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['key_size', 'u32'],
  ['value_size', 'u32'],
  ['max_entries', 'u32'],
  ['map_flags', 'u32'],
  ['name', 'char[16]'],
  ['ifindex', 'u32'],
  ['btf_vmlinux_value_type_id', 'u32'],
  ['netns_dev', 'u64'],
  ['netns_ino', 'u64'],
  ['btf_id', 'u32'],
  ['btf_key_type_id', 'u32'],
  ['btf_value_type_id', 'u32'],
  ['btf_vmlinux_id', 'u32'],
  ['map_extra', 'u64'],
]);

export const BPF_BTF_INFO = struct('bpf_btf_info', [
  ['btf', 'u64'],
  ['btf_size', 'u32'],
  ['id', 'u32'],
  ['name', 'u64'],
  ['name_len', 'u32'],
  ['kernel_btf', 'u32'],
]);

/** The head of bpf_link_info; the per-type union starts at offset 16. */
export const BPF_LINK_INFO = struct('bpf_link_info', [
  ['type', 'u32'],
  ['id', 'u32'],
  ['prog_id', 'u32'],
  ['union', 'u64[8]'],
]);
const U = 16;
/** Per-link-type members of bpf_link_info's union, at their absolute offsets. */
export const BPF_LINK_INFO_UNION = {
  raw_tracepoint: struct('bpf_link_info.raw_tracepoint', [['tp_name', 'u64'], ['tp_name_len', 'u32'], ['cookie', 'u64']], U),
  tracing: struct('bpf_link_info.tracing', [['attach_type', 'u32'], ['target_obj_id', 'u32'], ['target_btf_id', 'u32'], ['cookie', 'u64']], U),
  cgroup: struct('bpf_link_info.cgroup', [['cgroup_id', 'u64'], ['attach_type', 'u32']], U),
  iter: struct('bpf_link_info.iter', [['target_name', 'u64'], ['target_name_len', 'u32'], ['map_id', 'u32']], U),
  netns: struct('bpf_link_info.netns', [['netns_ino', 'u32'], ['attach_type', 'u32']], U),
  xdp: struct('bpf_link_info.xdp', [['ifindex', 'u32']], U),
  struct_ops: struct('bpf_link_info.struct_ops', [['map_id', 'u32']], U),
  netfilter: struct('bpf_link_info.netfilter', [['pf', 'u32'], ['hooknum', 'u32'], ['priority', 's32'], ['flags', 'u32']], U),
  kprobe_multi: struct('bpf_link_info.kprobe_multi', [['addrs', 'u64'], ['count', 'u32'], ['flags', 'u32'], ['missed', 'u64'], ['cookies', 'u64']], U),
  uprobe_multi: struct('bpf_link_info.uprobe_multi', [['path', 'u64'], ['offsets', 'u64'], ['ref_ctr_offsets', 'u64'], ['cookies', 'u64'], ['path_size', 'u32'], ['count', 'u32'], ['flags', 'u32'], ['pid', 'u32']], U),
  perf_event: struct('bpf_link_info.perf_event', [['type', 'u32']], U),
  /** perf_event links of kprobes (6.6+; `missed` 6.7+, `cookie` 6.9+): the same bytes as `perf_event`. */
  perf_event_kprobe: struct(
    'bpf_link_info.perf_event',
    [['type', 'u32'], ['kprobe.func_name', 'u64'], ['kprobe.name_len', 'u32'], ['kprobe.offset', 'u32'], ['kprobe.addr', 'u64'], ['kprobe.missed', 'u64'], ['kprobe.cookie', 'u64']],
    U,
  ),
  /** perf_event links of uprobes (6.6+; `cookie` 6.9+, `ref_ctr_offset` 6.13+). */
  perf_event_uprobe: struct(
    'bpf_link_info.perf_event',
    [['type', 'u32'], ['uprobe.file_name', 'u64'], ['uprobe.name_len', 'u32'], ['uprobe.offset', 'u32'], ['uprobe.cookie', 'u64'], ['uprobe.ref_ctr_offset', 'u64']],
    U,
  ),
  /** perf_event links of tracepoints (6.6+; `cookie` 6.9+). */
  perf_event_tracepoint: struct('bpf_link_info.perf_event', [['type', 'u32'], ['tracepoint.tp_name', 'u64'], ['tracepoint.name_len', 'u32'], ['tracepoint.cookie', 'u64']], U),
  tcx: struct('bpf_link_info.tcx', [['ifindex', 'u32'], ['attach_type', 'u32']], U),
  netkit: struct('bpf_link_info.netkit', [['ifindex', 'u32'], ['attach_type', 'u32']], U),
  sockmap: struct('bpf_link_info.sockmap', [['map_id', 'u32'], ['attach_type', 'u32']], U),
} as const;
