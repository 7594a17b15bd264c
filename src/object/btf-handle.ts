// A BTF blob loaded into the kernel (BPF_BTF_LOAD): what maps and programs point at for their
// key/value types, func_info and line_info. Like libbpf, the first attempt has no log; only a
// failure pays for a second load that captures the kernel's BTF verifier log.
import { BpfError } from '../errors.js';
import { ERRNO } from '../errno-names.js';
import { BTF_LOAD_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { commandName } from '../syscall/bpf.js';
import { FdOwner } from '../syscall/fd.js';
import { bpfRaw, stableBuffer } from '../syscall/libc.js';

const { ENOSPC } = ERRNO;
const MAX_LOG = 16 * 1024 * 1024;

export class BtfHandle {
  readonly #owner: FdOwner;

  private constructor(fd: number) {
    this.#owner = new FdOwner(fd, 'BTF object', true);
  }

  /** Loads encoded BTF; a rejection throws BpfError whose `log` is the kernel's BTF log. */
  static load(bytes: Uint8Array): BtfHandle {
    const blob = stableBuffer(bytes.byteLength);
    blob.set(bytes);
    const attr = new Attr(BTF_LOAD_ATTR).setPointer('btf', blob).set('btf_size', bytes.byteLength);
    const fd = bpfRaw(bpf_cmd.BPF_BTF_LOAD, attr.address, attr.size);
    if (fd >= 0) return new BtfHandle(fd);
    let errno = -fd;
    for (let size = 64 * 1024; size <= MAX_LOG; size *= 4) {
      const log = stableBuffer(size);
      attr.setPointer('btf_log_buf', log).set('btf_log_size', size).set('btf_log_level', 1);
      const r = bpfRaw(bpf_cmd.BPF_BTF_LOAD, attr.address, attr.size);
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

  get fd(): number {
    return this.#owner.fd;
  }

  close(): void {
    this.#owner.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
