// System-wide iteration, like `bpftool prog list` and `bpftool link list`.
import { BpfError } from '../errors.js';
import { fdById, objectIds } from '../syscall/bpf.js';
import { closeFd } from '../syscall/libc.js';
import { linkInfo, type LinkInfo } from '../link/info.js';
import { programInfoByFd, type ProgramInfo } from './info.js';

/** Objects can vanish between reading an id and opening it: skip those. */
function* openEach<T>(kind: 'prog' | 'link', read: (fd: number) => T): Generator<T> {
  for (const id of objectIds(kind)) {
    let fd: number;
    try {
      fd = fdById(kind, id);
    } catch (e) {
      if (e instanceof BpfError && e.code === 'ENOENT') continue;
      throw e;
    }
    try {
      yield read(fd);
    } finally {
      closeFd(fd);
    }
  }
}

/** Every program loaded in the system, by ascending id. */
export function listPrograms(): { id: number; info: ProgramInfo }[] {
  return [...openEach('prog', (fd) => programInfoByFd(fd))].map((info) => ({ id: info.id, info }));
}

/** Every BPF link in the system, by ascending id, with what it is attached to (the same
 * description `Link.info()` gives). */
export function listLinks(): LinkInfo[] {
  return [...openEach('link', (fd) => linkInfo(fd))];
}
