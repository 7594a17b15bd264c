// The BTF a map was created with, read back from the kernel: what `map.typed()` decodes by when
// the caller does not hand over the object's parsed BTF (a pinned map, a map by id).
import { UsageError } from '../errors.js';
import { Btf, loadKernelBtf } from '../btf/index.js';
import { Attr, BPF_BTF_INFO, closeFd, fdById, objInfo, stableBuffer } from '../syscall/index.js';
import type { MapInfo } from './info.js';

/** A map's key and value types: ids in `btf` (keyType 0 for maps without keys). */
export interface MapBtfTypes {
  readonly btf: Btf;
  readonly keyType: number;
  readonly valueType: number;
}

/** The parsed BTF object the kernel holds under `id`. */
export function btfObjectById(id: number): Btf {
  const fd = fdById('btf', id);
  try {
    const attr = new Attr(BPF_BTF_INFO);
    objInfo(fd, attr, `BTF id ${id}`);
    const size = attr.get('btf_size');
    const data = stableBuffer(Math.max(size, 1));
    const name = stableBuffer(64);
    attr.zero().set('btf_size', size).setPointer('btf', data).set('name_len', name.length).setPointer('name', name);
    objInfo(fd, attr, `BTF id ${id}`);
    const end = name.indexOf(0);
    const objName = name.toString('utf8', 0, end < 0 ? name.length : end);
    const kernel = attr.get('kernel_btf') !== 0;
    if (kernel && objName === 'vmlinux') return loadKernelBtf();
    // A module's BTF is split: its ids continue vmlinux's.
    return Btf.parse(new Uint8Array(data.subarray(0, size)), kernel && objName !== '' ? { base: loadKernelBtf() } : {});
  } finally {
    closeFd(fd);
  }
}

/** The key/value types the kernel recorded for a map; a UsageError when it has none. */
export function kernelMapBtf(info: MapInfo, what: string): MapBtfTypes {
  if (!info.btfId || !info.btfValueTypeId)
    throw new UsageError(
      `${what} was created without BTF key/value types, so its values cannot be decoded; use the byte API (lookup/update with Uint8Array), or pass the types: typed({ btf, keyType, valueType })`,
    );
  return { btf: btfObjectById(info.btfId), keyType: info.btfKeyTypeId, valueType: info.btfValueTypeId };
}
