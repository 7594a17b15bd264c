// examples/tcx-chain.ts: small tcx programs meant to run one after another on one hook. Each
// counts the IPv4 packets it sees and appends its digit to skb->mark, so the last one can
// record the order in which the chain ran them; all return TCX_NEXT to hand the packet on.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define TCX_NEXT -1 /* the 6.1 uapi headers installed here predate tcx */

enum { FIRST, SECOND, THIRD, SECOND_V2, LATE, SLOTS };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* The digits of the last packet's path through the chain, e.g. 123. */
__u64 last_path = 0;

static __always_inline int step(struct __sk_buff *skb, __u32 slot, __u32 digit)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return TCX_NEXT;
	__u64 *n = bpf_map_lookup_elem(&hits, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	skb->mark = skb->mark * 10 + digit;
	return TCX_NEXT;
}

SEC("tcx/ingress")
int first(struct __sk_buff *skb)
{
	skb->mark = 0; /* the path starts here, whatever the mark was */
	return step(skb, FIRST, 1);
}

SEC("tcx/ingress")
int second(struct __sk_buff *skb)
{
	return step(skb, SECOND, 2);
}

SEC("tcx/ingress")
int second_v2(struct __sk_buff *skb)
{
	return step(skb, SECOND_V2, 4);
}

SEC("tcx/ingress")
int third(struct __sk_buff *skb)
{
	int ret = step(skb, THIRD, 3);
	if (skb->protocol == bpf_htons(ETH_P_IP))
		last_path = skb->mark;
	skb->mark = 0;
	return ret;
}

SEC("tcx/ingress")
int late(struct __sk_buff *skb)
{
	return step(skb, LATE, 5);
}

char LICENSE[] SEC("license") = "GPL";
