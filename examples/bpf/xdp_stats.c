// The demo's XDP program: counts packets and bytes per protocol and drops one UDP/TCP
// destination port, chosen before load through a .rodata constant.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

enum proto { P_ICMP, P_TCP, P_UDP, P_ARP, P_IPV6, P_OTHER, P_MAX };

struct counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, P_MAX);
	__type(key, __u32);
	__type(value, struct counters);
} stats SEC(".maps");

/* Set by the loader before load (obj.setConstant('drop_port', 9999)); 0 drops nothing. */
const volatile __u16 drop_port = 0;

/* Packets this program dropped; read back through the .bss map. */
__u64 dropped = 0;

static __always_inline void count(__u32 proto, __u64 len)
{
	struct counters *c = bpf_map_lookup_elem(&stats, &proto);
	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

SEC("xdp")
int xdp_stats(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 len = end - data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
		count(P_ARP, len);
		return XDP_PASS;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		count(P_IPV6, len);
		return XDP_PASS;
	}
	if (eth->h_proto != bpf_htons(ETH_P_IP)) {
		count(P_OTHER, len);
		return XDP_PASS;
	}
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl < 5) {
		count(P_OTHER, len);
		return XDP_PASS;
	}
	void *l4 = (void *)ip + ip->ihl * 4;
	__u16 dport = 0;
	__u32 proto;
	switch (ip->protocol) {
	case IPPROTO_ICMP:
		proto = P_ICMP;
		break;
	case IPPROTO_TCP: {
		struct tcphdr *tcp = l4;
		if ((void *)(tcp + 1) <= end)
			dport = tcp->dest;
		proto = P_TCP;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *udp = l4;
		if ((void *)(udp + 1) <= end)
			dport = udp->dest;
		proto = P_UDP;
		break;
	}
	default:
		proto = P_OTHER;
	}
	count(proto, len);
	if (drop_port && dport == bpf_htons(drop_port)) {
		__sync_fetch_and_add(&dropped, 1);
		return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
