// Every map on the system, by id: what `bpftool map list` shows.
import { BpfError } from '../errors.js';
import { closeFd, fdById, objectIds } from '../syscall/index.js';
import { ENOENT } from './errno.js';
import { mapInfoByFd, type MapInfo } from './info.js';

export interface MapListEntry {
  id: number;
  info: MapInfo;
}

/** Lists every map loaded on the system (needs root/CAP_SYS_ADMIN). Maps that vanish while
 * we look are skipped. Opens and closes one fd per map. */
export function listMaps(): MapListEntry[] {
  const out: MapListEntry[] = [];
  for (const id of objectIds('map')) {
    let fd: number;
    try {
      fd = fdById('map', id);
    } catch (e) {
      if (e instanceof BpfError && e.errno === ENOENT) continue;
      throw e;
    }
    try {
      out.push({ id, info: mapInfoByFd(fd) });
    } finally {
      closeFd(fd);
    }
  }
  return out;
}
