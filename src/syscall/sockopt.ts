// getsockopt(2), through the one syscall binding (setsockopt is in ./socket.ts). Returns the
// kernel's result or -errno, never throws. `value` and `lenBuf` must come from stableBuffer.
import { SYS } from './abi/bpf.js';
import { addressOf, rawSyscall } from './libc.js';

/** getsockopt(fd, level, name, value, &len); `lenBuf` (4 bytes) holds the length in (`length`,
 * default the buffer's) and out. */
export function sysGetsockopt(fd: number, level: number, name: number, value: Buffer, lenBuf: Buffer, length = value.length): number {
  lenBuf.writeUInt32LE(length, 0);
  return rawSyscall(SYS.getsockopt, fd, level, name, addressOf(value), addressOf(lenBuf), 0, [value, lenBuf]);
}
