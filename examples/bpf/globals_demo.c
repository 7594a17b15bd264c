// examples/globals.ts: global variables as the loader lays them out. .rodata is fixed before
// load, .data and .bss are live: user space reads and writes them while the program runs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* .rodata: what to do with frames over the limit; set with obj.setConstant before load. */
const volatile __u32 over_limit_action = XDP_DROP;

/* .data (initialised): the limit, changed live with obj.setGlobal('limit', n); and a sequence
 * number that starts at 1000. */
__u32 limit = 1000;
__u64 next_seq = 1000;

/* .bss (zeroed): counters, read live with obj.global(name). */
__u64 packets;
__u64 bytes;
__u64 over_limit;
__u32 last_len;
__u64 last_seq;

SEC("xdp")
int size_gate(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;

	__sync_fetch_and_add(&packets, 1);
	__sync_fetch_and_add(&bytes, len);
	last_len = len;
	last_seq = __sync_fetch_and_add(&next_seq, 1);
	if (len > limit) {
		__sync_fetch_and_add(&over_limit, 1);
		return over_limit_action;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
