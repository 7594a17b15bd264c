// Raw tracepoints through a link (BPF_RAW_TRACEPOINT_OPEN): `raw_tp/<name>` programs by
// tracepoint name, and BTF-typed `tp_btf/<name>` programs, whose target the kernel already
// knows from the attach BTF id given at load. Neither needs kprobes or BPF trampolines.
import { UsageError } from '../errors.js';
import { RAW_TRACEPOINT_OPEN_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfCall, cString } from '../syscall/bpf.js';
import { Link, progFd, type ProgramRef } from './link.js';

/**
 * Attaches a raw tracepoint program to tracepoint `name` (e.g. 'sys_enter'); for a tp_btf
 * program leave `name` out. The Link owns the attachment, as every link does.
 */
export function attachRawTracepointLink(prog: ProgramRef, name?: string): Link {
  const fd = progFd(prog);
  if (name !== undefined && (typeof name !== 'string' || name === '' || name.includes('\0')))
    throw new UsageError(`a raw tracepoint name must be a non-empty string, got ${JSON.stringify(name)}`);
  const nameBuf = name === undefined ? undefined : cString(name);
  const attr = new Attr(RAW_TRACEPOINT_OPEN_ATTR).set('prog_fd', fd).setPointer('name', nameBuf);
  return Link.adopt(bpfCall(bpf_cmd.BPF_RAW_TRACEPOINT_OPEN, attr, name === undefined ? 'attach a tp_btf program' : `attach to raw tracepoint ${name}`));
}
