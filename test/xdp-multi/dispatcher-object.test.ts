// tsbpf's dispatcher object (bpf/xdp-dispatcher.o) next to libxdp's (Debian's xdp-tools): what
// other loaders look at must be the same — the configuration struct's layout in .rodata, one
// map, the program name, the stub functions and their prototype, the version metadata — so that
// libxdp takes a tsbpf dispatcher for its own and re-links its components into its own.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfObject, type Btf } from '../../src/index.js';
import { xdpMetadataValue } from '../../src/btf/xdp-metadata.js';
import { dispatcherObjectPath } from '../../src/xdp/multi/dispatcher.js';
import { CONFIG_SIZE, DISPATCHER_VERSION, MAX_DISPATCHER_ACTIONS } from '../../src/xdp/multi/protocol.js';

const LIBXDP = '/usr/lib/x86_64-linux-gnu/bpf/xdp-dispatcher.o';

/** A struct's members as [name, bit offset, resolved kind and size]. */
function layout(btf: Btf, name: string): [string, number, string, number][] {
  const id = btf.typeByName(name, 'struct')!;
  const t = btf.type(id);
  if (t.kind !== 'struct') throw new Error(`${name} is not a struct`);
  return t.members.map((m) => [m.name, m.bitOffset, btf.resolved(m.type).kind, btf.sizeOf(m.type)]);
}

/** A function's prototype as text: return kind and each parameter's pointee. */
function prototype(btf: Btf, func: string): string {
  const f = btf.type(btf.typeByName(func, 'func')!);
  if (f.kind !== 'func') throw new Error(`${func} is not a function`);
  const p = btf.type(f.type);
  if (p.kind !== 'func_proto') throw new Error(`${func} has no prototype`);
  const param = (id: number): string => {
    const t = btf.resolved(id);
    return t.kind === 'ptr' ? `${btf.resolved(t.type).kind} ${btf.resolved(t.type).name} *` : t.kind;
  };
  return `${btf.resolved(p.returnType).name} (${p.params.map((x) => param(x.type)).join(', ')}) ${f.linkage}`;
}

describe('bpf/xdp-dispatcher.o speaks the protocol as libxdp\'s xdp-dispatcher.o does', () => {
  it('the object ships where the library looks for it', () => {
    expect(existsSync(dispatcherObjectPath())).toBe(true);
  });

  it('same configuration struct, one frozen .rodata map of its size, same version metadata', () => {
    const ours = BpfObject.open(dispatcherObjectPath());
    const theirs = BpfObject.open(LIBXDP);
    expect(layout(ours.btf!, 'xdp_dispatcher_config')).toEqual(layout(theirs.btf!, 'xdp_dispatcher_config'));
    expect(ours.btf!.sizeOf(ours.btf!.typeByName('xdp_dispatcher_config', 'struct')!)).toBe(CONFIG_SIZE);
    for (const o of [ours, theirs]) {
      expect([...o.spec.maps.keys()]).toEqual(['.rodata']);
      expect(o.mapSpec('.rodata')).toMatchObject({ valueSize: CONFIG_SIZE, maxEntries: 1, keySize: 4, freeze: true });
      expect(xdpMetadataValue(o.btf!, 'dispatcher_version')).toBe(DISPATCHER_VERSION);
      expect(o.spec.license).toBe('GPL');
    }
    // How `xdp.multi.query` tells who built a dispatcher: only ours carries the marker.
    expect(xdpMetadataValue(ours.btf!, 'tsbpf_dispatcher')).toBe(1);
    expect(xdpMetadataValue(theirs.btf!, 'tsbpf_dispatcher')).toBeUndefined();
  });

  it('xdp_dispatcher in section xdp, and ten global stubs prog0..prog9 with its prototype', () => {
    const ours = BpfObject.open(dispatcherObjectPath());
    const theirs = BpfObject.open(LIBXDP);
    expect(ours.programSpec('xdp_dispatcher')).toMatchObject({ sectionName: 'xdp', type: 'xdp', global: true });
    expect(theirs.programSpec('xdp_dispatcher')).toMatchObject({ sectionName: 'xdp', type: 'xdp' });
    const main = prototype(theirs.btf!, 'xdp_dispatcher');
    expect(main).toBe('int (struct xdp_md *) global');
    expect(prototype(ours.btf!, 'xdp_dispatcher')).toBe(main);
    for (let i = 0; i < MAX_DISPATCHER_ACTIONS; i++) {
      expect(prototype(ours.btf!, `prog${i}`)).toBe(prototype(theirs.btf!, `prog${i}`));
      expect(prototype(ours.btf!, `prog${i}`)).toBe(main);
    }
    // struct xdp_md itself must agree member for member: an extension's signature is compared
    // against it by the kernel.
    expect(layout(ours.btf!, 'xdp_md')).toEqual(layout(theirs.btf!, 'xdp_md'));
  });
});
