// Ownership of map fds: pins, ids, fds from elsewhere, listing, and no fd left behind.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfError, ClosedError, UsageError } from '../../src/errors.js';
import { BpfMap, listMaps, readU32, u32 } from '../../src/maps/index.js';
import { closeFd, dupFd, objPin } from '../../src/syscall/index.js';
import { guardFdLeaks, openFdCount } from '../helpers/fd-guard.js';
import { loadReturnProgram } from './helpers.js';
import { thrown as catchError } from '../helpers/thrown.js';

guardFdLeaks();

const dir = `/sys/fs/bpf/tsbpf-maps-test-${process.pid}`;
beforeAll(() => mkdirSync(dir, { recursive: true }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('pins', () => {
  it('pin, fromPin, unpin', () => {
    const path = `${dir}/counts`;
    const fds = openFdCount();
    {
      using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, name: 'pinned' });
      m.update(u32(1), 11);
      m.pin(path);
      expect(m.pinnedPath).toBe(path);
    }
    expect(openFdCount()).toBe(fds);
    // The pin keeps the map alive after its last fd closed.
    using again = BpfMap.fromPin(path);
    expect(again.type).toBe('hash');
    expect(again.name).toBe('pinned');
    expect(readU32(again.lookup(u32(1)) as Uint8Array)).toBe(11);
    expect(again.info()).toMatchObject({ keySize: 4, valueSize: 4, maxEntries: 8 });
    expect(again.pinnedPath).toBe(path); // opened from the pin
    again.unpin();
    expect(existsSync(path)).toBe(false);
    expect(again.pinnedPath).toBeUndefined();
    expect(() => again.unpin()).toThrow(/was not pinned or opened from a pin through this handle/);
    again.unpin(path); // nothing there: the outcome asked for holds
  });

  it('unpin never removes what is not this object: another map’s pin, or a file that is no pin', () => {
    using a = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    using b = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    b.pin(`${dir}/b`);
    expect(() => a.unpin(`${dir}/b`)).toThrow(/does not pin array map .*it was left in place/);
    expect(existsSync(`${dir}/b`)).toBe(true);
    b.unpin();
    const plain = `/tmp/tsbpf-not-a-pin-${process.pid}`;
    writeFileSync(plain, 'x');
    try {
      const e = catchError(() => a.unpin(plain));
      expect(e).toBeInstanceOf(BpfError);
      expect(existsSync(plain)).toBe(true);
    } finally {
      rmSync(plain, { force: true });
    }
    a.close();
    expect(() => a.unpin(`${dir}/b`)).toThrow(ClosedError);
  });

  it('fromPin of a missing path says nothing is pinned there', () => {
    const e = catchError(() => BpfMap.fromPin(`${dir}/nope`)) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('ENOENT');
    expect(e.message).toBe(`BPF_OBJ_GET failed: ENOENT — nothing is pinned at ${dir}/nope (or its directory does not exist)`);
  });

  it('pinning over an existing pin is EEXIST', () => {
    using a = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    a.pin(`${dir}/taken`);
    const e = catchError(() => a.pin(`${dir}/taken`)) as BpfError;
    expect(e.code).toBe('EEXIST');
    a.unpin();
  });

  it('fromPin read-only: updates are EPERM', () => {
    using a = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 1 });
    a.pin(`${dir}/ro`);
    using ro = BpfMap.fromPin(`${dir}/ro`, { readOnly: true });
    expect(readU32(ro.lookup(u32(0)) as Uint8Array)).toBe(0);
    const e = catchError(() => ro.update(u32(0), 1)) as BpfError;
    expect(e.code).toBe('EPERM');
    expect(e.message).toMatch(/read-only for user space/);
    a.unpin();
  });

  it('fromPin of a program is refused and its fd closed', () => {
    const prog = loadReturnProgram();
    try {
      objPin(prog, `${dir}/prog`);
    } finally {
      closeFd(prog);
    }
    const fds = openFdCount();
    expect(() => BpfMap.fromPin(`${dir}/prog`)).toThrow(`the object pinned at ${dir}/prog is not a BPF map (it is a BPF program)`);
    expect(openFdCount()).toBe(fds);
    rmSync(`${dir}/prog`);
  });
});

describe('ids and fds', () => {
  it('fromId opens the same map', () => {
    using m = BpfMap.create({ type: 'lru_hash', keySize: 4, valueSize: 4, maxEntries: 8, name: 'by_id' });
    m.update(u32(2), 22);
    const id = m.info().id;
    using other = BpfMap.fromId(id);
    expect(other.fd).not.toBe(m.fd);
    expect(other.type).toBe('lru_hash');
    expect(readU32(other.lookup(u32(2)) as Uint8Array)).toBe(22);
    expect(() => BpfMap.fromId(0)).toThrow(UsageError);
    const e = catchError(() => BpfMap.fromId(0x7ffffff0)) as BpfError;
    expect(e.code).toBe('ENOENT');
  });

  it('fromFd duplicates: the caller keeps its fd, closing the map closes only the duplicate', () => {
    using m = BpfMap.create({ type: 'array', valueSize: 4, maxEntries: 2 });
    const raw = dupFd(m.fd);
    try {
      const other = BpfMap.fromFd(raw);
      expect(other.fd).not.toBe(raw);
      expect(other.type).toBe('array');
      other.update(u32(1), 5);
      other.close();
      expect(existsSync(`/proc/self/fd/${raw}`)).toBe(true); // the caller's fd is still open
      expect(readU32(m.lookup(u32(1)) as Uint8Array)).toBe(5);
    } finally {
      closeFd(raw);
    }
  });

  it('fromFd refuses fds that are not maps', () => {
    const f = openSync('/proc/self/stat', 'r');
    try {
      expect(() => BpfMap.fromFd(f)).toThrow(`fd ${f} is not a BPF map`);
    } finally {
      closeSync(f);
    }
    expect(() => BpfMap.fromFd(-1)).toThrow(UsageError);
    expect(() => BpfMap.fromFd(0x7ffffff)).toThrow(/is not an open file descriptor/);
  });

  it('as() narrows after checking the type', () => {
    using m = BpfMap.create({ type: 'percpu_array', valueSize: 4, maxEntries: 1 });
    using any = BpfMap.fromId(m.info().id);
    const typed = any.as('percpu_array');
    expect(typed.lookup(u32(0))).toHaveLength(m.cpus);
    expect(() => any.as('hash')).toThrow('percpu_array map is not a hash map');
  });
});

describe('listMaps', () => {
  it('lists our maps with their info and closes every fd it opened', () => {
    using a = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 8, name: 'listed_a' });
    using b = BpfMap.create({ type: 'queue', valueSize: 8, maxEntries: 8, name: 'listed_b' });
    const fds = openFdCount();
    const all = listMaps();
    expect(openFdCount()).toBe(fds);
    const ida = a.info().id;
    const idb = b.info().id;
    expect(all.find((x) => x.id === ida)?.info).toMatchObject({ type: 'hash', name: 'listed_a', keySize: 4, valueSize: 4, maxEntries: 8 });
    expect(all.find((x) => x.id === idb)?.info).toMatchObject({ type: 'queue', name: 'listed_b', keySize: 0, valueSize: 8 });
    const ids = all.map((x) => x.id);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
  });
});

describe('fd accounting', () => {
  it('create/close of every kind leaves /proc/self/fd as it was; using closes', () => {
    const before = openFdCount();
    for (let i = 0; i < 50; i++) {
      using m = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 4 });
      m.update(u32(i), i);
      [...m.entries()];
    }
    const failed = catchError(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 1, flags: 'mmapable' }));
    expect(failed).toBeInstanceOf(BpfError);
    expect(openFdCount()).toBe(before);
  });
});

describe('garbage-collection safety net', () => {
  it('maps dropped without close() get their fds closed; a perf buffer reader its events closed and slots emptied', () => {
    const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/maps/fixtures/gc-child.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
    expect(r.during).toBe(r.before! + 20);
    expect(r.after).toBe(r.before);
    // The reader held its map fd and one perf event per CPU; while it lived the program's
    // output went through (0); once collected its fds are closed and the slots are empty, so
    // the program's output finds no reader: -ENOENT, not a ring nobody reads.
    expect(r.perfDuring).toBeGreaterThan(r.perfBefore!);
    expect(r.withReader).toBe(0);
    expect(r.perfAfter).toBe(r.perfBefore);
    expect(r.afterCollect).toBe(-2);
  });
});
