// The running kernel's BTF, read once per process (a file read, not a bpf(2) call).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { BtfError } from '../errors.js';
import { Btf } from './btf.js';

export const KERNEL_BTF_PATH = '/sys/kernel/btf/vmlinux';

const cache = new Map<string, Btf>();

/** Returns a file's bytes; they must stay valid while the Btf parsed from them is in use. */
export type BtfFileReader = (path: string) => Uint8Array;
let reader: BtfFileReader = (path) => readWholeFile(path);

/**
 * Lets a layer with system access supply kernel BTF bytes, e.g. an mmap(2) of the file
 * through src/syscall (6.16+ kernels allow it): no page-sized read(2) loop, and the type
 * section is then parsed in place. `undefined` restores plain reads. Affects later loads only.
 */
export function setKernelBtfReader(read: BtfFileReader | undefined): void {
  reader = read ?? ((path) => readWholeFile(path));
}

/**
 * Reads a whole file. sysfs hands out BTF a page per read(2); one buffer sized from fstat
 * and positioned reads avoid readFileSync's extra copies.
 */
export function readWholeFile(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new BtfError(`cannot open ${path}: ${err.code ?? err.message}${err.code === 'ENOENT' ? ' (kernel built without CONFIG_DEBUG_INFO_BTF?)' : ''}`);
  }
  try {
    let size = fstatSync(fd).size;
    let buf = new Uint8Array(size > 0 ? size : 1 << 20);
    let off = 0;
    for (;;) {
      if (off === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) break;
      off += n;
    }
    size = off;
    return buf.subarray(0, size);
  } catch (e) {
    if (e instanceof BtfError) throw e;
    throw new BtfError(`cannot read ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** The kernel's BTF (`/sys/kernel/btf/vmlinux`), parsed once and cached for the process. */
export function loadKernelBtf(path = KERNEL_BTF_PATH): Btf {
  let btf = cache.get(path);
  if (!btf) {
    btf = Btf.parse(reader(path));
    cache.set(path, btf);
  }
  return btf;
}

/** A kernel module's split BTF (`/sys/kernel/btf/<module>`) on top of the kernel's. */
export function loadKernelModuleBtf(module: string): Btf {
  if (!/^[\w-]+$/.test(module) || module === 'vmlinux') throw new BtfError(`bad module name '${module}'`);
  const path = `/sys/kernel/btf/${module}`;
  let btf = cache.get(path);
  if (!btf) {
    btf = Btf.parse(reader(path), { base: loadKernelBtf() });
    cache.set(path, btf);
  }
  return btf;
}
