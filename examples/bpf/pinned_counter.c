// examples/pinned-maps.ts: a map pinned by name, shared between processes. The program counts
// its runs under key 0; the other keys belong to user space (process B writes key 1 and 2).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
	/* The loader pins it at <pinRoot>/shared_counts, or reuses the map already pinned there. */
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} shared_counts SEC(".maps");

SEC("xdp")
int count_runs(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 one = 1;
	__u64 *n = bpf_map_lookup_elem(&shared_counts, &key);

	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&shared_counts, &key, &one, BPF_NOEXIST);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
