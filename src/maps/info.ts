// BPF_OBJ_GET_INFO_BY_FD for maps.
import { Attr, BPF_MAP_INFO, objInfo } from '../syscall/index.js';
import { mapTypeName, type MapType } from './types.js';

export interface MapInfo {
  /** `'hash'`, `'array'`…; `'type N'` for a type this library does not know by name. */
  type: MapType;
  /** The kernel's `enum bpf_map_type` value. */
  typeId: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** `BPF_F_*` creation flags as the kernel reports them. */
  flags: number;
  name: string;
  /** Non-zero for a map offloaded to a device. */
  ifindex: number;
  /** 0 when the map has no BTF. */
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  btfVmlinuxValueTypeId: number;
  /** Type-specific: the number of hash functions of a bloom filter, the user address of an arena. */
  mapExtra: number;
}

export function mapInfoByFd(fd: number, context?: string): MapInfo {
  const a = new Attr(BPF_MAP_INFO);
  objInfo(fd, a, context ?? `map info of fd ${fd}`);
  return {
    type: mapTypeName(a.get('type')),
    typeId: a.get('type'),
    id: a.get('id'),
    keySize: a.get('key_size'),
    valueSize: a.get('value_size'),
    maxEntries: a.get('max_entries'),
    flags: a.get('map_flags'),
    name: a.getString('name'),
    ifindex: a.get('ifindex'),
    btfId: a.get('btf_id'),
    btfKeyTypeId: a.get('btf_key_type_id'),
    btfValueTypeId: a.get('btf_value_type_id'),
    btfVmlinuxValueTypeId: a.get('btf_vmlinux_value_type_id'),
    mapExtra: a.get('map_extra'),
  };
}
