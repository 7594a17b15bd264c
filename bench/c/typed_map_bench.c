// The C baseline for bench/typed-maps.ts: struct keys and values through libbpf's bpf.h, the
// work a skeleton's typed map does in TypeScript (in C a struct *is* its bytes: no decoding).
//
//   gcc -O2 bench/c/typed_map_bench.c -lbpf -o bench/c/build/typed_map_bench
//   typed_map_bench [entries=100000]
//
// Reads commands from stdin, one per line ("update" or "lookup"), runs that op over every
// entry of a hash map (key struct flow_key, value struct flow_stats) and answers with one JSON
// line {"op","ops","seconds","cpuSeconds","check"}; `check` (the sum of packets read) proves the
// lookups happened and lets the driver compare it with its own.
#include <bpf/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

struct flow_key { uint32_t saddr; uint16_t dport; uint8_t proto; uint8_t pad; };
struct flow_stats { uint64_t packets; uint64_t bytes; };

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static double cpu(void) {
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

static struct flow_key key_of(uint32_t i) {
	struct flow_key k = { .saddr = 0x0a000000u + i, .dport = (uint16_t)(i & 0xffff), .proto = 17 };
	return k;
}

int main(int argc, char **argv) {
	uint32_t n = argc > 1 ? (uint32_t)atoi(argv[1]) : 100000;
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "typed_bench", sizeof(struct flow_key), sizeof(struct flow_stats), n, NULL);
	if (fd < 0) {
		fprintf(stderr, "typed_map_bench: map create: %d\n", fd);
		return 1;
	}
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		uint64_t check = 0;
		double t0 = now(), c0 = cpu();
		if (!strncmp(line, "update", 6)) {
			for (uint32_t i = 0; i < n; i++) {
				struct flow_key k = key_of(i);
				struct flow_stats v = { .packets = i, .bytes = (uint64_t)i * 1500 };
				if (bpf_map_update_elem(fd, &k, &v, BPF_ANY)) return 1;
			}
		} else if (!strncmp(line, "lookup", 6)) {
			for (uint32_t i = 0; i < n; i++) {
				struct flow_key k = key_of(i);
				struct flow_stats v;
				if (bpf_map_lookup_elem(fd, &k, &v)) return 1;
				check += v.packets;
			}
		} else {
			fprintf(stderr, "typed_map_bench: unknown op %s", line);
			return 1;
		}
		double t1 = now(), c1 = cpu();
		printf("{\"op\":\"%.*s\",\"ops\":%u,\"seconds\":%.9f,\"cpuSeconds\":%.9f,\"check\":%llu}\n", 6, line, n, t1 - t0, c1 - c0, (unsigned long long)check);
		fflush(stdout);
	}
	return 0;
}
