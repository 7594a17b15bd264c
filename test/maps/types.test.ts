// Every map type of the kernel's enum: created, written and read back, or the exact error the
// kernel gives where a type needs something user space cannot hand it here.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError, NotSupportedError, UsageError, errnoName } from '../../src/errors.js';
import { features } from '../../src/features/index.js';
import { BpfMap, MAP_TYPES, lpmKey, possibleCpus, readU32, readU64, u32, u64 } from '../../src/maps/index.js';
import { closeFd, rawSyscall } from '../../src/syscall/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { cgroup2Root } from '../helpers/cgroup.js';
import { needs } from '../helpers/features.js';
import { findNamed } from '../helpers/kernel-btf-dump.js';
import { thrown } from '../helpers/thrown.js';
import { boundUdpSocket, bpfOutputPerfEvent, loadReturnProgram, loadTestBtf } from './helpers.js';

guardFdLeaks();

function expectBpfError(f: () => unknown, code: string, message?: RegExp): BpfError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a BpfError').toBeInstanceOf(BpfError);
  const b = err as BpfError;
  expect(b.code).toBe(code);
  if (message) expect(b.message).toMatch(message);
  return b;
}

describe('hash-like maps', () => {
  for (const type of ['hash', 'lru_hash'] as const) {
    it(`${type}: write, read back, delete`, () => {
      using m = BpfMap.create({ type, keySize: 8, valueSize: 16, maxEntries: 64, name: `t_${type}` });
      const v = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
      m.update(u64(0x1122334455667788n), v);
      expect(m.lookup(u64(0x1122334455667788n))).toEqual(v);
      expect(m.lookup(u64(1))).toBeUndefined();
      expect(m.info()).toMatchObject({ type, keySize: 8, valueSize: 16, maxEntries: 64, name: `t_${type}` });
      expect(m.delete(u64(0x1122334455667788n))).toBe(true);
      expect(m.delete(u64(0x1122334455667788n))).toBe(false);
      expect(m.lookup(u64(0x1122334455667788n))).toBeUndefined();
    });
  }

  for (const type of ['percpu_hash', 'lru_percpu_hash'] as const) {
    it(`${type}: one value per possible CPU, round trip`, () => {
      using m = BpfMap.create({ type, keySize: 4, valueSize: 12, maxEntries: 8 });
      const n = possibleCpus();
      expect(m.cpus).toBe(n);
      // valueSize 12 is padded to 16 per CPU in the kernel's buffer.
      expect(m.valueBytes).toBe(16 * n);
      const perCpu = Array.from({ length: n }, (_, c) => Uint8Array.from({ length: 12 }, (_, i) => c * 16 + i));
      m.update(u32(7), perCpu);
      expect(m.lookup(u32(7))).toEqual(perCpu);
      // One buffer is written to every CPU.
      m.update(u32(8), Uint8Array.from({ length: 12 }, () => 9));
      const got = m.lookup(u32(8))!;
      expect(got).toHaveLength(n);
      for (const v of got) expect(v).toEqual(new Uint8Array(12).fill(9));
      expect(() => m.update(u32(9), perCpu.slice(1))).toThrow(new RegExp(`one value per possible CPU \\(${n}\\), got ${n - 1}`));
    });
  }

  it('lpm_trie: longest prefix wins', () => {
    using m = BpfMap.create({ type: 'lpm_trie', keySize: 8, valueSize: 4, maxEntries: 16, flags: ['no_prealloc'] });
    m.update(lpmKey(8, [10, 0, 0, 0]), u32(8));
    m.update(lpmKey(24, [10, 1, 2, 0]), u32(24));
    expect(readU32(m.lookup(lpmKey(32, [10, 1, 2, 3]))!)).toBe(24);
    expect(readU32(m.lookup(lpmKey(32, [10, 9, 9, 9]))!)).toBe(8);
    expect(m.lookup(lpmKey(32, [11, 0, 0, 0]))).toBeUndefined();
    expect([...m.keys()]).toHaveLength(2);
  });

  it('hash_of_maps: update with a map, lookup returns the inner id', () => {
    using inner = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 });
    using outer = BpfMap.create({ type: 'hash_of_maps', keySize: 4, maxEntries: 4, innerMap: inner });
    outer.update(u32(3), inner);
    expect(outer.lookup(u32(3))).toBe(inner.info().id);
    expect(outer.delete(u32(3))).toBe(true);
  });
});

describe('array-like maps', () => {
  it('array: every index exists, zeroed; writes read back; delete is EINVAL', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 8, maxEntries: 4 });
    expect(m.keySize).toBe(4);
    expect(m.lookup(u32(3))).toEqual(new Uint8Array(8));
    m.update(u32(3), u64(12345));
    expect(readU64(m.lookup(u32(3))!)).toBe(12345n);
    expect(m.lookup(u32(4))).toBeUndefined();
    expectBpfError(() => m.delete(u32(0)), 'EINVAL', /array maps cannot be deleted: every index always exists/);
    expectBpfError(() => m.update(u32(4), u64(1)), 'E2BIG', /index is out of range: the map has 4 entries \(0\.\.3\)/);
    expectBpfError(() => m.update(u32(0), u64(1), 'noexist'), 'EEXIST', /already exists/);
  });

  it('percpu_array: per-CPU round trip', () => {
    using m = BpfMap.create({ type: 'percpu_array', valueSize: 8, maxEntries: 2 });
    const n = possibleCpus();
    const vals = Array.from({ length: n }, (_, c) => u64(1000 + c));
    m.update(u32(1), vals);
    expect(m.lookup(u32(1))).toEqual(vals);
    expect(m.lookup(u32(0))).toEqual(Array.from({ length: n }, () => new Uint8Array(8)));
    expectBpfError(() => m.delete(u32(0)), 'EINVAL');
  });

  it('prog_array: update with a program fd, lookup returns the program id, delete empties', () => {
    using m = BpfMap.create({ type: 'prog_array', maxEntries: 4 });
    const prog = loadReturnProgram();
    try {
      m.update(u32(2), prog);
      const id = m.lookup(u32(2));
      expect(typeof id).toBe('number');
      expect(id).toBeGreaterThan(0);
      m.update(u32(1), { fd: prog });
      expect(m.lookup(u32(1))).toBe(id);
      expect(m.lookup(u32(0))).toBeUndefined();
      expect([...m.entries()].map(([k, v]) => [readU32(k), v])).toEqual([
        [1, id],
        [2, id],
      ]);
      expect(m.delete(u32(2))).toBe(true);
      expect(m.delete(u32(2))).toBe(false);
      // A map fd is not a program.
      expectBpfError(() => m.update(u32(0), m), 'EINVAL', /not a program this map accepts/);
    } finally {
      closeFd(prog);
    }
  });

  it('array_of_maps: inner map template, lookup returns inner id; mismatching inner map is EINVAL', () => {
    using inner = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    using other = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
    using m = BpfMap.create({ type: 'array_of_maps', maxEntries: 2, innerMap: inner.fd });
    m.update(u32(0), inner);
    expect(m.lookup(u32(0))).toBe(inner.info().id);
    expect(m.lookup(u32(1))).toBeUndefined();
    expectBpfError(() => m.update(u32(1), other), 'EINVAL', /not a map matching the inner map template/);
    // Reading the inner map through its id.
    using again = BpfMap.fromId(m.lookup(u32(0)) as number);
    expect(again.info().id).toBe(inner.info().id);
  });

  it('perf_event_array: defaults to one slot per CPU; needs a perf event fd; not readable', () => {
    using m = BpfMap.create({ type: 'perf_event_array' });
    expect(m.maxEntries).toBe(possibleCpus());
    expectBpfError(() => m.update(u32(0), m), 'EBADF', /perf event/);
    expectBpfError(() => m.lookup(u32(0)), 'ENOTSUPP', /cannot be read from user space/);
    expect(m.delete(u32(0))).toBe(false);
    const ev = bpfOutputPerfEvent();
    try {
      m.update(u32(0), ev);
      // The slot is filled: deleting it now finds something.
      expect(m.delete(u32(0))).toBe(true);
      expect(m.delete(u32(0))).toBe(false);
    } finally {
      closeFd(ev);
    }
  });

  it('cgroup_array: takes a cgroup directory fd; not readable from user space', () => {
    using m = BpfMap.create({ type: 'cgroup_array', maxEntries: 2 });
    // The map holds cgroup v2 directories; a v1 hierarchy's directory is EBADF.
    const v2 = cgroup2Root();
    const v1 = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup')?.[1];
    if (v1) {
      const fd1 = openSync(v1, 'r');
      try {
        expectBpfError(() => m.update(u32(0), fd1), 'EBADF', /cgroup directory/);
      } finally {
        closeSync(fd1);
      }
    }
    const cg = openSync(v2, 'r');
    try {
      m.update(u32(1), cg);
      expectBpfError(() => m.lookup(u32(1)), 'ENOTSUPP');
      expect(m.delete(u32(1))).toBe(true);
      expect(m.delete(u32(1))).toBe(false);
    } finally {
      closeSync(cg);
    }
  });

  it('stack_trace: readable and deletable, filled only by programs', () => {
    using m = BpfMap.create({ type: 'stack_trace', valueSize: 8 * 16, maxEntries: 8 });
    expect(m.lookup(u32(0))).toBeUndefined();
    expectBpfError(() => m.update(u32(0), new Uint8Array(128)), 'EINVAL', /bpf_get_stackid/);
    expect(m.delete(u32(0))).toBe(false);
  });
});

describe('device and socket maps', () => {
  it('devmap: ifindex values (lo = 1), 4- and 8-byte forms', () => {
    using m4 = BpfMap.create({ type: 'devmap', valueSize: 4, maxEntries: 4 });
    m4.update(u32(0), 1);
    expect(readU32(m4.lookup(u32(0))!)).toBe(1);
    expect(m4.lookup(u32(1))).toBeUndefined();
    using m8 = BpfMap.create({ type: 'devmap', valueSize: 8, maxEntries: 4 });
    // struct bpf_devmap_val { u32 ifindex; union { int fd; u32 id; } bpf_prog; }: no program.
    m8.update(u32(2), Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0));
    expect(m8.lookup(u32(2))).toEqual(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0));
    expect(m8.delete(u32(2))).toBe(true);
    // An ifindex that does not exist.
    expectBpfError(() => m4.update(u32(1), 0x7ffffff0), 'EINVAL', /not a network device/);
  });

  it('devmap_hash: keys are any u32', () => {
    using m = BpfMap.create({ type: 'devmap_hash', valueSize: 4, maxEntries: 4 });
    m.update(u32(1000), 1);
    expect(readU32(m.lookup(u32(1000))!)).toBe(1);
    expect([...m.keys()].map((k) => readU32(k))).toEqual([1000]);
  });

  it('cpumap: value is { qsize, prog fd }', () => {
    using m = BpfMap.create({ type: 'cpumap', valueSize: 8, maxEntries: possibleCpus() });
    m.update(u32(0), Uint8Array.of(192, 0, 0, 0, 0, 0, 0, 0));
    expect(readU32(m.lookup(u32(0))!)).toBe(192);
    // The kernel bounds the queue size.
    expectBpfError(() => m.update(u32(0), Uint8Array.of(0, 0, 0, 0x10, 0, 0, 0, 0)), 'EOVERFLOW');
  });

  it('xskmap: creation and keys work; update needs an AF_XDP socket; not readable', () => {
    using m = BpfMap.create({ type: 'xskmap', maxEntries: 2 });
    expect([...m.keys()].map((k) => readU32(k))).toEqual([0, 1]);
    expectBpfError(() => m.update(u32(0), m), 'ENOTSOCK', /fd of an AF_XDP socket/);
    expectBpfError(() => m.update(u32(0), 0x7ffffff0), 'EBADF');
    expectBpfError(() => m.lookup(u32(0)), 'EOPNOTSUPP', /cannot be read from user space/);
  });

  it('reuseport_sockarray: holds SO_REUSEPORT sockets; lookups return the socket cookie', () => {
    using m = BpfMap.create({ type: 'reuseport_sockarray', valueSize: 8, maxEntries: 2 });
    const plain = boundUdpSocket();
    const sock = boundUdpSocket(true);
    try {
      expectBpfError(() => m.update(u32(0), plain), 'EINVAL');
      m.update(u32(1), sock);
      expect(readU64(m.lookup(u32(1))!)).toBeGreaterThan(0n);
      expect(m.lookup(u32(0))).toBeUndefined();
    } finally {
      closeFd(sock);
      closeFd(plain);
    }
  });

  for (const type of ['sockmap', 'sockhash', 'reuseport_sockarray'] as const) {
    it(`${type}: created; a non-socket value is ENOTSOCK; empty lookup is undefined`, () => {
      using m = BpfMap.create({ type, keySize: 4, valueSize: 8, maxEntries: 2 });
      expectBpfError(() => m.update(u32(0), m), 'ENOTSOCK', /fd of a socket/);
      expect(m.lookup(u32(0))).toBeUndefined();
    });
  }
});

describe('keyless maps', () => {
  it('queue: FIFO push/peek/pop; full queue is E2BIG unless exist overwrites', () => {
    using q = BpfMap.create({ type: 'queue', valueSize: 4, maxEntries: 2 });
    expect(q.keySize).toBe(0);
    q.push(u32(1));
    q.push(u32(2));
    expectBpfError(() => q.push(u32(3)), 'E2BIG', /full/);
    q.push(u32(3), 'exist');
    expect(readU32(q.peek()!)).toBe(2);
    expect(readU32(q.pop()!)).toBe(2);
    expect(readU32(q.pop()!)).toBe(3);
    expect(q.pop()).toBeUndefined();
    expect(() => q.lookup(u32(0))).toThrow(UsageError);
    expect(() => [...q.keys()]).toThrow(/has no keys/);
  });

  it('stack: LIFO', () => {
    using s = BpfMap.create({ type: 'stack', valueSize: 8, maxEntries: 4 });
    for (const n of [1, 2, 3]) s.push(u64(n));
    expect([s.pop(), s.pop(), s.pop(), s.pop()].map((v) => (v ? readU64(v) : undefined))).toEqual([3n, 2n, 1n, undefined]);
  });

  it('bloom_filter: pushed values are found, with mapExtra hash functions', () => {
    using b = BpfMap.create({ type: 'bloom_filter', valueSize: 4, maxEntries: 128, mapExtra: 3 });
    expect(b.info().mapExtra).toBe(3);
    for (let i = 0; i < 50; i++) b.push(u32(i * 7));
    for (let i = 0; i < 50; i++) expect(b.has(u32(i * 7))).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 200; i++) if (b.has(u32(1_000_000 + i))) falsePositives++;
    expect(falsePositives).toBeLessThan(100);
    expect(() => b.pop()).toThrow(/use has\(value\)/);
  });

  for (const type of ['ringbuf', 'user_ringbuf'] as const) {
    it(`${type}: size must be a power-of-2 number of pages; elements are not reachable by bpf(2)`, () => {
      expect(() => BpfMap.create({ type, maxEntries: 5000 })).toThrow(/power of 2 and a multiple of 4096, got 5000/);
      using r = BpfMap.create({ type, maxEntries: 16384 });
      expect(r.info()).toMatchObject({ type, keySize: 0, valueSize: 0, maxEntries: 16384 });
      expectBpfError(() => r.lookup(null), 'ENOTSUPP', /cannot be read from user space/);
    });
  }

  // Machines of our kind differ: one refuses arena maps with EPERM even for root, another
  // allows them, a kernel before 6.9 lacks them. Probe, then assert what the library does here.
  const arena = features.probe('arena');
  it(`arena: created mmapable where the machine allows it, else the typed error (here: ${arena.status})`, () => {
    const create = () => BpfMap.create({ type: 'arena', maxEntries: 2, flags: 'mmapable' });
    if (arena.status === 'present') {
      using a = create();
      expect(a.info()).toMatchObject({ type: 'arena', maxEntries: 2 });
    } else if (arena.status === 'absent') {
      const e = thrown<NotSupportedError>(create);
      expect(e).toBeInstanceOf(NotSupportedError);
      expect(e.minKernel).toBe('6.9');
      expect(e.message).toMatch(/^arena maps .*(need Linux 6\.9; this kernel is|although Linux 6\.9 introduced them)/);
      expect(e.message).toContain(e.kernel);
    } else {
      // Refused (EPERM here): a BpfError with the kernel's errno, never "needs Linux 6.9".
      const e = expectBpfError(create, errnoName(arena.errno), isRoot ? /refuses arena maps even for root/ : undefined);
      expect(e).not.toBeInstanceOf(NotSupportedError);
      expect(e.command).toBe('BPF_MAP_CREATE');
    }
  });
});

describe('storage maps', () => {
  it('cgroup_storage: created with maxEntries 0; elements exist only for attached cgroups', () => {
    using m = BpfMap.create({ type: 'cgroup_storage', keySize: 8, valueSize: 8 });
    expect(m.lookup(u64(1))).toBeUndefined();
    expectBpfError(() => m.update(u64(1), u64(1)), 'ENOENT', /attached to/);
    using p = BpfMap.create({ type: 'percpu_cgroup_storage', keySize: 8, valueSize: 8 });
    expect(p.lookup(u64(1))).toBeUndefined();
  });

  describe('local storage, keyed by an fd of its owner', () => {
    let btf = -1;
    beforeAll(() => {
      btf = loadTestBtf();
    });
    afterAll(() => {
      closeFd(btf);
    });
    // Type 1 is int, type 4 is an 8-byte struct (see loadTestBtf).
    const storage = <T extends 'sk_storage' | 'inode_storage' | 'task_storage' | 'cgrp_storage'>(type: T) =>
      BpfMap.create({ type, valueSize: 8, flags: 'no_prealloc', btf: { fd: btf, keyTypeId: 1, valueTypeId: 4 } });

    it('task_storage: a pidfd of this process', () => {
      using m = storage('task_storage');
      const pidfd = rawSyscall(434 /* pidfd_open */, process.pid, 0);
      expect(pidfd).toBeGreaterThan(0);
      try {
        expect(m.lookup(u32(pidfd))).toBeUndefined();
        m.update(u32(pidfd), u64(77));
        expect(readU64(m.lookup(u32(pidfd))!)).toBe(77n);
        expect(m.info()).toMatchObject({ type: 'task_storage', btfKeyTypeId: 1, btfValueTypeId: 4 });
        expect(m.info().btfId).toBeGreaterThan(0);
        expect(m.delete(u32(pidfd))).toBe(true);
        expect(m.lookup(u32(pidfd))).toBeUndefined();
      } finally {
        closeFd(pidfd);
      }
    });

    it('inode_storage: a file fd', () => {
      using m = storage('inode_storage');
      const f = openSync('/proc/self/exe', 'r');
      try {
        m.update(u32(f), u64(5));
        expect(readU64(m.lookup(u32(f))!)).toBe(5n);
      } finally {
        closeSync(f);
      }
    });

    // Skip reason: needs map:cgrp_storage; skipped where absent or refused (the title says which).
    needs('map:cgrp_storage')('cgrp_storage: a cgroup v2 directory fd', () => {
      using m = storage('cgrp_storage');
      const cg = openSync(cgroup2Root(), 'r');
      try {
        m.update(u32(cg), u64(6));
        expect(readU64(m.lookup(u32(cg))!)).toBe(6n);
      } finally {
        closeSync(cg);
      }
    });

    it('sk_storage: a socket fd', () => {
      using m = storage('sk_storage');
      const sock = boundUdpSocket();
      try {
        m.update(u32(sock), u64(7));
        expect(readU64(m.lookup(u32(sock))!)).toBe(7n);
        // A non-socket fd.
        expectBpfError(() => m.update(u32(btf), u64(1)), 'ENOTSOCK');
      } finally {
        closeFd(sock);
      }
    });

    it("'lock' reads and writes a value holding a bpf_spin_lock under the lock", () => {
      // Type 3 is struct { struct bpf_spin_lock lock; int cnt; }.
      using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4, btf: { fd: btf, keyTypeId: 1, valueTypeId: 3 } });
      m.update(u32(1), Uint8Array.of(0, 0, 0, 0, 42, 0, 0, 0), 'lock');
      m.update(u32(1), Uint8Array.of(0, 0, 0, 0, 43, 0, 0, 0), ['exist', 'lock']);
      const v = m.lookup(u32(1), 'lock')!;
      expect(readU32(v, 4)).toBe(43);
    });
  });

  it('sockmap and sockhash hold bound UDP sockets; lookups return the socket cookie', () => {
    using map = BpfMap.create({ type: 'sockmap', valueSize: 8, maxEntries: 2 });
    using hash = BpfMap.create({ type: 'sockhash', keySize: 4, valueSize: 8, maxEntries: 2 });
    const sock = boundUdpSocket();
    try {
      map.update(u32(0), sock);
      hash.update(u32(9), sock);
      const cookie = readU64(map.lookup(u32(0))!);
      expect(cookie).toBeGreaterThan(0n);
      expect(readU64(hash.lookup(u32(9))!)).toBe(cookie);
      expect(map.delete(u32(0))).toBe(true);
    } finally {
      closeFd(sock);
    }
  });

  for (const type of ['sk_storage', 'inode_storage', 'task_storage', 'cgrp_storage'] as const) {
    it(`${type}: needs BTF and no_prealloc (checked before the syscall)`, () => {
      expect(() => BpfMap.create({ type, valueSize: 8 })).toThrow(/needs flags 'no_prealloc'/);
      expect(() => BpfMap.create({ type, valueSize: 8, flags: 'no_prealloc' })).toThrow(/needs btf with a valueTypeId/);
    });
  }

  it('struct_ops: needs the vmlinux value type id (checked before the syscall)', () => {
    expect(() => BpfMap.create({ type: 'struct_ops', valueSize: 8, maxEntries: 1 })).toThrow(UsageError);
  });

  it('struct_ops: created from the kernel type; its value is the kernel struct', () => {
    const t = findNamed('STRUCT', 'bpf_struct_ops_tcp_congestion_ops');
    expect(t, 'vmlinux BTF has bpf_struct_ops_tcp_congestion_ops').toBeDefined();
    const btf = loadTestBtf(); // the kernel wants some BTF fd alongside the vmlinux type id
    try {
      using m = BpfMap.create({ type: 'struct_ops', valueSize: t!.size!, maxEntries: 1, btf: { fd: btf, vmlinuxValueTypeId: t!.id } });
      expect(m.info()).toMatchObject({ type: 'struct_ops', keySize: 4, valueSize: t!.size, btfVmlinuxValueTypeId: t!.id });
      // Not registered yet: the value reads back as zeros.
      expect(m.lookup(u32(0))).toEqual(new Uint8Array(t!.size!));
      // Registering needs struct_ops programs in the function pointers.
      expectBpfError(() => m.update(u32(0), new Uint8Array(t!.size!)), 'EINVAL', /loaded struct_ops program/);
    } finally {
      closeFd(btf);
    }
  });
});

describe('coverage of the enum', () => {
  it('every bpf_map_type of this kernel has a lowercase name', () => {
    const names = [...MAP_TYPES.keys()];
    for (const t of ['hash', 'array', 'percpu_array', 'lpm_trie', 'prog_array', 'array_of_maps', 'hash_of_maps', 'ringbuf', 'perf_event_array', 'queue', 'stack', 'devmap', 'devmap_hash', 'cpumap', 'xskmap', 'bloom_filter', 'arena', 'cgrp_storage', 'user_ringbuf'])
      expect(names).toContain(t);
    expect(names).not.toContain('unspec');
    expect(names.every((n) => n === n.toLowerCase() && !n.startsWith('bpf_'))).toBe(true);
  });
});
