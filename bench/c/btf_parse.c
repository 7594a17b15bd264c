// Times libbpf's btf__parse of a BTF file and a btf__find_by_name_kind lookup, for bench/btf.ts.
// Usage: btf_parse <file> <iterations>; prints one JSON line (milliseconds per iteration).
#include <bpf/btf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
  int iters = argc > 2 ? atoi(argv[2]) : 50;
  static char buf[1 << 16];
  long types = 0;
  int id = 0;

  /* Warm-up, and the type count for cross-checking. */
  struct btf *b = btf__parse(path, NULL);
  if (!b) { perror("btf__parse"); return 1; }
  types = (long)btf__type_cnt(b) - 1;
  btf__free(b);

  double t0 = now_ms();
  for (int i = 0; i < iters; i++) {
    int fd = open(path, O_RDONLY);
    while (read(fd, buf, sizeof buf) > 0) {}
    close(fd);
  }
  double read_ms = (now_ms() - t0) / iters;

  t0 = now_ms();
  for (int i = 0; i < iters; i++) {
    b = btf__parse(path, NULL);
    btf__free(b);
  }
  double parse_ms = (now_ms() - t0) / iters;

  t0 = now_ms();
  for (int i = 0; i < iters; i++) {
    b = btf__parse(path, NULL);
    id = btf__find_by_name_kind(b, "task_struct", BTF_KIND_STRUCT);
    btf__free(b);
  }
  double parse_lookup_ms = (now_ms() - t0) / iters;

  b = btf__parse(path, NULL);
  t0 = now_ms();
  for (int i = 0; i < iters; i++) id = btf__find_by_name_kind(b, "task_struct", BTF_KIND_STRUCT);
  double lookup_ms = (now_ms() - t0) / iters;
  btf__free(b);

  printf("{\"types\":%ld,\"read_ms\":%.4f,\"parse_ms\":%.4f,\"parse_lookup_ms\":%.4f,\"lookup_ms\":%.4f,\"task_struct\":%d}\n",
         types, read_ms, parse_ms, parse_lookup_ms, lookup_ms, id);
  return 0;
}
