/* A tiny network client for the cgroup tests: a process whose traffic a test can predict to
 * the byte, started in a test cgroup (its parent writes its pid to cgroup.procs first).
 *
 *   netclient udp ADDR PORT SIZE COUNT   COUNT datagrams of SIZE bytes, each waiting for an echo
 *   netclient tcp ADDR PORT              one connect(); prints "ok" or the errno's name
 *
 * Commands may follow each other on one command line. Output: one line per command.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int addr(const char *host, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(atoi(port));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static const char *name(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

int main(int argc, char **argv)
{
	int i = 1;
	while (i < argc) {
		struct sockaddr_in sa;
		if (!strcmp(argv[i], "udp") && i + 5 <= argc) {
			int size = atoi(argv[i + 3]), count = atoi(argv[i + 4]), echoed = 0, sent = 0;
			char *buf = calloc(1, size + 1);
			struct timeval tv = { .tv_sec = 2 };
			int fd = socket(AF_INET, SOCK_DGRAM, 0);
			if (fd < 0 || addr(argv[i + 1], argv[i + 2], &sa)) return 2;
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			memset(buf, 'u', size);
			for (int n = 0; n < count; n++) {
				if (sendto(fd, buf, size, 0, (struct sockaddr *)&sa, sizeof(sa)) == size) sent++;
				if (recv(fd, buf, size + 1, 0) == size) echoed++;
			}
			printf("udp sent %d echoed %d\n", sent, echoed);
			close(fd);
			free(buf);
			i += 5;
		} else if (!strcmp(argv[i], "tcp") && i + 3 <= argc) {
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			if (fd < 0 || addr(argv[i + 1], argv[i + 2], &sa)) return 2;
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) printf("tcp %s ok\n", argv[i + 2]);
			else printf("tcp %s %s\n", argv[i + 2], name(errno));
			close(fd);
			i += 3;
		} else {
			fprintf(stderr, "netclient: bad arguments at '%s'\n", argv[i]);
			return 2;
		}
		fflush(stdout);
	}
	return 0;
}
