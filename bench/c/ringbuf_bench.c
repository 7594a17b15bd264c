// The C baseline for bench/ringbuf.ts: libbpf's ring_buffer and perf_buffer readers on the
// same object (test/fixtures/event_streams.o), the same producers and the same event counts
// as the tsbpf side. One command per run, one JSON line out.
//
//   ringbuf_bench <event_streams.o> consume-ring <records> <reps>
//       fill a ring with <records> records from BPF_PROG_TEST_RUN of xdp_ring, then time
//       ring_buffer__consume over them; best of <reps>
//   ringbuf_bench <obj> consume-perf <records> <reps>     the same through xdp_perf and perf_buffer__consume
//   ringbuf_bench <obj> latency-ring|latency-perf <producer> <count> <interval_us>
//       the producer's getppid calls through tp_ring/tp_perf, read with ring_buffer__poll /
//       perf_buffer__poll(-1); latency = CLOCK_MONOTONIC in the callback − the record's ts
//   ringbuf_bench <obj> stream-ring|stream-perf <producer> <count>
//       a producer calling back to back; records received per second of the producer's run
//   ringbuf_bench <obj> idle <seconds>       CPU used by ring_buffer__poll with no events
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct event {
	uint64_t ts;
	uint64_t seq;
	uint32_t len;
	uint32_t ifindex;
};

static uint64_t mono_ns(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + t.tv_nsec;
}

static double cpu_s(void) {
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static void die(const char *what, int err) {
	fprintf(stderr, "ringbuf_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static struct bpf_object *obj;
static long received;
static uint64_t sum;
static double *lat;
static long lat_n, lat_cap;
static long lost;

static int on_ring(void *ctx, void *data, size_t size) {
	const struct event *e = data;
	sum += e->seq;
	received++;
	return 0;
}

static int on_ring_lat(void *ctx, void *data, size_t size) {
	const struct event *e = data;
	if (lat_n < lat_cap) lat[lat_n++] = (mono_ns() - e->ts) / 1000.0;
	received++;
	return 0;
}

static void on_perf(void *ctx, int cpu, void *data, __u32 size) {
	const struct event *e = data;
	sum += e->seq;
	received++;
}

static void on_perf_lat(void *ctx, int cpu, void *data, __u32 size) {
	const struct event *e = data;
	if (lat_n < lat_cap) lat[lat_n++] = (mono_ns() - e->ts) / 1000.0;
	received++;
}

static void on_lost(void *ctx, int cpu, __u64 n) {
	lost += n;
}

static void open_obj(const char *path, unsigned ring_bytes) {
	obj = bpf_object__open_file(path, NULL);
	if (!obj) die("open", errno);
	if (ring_bytes) bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "ring"), ring_bytes);
	int e = bpf_object__load(obj);
	if (e) die("load", e);
}

static int map_fd(const char *name) {
	return bpf_map__fd(bpf_object__find_map_by_name(obj, name));
}

static void test_run(const char *prog, long times) {
	unsigned char pkt[64] = {0};
	int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, prog));
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof pkt, .repeat = (int)times);
	int e = bpf_prog_test_run_opts(fd, &o);
	if (e) die("test run", errno);
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Starts the producer, waiting for a line on its stdin; returns its pid and the pipe's write end. */
static pid_t start_producer(const char *path, long count, long interval, int *go) {
	int p[2];
	if (pipe(p)) die("pipe", errno);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[0], 0);
		close(p[1]);
		char c[24], i[24];
		snprintf(c, sizeof c, "%ld", count);
		snprintf(i, sizeof i, "%ld", interval);
		execl(path, path, c, i, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	*go = p[1];
	return pid;
}

static void target(pid_t pid) {
	uint32_t k = 0, v = pid;
	if (bpf_map_update_elem(map_fd("target"), &k, &v, 0)) die("target", errno);
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: see the top of ringbuf_bench.c\n");
		return 2;
	}
	const char *path = argv[1], *cmd = argv[2];
	libbpf_set_print(NULL);
	if (!strcmp(cmd, "consume-ring") || !strcmp(cmd, "consume-perf")) {
		long n = atol(argv[3]), reps = atol(argv[4]);
		int ring = !strcmp(cmd, "consume-ring");
		/* room for every record: 24-byte events in 32-byte ring records, 40 in perf */
		unsigned bytes = 1;
		while (bytes < n * 40) bytes <<= 1;
		open_obj(path, ring ? bytes : 0);
		struct ring_buffer *rb = ring ? ring_buffer__new(map_fd("ring"), on_ring, NULL, NULL) : NULL;
		struct perf_buffer *pb = ring ? NULL : perf_buffer__new(map_fd("perf"), bytes / 4096, on_perf, on_lost, NULL, NULL);
		if (ring ? !rb : !pb) die("reader", errno);
		double best = 1e9;
		for (long r = 0; r < reps; r++) {
			test_run(ring ? "xdp_ring" : "xdp_perf", n);
			received = 0;
			double t = mono_ns();
			int got = ring ? ring_buffer__consume(rb) : perf_buffer__consume(pb);
			double s = (mono_ns() - t) * 1e-9;
			if (got < 0 || received != n || lost) {
				fprintf(stderr, "consume: got %d, received %ld of %ld, lost %ld\n", got, received, n, lost);
				return 1;
			}
			if (s < best) best = s;
		}
		printf("{\"records\":%ld,\"seconds\":%.9f,\"perSec\":%.0f}\n", n, best, n / best);
		return 0;
	}
	if (!strncmp(cmd, "latency-", 8) || !strncmp(cmd, "stream-", 7)) {
		int ring = strstr(cmd, "ring") != NULL, latency = cmd[0] == 'l';
		const char *producer = argv[3];
		long count = atol(argv[4]), interval = latency ? atol(argv[5]) : 0;
		open_obj(path, 1 << 24);
		int go;
		pid_t pid = start_producer(producer, count, interval, &go);
		target(pid);
		struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, ring ? "tp_ring" : "tp_perf"));
		if (!link) die("attach", errno);
		lat_cap = count;
		lat = calloc(count, sizeof *lat);
		struct ring_buffer *rb = ring ? ring_buffer__new(map_fd("ring"), latency ? on_ring_lat : on_ring, NULL, NULL) : NULL;
		/* 4096 pages per CPU: 16 MiB, as the ring */
		struct perf_buffer *pb = ring ? NULL : perf_buffer__new(map_fd("perf"), 4096, latency ? on_perf_lat : on_perf, on_lost, NULL, NULL);
		double c0 = cpu_s();
		uint64_t t0 = mono_ns();
		if (write(go, "\n", 1) != 1) die("go", errno);
		int status = 0;
		int done = 0;
		/* Read until the producer has exited and everything it made is consumed. */
		while (received + lost < count) {
			int e = ring ? ring_buffer__poll(rb, 100) : perf_buffer__poll(pb, 100);
			if (e < 0 && e != -EINTR) die("poll", e);
			if (!done && waitpid(pid, &status, WNOHANG) == pid) done = 1;
			if (done && e == 0) break;
		}
		double secs = (mono_ns() - t0) * 1e-9, cpu = cpu_s() - c0;
		if (!done) waitpid(pid, &status, 0);
		if (latency) {
			qsort(lat, lat_n, sizeof *lat, cmp);
			printf("{\"received\":%ld,\"lost\":%ld,\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f,\"cpuSeconds\":%.4f,\"seconds\":%.3f}\n", received, lost,
			       lat[lat_n / 2], lat[(long)(lat_n * 0.99)], lat[lat_n - 1], cpu, secs);
		} else {
			printf("{\"received\":%ld,\"lost\":%ld,\"seconds\":%.4f,\"perSec\":%.0f,\"cpuSeconds\":%.4f}\n", received, lost, secs, received / secs, cpu);
		}
		return 0;
	}
	if (!strcmp(cmd, "idle")) {
		double seconds = atof(argv[3]);
		open_obj(path, 0);
		struct ring_buffer *rb = ring_buffer__new(map_fd("ring"), on_ring, NULL, NULL);
		double c0 = cpu_s();
		ring_buffer__poll(rb, (int)(seconds * 1000));
		printf("{\"cpuSeconds\":%.6f,\"seconds\":%.3f}\n", cpu_s() - c0, seconds);
		return 0;
	}
	fprintf(stderr, "ringbuf_bench: unknown command %s\n", cmd);
	return 2;
}
