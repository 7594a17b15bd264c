// The only file that loads koffi. Everything the kernel is asked goes through here.
//
// syscall(2) is variadic in C, but on x86_64 integer arguments travel in the same registers
// either way, so binding it with fixed intptr_t prototypes is sound and faster than koffi's
// variadic form (NOTES.md; intptr_t also measured a little faster than uint64_t here, and
// carries negative values such as an fd of -1 as they are). Pointers are passed as plain numbers:
// user-space addresses fit in 47 bits, and buffers from `Buffer.allocUnsafeSlow` have their
// own backing store, which V8 never moves.
import koffi from 'koffi';
import { SYS } from './abi/bpf.js';

const libc = koffi.load('libc.so.6');

const syscall3 = libc.func('intptr_t syscall(intptr_t nr, intptr_t a, intptr_t b, intptr_t c)') as (
  nr: number,
  a: number,
  b: number,
  c: number,
) => number;
const syscall6 = libc.func(
  'intptr_t syscall(intptr_t nr, intptr_t a, intptr_t b, intptr_t c, intptr_t d, intptr_t e, intptr_t f)',
) as (nr: number, a: number, b: number, c: number, d: number, e: number, f: number) => number;
const mmapFn = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off)');
const munmapFn = libc.func('int munmap(void *addr, size_t len)');
const ifNameToIndex = libc.func('unsigned int if_nametoindex(const char *name)') as (n: string) => number;
const ifIndexToName = libc.func('char *if_indextoname(unsigned int idx, _Out_ char *buf)') as (
  i: number,
  buf: Buffer,
) => unknown;

/** The errno of the last failed call; read it before making any other call. */
export function lastErrno(): number {
  return koffi.errno() as number;
}

/**
 * bpf(2) in its fastest form: returns the kernel's result, or -errno. No allocation, no throw,
 * so map hot paths can decide themselves what a failure means (ENOENT on lookup is an answer).
 */
const SYS_bpf = SYS.bpf; // read once: a property load per call shows in map benchmarks

export function bpfRaw(cmd: number, attrAddr: number, size: number): number {
  const r = syscall3(SYS_bpf, cmd, attrAddr, size);
  return r < 0 ? -(koffi.errno() as number) : r;
}

/** Any syscall with up to six integer arguments; returns the result or -errno. */
export function rawSyscall(nr: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0): number {
  const r = syscall6(nr, a, b, c, d, e, f);
  return r < 0 ? -(koffi.errno() as number) : r;
}

/** The address of a buffer's bytes. Only for buffers whose backing store never moves. */
export function addressOf(buf: ArrayBufferView): number {
  return Number(koffi.address(buf));
}

/** A zeroed buffer with a stable address, for attrs and anything the kernel writes into. */
export function stableBuffer(size: number): Buffer {
  // allocUnsafeSlow always creates its own ArrayBuffer; small Buffer.alloc() results can live
  // on V8's heap and move, which would leave the kernel a dangling address.
  return Buffer.allocUnsafeSlow(size === 0 ? 1 : size).fill(0);
}

/**
 * flock(2) on an open fd: blocks until the lock is granted (LOCK_EX), retrying when a signal
 * interrupts the wait. Returns 0 or -errno.
 */
export function flock(fd: number, op: number): number {
  for (;;) {
    const r = rawSyscall(SYS.flock, fd, op);
    if (r !== -4 /* EINTR */) return r;
  }
}

/** Closes a file descriptor; returns 0 or -errno. */
export function closeFd(fd: number): number {
  return rawSyscall(SYS.close, fd);
}

export interface Mapping {
  /** The mapped bytes; invalid after `unmap()`. */
  readonly bytes: Uint8Array;
  readonly address: number;
  unmap(): void;
}

/** mmap(2) of a kernel object's fd (map values, ring buffers). Returns a Mapping or -errno. */
export function mmapFd(fd: number, length: number, prot: number, flags: number, offset = 0): Mapping | number {
  const p = mmapFn(null, length, prot, flags, fd, offset);
  const address = Number(koffi.address(p));
  if (address === 0 || address === 2 ** 64 - 1 || address > 2 ** 63) return -(koffi.errno() as number);
  const bytes = new Uint8Array(koffi.view(p, length) as ArrayBuffer);
  let mapped = true;
  return {
    bytes,
    address,
    unmap() {
      if (mapped) {
        mapped = false;
        munmapFn(p, length);
      }
    },
  };
}

export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;
export const MAP_PRIVATE = 2;

/** Interface index by name in this process's network namespace; 0 if there is none. */
export function interfaceIndex(name: string): number {
  return ifNameToIndex(name);
}

/** Interface name by index; undefined if there is none. */
export function interfaceName(index: number): string | undefined {
  const buf = Buffer.alloc(16);
  const r = ifIndexToName(index, buf);
  if (r === null) return undefined;
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? 16 : end).toString();
}
