// setns(2), through the one syscall binding: moves the calling thread into the namespace an fd
// refers to. Returns 0 or -errno; src/netns decides what a failure means.
import { SYS } from './abi/bpf.js';
import { rawSyscall } from './libc.js';

export function sysSetns(fd: number, nstype: number): number {
  return rawSyscall(SYS.setns, fd, nstype);
}
