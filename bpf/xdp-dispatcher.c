// tsbpf's XDP dispatcher: version 2 of the multi-program protocol that libxdp defines
// (xdp-tools, lib/libxdp/protocol.org). One XDP program, `xdp_dispatcher`, calls up to ten
// stub functions, prog0()..prog9(); each component program is loaded as an freplace (EXT)
// program that replaces one stub. After each call the component's verdict is looked up in its
// slot's chain-call bitmap: a verdict in the bitmap moves on to the next slot, any other
// verdict is returned at once. After the last enabled slot the packet passes.
//
// Everything other loaders look at is fixed by the protocol, not by taste:
// - the configuration struct in .rodata (its layout and field order), filled in by the loader
//   before load and frozen, so the verifier prunes every slot past num_progs_enabled;
// - `dispatcher_version` in the xdp_metadata section, encoded as a BTF-defined value;
// - the function names: `xdp_dispatcher` (libxdp recognises a dispatcher by that program
//   name) and prog0..prog9 (the freplace targets), all with the prototype
//   int (struct xdp_md *), which an extension must match;
// - exactly one map (the .rodata one): libxdp refuses a "dispatcher" with more.
// The loader side is src/xdp/multi/; the layout is checked against libxdp's own object by
// test/xdp-multi/dispatcher-object.test.ts.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define DISPATCHER_VERSION 2
#define DISPATCHER_MAGIC 236
/* What a stub returns: bit 31 is set in every slot's chain-call bitmap, so a slot whose
 * component has gone away is stepped over instead of ending the chain. */
#define STUB_VERDICT 31
#define SLOTS 10

struct xdp_dispatcher_config {
	__u8 magic;              /* DISPATCHER_MAGIC: a dispatcher, whatever its BTF says */
	__u8 dispatcher_version; /* DISPATCHER_VERSION */
	__u8 num_progs_enabled;  /* slots in use, from 0 */
	__u8 is_xdp_frags;       /* loaded with BPF_F_XDP_HAS_FRAGS */
	__u32 chain_call_actions[SLOTS]; /* per slot: bit n set = verdict n continues the chain */
	__u32 run_prios[SLOTS];          /* per slot: the priority the component was added with */
	__u32 program_flags[SLOTS];      /* per slot: BPF_F_XDP_HAS_FRAGS if the component has it */
};

/* const: in .rodata, frozen at load, so the values are known to the verifier;
 * volatile: clang must read them rather than fold the all-zero initialiser. */
static volatile const struct xdp_dispatcher_config conf = {};

/* A slot's placeholder. The verdict is volatile so that clang cannot see what it is and
 * inline or fold the call (a replaced function must stay a real call). The call to
 * bpf_xdp_adjust_tail with delta 0 changes nothing; it marks the stub as one that may change
 * packet data, which kernels from 6.13 require of a function that an extension changing
 * packet data (adjust_head, adjust_tail…) replaces. */
#define STUB(n)                                                    \
	__attribute__((noinline)) int prog##n(struct xdp_md *ctx) \
	{                                                          \
		volatile int verdict = STUB_VERDICT;               \
		if (!ctx)                                          \
			return XDP_ABORTED;                        \
		bpf_xdp_adjust_tail(ctx, 0);                       \
		return verdict;                                    \
	}

STUB(0)
STUB(1)
STUB(2)
STUB(3)
STUB(4)
STUB(5)
STUB(6)
STUB(7)
STUB(8)
STUB(9)

/* Written out per slot rather than as a loop: each slot is a separate call site whose
 * branch on num_progs_enabled the verifier removes when the slot is unused. */
#define RUN_SLOT(n)                                             \
	if (enabled < (n) + 1)                                  \
		goto done;                                      \
	verdict = prog##n(ctx);                                 \
	if (!((1U << verdict) & conf.chain_call_actions[n]))    \
		return verdict;

SEC("xdp")
int xdp_dispatcher(struct xdp_md *ctx)
{
	__u8 enabled = conf.num_progs_enabled;
	int verdict;

	RUN_SLOT(0)
	RUN_SLOT(1)
	RUN_SLOT(2)
	RUN_SLOT(3)
	RUN_SLOT(4)
	RUN_SLOT(5)
	RUN_SLOT(6)
	RUN_SLOT(7)
	RUN_SLOT(8)
	RUN_SLOT(9)
done:
	return XDP_PASS;
}

/* The kernel's licence marker; extensions and the helpers they call are checked against it. */
char _license[] SEC("license") = "GPL";
/* The protocol's version, as libxdp encodes it: a BTF-defined value (a pointer to an array of
 * that many elements) in the xdp_metadata section. */
__uint(dispatcher_version, DISPATCHER_VERSION) SEC("xdp_metadata");
/* Which loader built this dispatcher, for status displays: libxdp's has no such entry, and
 * libxdp only looks up dispatcher_version in this section. */
__uint(tsbpf_dispatcher, 1) SEC("xdp_metadata");
