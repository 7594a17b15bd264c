// Socket syscalls for netlink, through the same seam as bpf(2). Each returns the kernel's
// result or -errno and never throws: the netlink layer decides what a failure means.
// Every buffer handed in must come from `stableBuffer` (its address goes to the kernel); each
// call keeps it reachable until the kernel has returned.
import { SYS } from './abi/bpf.js';
import { addressOf, kernelFd, rawSyscall } from './libc.js';
import { syscallStep, type SlowCall } from './steps.js';

export function sysSocket(domain: number, type: number, protocol: number): number {
  const r = rawSyscall(SYS.socket, domain, type, protocol);
  return r < 0 ? r : kernelFd(r);
}

export function sysBind(fd: number, addr: Buffer): number {
  return rawSyscall(SYS.bind, fd, addressOf(addr), addr.length, 0, 0, 0, addr);
}

export function sysSetsockopt(fd: number, level: number, name: number, value: Buffer): number {
  return rawSyscall(SYS.setsockopt, fd, level, name, addressOf(value), value.length, 0, value);
}

/** getsockname(2); `addr` receives the address, `lenBuf` (4 bytes) its length. */
export function sysGetsockname(fd: number, addr: Buffer, lenBuf: Buffer): number {
  lenBuf.writeUInt32LE(addr.length, 0);
  return rawSyscall(SYS.getsockname, fd, addressOf(addr), addressOf(lenBuf), 0, 0, 0, [addr, lenBuf]);
}

/** sendto(2) of `length` bytes of `buf` (no destination: netlink's default is the kernel). */
export function sysSend(fd: number, buf: Buffer, length: number, flags = 0): number {
  return rawSyscall(SYS.sendto, fd, addressOf(buf), length, flags, 0, 0, buf);
}

/** recvfrom(2) into `buf`; with MSG_TRUNC the result is the datagram's full length. */
export function sysRecv(fd: number, buf: Buffer, flags = 0): number {
  return rawSyscall(SYS.recvfrom, fd, addressOf(buf), buf.length, flags, 0, 0, buf);
}

/** sysSend as a step of a task (src/syscall/steps.ts): netlink does a request's work inside
 * sendto(2), which is what an async request runs off the main thread. */
export function sendStep(fd: number, buf: Buffer, length: number, flags = 0): SlowCall {
  return syscallStep(SYS.sendto, [fd, addressOf(buf), length, flags, 0, 0], buf);
}
