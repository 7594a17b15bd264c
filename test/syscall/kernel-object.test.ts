// One shape for kernel objects (src/syscall/kernel-object.ts): maps, programs, links and BTF
// objects open, pin, unpin and close the same way, check the kind of every fd they are given,
// and throw ClosedError after close. Each rule is checked on all four kinds.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap, BpfObject, BpfProgram, BtfHandle, ClosedError, Link, UsageError } from '../../src/index.js';
import { ProgramBuilder, R0 } from '../../src/asm/index.js';
import { loadKernelBtf } from '../../src/btf/index.js';
import type { KernelObject } from '../../src/syscall/kernel-object.js';
import { guardFdLeaks, openFdCount } from '../helpers/fd-guard.js';
import { verdictProgram } from '../lifetime/fixtures/programs.js';

guardFdLeaks();

const dir = `/sys/fs/bpf/tsbpf-kobj-${process.pid}`;
const FIX = new URL('../fixtures/', import.meta.url).pathname;
beforeAll(() => mkdirSync(dir, { recursive: true }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Kind {
  name: string;
  make(): { obj: KernelObject; cleanup(): void };
  fromFd(fd: number): KernelObject;
  /** Undefined for BTF objects, which the kernel cannot pin. */
  fromPin?: (path: string) => KernelObject;
  fromId(id: number): KernelObject;
}

const kinds: Kind[] = [
  {
    name: 'map',
    make: () => ({ obj: BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 }), cleanup: () => undefined }),
    fromFd: (fd) => BpfMap.fromFd(fd),
    fromPin: (p) => BpfMap.fromPin(p),
    fromId: (id) => BpfMap.fromId(id),
  },
  {
    name: 'program',
    make: () => ({ obj: verdictProgram(2), cleanup: () => undefined }),
    fromFd: (fd) => BpfProgram.fromFd(fd),
    fromPin: (p) => BpfProgram.fromPin(p),
    fromId: (id) => BpfProgram.fromId(id),
  },
  {
    name: 'link',
    make: () => {
      // A raw tracepoint link on a tracepoint that fires rarely; the program returns 0.
      const prog = BpfProgram.load({ type: 'raw_tracepoint', instructions: new ProgramBuilder().mov64(R0, 0).exit().assemble(), license: 'GPL' });
      return { obj: prog.attachRawTracepoint('sched_process_exec'), cleanup: () => prog.close() };
    },
    fromFd: (fd) => Link.fromFd(fd),
    fromPin: (p) => Link.fromPin(p),
    fromId: (id) => Link.fromId(id),
  },
  {
    name: 'BTF object',
    make: () => {
      // The object's own BTF, loaded with it: a program names it by id.
      const obj = BpfObject.open(`${FIX}globals.o`).load();
      const btf = BtfHandle.fromId(obj.program('tc_globals').info().btfId);
      return { obj: btf, cleanup: () => obj.close() };
    },
    fromFd: (fd) => BtfHandle.fromFd(fd),
    fromId: (id) => BtfHandle.fromId(id),
  },
];

describe.each(kinds)('$name', (k) => {
  it('fromFd duplicates, fromId and fromPin open the same object; unpin removes only its own pin', () => {
    const { obj, cleanup } = k.make();
    try {
      const id = obj.info().id;
      expect(id).toBeGreaterThan(0);
      using dup = k.fromFd(obj.fd);
      expect(dup.fd).not.toBe(obj.fd);
      expect(dup.info().id).toBe(id);
      dup.close();
      expect(existsSync(`/proc/self/fd/${obj.fd}`)).toBe(true); // the caller's fd stays
      using byId = k.fromId(id);
      expect(byId.info().id).toBe(id);

      const path = `${dir}/${k.name.replace(' ', '_')}`;
      if (!k.fromPin) {
        // BPF_OBJ_PIN takes maps, programs and links only: said before the kernel is asked.
        expect(() => obj.pin(path)).toThrow(/cannot be pinned: the kernel pins maps, programs and links only/);
        expect(() => obj.unpin(path)).toThrow(UsageError);
        expect(existsSync(path)).toBe(false);
        return;
      }
      obj.pin(path);
      expect(obj.pinnedPath).toBe(path);
      using pinned = k.fromPin(path);
      expect(pinned.pinnedPath).toBe(path);
      expect(pinned.info().id).toBe(id);
      pinned.unpin();
      expect(existsSync(path)).toBe(false);
      expect(pinned.pinnedPath).toBeUndefined();
      obj.unpin(); // already gone: done, not an error
      expect(obj.pinnedPath).toBeUndefined();
      expect(() => obj.unpin()).toThrow(/not pinned or opened from a pin/);
    } finally {
      obj.close();
      cleanup();
    }
  });

  it('after close, every method throws ClosedError (a UsageError); closing twice is harmless', () => {
    const { obj, cleanup } = k.make();
    obj.close();
    obj.close();
    cleanup();
    expect(obj.closed).toBe(true);
    const calls = [() => obj.fd, () => obj.info(), ...(k.fromPin ? [() => obj.pin(`${dir}/never`), () => obj.unpin(`${dir}/never`)] : [])];
    for (const call of calls) {
      let e: unknown;
      try {
        call();
      } catch (x) {
        e = x;
      }
      expect(e).toBeInstanceOf(ClosedError);
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toMatch(new RegExp(`^this .*${k.name === 'BTF object' ? 'BTF object' : k.name}.* is closed$`));
    }
  });

  it('refuses fds, pins and ids of another kind, leaking nothing', () => {
    const other = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
    const wrong = k.name === 'map' ? verdictProgram(2) : other;
    const path = `${dir}/wrong-${k.name.replace(' ', '_')}`;
    wrong.pin(path);
    const fds = openFdCount();
    const plain = openSync('/proc/self/stat', 'r');
    try {
      expect(() => k.fromFd(wrong.fd)).toThrow(new RegExp(`is not a BPF ${k.name} \\(it is a BPF (map|program)\\)`));
      if (k.fromPin) expect(() => k.fromPin!(path)).toThrow(new RegExp(`the object pinned at ${path} is not a BPF ${k.name}`));
      expect(() => k.fromFd(plain)).toThrow(new RegExp(`is not a BPF ${k.name} \\(it is /proc/`));
      expect(() => k.fromFd(-1)).toThrow(UsageError);
      expect(() => k.fromFd(0x7ffffff)).toThrow(/is not an open file descriptor/);
      expect(() => k.fromId(0)).toThrow(UsageError);
      expect(() => k.fromId(0x7ffffff0)).toThrow(new RegExp(`ENOENT — there is no ${k.name} with id`));
    } finally {
      closeSync(plain);
    }
    expect(openFdCount()).toBe(fds);
    wrong.unpin();
    wrong.close();
    other.close();
  });
});

describe('BTF objects: what the kernel holds', () => {
  it('bytes() and btf() are the object the kernel holds (types as bpftool lists them); vmlinux is the kernel BTF', () => {
    using obj = BpfObject.open(`${FIX}globals.o`).load();
    const id = obj.program('tc_globals').info().btfId;
    const h = BtfHandle.fromId(id);
    const bytes = h.bytes();
    expect(bytes.length).toBe(h.info().size);
    const btf = h.btf();
    expect(btf.base).toBeUndefined(); // loaded BTF stands alone
    // Independently: bpftool's JSON dump of the same id, type by type.
    const dump = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'id', String(id)], { encoding: 'utf8' })) as { types: { id: number; kind: string; name: string }[] };
    expect(dump.types.length).toBeGreaterThan(5);
    expect(btf.lastTypeId).toBe(dump.types.at(-1)!.id);
    for (const t of dump.types) expect([t.id, btf.kindOf(t.id).toUpperCase(), btf.name(t.id) || '(anon)']).toEqual([t.id, t.kind, t.name]);
    h.close();
    expect(() => h.bytes()).toThrow(ClosedError);
    expect(() => h.btf()).toThrow(ClosedError);

    const vmlinux = (JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'show'], { encoding: 'utf8' })) as { id: number; name?: string }[]).find((b) => b.name === 'vmlinux')!;
    using k = BtfHandle.fromId(vmlinux.id);
    expect(k.info()).toMatchObject({ kernel: true, name: 'vmlinux' });
    expect(k.btf()).toBe(loadKernelBtf());
    // Megabytes: compared as buffers, not element by element.
    expect(Buffer.from(k.bytes()).equals(readFileSync('/sys/kernel/btf/vmlinux'))).toBe(true);
  });
});
