// The C baseline for bench/maps.ts: the same map work through libbpf's bpf.h wrappers.
//
//   gcc -O2 bench/c/map_bench.c -lbpf -o bench/c/build/map_bench
//   map_bench [entries=1000000] [batch=4096]
//
// It creates a hash and an array map of `entries` entries, then reads commands from stdin,
// one per line: "<hash|array> <op>", runs that op once over every entry and answers with one
// JSON line {"map","op","ops","seconds","cpuSeconds"}. The driver interleaves these with the same ops in
// tsbpf, so both sides are measured seconds apart on the same (noisy, shared) machine.
//
// Ops: update (overwrite every key), lookup, iterate (get_next_key + lookup), delete,
// updateBatch, lookupBatch, lookupAndDeleteBatch, deleteBatch. Ops that need a full map
// refill it first (untimed, with update_batch); deleting ops leave it empty.
#include <bpf/bpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* CPU seconds (user + system) this process has used: unlike wall time, it does not count the
 * time other processes on a busy machine hold the CPU. */
static double cpu(void) {
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static void die(const char *what, int err) {
	fprintf(stderr, "map_bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static long n_entries;
static uint32_t batch;
static uint32_t *keys;
static uint64_t *vals;
static uint32_t *out_keys;
static uint64_t *out_vals;

struct map {
	const char *name;
	int fd;
	int full;
};

static long do_update_batch(struct map *m) {
	for (long i = 0; i < n_entries; i += batch) {
		uint32_t count = (uint32_t)(n_entries - i < batch ? n_entries - i : batch);
		int err = bpf_map_update_batch(m->fd, keys + i, vals + i, &count, NULL);
		if (err) die("update_batch", err);
	}
	m->full = 1;
	return n_entries;
}

static void ensure_full(struct map *m) {
	if (!m->full) do_update_batch(m);
}

static long do_update(struct map *m) {
	for (long i = 0; i < n_entries; i++) {
		uint32_t k = (uint32_t)i;
		uint64_t v = (uint64_t)i;
		int err = bpf_map_update_elem(m->fd, &k, &v, BPF_ANY);
		if (err) die("update", err);
	}
	m->full = 1;
	return n_entries;
}

static volatile uint64_t sink;

static long do_lookup(struct map *m) {
	uint64_t sum = 0;
	for (long i = 0; i < n_entries; i++) {
		uint32_t k = (uint32_t)i;
		uint64_t v;
		int err = bpf_map_lookup_elem(m->fd, &k, &v);
		if (err) die("lookup", err);
		sum += v;
	}
	sink = sum;
	return n_entries;
}

static long do_iterate(struct map *m) {
	uint32_t cur, next;
	uint64_t v;
	long n = 0;
	int err = bpf_map_get_next_key(m->fd, NULL, &next);
	while (!err) {
		cur = next;
		if (bpf_map_lookup_elem(m->fd, &cur, &v) == 0) n++;
		err = bpf_map_get_next_key(m->fd, &cur, &next);
	}
	if (err != -ENOENT) die("get_next_key", err);
	if (n != n_entries) die("iterate count", EINVAL);
	return n;
}

static long do_delete(struct map *m) {
	for (long i = 0; i < n_entries; i++) {
		uint32_t k = (uint32_t)i;
		int err = bpf_map_delete_elem(m->fd, &k);
		if (err) die("delete", err);
	}
	m->full = 0;
	return n_entries;
}

/* Walks the map with lookup_batch (or lookup_and_delete_batch) until ENOENT. */
static long do_read_batch(struct map *m, int and_delete) {
	uint64_t in = 0, out = 0;
	long n = 0;
	int first = 1;
	for (;;) {
		uint32_t count = batch;
		int err = and_delete ? bpf_map_lookup_and_delete_batch(m->fd, first ? NULL : &in, &out, out_keys, out_vals, &count, NULL)
				     : bpf_map_lookup_batch(m->fd, first ? NULL : &in, &out, out_keys, out_vals, &count, NULL);
		n += count;
		if (err == -ENOENT) break;
		if (err) die(and_delete ? "lookup_and_delete_batch" : "lookup_batch", err);
		in = out;
		first = 0;
	}
	if (n != n_entries) die("batch count", EINVAL);
	if (and_delete) m->full = 0;
	return n;
}

static long do_delete_batch(struct map *m) {
	for (long i = 0; i < n_entries; i += batch) {
		uint32_t count = (uint32_t)(n_entries - i < batch ? n_entries - i : batch);
		int err = bpf_map_delete_batch(m->fd, keys + i, &count, NULL);
		if (err) die("delete_batch", err);
	}
	m->full = 0;
	return n_entries;
}

int main(int argc, char **argv) {
	n_entries = argc > 1 ? atol(argv[1]) : 1000000;
	batch = argc > 2 ? (uint32_t)atol(argv[2]) : 4096;
	keys = malloc(n_entries * sizeof(*keys));
	vals = malloc(n_entries * sizeof(*vals));
	out_keys = malloc(batch * sizeof(*out_keys));
	out_vals = malloc(batch * sizeof(*out_vals));
	for (long i = 0; i < n_entries; i++) {
		keys[i] = (uint32_t)i;
		vals[i] = (uint64_t)i;
	}

	struct map maps[2] = {
		{ "hash", bpf_map_create(BPF_MAP_TYPE_HASH, "c_bench_hash", 4, 8, n_entries, NULL), 0 },
		{ "array", bpf_map_create(BPF_MAP_TYPE_ARRAY, "c_bench_array", 4, 8, n_entries, NULL), 0 },
	};
	for (int i = 0; i < 2; i++)
		if (maps[i].fd < 0) die("create", maps[i].fd);

	char mapname[32], op[64];
	while (scanf("%31s %63s", mapname, op) == 2) {
		struct map *m = strcmp(mapname, "hash") == 0 ? &maps[0] : strcmp(mapname, "array") == 0 ? &maps[1] : NULL;
		if (!m) die(mapname, EINVAL);
		int needs_full = strcmp(op, "updateBatch") != 0 && strcmp(op, "update") != 0;
		if (needs_full) ensure_full(m);
		double t = now(), c = cpu();
		long n;
		if (!strcmp(op, "update")) n = do_update(m);
		else if (!strcmp(op, "lookup")) n = do_lookup(m);
		else if (!strcmp(op, "iterate")) n = do_iterate(m);
		else if (!strcmp(op, "delete")) n = do_delete(m);
		else if (!strcmp(op, "updateBatch")) n = do_update_batch(m);
		else if (!strcmp(op, "lookupBatch")) n = do_read_batch(m, 0);
		else if (!strcmp(op, "lookupAndDeleteBatch")) n = do_read_batch(m, 1);
		else if (!strcmp(op, "deleteBatch")) n = do_delete_batch(m);
		else die(op, EINVAL);
		double s = now() - t, cs = cpu() - c;
		printf("{\"map\":\"%s\",\"op\":\"%s\",\"ops\":%ld,\"seconds\":%.9f,\"cpuSeconds\":%.6f}\n", m->name, op, n, s, cs);
		fflush(stdout);
	}
	close(maps[0].fd);
	close(maps[1].fd);
	return 0;
}
