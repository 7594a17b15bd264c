// The lowercase names users write for program, attach and link types, both ways.
import { describe, expect, it } from 'vitest';
import { attachTypeName, attachTypeValue, linkTypeName, progTypeName, progTypeValue } from '../../src/programs/index.js';
import { bpf_attach_type, bpf_link_type, bpf_prog_type } from '../../src/syscall/abi/bpf.js';

describe('type names', () => {
  it('maps program types both ways, with the tc alias on input only', () => {
    expect(progTypeValue('xdp')).toBe(bpf_prog_type.BPF_PROG_TYPE_XDP);
    expect(progTypeValue('SCHED_CLS')).toBe(bpf_prog_type.BPF_PROG_TYPE_SCHED_CLS);
    expect(progTypeValue('tc')).toBe(bpf_prog_type.BPF_PROG_TYPE_SCHED_CLS);
    expect(progTypeName(bpf_prog_type.BPF_PROG_TYPE_SCHED_CLS)).toBe('sched_cls');
    expect(progTypeName(bpf_prog_type.BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE)).toBe('raw_tracepoint_writable');
    expect(progTypeValue('bogus')).toBeUndefined();
    expect(progTypeName(999)).toBe('unknown(999)');
    for (const [c, v] of Object.entries(bpf_prog_type)) {
      if (c.startsWith('__')) continue;
      expect(progTypeValue(progTypeName(v))).toBe(v);
    }
  });

  it('maps attach and link types', () => {
    expect(attachTypeValue('tcx_ingress')).toBe(bpf_attach_type.BPF_TCX_INGRESS);
    expect(attachTypeValue('trace_fentry')).toBe(bpf_attach_type.BPF_TRACE_FENTRY);
    expect(attachTypeValue('cgroup_inet_ingress')).toBe(0);
    expect(attachTypeName(bpf_attach_type.BPF_XDP)).toBe('xdp');
    expect(linkTypeName(bpf_link_type.BPF_LINK_TYPE_TCX)).toBe('tcx');
    expect(linkTypeName(bpf_link_type.BPF_LINK_TYPE_XDP)).toBe('xdp');
  });
});
