// The only file that loads koffi. Everything the kernel is asked goes through here.
//
// syscall(2) is variadic in C, but on x86_64 integer arguments travel in the same registers
// either way, so binding it with fixed intptr_t prototypes is sound and faster than koffi's
// variadic form (NOTES.md; intptr_t also measured a little faster than uint64_t here, and
// carries negative values such as an fd of -1 as they are). Pointers are passed as plain numbers:
// user-space addresses fit in 47 bits, and buffers from `Buffer.allocUnsafeSlow` have their
// own backing store, which V8 never moves.
import koffi from 'koffi';
import { ERRNO } from '../errno-names.js';
import { F_DUPFD_CLOEXEC, SYS, bpf_cmd } from './abi/bpf.js';

const { EINVAL, EOPNOTSUPP } = ERRNO;

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

// The kernel reads and writes memory through addresses passed as plain numbers, which the
// garbage collector cannot see. Every call therefore names the object that owns that memory
// (an Attr keeps whatever its pointers point at), and it is stored here for the length of the
// call: a store to module state before an opaque native call cannot be optimised away, so the
// owner stays reachable until the kernel has returned, even when the caller's own variables
// are already dead. It is cleared afterwards so that nothing is retained longer.
let inFlight: unknown;

// bpf commands whose result is a new file descriptor (see kernelFd).
const RETURNS_FD = new Uint8Array(64);
for (const c of [
  bpf_cmd.BPF_MAP_CREATE,
  bpf_cmd.BPF_PROG_LOAD,
  bpf_cmd.BPF_OBJ_GET,
  bpf_cmd.BPF_PROG_GET_FD_BY_ID,
  bpf_cmd.BPF_MAP_GET_FD_BY_ID,
  bpf_cmd.BPF_RAW_TRACEPOINT_OPEN,
  bpf_cmd.BPF_BTF_LOAD,
  bpf_cmd.BPF_BTF_GET_FD_BY_ID,
  bpf_cmd.BPF_LINK_CREATE,
  bpf_cmd.BPF_LINK_GET_FD_BY_ID,
  bpf_cmd.BPF_ITER_CREATE,
  bpf_cmd.BPF_TOKEN_CREATE,
])
  RETURNS_FD[c] = 1;

/**
 * bpf(2) in its fastest form: returns the kernel's result, or -errno. No allocation, no throw,
 * so map hot paths can decide themselves what a failure means (ENOENT on lookup is an answer).
 * `keep` owns the memory the attr points at (usually the Attr itself): it stays reachable
 * until the kernel is done with it. A new fd is never 0 (see kernelFd).
 */
const SYS_bpf = SYS.bpf; // read once: a property load per call shows in map benchmarks

export function bpfRaw(cmd: number, attrAddr: number, size: number, keep: object): number {
  inFlight = keep;
  const r = syscall3(SYS_bpf, cmd, attrAddr, size);
  inFlight = undefined;
  if (r < 0) return -(koffi.errno() as number);
  return r === 0 && RETURNS_FD[cmd] === 1 ? kernelFd(r) : r;
}

/**
 * Any syscall with up to six integer arguments; returns the result or -errno. Pass as `keep`
 * whatever owns the memory an argument points at (a buffer, an Attr).
 */
export function rawSyscall(nr: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, keep?: object): number {
  inFlight = keep;
  const r = syscall6(nr, a, b, c, d, e, f);
  inFlight = undefined;
  return r < 0 ? -(koffi.errno() as number) : r;
}

// Asynchronous calls run on koffi's worker pool (libuv's threads): the main thread goes on
// while the kernel works (a verifier run, an RCU grace period). The memory such a call points
// at must stay reachable until it returns, which may be long after the caller's frame is
// gone: the owners of in-flight calls are kept here, one entry per call.
const inFlightAsync = new Set<object>();

type Async6 = (nr: number, a: number, b: number, c: number, d: number, e: number, f: number, cb: (err: unknown, r: number) => void) => void;
const syscall6Async = (syscall6 as unknown as { async: Async6 }).async;

/**
 * rawSyscall off the main thread: resolves to the result or -errno, as rawSyscall returns
 * them. Rejects only if koffi cannot queue the call (its queue of async calls is full).
 * `keep` stays reachable until the kernel has returned.
 */
export function rawSyscallAsync(nr: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, keep?: object): Promise<number> {
  const token = { keep };
  inFlightAsync.add(token);
  return new Promise<number>((resolve, reject) => {
    try {
      syscall6Async(nr, a, b, c, d, e, f, (err, r) => {
        // koffi hands the callback the errno of the call that just finished: read it before
        // anything else makes a call.
        const errno = r < 0 ? (koffi.errno() as number) : 0;
        inFlightAsync.delete(token);
        if (err) reject(err instanceof Error ? err : new Error(String(err)));
        else resolve(r < 0 ? -errno : r);
      });
    } catch (e) {
      inFlightAsync.delete(token);
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
}

/** bpfRaw off the main thread (see rawSyscallAsync): the result or -errno; a new fd is never 0. */
export async function bpfRawAsync(cmd: number, attrAddr: number, size: number, keep: object): Promise<number> {
  const r = await rawSyscallAsync(SYS_bpf, cmd, attrAddr, size, 0, 0, 0, keep);
  return r === 0 && RETURNS_FD[cmd] === 1 ? kernelFd(r) : r;
}

/**
 * A file descriptor fresh from the kernel, moved off 0. Several bpf(2) fields read fd 0 as
 * "none" (an inner map, a BTF object, a relative program), and a process that closed stdin
 * gets 0 for its next fd: such an fd would silently mean nothing when passed on. As cilium/ebpf
 * does, 0 is duplicated to the lowest free fd above it and closed. Returns the fd or -errno.
 */
export function kernelFd(fd: number): number {
  if (fd !== 0) return fd;
  const dup = syscall6(SYS.fcntl, 0, F_DUPFD_CLOEXEC, 1, 0, 0, 0);
  const errno = dup < 0 ? (koffi.errno() as number) : 0;
  syscall6(SYS.close, 0, 0, 0, 0, 0, 0);
  return dup < 0 ? -errno : dup;
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

// A mapping is unmapped only when no JavaScript can reach it any more: when the ArrayBuffer
// every view of it shares is collected. Closing the map (or ring) that was mapped only drops
// the library's references; views the caller kept stay valid (the mapping also keeps the
// kernel object alive) instead of pointing at unmapped memory. The ArrayBuffers koffi makes
// over foreign memory cannot be detached or transferred (structuredClone and postMessage copy
// them), so no second owner of the memory can appear behind the registry's back.
const unmapWhenCollected = new FinalizationRegistry<{ p: unknown; length: number }>(({ p, length }) => {
  munmapFn(p, length);
});

/**
 * mmap(2) of a kernel object's fd (map values, ring buffers). Returns a view of the whole
 * mapping, or -errno. There is deliberately no unmap: see above.
 */
export function mmapFd(fd: number, length: number, prot: number, flags: number, offset = 0): Uint8Array | number {
  if (!Number.isSafeInteger(length) || length <= 0) return -EINVAL;
  const p = mmapFn(null, length, prot, flags, fd, offset);
  const address = Number(koffi.address(p));
  if (address === 0 || address === 2 ** 64 - 1 || address > 2 ** 63) return -(koffi.errno() as number);
  let buffer: ArrayBuffer;
  try {
    buffer = koffi.view(p, length) as ArrayBuffer;
  } catch {
    // A runtime that refuses ArrayBuffers over foreign memory (V8's sandbox, as in Electron).
    munmapFn(p, length);
    return -EOPNOTSUPP;
  }
  unmapWhenCollected.register(buffer, { p, length });
  return new Uint8Array(buffer);
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
