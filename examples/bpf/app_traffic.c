// examples/app-traffic.ts: bytes and packets per cgroup (per application or service). Two
// cgroup_skb programs attached to one cgroup see every packet its sockets — and those of every
// cgroup below it — send and receive, and add it to the counters of the socket's own cgroup.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct traffic {
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 rx_packets;
	__u64 rx_bytes;
};

/* cgroup id (the inode number of its directory on cgroup2) -> counters */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct traffic);
} traffic SEC(".maps");

static __always_inline struct traffic *entry(struct __sk_buff *skb)
{
	__u64 id = bpf_skb_cgroup_id(skb);
	struct traffic *t = bpf_map_lookup_elem(&traffic, &id);

	if (t)
		return t;
	struct traffic zero = {};
	bpf_map_update_elem(&traffic, &id, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&traffic, &id);
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	struct traffic *t = entry(skb);

	if (t) {
		__sync_fetch_and_add(&t->tx_packets, 1);
		__sync_fetch_and_add(&t->tx_bytes, skb->len);
	}
	return 1; /* let it through: this only counts */
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb)
{
	struct traffic *t = entry(skb);

	if (t) {
		__sync_fetch_and_add(&t->rx_packets, 1);
		__sync_fetch_and_add(&t->rx_bytes, skb->len);
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
