import { describe, expect, it } from 'vitest';
import { parseProgramSection, SECTION_DEFS, programTypeNumber, attachTypeNumber, isProgramType, isAttachType } from '../../src/elf/index.js';
import { BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS } from '../../src/syscall/abi/bpf.js';
import { bpf_attach_type, bpf_prog_type } from '../../src/syscall/abi/enums.js';

describe('SEC() conventions', () => {
  const cases: [string, string, string | undefined, number][] = [
    ['xdp', 'xdp', 'xdp', 0],
    ['xdp.frags', 'xdp', 'xdp', BPF_F_XDP_HAS_FRAGS],
    ['xdp/devmap', 'xdp', 'xdp_devmap', 0],
    ['xdp/cpumap', 'xdp', 'xdp_cpumap', 0],
    ['xdp.frags/devmap', 'xdp', 'xdp_devmap', BPF_F_XDP_HAS_FRAGS],
    ['xdp.frags/cpumap', 'xdp', 'xdp_cpumap', BPF_F_XDP_HAS_FRAGS],
    ['tc', 'sched_cls', undefined, 0],
    ['tc/ingress', 'sched_cls', 'tcx_ingress', 0],
    ['tc/egress', 'sched_cls', 'tcx_egress', 0],
    ['tcx/ingress', 'sched_cls', 'tcx_ingress', 0],
    ['tcx/egress', 'sched_cls', 'tcx_egress', 0],
    ['classifier', 'sched_cls', undefined, 0],
    ['action', 'sched_act', undefined, 0],
    ['netkit/primary', 'sched_cls', 'netkit_primary', 0],
    ['netkit/peer', 'sched_cls', 'netkit_peer', 0],
    ['socket', 'socket_filter', undefined, 0],
    ['sk_skb/stream_parser', 'sk_skb', 'sk_skb_stream_parser', 0],
    ['sk_skb/stream_verdict', 'sk_skb', 'sk_skb_stream_verdict', 0],
    ['sk_skb/verdict', 'sk_skb', 'sk_skb_verdict', 0],
    ['sk_skb', 'sk_skb', undefined, 0],
    ['sk_msg', 'sk_msg', 'sk_msg_verdict', 0],
    ['sockops', 'sock_ops', 'cgroup_sock_ops', 0],
    ['sk_lookup', 'sk_lookup', 'sk_lookup', 0],
    ['sk_reuseport', 'sk_reuseport', 'sk_reuseport_select', 0],
    ['sk_reuseport/migrate', 'sk_reuseport', 'sk_reuseport_select_or_migrate', 0],
    ['cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress', 0],
    ['cgroup_skb/egress', 'cgroup_skb', 'cgroup_inet_egress', 0],
    ['cgroup/skb', 'cgroup_skb', undefined, 0],
    ['cgroup/sock', 'cgroup_sock', 'cgroup_inet_sock_create', 0],
    ['cgroup/sock_create', 'cgroup_sock', 'cgroup_inet_sock_create', 0],
    ['cgroup/sock_release', 'cgroup_sock', 'cgroup_inet_sock_release', 0],
    ['cgroup/post_bind4', 'cgroup_sock', 'cgroup_inet4_post_bind', 0],
    ['cgroup/post_bind6', 'cgroup_sock', 'cgroup_inet6_post_bind', 0],
    ['cgroup/bind4', 'cgroup_sock_addr', 'cgroup_inet4_bind', 0],
    ['cgroup/bind6', 'cgroup_sock_addr', 'cgroup_inet6_bind', 0],
    ['cgroup/connect4', 'cgroup_sock_addr', 'cgroup_inet4_connect', 0],
    ['cgroup/connect6', 'cgroup_sock_addr', 'cgroup_inet6_connect', 0],
    ['cgroup/connect_unix', 'cgroup_sock_addr', 'cgroup_unix_connect', 0],
    ['cgroup/sendmsg4', 'cgroup_sock_addr', 'cgroup_udp4_sendmsg', 0],
    ['cgroup/sendmsg6', 'cgroup_sock_addr', 'cgroup_udp6_sendmsg', 0],
    ['cgroup/sendmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_sendmsg', 0],
    ['cgroup/recvmsg4', 'cgroup_sock_addr', 'cgroup_udp4_recvmsg', 0],
    ['cgroup/recvmsg6', 'cgroup_sock_addr', 'cgroup_udp6_recvmsg', 0],
    ['cgroup/recvmsg_unix', 'cgroup_sock_addr', 'cgroup_unix_recvmsg', 0],
    ['cgroup/getpeername4', 'cgroup_sock_addr', 'cgroup_inet4_getpeername', 0],
    ['cgroup/getpeername6', 'cgroup_sock_addr', 'cgroup_inet6_getpeername', 0],
    ['cgroup/getpeername_unix', 'cgroup_sock_addr', 'cgroup_unix_getpeername', 0],
    ['cgroup/getsockname4', 'cgroup_sock_addr', 'cgroup_inet4_getsockname', 0],
    ['cgroup/getsockname6', 'cgroup_sock_addr', 'cgroup_inet6_getsockname', 0],
    ['cgroup/getsockname_unix', 'cgroup_sock_addr', 'cgroup_unix_getsockname', 0],
    ['cgroup/dev', 'cgroup_device', 'cgroup_device', 0],
    ['cgroup/sysctl', 'cgroup_sysctl', 'cgroup_sysctl', 0],
    ['cgroup/getsockopt', 'cgroup_sockopt', 'cgroup_getsockopt', 0],
    ['cgroup/setsockopt', 'cgroup_sockopt', 'cgroup_setsockopt', 0],
    ['flow_dissector', 'flow_dissector', 'flow_dissector', 0],
    ['lwt_in', 'lwt_in', undefined, 0],
    ['lwt_out', 'lwt_out', undefined, 0],
    ['lwt_xmit', 'lwt_xmit', undefined, 0],
    ['lwt_seg6local', 'lwt_seg6local', undefined, 0],
    ['netfilter', 'netfilter', 'netfilter', 0],
    ['lirc_mode2', 'lirc_mode2', 'lirc_mode2', 0],
    ['kprobe/do_unlinkat', 'kprobe', undefined, 0],
    ['kretprobe/do_unlinkat', 'kprobe', undefined, 0],
    ['uprobe//bin/bash:readline', 'kprobe', undefined, 0],
    ['uretprobe.s//lib/libc.so.6:malloc', 'kprobe', undefined, BPF_F_SLEEPABLE],
    ['kprobe.multi/tcp_*', 'kprobe', 'trace_kprobe_multi', 0],
    ['kretprobe.multi/tcp_*', 'kprobe', 'trace_kprobe_multi', 0],
    ['uprobe.multi//bin/sh:f*', 'kprobe', 'trace_uprobe_multi', 0],
    ['ksyscall/openat', 'kprobe', undefined, 0],
    ['tp/syscalls/sys_enter_openat', 'tracepoint', undefined, 0],
    ['tracepoint/sched/sched_switch', 'tracepoint', undefined, 0],
    ['raw_tp/sys_enter', 'raw_tracepoint', undefined, 0],
    ['raw_tracepoint/sys_enter', 'raw_tracepoint', undefined, 0],
    ['raw_tp.w/bpf_test_finish', 'raw_tracepoint_writable', undefined, 0],
    ['raw_tracepoint.w/bpf_test_finish', 'raw_tracepoint_writable', undefined, 0],
    ['tp_btf/sched_switch', 'tracing', 'trace_raw_tp', 0],
    ['fentry/do_unlinkat', 'tracing', 'trace_fentry', 0],
    ['fexit/do_unlinkat', 'tracing', 'trace_fexit', 0],
    ['fmod_ret/security_file_open', 'tracing', 'modify_return', 0],
    ['fentry.s/do_sys_open', 'tracing', 'trace_fentry', BPF_F_SLEEPABLE],
    ['fexit.s/do_sys_open', 'tracing', 'trace_fexit', BPF_F_SLEEPABLE],
    ['freplace/handler', 'ext', undefined, 0],
    ['lsm/file_open', 'lsm', 'lsm_mac', 0],
    ['lsm.s/bprm_check_security', 'lsm', 'lsm_mac', BPF_F_SLEEPABLE],
    ['lsm_cgroup/socket_bind', 'lsm', 'lsm_cgroup', 0],
    ['iter/task', 'tracing', 'trace_iter', 0],
    ['iter.s/task_file', 'tracing', 'trace_iter', BPF_F_SLEEPABLE],
    ['struct_ops/tcp_init', 'struct_ops', undefined, 0],
    ['struct_ops.s/op', 'struct_ops', undefined, BPF_F_SLEEPABLE],
    ['syscall', 'syscall', undefined, BPF_F_SLEEPABLE],
    ['perf_event', 'perf_event', undefined, 0],
  ];
  for (const [name, type, attach, flags] of cases) {
    it(`${name} → ${type}${attach ? ` / ${attach}` : ''}${flags ? ` flags ${flags}` : ''}`, () => {
      const info = parseProgramSection(name)!;
      expect(info).toBeDefined();
      expect(info.type).toBe(type);
      expect(info.expectedAttachType).toBe(attach);
      expect(info.flags).toBe(flags);
    });
  }

  it('every table entry names a real program type and attach type of this kernel ABI', () => {
    for (const d of SECTION_DEFS) {
      expect(isProgramType(d.type), d.pattern).toBe(true);
      expect(programTypeNumber(d.type)).toBe(bpf_prog_type[`BPF_PROG_TYPE_${d.type.toUpperCase()}` as keyof typeof bpf_prog_type]);
      if (d.expectedAttachType) {
        expect(isAttachType(d.expectedAttachType), d.pattern).toBe(true);
        expect(attachTypeNumber(d.expectedAttachType)).toBe(bpf_attach_type[`BPF_${d.expectedAttachType.toUpperCase()}` as keyof typeof bpf_attach_type]);
      }
    }
  });

  it('matches as libbpf does: exact names, `name+` with a / separator, first match wins', () => {
    expect(parseProgramSection('xdp_prog')).toBeUndefined(); // no prefix matching for plain names
    expect(parseProgramSection('xdp/foo')).toBeUndefined();
    expect(parseProgramSection('kprobex')).toBeUndefined();
    expect(parseProgramSection('kprobe')!.type).toBe('kprobe'); // bare `kprobe+` is allowed
    expect(parseProgramSection('tc/foo')).toBeUndefined();
    expect(parseProgramSection('sk_skb/foo')).toBeUndefined();
    // kprobe.multi must not be taken for kprobe with target ".multi"
    expect(parseProgramSection('kprobe.multi/x')!.expectedAttachType).toBe('trace_kprobe_multi');
    expect(parseProgramSection('lsm_cgroup/x')!.expectedAttachType).toBe('lsm_cgroup');
  });

  it('parses attach targets', () => {
    expect(parseProgramSection('kprobe/do_unlinkat')!.target).toEqual({ kind: 'kprobe', function: 'do_unlinkat', offset: 0, retprobe: false });
    expect(parseProgramSection('kprobe/tcp_v4_connect+0x10')!.target).toEqual({ kind: 'kprobe', function: 'tcp_v4_connect', offset: 16, retprobe: false });
    expect(parseProgramSection('kretprobe/f')!.target).toEqual({ kind: 'kprobe', function: 'f', offset: 0, retprobe: true });
    expect(parseProgramSection('ksyscall/openat')!.target).toEqual({ kind: 'ksyscall', syscall: 'openat', retprobe: false });
    expect(parseProgramSection('tp/syscalls/sys_enter_openat')!.target).toEqual({ kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' });
    expect(parseProgramSection('tp/bogus')!.target).toBeUndefined();
    expect(parseProgramSection('raw_tp/sys_enter')!.target).toEqual({ kind: 'raw_tracepoint', name: 'sys_enter' });
    expect(parseProgramSection('fentry/do_unlinkat')!.target).toEqual({ kind: 'btf', name: 'do_unlinkat' });
    expect(parseProgramSection('lsm/file_open')!.target).toEqual({ kind: 'btf', name: 'file_open' });
    expect(parseProgramSection('iter/task')!.attachTo).toBe('task');
    expect(parseProgramSection('fentry')!.attachTo).toBeUndefined();
    expect(parseProgramSection('uprobe//bin/bash:readline')!.target).toEqual({ kind: 'uprobe', binary: '/bin/bash', function: 'readline', offset: 0, retprobe: false });
    expect(parseProgramSection('uretprobe//lib/libc.so.6:malloc+8')!.target).toEqual({ kind: 'uprobe', binary: '/lib/libc.so.6', function: 'malloc', offset: 8, retprobe: true });
    expect(parseProgramSection('uprobe//bin/x:0x1234')!.target).toEqual({ kind: 'uprobe', binary: '/bin/x', offset: 0x1234, retprobe: false });
    expect(parseProgramSection('usdt/./app:provider:probe')!.target).toEqual({ kind: 'usdt', binary: './app', provider: 'provider', name: 'probe' });
    expect(parseProgramSection('kprobe.multi/tcp_*')!.target).toEqual({ kind: 'multi', pattern: 'tcp_*', retprobe: false });
    expect(parseProgramSection('struct_ops/tcp_init')!.target).toEqual({ kind: 'struct_ops', name: 'tcp_init' });
    expect(parseProgramSection('cgroup/connect4')!.target).toBeUndefined();
  });
});
