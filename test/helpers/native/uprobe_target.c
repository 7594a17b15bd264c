/* The test binary for uprobes: calls tsbpf_add(i, 1000) and tsbpf_twice(i) (a static
 * function, so only in .symtab) N times once a byte arrives on stdin — the test attaches
 * first — and from the shared library, tsbpf_lib_sub(i, 7). Prints the sum of the results.
 *
 *   uprobe_target N
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int tsbpf_lib_sub(int a, int b);

__attribute__((noinline, used)) int tsbpf_add(int a, int b)
{
	__asm__ volatile("");
	return a + b;
}

__attribute__((noinline, used)) static int tsbpf_twice(int a)
{
	__asm__ volatile("");
	return 2 * a;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1;
	long sum = 0;
	char c;

	if (read(0, &c, 1) != 1)
		return 2;
	for (int i = 0; i < n; i++)
		sum += tsbpf_add(i, 1000) + tsbpf_twice(i) + tsbpf_lib_sub(i, 7);
	printf("%ld\n", sum);
	return 0;
}
