// libbpf's side of bench/btf.ts: times btf__parse of a BTF file (read + parse), btf__new on
// bytes already in memory (parse only), a plain read of the file, and
// btf__find_by_name_kind (of a struct early in the file and of one late in it).
// Usage: btf_parse <file> <iterations> <name> <late-name>; prints one JSON line
// with the minimum and median milliseconds per operation.
#include <bpf/btf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, double *t, int n, int last)
{
	qsort(t, n, sizeof(*t), cmp);
	printf("\"%s\":{\"min\":%.4f,\"median\":%.4f}%s", name, t[0], t[n / 2], last ? "" : ",");
}

static unsigned char *read_file(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		exit(1);
	}
	unsigned char *buf = malloc(st.st_size);
	size_t off = 0;
	ssize_t n;
	while (off < (size_t)st.st_size && (n = read(fd, buf + off, st.st_size - off)) > 0)
		off += n;
	close(fd);
	*len = off;
	return buf;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/sys/kernel/btf/vmlinux";
	int iters = argc > 2 ? atoi(argv[2]) : 50;
	const char *name = argc > 3 ? argv[3] : "task_struct";
	const char *late = argc > 4 ? argv[4] : name;
	int late_id = 0;
	double *t = calloc(iters, sizeof(double));
	size_t len;
	int id = 0;
	struct btf *b;

	b = btf__parse(path, NULL);
	if (!b) {
		perror("btf__parse");
		return 1;
	}
	long types = (long)btf__type_cnt(b) - 1;
	btf__free(b);

	printf("{\"types\":%ld,", types);
	for (int i = 0; i < iters; i++) {
		double t0 = now_ms();
		free(read_file(path, &len));
		t[i] = now_ms() - t0;
	}
	report("read", t, iters, 0);

	for (int i = 0; i < iters; i++) {
		double t0 = now_ms();
		b = btf__parse(path, NULL);
		t[i] = now_ms() - t0;
		btf__free(b);
	}
	report("read_parse", t, iters, 0);

	unsigned char *data = read_file(path, &len);
	for (int i = 0; i < iters; i++) {
		double t0 = now_ms();
		b = btf__new(data, len);
		t[i] = now_ms() - t0;
		btf__free(b);
	}
	report("parse", t, iters, 0);

	for (int i = 0; i < iters; i++) {
		b = btf__new(data, len);
		double t0 = now_ms();
		id = btf__find_by_name_kind(b, name, BTF_KIND_STRUCT);
		t[i] = now_ms() - t0;
		btf__free(b);
	}
	report("lookup", t, iters, 0);

	for (int i = 0; i < iters; i++) {
		b = btf__new(data, len);
		double t0 = now_ms();
		late_id = btf__find_by_name_kind(b, late, BTF_KIND_STRUCT);
		t[i] = now_ms() - t0;
		btf__free(b);
	}
	report("lookup_late", t, iters, 0);
	printf("\"id\":%d,\"late_id\":%d}\n", id, late_id);
	free(data);
	return 0;
}
