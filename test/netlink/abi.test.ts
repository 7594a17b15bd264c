// src/netlink/abi.ts against the running kernel (BTF enumerators and struct offsets) and, for
// the #defines BTF cannot carry, against the installed uapi headers compiled with gcc.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as abi from '../../src/netlink/abi.js';
import type { Layout } from '../../src/syscall/abi/layout.js';
import { existsSync } from 'node:fs';
import { features } from '../../src/features/index.js';
import { compareEnumGroup, findNamed, flattenMembers, kernelEnumerators } from '../helpers/kernel-btf-dump.js';

const enumGroups = { rtm: abi.rtm, ifla: abi.ifla, ifla_xdp: abi.ifla_xdp, ifla_info: abi.ifla_info, xdp_attached: abi.xdp_attached, tca: abi.tca, tca_bpf: abi.tca_bpf, nlmsgerr_attrs: abi.nlmsgerr_attrs };
/** netkit's enums (6.7): newer than the installed 6.1 headers, so only a kernel's BTF can check them. */
const netkitGroups = { ifla_netkit: abi.ifla_netkit, netkit_action: abi.netkit_action, netkit_mode: abi.netkit_mode };
const defineGroups = { sock: abi.sock, netlink: abi.netlink, nlm_f: abi.nlm_f, rtext: abi.rtext, xdp_flags: abi.xdp_flags, tc_h: abi.tc_h, tc_cls: abi.tc_cls, eth_p: abi.eth_p, misc: { IFNAMSIZ: abi.IFNAMSIZ } };
const layouts: Layout<string>[] = [abi.NLMSGHDR, abi.NLATTR, abi.NLMSGERR, abi.SOCKADDR_NL, abi.IFINFOMSG, abi.TCMSG];

describe('netlink ABI against the kernel BTF', () => {
  it('every enumerator matches the kernel by name and value; names it lacks are newer than it', () => {
    let checked = 0;
    for (const [group, values] of Object.entries(enumGroups)) {
      const c = compareEnumGroup(values);
      // A kernel's BTF holds only the enums its code uses (6.1 never names TCA_BPF_*): those
      // groups are checked against the uapi headers below instead.
      if (c.absent) continue;
      expect(c.mismatches, group).toEqual([]);
      expect(c.collisions, group).toEqual([]);
      checked += Object.keys(values).length - c.newer.length;
    }
    expect(checked).toBeGreaterThan(40);
  });

  it('netkit enums match the kernel where it has netkit (vmlinux or the netkit module BTF); a kernel without netkit has none', () => {
    const moduleBtf = (): Map<string, number> => {
      const out = new Map<string, number>();
      if (!existsSync('/sys/kernel/btf/netkit')) return out;
      const text = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/netkit', 'base', '/sys/kernel/btf/vmlinux'], { maxBuffer: 1 << 28 }).toString();
      for (const m of text.matchAll(/^\t'(\w+)' val=(-?\d+)/gm)) out.set(m[1]!, Number(m[2]));
      return out;
    };
    let checked = 0;
    for (const [group, values] of Object.entries(netkitGroups)) {
      const c = compareEnumGroup(values);
      if (!c.absent) {
        expect(c.mismatches, group).toEqual([]);
        expect(c.collisions, group).toEqual([]);
        checked += Object.keys(values).length - c.newer.length;
        continue;
      }
      const mod = moduleBtf();
      if (mod.size) {
        for (const [name, value] of Object.entries(values)) if (mod.has(name)) (expect(mod.get(name), name).toBe(value), checked++);
        continue;
      }
      // Not in any BTF: only a kernel without netkit may lack them.
      expect(features.probe('netkit').status, `${group} is in no BTF of this kernel, which has netkit`).not.toBe('present');
    }
    if (features.has('netkit')) expect(checked).toBeGreaterThanOrEqual(10);
  });

  it('IFLA_XDP_* is complete: no attribute of the running kernel is missing', () => {
    const kernel = kernelEnumerators();
    for (const [name, value] of kernel)
      if (/^IFLA_XDP_[A-Z_]+$/.test(name) && !name.startsWith('IFLA_XDP_MAX'))
        expect(abi.ifla_xdp, name).toHaveProperty(name, Number(value));
  });

  it('every struct layout matches the kernel member offsets and size', () => {
    for (const layout of layouts) {
      const k = findNamed('STRUCT', layout.cName);
      expect(k, `struct ${layout.cName} in BTF`).toBeDefined();
      expect(layout.size, `sizeof(struct ${layout.cName})`).toBe(k!.size);
      const offsets = flattenMembers(k!);
      for (const m of Object.values(layout.members) as { name: string; offset: number }[])
        expect(offsets.get(m.name), `${layout.cName}.${m.name}`).toBe(m.offset);
    }
  });
});

describe('netlink #defines against the installed uapi headers', () => {
  it('every define has the header value', () => {
    // Enum groups the kernel's BTF does not carry are checked here too (their names are old
    // enough for any installed header).
    const groups: Record<string, Record<string, number>> = { ...defineGroups };
    for (const [group, values] of Object.entries(enumGroups)) if (compareEnumGroup(values).absent) groups[group] = values;
    const names = Object.values(groups).flatMap((g) => Object.keys(g));
    const dir = mkdtempSync(join(tmpdir(), 'tsbpf-nlabi-'));
    try {
      const src = [
        '#include <stdio.h>',
        '#include <sys/socket.h>',
        '#include <linux/netlink.h>',
        '#include <linux/rtnetlink.h>',
        '#include <linux/if_link.h>',
        '#include <linux/pkt_sched.h>',
        '#include <linux/pkt_cls.h>',
        '#include <linux/if_ether.h>',
        '#include <linux/if.h>',
        'int main(void) {',
        ...names.map((n) => `  printf("%s %lld\\n", "${n}", (long long)(${n}));`),
        '  return 0;',
        '}',
      ].join('\n');
      writeFileSync(join(dir, 'defs.c'), src);
      execFileSync('gcc', ['-o', join(dir, 'defs'), join(dir, 'defs.c')], { stdio: 'pipe' });
      const header = new Map(
        execFileSync(join(dir, 'defs'))
          .toString()
          .trim()
          .split('\n')
          .map((l) => l.split(' ') as [string, string]),
      );
      for (const [group, values] of Object.entries(groups))
        for (const [name, value] of Object.entries(values)) {
          const c = Number(header.get(name));
          // NLA_TYPE_MASK is an int in C (~ of two bits); only its low 16 bits mean anything.
          if (name === 'NLA_TYPE_MASK') expect(value, name).toBe(c & 0xffff);
          else expect(value, `${group}.${name}`).toBe(c);
        }
      expect(header.size).toBe(names.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tcHandle composes major:minor like TC_H_MAKE', () => {
    expect(abi.tcHandle(abi.tc_h.TC_H_CLSACT, abi.tc_h.TC_H_MIN_INGRESS)).toBe(0xfffffff2);
    expect(abi.tcHandle(abi.tc_h.TC_H_CLSACT, abi.tc_h.TC_H_MIN_EGRESS)).toBe(0xfffffff3);
    expect(abi.tcHandle(abi.tc_h.TC_H_CLSACT, 0)).toBe(0xffff0000);
    expect(abi.rtmName(abi.rtm.RTM_SETLINK)).toBe('RTM_SETLINK');
    expect(abi.rtmName(999)).toBe('rtnetlink message 999');
  });
});
