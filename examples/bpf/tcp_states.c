// examples/connections.ts: a live TCP connection table. The sock:inet_sock_set_state
// tracepoint fires on every TCP state change of every socket; this program sends each one (for
// one port, or all) to user space through a ring buffer, which keeps the table.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2
#define IPPROTO_TCP 6

/* The tracepoint's record, matched against the running kernel's BTF by field name (CO-RE). */
struct trace_event_raw_inet_sock_set_state {
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
} __attribute__((preserve_access_index));

struct event {
	__u64 ts_ns;
	__u64 skaddr;
	__u32 pid;
	__s32 oldstate;
	__s32 newstate;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* 0: every connection; otherwise only those with this port at either end. */
const volatile __u16 port = 0;

__u64 lost;

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct event *e;
	__u16 sport = ctx->sport, dport = ctx->dport;

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (port && sport != port && dport != port)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->skaddr = (__u64)ctx->skaddr;
	/* The task that happened to run: the owner for connect/close, often nobody's for softirqs. */
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->oldstate = ctx->oldstate;
	e->newstate = ctx->newstate;
	e->family = ctx->family;
	e->sport = sport;
	e->dport = dport;
	/* Arrays in the record are copied as libbpf-tools' tcpstates does (the verifier allows no
	 * pointer arithmetic on the context for a plain copy). */
	__builtin_memset(e->saddr, 0, 16);
	__builtin_memset(e->daddr, 0, 16);
	if (ctx->family == AF_INET) {
		bpf_probe_read_kernel(e->saddr, 4, ctx->saddr);
		bpf_probe_read_kernel(e->daddr, 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
	}
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
