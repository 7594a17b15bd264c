// The event source of bench/ringbuf.ts: calls getppid(2) `count` times, `interval_us` apart
// (0: back to back), once a line arrives on stdin (so the reader can point the tracepoint
// program at this pid and attach first). test/fixtures/event_streams.o's tp_ring and tp_perf
// turn each call into one record with a CLOCK_MONOTONIC timestamp.
//
//   ringbuf_producer <count> <interval_us>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: ringbuf_producer <count> <interval_us>\n");
		return 2;
	}
	long count = atol(argv[1]);
	long interval = atol(argv[2]);
	char line[16];
	if (!fgets(line, sizeof line, stdin)) return 1;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (long i = 0; i < count; i++) {
		syscall(SYS_getppid);
		if (interval > 0) {
			// Absolute deadlines: the rate stays the same however long each wake-up took.
			next.tv_nsec += interval * 1000;
			while (next.tv_nsec >= 1000000000) {
				next.tv_nsec -= 1000000000;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
	return 0;
}
