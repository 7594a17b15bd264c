// Times link attach + detach cycles with libbpf's low-level API, for bench/link.ts: an XDP
// link (bpf_link_create with BPF_XDP) and a tcx link (bpf_link_create with BPF_TCX_INGRESS;
// libbpf 1.1 predates tcx, so the attach type is passed as its number and the empty opts go
// straight to the kernel). Each cycle is create + close(fd), which detaches.
// Usage: link_bench <ifindex> <iterations>; prints one JSON line (microseconds per cycle).
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define TCX_INGRESS 46 /* BPF_TCX_INGRESS, newer than the installed headers */

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int load(enum bpf_prog_type type, int ret) {
  struct bpf_insn insns[] = {
    { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret },
    { .code = BPF_JMP | BPF_EXIT },
  };
  int fd = bpf_prog_load(type, "link_bench", "GPL", insns, 2, NULL);
  if (fd < 0) { fprintf(stderr, "bpf_prog_load: %d\n", fd); exit(1); }
  return fd;
}

static double cycle(int prog, int ifindex, enum bpf_attach_type type, int iters) {
  /* One warm-up cycle, not timed. */
  for (int i = -1; i < iters; i++) {
    static double t0;
    if (i == 0) t0 = now_us();
    int fd = bpf_link_create(prog, ifindex, type, NULL);
    if (fd < 0) { fprintf(stderr, "bpf_link_create(%d): %d\n", (int)type, fd); exit(1); }
    close(fd);
    if (i == iters - 1) return (now_us() - t0) / iters;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: link_bench <ifindex> <iterations>\n"); return 2; }
  int ifindex = atoi(argv[1]);
  int iters = atoi(argv[2]);
  int xdp = load(BPF_PROG_TYPE_XDP, 2 /* XDP_PASS */);
  int tc = load(BPF_PROG_TYPE_SCHED_CLS, -1 /* TCX_NEXT */);
  double xdp_us = cycle(xdp, ifindex, BPF_XDP, iters);
  double tcx_us = cycle(tc, ifindex, (enum bpf_attach_type)TCX_INGRESS, iters);
  printf("{\"iterations\":%d,\"xdp_us\":%.1f,\"tcx_us\":%.1f}\n", iters, xdp_us, tcx_us);
  close(xdp);
  close(tc);
  return 0;
}
