// BPF_PROG_QUERY of any hook that keeps a list of programs (a cgroup's attach type, a netkit
// device, a network namespace, a sockmap): program ids in run order, with the link holding each
// and the hook's revision where the kernel reports them (mprog hooks, 6.6+). Returns -errno
// instead of throwing: each caller knows what a failure means for its hook.
import { BPF_F_QUERY_EFFECTIVE, PROG_QUERY_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { stableBuffer } from '../syscall/libc.js';
import { ENOSPC } from './features.js';

export interface AttachedProgram {
  progId: number;
  /** The link that holds the program; undefined for BPF_PROG_ATTACH (or a kernel that does not say). */
  linkId?: number;
}

export interface ProgQueryResult {
  /** The hook's BPF_PROG_ATTACH flags (cgroups: BPF_F_ALLOW_MULTI / BPF_F_ALLOW_OVERRIDE / 0). */
  attachFlags: number;
  /** mprog hooks: changes with every attach, detach and replace (pass as expectedRevision). */
  revision: number;
  programs: AttachedProgram[];
}

export interface ProgQueryOptions {
  /** Programs that run for the target, inherited ones included (cgroups). */
  effective?: boolean;
  /** Ask for link ids and the revision: only kernels with mprog (6.6+) know these fields. */
  mprog?: boolean;
}

/** One query; the target is an fd (cgroup, netns, map) or an ifindex (netkit, tcx). */
export function progQuery(target: number, attachType: number, opts: ProgQueryOptions = {}): ProgQueryResult | number {
  for (let cap = 64; ; cap *= 2) {
    const progIds = stableBuffer(cap * 4);
    const linkIds = opts.mprog ? stableBuffer(cap * 4) : undefined;
    const attr = new Attr(PROG_QUERY_ATTR)
      .set('target_fd', target)
      .set('attach_type', attachType)
      .set('query_flags', opts.effective ? BPF_F_QUERY_EFFECTIVE : 0)
      .set('prog_cnt', cap)
      .setPointer('prog_ids', progIds);
    if (linkIds) attr.setPointer('link_ids', linkIds);
    const r = bpfAttr(bpf_cmd.BPF_PROG_QUERY, attr);
    if (r === -ENOSPC && cap < 1 << 16) continue;
    if (r < 0) return r;
    const count = attr.get('prog_cnt');
    const programs: AttachedProgram[] = [];
    for (let i = 0; i < count; i++) {
      const linkId = linkIds?.readUInt32LE(i * 4) ?? 0;
      programs.push(linkId ? { progId: progIds.readUInt32LE(i * 4), linkId } : { progId: progIds.readUInt32LE(i * 4) });
    }
    return { attachFlags: attr.get('attach_flags'), revision: opts.mprog ? attr.get('revision') : 0, programs };
  }
}
