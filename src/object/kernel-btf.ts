// The running kernel's BTF for CO-RE and ksyms, parsed once per process. Kernels that allow
// it (6.16+) let /sys/kernel/btf/vmlinux be mapped privately: parsing the mapping in place
// skips ~1,400 page-sized read(2) calls (bench/btf.ts). Elsewhere, a plain read.
import { closeSync, fstatSync, openSync } from 'node:fs';
import { loadKernelBtf, readWholeFile, setKernelBtfReader, type Btf } from '../btf/index.js';
import { MAP_PRIVATE, PROT_READ, mmapFd } from '../syscall/libc.js';

let installed = false;

function mappedOrRead(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return readWholeFile(path); // let the reader produce its own clear error
  }
  try {
    const m = mmapFd(fd, fstatSync(fd).size, PROT_READ, MAP_PRIVATE);
    // The parsed Btf decodes types from the mapping lazily, for as long as the process keeps
    // the (cached) kernel BTF; it is unmapped when nothing references it any more.
    return typeof m === 'number' ? readWholeFile(path) : m;
  } finally {
    closeSync(fd);
  }
}

export function kernelBtf(path?: string): Btf {
  if (!installed) {
    setKernelBtfReader(mappedOrRead);
    installed = true;
  }
  return loadKernelBtf(path);
}
