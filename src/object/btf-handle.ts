// A BTF blob loaded into the kernel (BPF_BTF_LOAD): what maps and programs point at for their
// key/value types, func_info and line_info. Like libbpf, the first attempt has no log; only a
// failure pays for a second load that captures the kernel's BTF verifier log.
import { Btf, loadKernelBtf } from '../btf/index.js';
import { BpfError, UsageError } from '../errors.js';
import { ERRNO } from '../errno-names.js';
import { BPF_BTF_INFO, BTF_LOAD_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr, commandName, fdById, objInfo } from '../syscall/bpf.js';
import { KernelObject, duplicateFd, openById } from '../syscall/kernel-object.js';
import { closeFd, stableBuffer } from '../syscall/libc.js';

const { ENOSPC } = ERRNO;
const MAX_LOG = 16 * 1024 * 1024;

export interface BtfInfo {
  /** The BTF object's id (what a map's or program's `btfId` refers to). */
  id: number;
  /** Bytes of raw BTF. */
  size: number;
  /** 'vmlinux' or a module's name for the kernel's own BTF; '' for loaded BTF. */
  name: string;
  /** True for the kernel's (vmlinux, modules) BTF. */
  kernel: boolean;
}

/** What the kernel holds for a BTF fd: its info and a copy of its raw BTF (one call for the
 * size, one for the bytes). `what` names it in errors. */
export function btfContentsByFd(fd: number, what = `BTF of fd ${fd}`): { info: BtfInfo; bytes: Uint8Array } {
  const attr = new Attr(BPF_BTF_INFO);
  objInfo(fd, attr, what);
  const size = attr.get('btf_size');
  const data = stableBuffer(Math.max(size, 1));
  const name = stableBuffer(64);
  attr.zero().set('btf_size', size).setPointer('btf', data).set('name_len', name.length).setPointer('name', name);
  objInfo(fd, attr, what);
  const end = name.indexOf(0);
  const info = { id: attr.get('id'), size, name: name.toString('utf8', 0, end < 0 ? name.length : end), kernel: attr.get('kernel_btf') !== 0 };
  return { info, bytes: new Uint8Array(data.subarray(0, size)) };
}

/** Parses what the kernel holds: vmlinux's BTF is the kernel BTF (read once), a module's is
 * split BTF whose ids continue vmlinux's, any other (loaded by a program's object) stands alone. */
function parseKernelHeld(info: BtfInfo, bytes: Uint8Array): Btf {
  if (info.kernel && info.name === 'vmlinux') return loadKernelBtf();
  return Btf.parse(bytes, info.kernel && info.name !== '' ? { base: loadKernelBtf() } : {});
}

/** The BTF object the kernel holds under `id`, parsed (see BtfHandle.btf()). */
export function btfObjectById(id: number, what = `BTF id ${id}`): Btf {
  const fd = fdById('btf', id);
  try {
    const { info, bytes } = btfContentsByFd(fd, what);
    return parseKernelHeld(info, bytes);
  } finally {
    closeFd(fd);
  }
}

export function btfInfoByFd(fd: number): BtfInfo {
  const name = stableBuffer(64);
  const attr = new Attr(BPF_BTF_INFO).setPointer('name', name).set('name_len', name.length);
  objInfo(fd, attr, `BTF info of fd ${fd}`);
  const end = name.indexOf(0);
  return { id: attr.get('id'), size: attr.get('btf_size'), name: name.toString('utf8', 0, end < 0 ? name.length : end), kernel: attr.get('kernel_btf') !== 0 };
}

export class BtfHandle extends KernelObject {
  private constructor(fd: number) {
    // A leaked BTF fd costs kernel memory only (maps and programs hold their own references).
    super(fd, 'btf', true);
  }

  /** Wraps a BTF fd someone else opened; the fd is duplicated (the caller keeps its own). */
  static fromFd(fd: number): BtfHandle {
    return new BtfHandle(duplicateFd('btf', fd));
  }

  /** Opens a BTF object by id (a map's or program's `btfId`, the kernel's vmlinux/module BTF). */
  static fromId(id: number): BtfHandle {
    return new BtfHandle(openById('btf', id));
  }

  info(): BtfInfo {
    return btfInfoByFd(this.fd);
  }

  /** A copy of the raw BTF the kernel holds. */
  bytes(): Uint8Array {
    return btfContentsByFd(this.fd, this.describe()).bytes;
  }

  /** The BTF parsed: a module's on top of vmlinux's (its ids continue them), vmlinux's the
   * kernel BTF that loadKernelBtf() reads. */
  btf(): Btf {
    const { info, bytes } = btfContentsByFd(this.fd, this.describe());
    return parseKernelHeld(info, bytes);
  }

  protected idOf(fd: number): number {
    return btfInfoByFd(fd).id;
  }

  /** The kernel pins maps, programs and links only (BPF_OBJ_PIN answers EINVAL for BTF): a
   * BTF object lives as long as an fd, a map or a program holds it. */
  override pin(path: string): never {
    void path;
    throw new UsageError(`${this.describe()} cannot be pinned: the kernel pins maps, programs and links only; keep it alive through an fd, or a map or program that uses it`);
  }

  override unpin(path?: string): never {
    void path;
    throw new UsageError(`${this.describe()} cannot have a pin: the kernel pins maps, programs and links only`);
  }

  /** Loads encoded BTF; a rejection throws BpfError whose `log` is the kernel's BTF log. */
  static load(bytes: Uint8Array): BtfHandle {
    const blob = stableBuffer(bytes.byteLength);
    blob.set(bytes);
    const attr = new Attr(BTF_LOAD_ATTR).setPointer('btf', blob).set('btf_size', bytes.byteLength);
    const fd = bpfAttr(bpf_cmd.BPF_BTF_LOAD, attr);
    if (fd >= 0) return new BtfHandle(fd);
    let errno = -fd;
    for (let size = 64 * 1024; size <= MAX_LOG; size *= 4) {
      const log = stableBuffer(size);
      attr.setPointer('btf_log_buf', log).set('btf_log_size', size).set('btf_log_level', 1);
      const r = bpfAttr(bpf_cmd.BPF_BTF_LOAD, attr);
      if (r >= 0) return new BtfHandle(r); // loads with a log but not without: take it
      if (-r === ENOSPC && size < MAX_LOG) continue;
      if (-r !== ENOSPC) errno = -r;
      const text = log.toString('utf8', 0, Math.max(0, log.indexOf(0))).trimEnd();
      const last = text.split('\n').filter(Boolean).slice(-3).join('\n');
      throw new BpfError(
        { errno, command: commandName(bpf_cmd.BPF_BTF_LOAD), log: text },
        `BPF_BTF_LOAD failed: the kernel rejected the object's BTF${last ? `:\n${last}` : ''}`,
      );
    }
    throw new BpfError({ errno, command: commandName(bpf_cmd.BPF_BTF_LOAD) });
  }

}
