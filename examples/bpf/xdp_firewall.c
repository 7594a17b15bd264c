// examples/xdp-drop.ts: an XDP firewall. Drops UDP/TCP packets whose destination port is a key
// of the blocked_ports map (user space adds and removes ports while it runs), and ICMP when the
// loader set the .rodata constant drop_icmp. Counts every verdict.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum verdict { V_PASS, V_DROP_PORT, V_DROP_ICMP, V_MAX };

/* Destination port (host byte order) -> packets dropped for it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u64);
} blocked_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, V_MAX);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

/* Fixed at load time: obj.setConstant('drop_icmp', true). */
const volatile __u8 drop_icmp = 0;

static __always_inline int count(__u32 v, int action)
{
	__u64 *n = bpf_map_lookup_elem(&verdicts, &v);
	if (n)
		(*n)++;
	return action;
}

SEC("xdp")
int xdp_firewall(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return count(V_PASS, XDP_PASS);
	if (ip->protocol == IPPROTO_ICMP && drop_icmp)
		return count(V_DROP_ICMP, XDP_DROP);
	if (ip->protocol != IPPROTO_UDP && ip->protocol != IPPROTO_TCP)
		return count(V_PASS, XDP_PASS);

	/* UDP and TCP both start with source and destination port. */
	struct udphdr *l4 = (void *)ip + ip->ihl * 4;
	if ((void *)(l4 + 1) > end)
		return count(V_PASS, XDP_PASS);
	__u16 port = bpf_ntohs(l4->dest);
	__u64 *hits = bpf_map_lookup_elem(&blocked_ports, &port);
	if (!hits)
		return count(V_PASS, XDP_PASS);
	__sync_fetch_and_add(hits, 1);
	return count(V_DROP_PORT, XDP_DROP);
}

char LICENSE[] SEC("license") = "GPL";
