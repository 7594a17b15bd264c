// Hands BTF bytes to the kernel (BPF_BTF_LOAD) to check it accepts what the encoder writes.
// Test-only: src/btf stays free of the syscall layer.
import { BTF_LOAD_ATTR, bpf_cmd, Attr, bpfRaw, closeFd, stableBuffer } from '../../src/syscall/index.js';

export function kernelLoadBtf(bytes: Uint8Array): { ok: boolean; errno: number; log: string } {
  const data = stableBuffer(bytes.length);
  data.set(bytes);
  const log = stableBuffer(1 << 16);
  const attr = new Attr(BTF_LOAD_ATTR)
    .setPointer('btf', data)
    .set('btf_size', bytes.length)
    .setPointer('btf_log_buf', log)
    .set('btf_log_size', log.length)
    .set('btf_log_level', 1);
  const r = bpfRaw(bpf_cmd.BPF_BTF_LOAD, attr.address, attr.size, attr);
  if (r >= 0) closeFd(r);
  const end = log.indexOf(0);
  return { ok: r >= 0, errno: r < 0 ? -r : 0, log: log.subarray(0, end < 0 ? log.length : end).toString() };
}
