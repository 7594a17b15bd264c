// perf_event_open(2) and the perf ioctls, through the one syscall binding. Returns fds or
// -errno like bpfRaw: callers decide what a failure means.
import { PERF_EVENT_ATTR, PERF_FLAG_FD_CLOEXEC } from './abi/perf.js';
import { SYS } from './abi/bpf.js';
import { Attr } from './attr.js';
import { kernelFd, rawSyscall } from './libc.js';

export type PerfEventAttrKey = keyof typeof PERF_EVENT_ATTR.members;

/** A zeroed perf_event_attr with its `size` set; fill it and pass it to perfEventOpen. */
export function perfEventAttr(): Attr<PerfEventAttrKey> {
  return new Attr(PERF_EVENT_ATTR).set('size', PERF_EVENT_ATTR.size);
}

/** perf_event_open(attr, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC | flags): an fd or -errno. */
export function perfEventOpen(attr: Attr<PerfEventAttrKey>, pid: number, cpu: number, groupFd = -1, flags = 0): number {
  const r = rawSyscall(SYS.perf_event_open, attr.address, pid, cpu, groupFd, PERF_FLAG_FD_CLOEXEC | flags, 0, attr);
  return r < 0 ? r : kernelFd(r);
}

/** ioctl(fd, request, arg): 0 (or the result) or -errno. */
export function ioctl(fd: number, request: number, arg = 0): number {
  return rawSyscall(SYS.ioctl, fd, request, arg);
}
