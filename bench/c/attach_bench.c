// libbpf's side of bench/attach.ts: netlink XDP and legacy tc operations on one interface,
// timed in a loop. Prints one line per row: "<row> <microseconds per op>".
//   attach_bench <ifindex> <iterations>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int load_const(enum bpf_prog_type type, int ret) {
  struct bpf_insn insns[2];
  memset(insns, 0, sizeof(insns));
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
  insns[0].imm = ret;
  insns[1].code = BPF_JMP | BPF_EXIT;
  int fd = bpf_prog_load(type, "bench_c", "GPL", insns, 2, NULL);
  if (fd < 0) {
    fprintf(stderr, "prog load failed: %d\n", fd);
    exit(1);
  }
  return fd;
}

static void check(int err, const char *what) {
  if (err) {
    fprintf(stderr, "%s failed: %d (%s)\n", what, err, strerror(-err));
    exit(1);
  }
}

static void xdp_cycles(int ifindex, int fd, __u32 mode, const char *row, int n) {
  for (int i = -1; i < n; i++) {  // i == -1: warm-up
    static double t0;
    if (i == 0) t0 = now_us();
    check(bpf_xdp_attach(ifindex, fd, mode | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL), "bpf_xdp_attach");
    check(bpf_xdp_detach(ifindex, mode, NULL), "bpf_xdp_detach");
    if (i == n - 1) printf("%s %.1f\n", row, (now_us() - t0) / n);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <ifindex> <iterations>\n", argv[0]);
    return 2;
  }
  int ifindex = atoi(argv[1]);
  int n = atoi(argv[2]);
  int xfd = load_const(BPF_PROG_TYPE_XDP, XDP_PASS);
  int tfd = load_const(BPF_PROG_TYPE_SCHED_CLS, 0);

  xdp_cycles(ifindex, xfd, XDP_FLAGS_DRV_MODE, "xdp-attach-detach-drv", n);
  xdp_cycles(ifindex, xfd, XDP_FLAGS_SKB_MODE, "xdp-attach-detach-skb", n);

  check(bpf_xdp_attach(ifindex, xfd, XDP_FLAGS_DRV_MODE, NULL), "bpf_xdp_attach");
  int qn = n * 20;
  double t0 = now_us();
  for (int i = 0; i < qn; i++) {
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    check(bpf_xdp_query(ifindex, 0, &q), "bpf_xdp_query");
  }
  printf("xdp-query %.1f\n", (now_us() - t0) / qn);
  check(bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL), "bpf_xdp_detach");

  // Hook create + destroy: INGRESS|EGRESS makes libbpf delete the qdisc, as tsbpf does for a
  // hook it created once both directions are empty.
  LIBBPF_OPTS(bpf_tc_hook, both, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  for (int i = -1; i < n; i++) {
    if (i == 0) t0 = now_us();
    check(bpf_tc_hook_create(&hook), "bpf_tc_hook_create");
    check(bpf_tc_hook_destroy(&both), "bpf_tc_hook_destroy");
  }
  printf("tc-hook-create-destroy %.1f\n", (now_us() - t0) / n);

  check(bpf_tc_hook_create(&hook), "bpf_tc_hook_create");
  for (int i = -1; i < n; i++) {
    if (i == 0) t0 = now_us();
    LIBBPF_OPTS(bpf_tc_opts, a, .prog_fd = tfd, .handle = 1, .priority = 1);
    check(bpf_tc_attach(&hook, &a), "bpf_tc_attach");
    LIBBPF_OPTS(bpf_tc_opts, d, .handle = 1, .priority = 1);
    check(bpf_tc_detach(&hook, &d), "bpf_tc_detach");
  }
  printf("tc-attach-detach %.1f\n", (now_us() - t0) / n);

  LIBBPF_OPTS(bpf_tc_opts, a, .prog_fd = tfd, .handle = 1, .priority = 1);
  check(bpf_tc_attach(&hook, &a), "bpf_tc_attach");
  t0 = now_us();
  for (int i = 0; i < qn; i++) {
    LIBBPF_OPTS(bpf_tc_opts, q, .handle = 1, .priority = 1);
    check(bpf_tc_query(&hook, &q), "bpf_tc_query");
  }
  printf("tc-query %.1f\n", (now_us() - t0) / qn);
  check(bpf_tc_hook_destroy(&both), "bpf_tc_hook_destroy");
  close(xfd);
  close(tfd);
  return 0;
}
