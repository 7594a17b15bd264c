// examples/tc-rewrite.ts: a tc (sched_cls, direct action) program that rewrites packets in
// place. IPv4 UDP datagrams to port from_port get destination port to_port and TTL new_ttl;
// bpf_l4_csum_replace and bpf_l3_csum_replace keep the UDP and IP checksums right.
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Chosen by the loader before load (obj.setConstant). */
const volatile __u16 from_port = 1111;
const volatile __u16 to_port = 2222;
const volatile __u8 new_ttl = 42;

__u64 seen = 0;      /* IPv4 UDP datagrams looked at */
__u64 rewritten = 0; /* ... of which rewritten */

SEC("tc")
int rewrite_port(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP)
		return TC_ACT_OK;
	__u32 l4 = sizeof(*eth) + ip->ihl * 4;
	struct udphdr *udp = data + l4;
	if ((void *)(udp + 1) > end)
		return TC_ACT_OK;
	__sync_fetch_and_add(&seen, 1);
	if (udp->dest != bpf_htons(from_port))
		return TC_ACT_OK;

	/* Read everything first: helpers that change the packet invalidate data pointers. */
	__be16 old_port = udp->dest;
	__be16 new_port = bpf_htons(to_port);
	__u16 old_ttl_proto = *(__u16 *)&ip->ttl; /* TTL and protocol form one checksummed 16-bit word */
	struct iphdr patched = { .ttl = new_ttl, .protocol = ip->protocol };
	__u16 new_ttl_proto = *(__u16 *)&patched.ttl;

	/* The port is in the UDP checksum; MANGLED_0 keeps a "no checksum" 0 as it is. */
	bpf_l4_csum_replace(skb, l4 + offsetof(struct udphdr, check), old_port, new_port,
			    BPF_F_MARK_MANGLED_0 | sizeof(new_port));
	bpf_skb_store_bytes(skb, l4 + offsetof(struct udphdr, dest), &new_port, sizeof(new_port), 0);

	/* The TTL is only in the IP header checksum. */
	bpf_l3_csum_replace(skb, sizeof(*eth) + offsetof(struct iphdr, check), old_ttl_proto, new_ttl_proto, 2);
	bpf_skb_store_bytes(skb, sizeof(*eth) + offsetof(struct iphdr, ttl), &new_ttl_proto, 2, 0);

	__sync_fetch_and_add(&rewritten, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
