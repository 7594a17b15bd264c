// The ABI tables in src/syscall/abi must agree with the running kernel: enum values by name,
// struct member offsets by name. A wrong entry here would corrupt every call that uses it.
import { describe, expect, it } from 'vitest';
import { readFileSync, statfsSync } from 'node:fs';
import * as abi from '../../src/syscall/abi/bpf.js';
import * as perf from '../../src/syscall/abi/perf.js';
import * as netabi from '../../src/syscall/abi/net.js';
import * as epoll from '../../src/syscall/abi/epoll.js';
import type { Layout } from '../../src/syscall/abi/layout.js';
import { kernelAtLeast, kernelRelease } from '../../src/features/index.js';
import {
  compareEnumGroup,
  compareLayout,
  findNamed,
  kernelEnumerators,
  flattenDeep,
  flattenMembers,
  kernelBtfDump,
  type LayoutComparison,
} from '../helpers/kernel-btf-dump.js';

/** The kernel src/syscall/abi/enums.ts was generated from (scripts/gen-bpf-enums.mjs). */
const GENERATED_FROM = '6.18';

const enumGroups = Object.entries(abi).filter(
  ([name, v]) => /^(bpf|btf)_[a-z_]+$/.test(name) && typeof v === 'object' && !('members' in (v as object)),
) as [string, Record<string, number>][];

const layouts = Object.values(abi).filter(
  (v): v is Layout<string> => typeof v === 'object' && v !== null && 'members' in v && 'cName' in v,
).concat(Object.values(abi.BPF_LINK_INFO_UNION) as Layout<string>[]);

describe('bpf ABI against the kernel BTF', () => {
  it('has the enum groups we rely on', () => {
    const names = enumGroups.map(([n]) => n);
    for (const n of ['bpf_cmd', 'bpf_map_type', 'bpf_prog_type', 'bpf_attach_type', 'bpf_link_type'])
      expect(names).toContain(n);
  });

  it('every enumerator matches the kernel by name and value; names it lacks are newer than it', () => {
    let checked = 0;
    const newer: string[] = [];
    for (const [group, values] of enumGroups) {
      const c = compareEnumGroup(values);
      if (c.absent) {
        // A whole enum newer than this kernel (bpf_perf_event_type is 6.6).
        newer.push(group);
        continue;
      }
      expect(c.mismatches, group).toEqual([]);
      expect(c.collisions, group).toEqual([]);
      newer.push(...c.newer);
      checked += Object.keys(values).length - c.newer.length;
    }
    // On the kernel the tables were generated from (or a newer one) nothing may be missing.
    if (kernelAtLeast(kernelRelease(), GENERATED_FROM)) expect(newer).toEqual([]);
    expect(checked).toBeGreaterThan(350);
  });

  it('named enums are complete (no kernel enumerator missing from our table)', () => {
    for (const group of ['bpf_cmd', 'bpf_map_type', 'bpf_prog_type', 'bpf_attach_type', 'bpf_link_type']) {
      const k = findNamed('ENUM', group)!;
      const ours = (abi as unknown as Record<string, Record<string, number>>)[group]!;
      for (const v of k.values) if (!/^__MAX|^MAX_/.test(v.name)) expect(ours, group).toHaveProperty(v.name, Number(v.value));
    }
  });

  it('every struct layout matches the kernel member offsets; members it lacks are newer (a hole or the end)', () => {
    const attr = findNamed('UNION', 'bpf_attr')!;
    const types = kernelBtfDump();
    const attrMembers = attr.members.map((m) => flattenDeep(types.get(m.typeId)!));
    const recent = kernelAtLeast(kernelRelease(), GENERATED_FROM);
    let checked = 0;
    for (const layout of layouts) {
      const ours = Object.values(layout.members).filter((m) => m.name !== 'union');
      let cmp: LayoutComparison;
      if (layout.cName.startsWith('bpf_attr.')) {
        // The union member this layout describes: the one agreeing on the most names, none
        // wrongly. Its own variants are unions too (link_create's tcx, tracing, kprobe_multi…),
        // where a newer variant may overlay any older member: so what an older kernel lacks
        // is only required to be absent, not to come last.
        const ranked = attrMembers
          .map((k) => ({ k, c: compareLayout(ours, k) }))
          .filter(({ c }) => c.mismatches.length === 0 && c.newer.length + c.misplaced.length < ours.length)
          .sort((a, b) => a.c.newer.length + a.c.misplaced.length - (b.c.newer.length + b.c.misplaced.length));
        if (!ranked[0]) {
          // A command newer than this kernel (BPF_TOKEN_CREATE is 6.9): checked on newer kernels.
          expect(recent, `${layout.cName}: no member of union bpf_attr agrees with these offsets`).toBe(false);
          checked++;
          continue;
        }
        const best = ranked[0].c;
        cmp = { mismatches: best.mismatches, newer: [...best.newer, ...best.misplaced], misplaced: [] };
      } else {
        const [sname, sub] = layout.cName.split('.');
        const s = findNamed('STRUCT', sname!)!;
        expect(s, sname).toBeDefined();
        if (sub) {
          // bpf_link_info.<kind>: the member struct inside the anonymous union.
          const anon = s.members.find((m) => m.name === '(anon)')!;
          const union = types.get(anon.typeId)!;
          const member = union.members.find((m) => m.name === sub);
          if (!member) {
            // A link kind newer than this kernel: its whole struct is newer.
            expect(recent, `${layout.cName} is missing from this kernel`).toBe(false);
            checked++;
            continue;
          }
          const t = types.get(member.typeId)!;
          let kernel = flattenDeep(t, anon.bitsOffset / 8);
          // A layout of one variant of a nested union (perf_event's `uprobe.*`): compare it with
          // that variant only, so a member newer than this kernel is judged against its own
          // struct, not against where another variant (`kprobe.*`) has members.
          const variants = new Set(ours.filter((m) => m.name.includes('.')).map((m) => m.name.split('.')[0]!));
          if (variants.size)
            kernel = new Map([...kernel].filter(([n]) => (n.includes('.') ? variants.has(n.split('.')[0]!) : ours.some((m) => m.name === n))));
          cmp = compareLayout(ours, kernel);
        } else cmp = compareLayout(ours, flattenMembers(s));
      }
      expect(cmp.mismatches, layout.cName).toEqual([]);
      expect(cmp.misplaced, layout.cName).toEqual([]);
      if (recent) expect(cmp.newer, layout.cName).toEqual([]);
      checked++;
    }
    expect(checked).toBe(layouts.length);
    expect(checked).toBeGreaterThan(25);
  });

  it('#defines match the installed uapi headers where those headers have them', () => {
    const hdr = readFileSync('/usr/include/linux/bpf.h', 'utf8');
    const defines = Object.entries(abi).filter(([n, v]) => /^BPF_(F_|PSEUDO_)/.test(n) && typeof v === 'number');
    let checked = 0;
    for (const [name, value] of defines) {
      const m = new RegExp(`#define ${name}\\s+\\(?(\\d+)U?(?:\\s*<<\\s*(\\d+)\\))?`).exec(hdr);
      if (!m) continue; // newer than the 6.1 headers: covered by behaviour (tcx ordering tests)
      const expected = m[2] !== undefined ? Number(m[1]) << Number(m[2]) : Number(m[1]);
      expect(value, name).toBe(expected);
      checked++;
    }
    expect(checked).toBeGreaterThan(15);
  });
});

describe('bpf_iter_link_info against the kernel BTF', () => {
  it('every member of each union member sits where the kernel has it', () => {
    const types = kernelBtfDump();
    const u = findNamed('UNION', 'bpf_iter_link_info')!;
    expect(u, 'union bpf_iter_link_info').toBeDefined();
    for (const layout of Object.values(abi.BPF_ITER_LINK_INFO) as Layout<string>[]) {
      const sub = layout.cName.split('.')[1]!;
      const member = u.members.find((m) => m.name === sub);
      expect(member, layout.cName).toBeDefined();
      const offsets = flattenMembers(types.get(member!.typeId)!);
      for (const m of Object.values(layout.members)) expect(offsets.get(m.name), `${layout.cName}.${m.name}`).toBe(m.offset);
    }
  });
});

describe('perf_event_open ABI against the kernel BTF and uapi header', () => {
  it('perf_event_attr members and flag bits', () => {
    const s = findNamed('STRUCT', 'perf_event_attr')!;
    expect(s).toBeDefined();
    const offsets = flattenMembers(s);
    const ours = Object.values(perf.PERF_EVENT_ATTR.members);
    for (const m of ours) {
      if (m.name === 'bits') continue;
      expect(offsets.get(m.name), `perf_event_attr.${m.name}`).toBe(m.offset);
    }
    // The bitfield word: every named bit where the kernel puts it.
    const bitsBase = perf.PERF_EVENT_ATTR.members.bits.offset * 8;
    for (const [name, bit] of Object.entries(perf.PERF_ATTR_BIT)) {
      const k = s.members.find((m) => m.name === name);
      expect(k?.bitsOffset, `perf_event_attr.${name}`).toBe(bitsBase + bit);
    }
    expect(perf.PERF_EVENT_ATTR.size).toBe(perf.PERF_ATTR_SIZE_VER6);
    expect(ours.length).toBeGreaterThan(15);
  });

  it('ioctl numbers and flags match include/uapi/linux/perf_event.h', () => {
    const hdr = readFileSync('/usr/include/linux/perf_event.h', 'utf8');
    // _IO(type, nr) = type << 8 | nr; _IOW adds the size << 16 and the write direction bit 30.
    const ioc = (name: string): number => {
      const m = new RegExp(`#define ${name}\\s+_IO(W?)\\s*\\('(.)', (\\d+)(?:, (\\w+))?\\)`).exec(hdr);
      expect(m, name).not.toBeNull();
      const size = m![4] === '__u32' ? 4 : m![4] === '__u64' ? 8 : 0;
      return ((m![1] === 'W' ? 1 << 30 : 0) | (size << 16) | (m![2]!.charCodeAt(0) << 8) | Number(m![3])) >>> 0;
    };
    expect(perf.PERF_EVENT_IOC_ENABLE).toBe(ioc('PERF_EVENT_IOC_ENABLE'));
    expect(perf.PERF_EVENT_IOC_DISABLE).toBe(ioc('PERF_EVENT_IOC_DISABLE'));
    expect(perf.PERF_EVENT_IOC_SET_BPF).toBe(ioc('PERF_EVENT_IOC_SET_BPF'));
    expect(hdr).toMatch(new RegExp(`#define PERF_FLAG_FD_CLOEXEC\\s+\\(1UL << ${Math.log2(perf.PERF_FLAG_FD_CLOEXEC)}\\)`));
    expect(hdr).toMatch(new RegExp(`#define PERF_ATTR_SIZE_VER6\\s+${perf.PERF_ATTR_SIZE_VER6}\\b`));
  });

  it('syscall numbers used for tracing match the installed asm/unistd_64.h', () => {
    const hdr = readFileSync(`/usr/include/x86_64-linux-gnu/asm/unistd_64.h`, 'utf8');
    for (const name of Object.keys(abi.SYS) as (keyof typeof abi.SYS)[]) {
      const m = new RegExp(`#define __NR_${name} (\\d+)`).exec(hdr);
      expect(Number(m?.[1]), name).toBe(abi.SYS[name]);
    }
  });
});

describe('attach-point ABI outside bpf(2): tracepoints, uprobes, netfilter, sockets, setns', () => {
  it('perf_type_id, and the uprobe PMU formats where sysfs publishes them', () => {
    const c = compareEnumGroup(perf.perf_type_id);
    expect(c.absent).toBe(false);
    expect(c.mismatches).toEqual([]);
    const format = (name: string): string | undefined => {
      try {
        return readFileSync(`/sys/bus/event_source/devices/uprobe/format/${name}`, 'utf8').trim();
      } catch {
        return undefined;
      }
    };
    const retprobe = format('retprobe');
    if (retprobe !== undefined) expect(retprobe).toBe('config:0');
    const refCtr = format('ref_ctr_offset');
    if (refCtr !== undefined) expect(refCtr).toBe(`config:${perf.PERF_UPROBE_REF_CTR_OFFSET_SHIFT}-63`);
    expect(perf.UPROBE_PMU_TYPE_PATH).toMatch(/\/uprobe\/type$/);
  });

  it('netfilter hooks, protocol families and hook priorities match the kernel BTF', () => {
    for (const [name, group] of Object.entries({ nf_inet_hooks: netabi.nf_inet_hooks, nfproto: netabi.nfproto })) {
      const c = compareEnumGroup(group);
      expect(c.absent, name).toBe(false);
      expect(c.mismatches, name).toEqual([]);
      expect(c.newer, name).toEqual([]);
    }
    const k = kernelEnumerators();
    for (const name of ['NF_IP_PRI_FIRST', 'NF_IP_PRI_LAST', 'NF_IP_PRI_CONNTRACK_DEFRAG'] as const)
      expect(Number(k.get(name)), name).toBe(netabi[name]);
  });

  it('socket options and CLONE_NEWNET match the installed uapi headers', () => {
    const sock = readFileSync('/usr/include/asm-generic/socket.h', 'utf8');
    const define = (hdr: string, name: string): string | undefined => new RegExp(`#define ${name}\\s+(\\w+)`).exec(hdr)?.[1];
    for (const name of ['SOL_SOCKET', 'SO_ATTACH_FILTER', 'SO_DETACH_FILTER', 'SO_ATTACH_BPF', 'SO_DETACH_BPF', 'SO_GET_FILTER'] as const) {
      let v = define(sock, name)!;
      while (!/^\d+$/.test(v)) v = define(sock, v)!; // SO_DETACH_BPF is SO_DETACH_FILTER…
      expect(netabi[name], name).toBe(Number(v));
    }
    expect(netabi.CLONE_NEWNET).toBe(Number(define(readFileSync('/usr/include/linux/sched.h', 'utf8'), 'CLONE_NEWNET')));
  });

  it('BPF_FS_MAGIC matches linux/magic.h, and /sys/fs/bpf reports it', () => {
    const m = /#define BPF_FS_MAGIC\s+(0x[0-9a-f]+)/.exec(readFileSync('/usr/include/linux/magic.h', 'utf8'));
    expect(abi.BPF_FS_MAGIC).toBe(Number(m![1]));
    expect(Number(statfsSync('/sys/fs/bpf').type)).toBe(abi.BPF_FS_MAGIC);
  });
});

describe('event readers: perf buffer records, the perf mmap page, epoll and eventfd', () => {
  it('perf enums a perf buffer uses match the kernel BTF', () => {
    for (const [name, group] of Object.entries({
      perf_sw_ids: perf.perf_sw_ids,
      perf_event_sample_format: perf.perf_event_sample_format,
      perf_event_type: perf.perf_event_type,
    })) {
      const c = compareEnumGroup(group);
      expect(c.absent, name).toBe(false);
      expect(c.mismatches, name).toEqual([]);
      expect(c.newer, name).toEqual([]);
    }
  });

  it('perf_event_mmap_page positions and perf_event_header size match the kernel BTF', () => {
    const page = flattenMembers(findNamed('STRUCT', 'perf_event_mmap_page')!);
    for (const [name, off] of Object.entries(perf.PERF_EVENT_MMAP_PAGE)) expect(page.get(name), name).toBe(off);
    expect(findNamed('STRUCT', 'perf_event_header')!.size).toBe(perf.PERF_EVENT_HEADER_SIZE);
  });

  it('epoll and eventfd constants match include/uapi/linux/eventpoll.h and the kernel BTF', () => {
    const hdr = readFileSync('/usr/include/linux/eventpoll.h', 'utf8');
    const fcntl = readFileSync('/usr/include/asm-generic/fcntl.h', 'utf8');
    const octal = (name: string): number => parseInt(new RegExp(`#define ${name}\\s+(0\\d+)`).exec(fcntl)![1]!, 8);
    expect(hdr).toMatch(/#define EPOLL_CLOEXEC O_CLOEXEC/);
    expect(epoll.EPOLL_CLOEXEC).toBe(octal('O_CLOEXEC'));
    // eventfd.h: EFD_CLOEXEC = O_CLOEXEC, EFD_NONBLOCK = O_NONBLOCK.
    expect(epoll.EFD_CLOEXEC).toBe(octal('O_CLOEXEC'));
    expect(epoll.EFD_NONBLOCK).toBe(octal('O_NONBLOCK'));
    expect(Number(/#define EPOLL_CTL_ADD (\d+)/.exec(hdr)![1])).toBe(epoll.EPOLL_CTL_ADD);
    expect(Number(/#define EPOLL_CTL_DEL (\d+)/.exec(hdr)![1])).toBe(epoll.EPOLL_CTL_DEL);
    expect(Number(/#define EPOLLIN\s+\(__poll_t\)(0x[0-9a-f]+)/.exec(hdr)![1])).toBe(epoll.EPOLLIN);
    // x86_64 packs struct epoll_event (EPOLL_PACKED): u32 events, then u64 data at 4.
    const ev = findNamed('STRUCT', 'epoll_event')!;
    expect(ev.size).toBe(epoll.EPOLL_EVENT_SIZE);
    expect(flattenMembers(ev).get('data')).toBe(epoll.EPOLL_EVENT_DATA_OFFSET);
  });
});
