/* Baseline for bench/object.ts: libbpf opening (and optionally loading) an object file.
 * usage: object_open FILE ITERATIONS [load [PIN_ROOT]]
 * (maps declared LIBBPF_PIN_BY_NAME are pinned under PIN_ROOT, never at libbpf's default
 * /sys/fs/bpf, where they would reuse or leave behind the machine's own maps)  * prints {"open_us": x, "load_us": y, "open_cpu_us": x, "load_cpu_us": y}: per operation,
 * wall-clock and CPU time of the process (CPU time is what the work costs on a busy machine,
 * where wall-clock also counts the time other processes had the core). */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int quiet(enum libbpf_print_level level, const char *fmt, va_list args) { return 0; }

static double clock_us(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double now_us(void) { return clock_us(CLOCK_MONOTONIC); }
static double cpu_us(void) { return clock_us(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv)
{
	if (argc < 3) return 2;
	int n = atoi(argv[2]);
	int load = argc > 3 && !strcmp(argv[3], "load");
	libbpf_set_print(quiet);
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = argc > 4 ? argv[4] : NULL);
	/* warm-up: page cache, libbpf's lazily read kernel BTF */
	struct bpf_object *o = bpf_object__open_file(argv[1], &opts);
	if (!o) return 1;
	if (load && bpf_object__load(o)) return 1;
	bpf_object__close(o);

	double t0 = now_us(), c0 = cpu_us();
	for (int i = 0; i < n; i++) {
		o = bpf_object__open_file(argv[1], &opts);
		if (!o) return 1;
		bpf_object__close(o);
	}
	double open_us = (now_us() - t0) / n, open_cpu_us = (cpu_us() - c0) / n;
	double load_us = 0, load_cpu_us = 0;
	if (load) {
		t0 = now_us();
		c0 = cpu_us();
		for (int i = 0; i < n; i++) {
			o = bpf_object__open_file(argv[1], &opts);
			if (!o || bpf_object__load(o)) return 1;
			bpf_object__close(o);
		}
		load_us = (now_us() - t0) / n;
		load_cpu_us = (cpu_us() - c0) / n;
	}
	printf("{\"open_us\": %.2f, \"load_us\": %.2f, \"open_cpu_us\": %.2f, \"load_cpu_us\": %.2f}\n", open_us, load_us, open_cpu_us, load_cpu_us);
	return 0;
}
