// examples/core.ts: CO-RE (compile once, run everywhere). The structs below declare only the
// task_struct fields this program uses, in an order and at offsets that have nothing to do with
// the kernel's; preserve_access_index makes clang record each access as a relocation, which
// the loader rewrites to the running kernel's real offsets, sizes and existence answers.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	struct task_struct *real_parent;
} __attribute__((preserve_access_index));

/* Linux 5.14 renamed `long state` to `unsigned int __state`: two flavours, one is in this kernel. */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

struct task_struct___new {
	unsigned int __state;
} __attribute__((preserve_access_index));

/* What the program read (from the task that runs it) ... */
__u32 task_pid, task_tgid, parent_tgid;
char task_comm[16];
__u64 task_state;
/* ... and what the loader told it about the kernel's types. */
__u32 task_size, off_pid, off_tgid, off_comm, off_real_parent, size_comm;
__u32 has_new_state, has_old_state;

SEC("raw_tp/sys_enter")
int read_task(void *ctx)
{
	struct task_struct *task = (void *)bpf_get_current_task();

	task_pid = BPF_CORE_READ(task, pid);
	task_tgid = BPF_CORE_READ(task, tgid);
	parent_tgid = BPF_CORE_READ(task, real_parent, tgid); /* two reads: real_parent, then its tgid */
	BPF_CORE_READ_STR_INTO(&task_comm, task, comm);

	/* The loader turns each test into a constant 0 or 1; the verifier then never sees the
	 * branch that reads the flavour this kernel lacks. */
	if (bpf_core_field_exists(struct task_struct___new, __state))
		task_state = BPF_CORE_READ((struct task_struct___new *)task, __state);
	else
		task_state = BPF_CORE_READ((struct task_struct___old *)task, state);
	has_new_state = bpf_core_field_exists(struct task_struct___new, __state);
	has_old_state = bpf_core_field_exists(struct task_struct___old, state);

	task_size = bpf_core_type_size(struct task_struct);
	off_pid = bpf_core_field_offset(struct task_struct, pid);
	off_tgid = bpf_core_field_offset(struct task_struct, tgid);
	off_comm = bpf_core_field_offset(struct task_struct, comm);
	off_real_parent = bpf_core_field_offset(struct task_struct, real_parent);
	size_comm = bpf_core_field_size(struct task_struct, comm);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
