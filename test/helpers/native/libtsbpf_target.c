/* The shared library half of uprobe_target: a function found through .dynsym. */
__attribute__((noinline)) int tsbpf_lib_sub(int a, int b)
{
	__asm__ volatile("");
	return a - b;
}
