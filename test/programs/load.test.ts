// BpfProgram.load and its error paths, info(), pinning and reopening, system-wide listing.
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BpfError, UsageError, VerifierError } from '../../src/errors.js';
import { BpfProgram, listPrograms } from '../../src/programs/index.js';
import { features, kernelAtLeast } from '../../src/features/index.js';
import { guardFdLeaks, isRoot, openFdCount } from '../helpers/fd-guard.js';
import { refuses } from '../helpers/features.js';
import { counterMap } from '../helpers/tiny-prog.js';
import { Attr, ENABLE_STATS_ATTR, bpfCall, bpf_cmd, bpf_stats_type, closeFd } from '../../src/syscall/index.js';
import { concat, exit, insn, movImm, readsUninitialised, returns } from './insns.js';
import { thrown as thrownAs } from '../helpers/thrown.js';
const thrown = (fn: () => unknown) => thrownAs<unknown>(fn);

const XDP_DROP = 1;
const XDP_PASS = 2;

function bpftoolProg(id: number): { id: number; tag: string; name?: string; type: string } {
  return JSON.parse(execFileSync('bpftool', ['prog', 'show', 'id', String(id), '-j']).toString());
}


const pins: string[] = [];
function pinPath(what: string): string {
  const p = `/sys/fs/bpf/tsbpf-progtest-${process.pid}-${what}`;
  pins.push(p);
  return p;
}

describe.runIf(isRoot)('BpfProgram.load', () => {
  guardFdLeaks();
  afterEach(() => {
    for (const p of pins.splice(0)) if (existsSync(p)) unlinkSync(p);
  });

  it('loads r0 = 2; exit as XDP and runs it: XDP_PASS, packet unchanged', () => {
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_PASS), license: 'GPL', name: 'pass_all' });
    try {
      expect(p.type).toBe('xdp');
      expect(p.name).toBe('pass_all');
      const frame = new Uint8Array(64).map((_, i) => i);
      const r = p.testRun({ data: frame });
      expect(r.retval).toBe(XDP_PASS);
      expect(r.data).toEqual(frame);
    } finally {
      p.close();
    }
  });

  it('info() describes the program and its tag matches bpftool', () => {
    const before = Date.now();
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_DROP), license: 'GPL', name: 'info_drop' });
    const after = Date.now();
    try {
      const info = p.info();
      expect(info.id).toBeGreaterThan(0);
      expect(info.tag).toMatch(/^[0-9a-f]{16}$/);
      expect(info.name).toBe('info_drop');
      expect(info.type).toBe('xdp');
      expect(info.mapIds).toEqual([]);
      expect(info.xlatedSize).toBe(16);
      expect(info.verifiedInsns).toBe(2);
      expect(info.gplCompatible).toBe(true);
      expect(info.createdByUid).toBe(0);
      expect(info.btfId).toBe(0);
      // /proc/uptime has 10 ms resolution; allow for it.
      expect(info.loadTime.getTime()).toBeGreaterThanOrEqual(before - 50);
      expect(info.loadTime.getTime()).toBeLessThanOrEqual(after + 50);
      const tool = bpftoolProg(info.id);
      expect(tool.tag).toBe(info.tag);
      expect(tool.type).toBe('xdp');
      expect(tool.name).toBe('info_drop');
    } finally {
      p.close();
    }
  });

  it('info() reports run count and time while BPF stats are enabled', () => {
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_PASS), license: 'GPL' });
    // BPF_ENABLE_STATS: stats are gathered while this fd is open.
    const stats = bpfCall(bpf_cmd.BPF_ENABLE_STATS, new Attr(ENABLE_STATS_ATTR).set('type', bpf_stats_type.BPF_STATS_RUN_TIME));
    try {
      expect(p.info().runCount).toBe(0);
      p.testRun({ data: new Uint8Array(64), repeat: 250 });
      const info = p.info();
      expect(info.runCount).toBe(250);
      expect(info.runTimeNs).toBeGreaterThan(0);
    } finally {
      closeFd(stats);
      p.close();
    }
  });

  it('a non-GPL license is reported as such', () => {
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_PASS), license: 'Proprietary' });
    try {
      expect(p.info().gplCompatible).toBe(false);
      expect(p.name).toBe('');
    } finally {
      p.close();
    }
  });

  it('the tag depends on the instructions only: same code, same tag; other code, other tag', () => {
    const a = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_PASS), license: 'GPL', name: 'a' });
    const b = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_PASS), license: 'GPL', name: 'b' });
    const c = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_DROP), license: 'GPL', name: 'c' });
    try {
      expect(a.info().tag).toBe(b.info().tag);
      expect(a.info().tag).not.toBe(c.info().tag);
      expect(a.info().id).not.toBe(b.info().id);
    } finally {
      a.close();
      b.close();
      c.close();
    }
  });

  it('accepts { bytes }, instruction objects and 64-bit words, all encoding the same program', () => {
    const bytes = returns(XDP_DROP);
    const fields = [
      { opcode: 0xb7, dst: 0, src: 0, off: 0, imm: XDP_DROP },
      { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
    ];
    const words = [0xb7n | (BigInt(XDP_DROP) << 32n), 0x95n];
    const progs = [bytes, { bytes }, fields, words].map((instructions) =>
      BpfProgram.load({ type: 'xdp', instructions, license: 'GPL' }),
    );
    try {
      const tags = progs.map((p) => p.info().tag);
      expect(new Set(tags).size).toBe(1);
      for (const p of progs) expect(p.testRun({ data: new Uint8Array(14) }).retval).toBe(XDP_DROP);
    } finally {
      for (const p of progs) p.close();
    }
  });

  it('encodes ld_imm64 from instruction objects into two slots', () => {
    // r0 = 0x1_0000_0002 (ld_imm64); r0 >>= 32; exit -> 1
    const p = BpfProgram.load({
      type: 'xdp',
      license: 'GPL',
      instructions: [
        { opcode: 0x18, dst: 0, src: 0, off: 0, imm: 2, imm64: 0x1_0000_0002n },
        { opcode: 0x77, dst: 0, src: 0, off: 0, imm: 32 },
        { opcode: 0x95, dst: 0, src: 0, off: 0, imm: 0 },
      ],
    });
    try {
      expect(p.info().xlatedSize).toBe(32);
      expect(p.testRun({ data: new Uint8Array(14) }).retval).toBe(1);
    } finally {
      p.close();
    }
  });

  it('xlatedInstructions() returns the translated program', () => {
    const code = returns(XDP_PASS);
    const p = BpfProgram.load({ type: 'xdp', instructions: code, license: 'GPL' });
    try {
      expect(p.xlatedInstructions()).toEqual(code);
    } finally {
      p.close();
    }
  });

  it("'tc' is an alias of sched_cls and the program reports the uapi name", () => {
    const p = BpfProgram.load({ type: 'tc', instructions: returns(0), license: 'GPL' });
    try {
      expect(p.type).toBe('sched_cls');
      expect(p.info().type).toBe('sched_cls');
    } finally {
      p.close();
    }
  });
});

describe.runIf(isRoot)('load errors', () => {
  guardFdLeaks();

  it('a verifier rejection is a VerifierError with EACCES, the full log, and the bad line in the message', () => {
    const e = thrown(() => BpfProgram.load({ type: 'xdp', instructions: readsUninitialised(), license: 'GPL', name: 'bad' }));
    expect(e).toBeInstanceOf(VerifierError);
    expect(e).toBeInstanceOf(BpfError);
    const v = e as VerifierError;
    expect(v.code).toBe('EACCES');
    expect(v.errno).toBe(13);
    expect(v.command).toBe('BPF_PROG_LOAD');
    expect(v.log).toContain('0: (bf) r0 = r2');
    expect(v.log).toContain('R2 !read_ok');
    expect(v.log).toMatch(/processed \d+ insns/);
    expect(v.message).toContain('R2 !read_ok');
    expect(v.message).toContain('program bad');
    expect(v.message).not.toContain('processed');
  });

  it('invalid memory access names the instruction', () => {
    // r0 = *(u64 *)(r10 + 8): above the frame pointer
    const code = concat([insn(0x79, 0, 10, 8, 0), exit()]);
    const e = thrown(() => BpfProgram.load({ type: 'socket_filter', instructions: code, license: 'GPL' })) as VerifierError;
    expect(e).toBeInstanceOf(VerifierError);
    expect(e.code).toBe('EACCES');
    expect(e.log).toContain('0: (79) r0 = *(u64 *)(r10 +8)');
    expect(e.message).toMatch(/invalid (read from )?stack|invalid.*off=8/);
  });

  it('grows the log past the 64 KiB default to hold a long log whole', () => {
    const e = thrown(() => BpfProgram.load({ type: 'xdp', instructions: readsUninitialised(5000), license: 'GPL' })) as VerifierError;
    expect(e).toBeInstanceOf(VerifierError);
    expect(e.code).toBe('EACCES');
    expect(e.log.length).toBeGreaterThan(64 * 1024);
    expect(e.log).toMatch(/^0: R1=ctx\(\S*\) R10=fp0/); // 6.1 prints ctx(off=0,imm=0)
    expect(e.log).toContain('5000: (bf) r0 = r2');
    expect(e.message).toContain('R2 !read_ok');
    expect(e.message).not.toContain('truncated');
  });

  it('grows a small logSize until the log fits, and keeps the real errno (not ENOSPC)', () => {
    const e = thrown(() =>
      BpfProgram.load({ type: 'xdp', instructions: readsUninitialised(50), license: 'GPL', logSize: 128 }),
    ) as VerifierError;
    expect(e.code).toBe('EACCES');
    expect(e.log.length).toBeGreaterThan(128);
    expect(e.log).toMatch(/^0: R1=ctx\(\S*\) R10=fp0/); // 6.1 prints ctx(off=0,imm=0)
    expect(e.log).toContain('R2 !read_ok');
  });

  // 400,000 instructions make a log over 16 MiB on every kernel we test (6.1 prints less per line).
  it('a log over 16 MiB stays EACCES and says it was truncated; 6.4+ keeps the tail with the bad line', () => {
    const e = thrown(() =>
      BpfProgram.load({ type: 'xdp', instructions: readsUninitialised(400_000), license: 'GPL', logLevel: 2 }),
    ) as VerifierError;
    expect(e).toBeInstanceOf(VerifierError);
    expect(e.code).toBe('EACCES');
    expect(e.message).toContain('(log truncated)');
    if (kernelAtLeast(features.kernel, '6.4')) {
      // A rotating log (6.4+) keeps the end, where the verifier names the bad instruction.
      expect(e.log.length).toBeGreaterThan(15 * 1024 * 1024);
      expect(e.log).toContain('400000: (bf) r0 = r2');
      expect(e.message).toContain('R2 !read_ok');
    } else {
      // Before 6.4 the kernel stops writing when the buffer is full: the log is the head.
      expect(e.log.length).toBeGreaterThan(15 * 1024 * 1024);
      expect(e.log).toMatch(/^0: R1=ctx\(\S*\) R10=fp0/m); // after 6.1's "func#0 @0" at level 2
    }
  });

  it('logLevel keeps the verifier log of a successful load, growing a small buffer', () => {
    const code = concat([...Array.from({ length: 40 }, (_, i) => movImm(0, i)), exit()]);
    const p = BpfProgram.load({ type: 'xdp', instructions: code, license: 'GPL', logLevel: 2, logSize: 128 });
    try {
      expect(p.verifierLog).toBeDefined();
      expect(p.verifierLog!.length).toBeGreaterThan(128);
      expect(p.verifierLog).toContain('40: (95) exit');
      expect(p.verifierLog).toMatch(/processed 41 insns/);
    } finally {
      p.close();
    }
  });

  // Skip reason: checks the EPERM, so it runs only where this machine refuses trampoline.
  refuses('trampoline')('fentry is refused here with EPERM and a message naming the type and attach type', () => {
    const e = thrown(() =>
      BpfProgram.load({ type: 'tracing', expectedAttachType: 'trace_fentry', instructions: returns(0), license: 'GPL' }),
    ) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e).not.toBeInstanceOf(VerifierError);
    expect(e.code).toBe('EPERM');
    expect(e.message).toContain("program type 'tracing'");
    expect(e.message).toContain("expected attach type 'trace_fentry'");
    expect(e.message).toMatch(/refuses/);
  });

  it('an attach type that does not fit the program type is EINVAL with advice', () => {
    const e = thrown(() =>
      BpfProgram.load({ type: 'cgroup_sock_addr', expectedAttachType: 'xdp', instructions: returns(1), license: 'GPL' }),
    ) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('EINVAL');
    expect(e.message).toContain("program type 'cgroup_sock_addr' with expected attach type 'xdp'");
    expect(e.message).toMatch(/attach type belongs to this program type/);
  });

  it('bad input is a UsageError before any kernel call', () => {
    const before = openFdCount();
    const cases: [string, () => unknown, RegExp][] = [
      ['type', () => BpfProgram.load({ type: 'xpd', instructions: returns(2), license: 'GPL' }), /unknown program type "xpd".*xdp/],
      ['attach', () => BpfProgram.load({ type: 'xdp', expectedAttachType: 'tcx', instructions: returns(2), license: 'GPL' }), /unknown attach type "tcx".*tcx_ingress/],
      ['name', () => BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL', name: 'has space' }), /letters, digits/],
      ['empty', () => BpfProgram.load({ type: 'xdp', instructions: new Uint8Array(0), license: 'GPL' }), /at least one instruction/],
      ['ragged', () => BpfProgram.load({ type: 'xdp', instructions: new Uint8Array(12), license: 'GPL' }), /multiple of 8/],
      ['shape', () => BpfProgram.load({ type: 'xdp', instructions: [{ op: 1 }] as never, license: 'GPL' }), /instructions\[0\]/],
      ['field', () => BpfProgram.load({ type: 'xdp', instructions: [{ opcode: 0xb7, dst: 11 + 5, src: 0, off: 0, imm: 0 }], license: 'GPL' }), /out of range/],
      ['flags', () => BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL', flags: -1 }), /flags/],
      ['options', () => BpfProgram.load(null as never), /options object/],
      ['name type', () => BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL', name: 7 as never }), /name must be a string/],
      ['license', () => BpfProgram.load({ type: 'xdp', instructions: returns(2), license: undefined as never }), /license/],
      ['fdArray', () => BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL', fdArray: 3 as never }), /fdArray/],
      ['attach fds', () => BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL', attachProgFd: 3, attachBtfObjFd: 4 }), /only one/],
      ['fromPin', () => BpfProgram.fromPin(''), /pin path/],
      ['fromFd', () => BpfProgram.fromFd(-3), /not a file descriptor/],
    ];
    for (const [what, f, msg] of cases) {
      const e = thrown(f);
      expect(e, what).toBeInstanceOf(UsageError);
      expect((e as Error).message, what).toMatch(msg);
    }
    expect(openFdCount()).toBe(before);
  });

  it('truncates a long name to the 15 characters the kernel keeps', () => {
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL', name: 'a_rather_long_program_name' });
    try {
      expect(p.name).toBe('a_rather_long_p');
      expect(p.info().name).toBe('a_rather_long_p');
    } finally {
      p.close();
    }
  });
});

describe.runIf(isRoot)('lifetime, pins and ids', () => {
  guardFdLeaks();
  afterEach(() => {
    for (const p of pins.splice(0)) if (existsSync(p)) unlinkSync(p);
  });

  it('close() is idempotent, gives the fd back, and a closed program refuses use', () => {
    const before = openFdCount();
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL' });
    expect(openFdCount()).toBe(before + 1);
    expect(readlinkSync(`/proc/self/fd/${p.fd}`)).toBe('anon_inode:bpf-prog');
    p.close();
    p.close();
    expect(p.closed).toBe(true);
    expect(openFdCount()).toBe(before);
    expect(thrown(() => p.fd)).toBeInstanceOf(UsageError);
    expect(thrown(() => p.testRun({ data: new Uint8Array(14) }))).toBeInstanceOf(UsageError);
  });

  it('[Symbol.dispose] closes', () => {
    const before = openFdCount();
    {
      using p = BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL' });
      expect(p.testRun({ data: new Uint8Array(14) }).retval).toBe(2);
    }
    expect(openFdCount()).toBe(before);
  });

  it('pin, close, fromPin: the same program, still runnable', () => {
    const path = pinPath('pin');
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_DROP), license: 'GPL', name: 'pinned' });
    const { id, tag } = p.info();
    p.pin(path);
    p.close();
    const q = BpfProgram.fromPin(path);
    try {
      expect(q.info().id).toBe(id);
      expect(q.info().tag).toBe(tag);
      expect(q.type).toBe('xdp');
      expect(q.name).toBe('pinned');
      expect(q.testRun({ data: new Uint8Array(14) }).retval).toBe(XDP_DROP);
    } finally {
      q.close();
    }
  });

  it('pinning twice at one path says the path exists', () => {
    const path = pinPath('twice');
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL' });
    try {
      p.pin(path);
      const e = thrown(() => p.pin(path)) as BpfError;
      expect(e.code).toBe('EEXIST');
      expect(e.message).toContain(path);
    } finally {
      p.close();
    }
  });

  it('fromPin of nothing is ENOENT; fromPin of a map is a UsageError and leaks no fd', () => {
    const e = thrown(() => BpfProgram.fromPin(pinPath('missing'))) as BpfError;
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('ENOENT');

    const map = counterMap('not_a_prog');
    const path = pinPath('map');
    try {
      execFileSync('bpftool', ['map', 'pin', 'id', String(mapId(map.fd)), path]);
      const before = openFdCount();
      const u = thrown(() => BpfProgram.fromPin(path));
      expect(u).toBeInstanceOf(UsageError);
      expect((u as Error).message).toMatch(/not a BPF program \(it is a BPF map\)/);
      expect(openFdCount()).toBe(before);
    } finally {
      map.close();
    }
  });

  it('fromId opens the program by id; an unknown id is ENOENT', () => {
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL', name: 'by_id' });
    try {
      const q = BpfProgram.fromId(p.info().id);
      try {
        expect(q.fd).not.toBe(p.fd);
        expect(q.info().tag).toBe(p.info().tag);
        expect(q.name).toBe('by_id');
      } finally {
        q.close();
      }
    } finally {
      p.close();
    }
    const e = thrown(() => BpfProgram.fromId(0x7ffffff0)) as BpfError;
    expect(e.code).toBe('ENOENT');
    expect(thrown(() => BpfProgram.fromId(-1))).toBeInstanceOf(UsageError);
  });

  it('fromFd duplicates: closing the wrapper leaves the caller’s fd open', () => {
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(2), license: 'GPL' });
    try {
      const q = BpfProgram.fromFd(p.fd);
      expect(q.fd).not.toBe(p.fd);
      expect(q.info().id).toBe(p.info().id);
      q.close();
      expect(p.testRun({ data: new Uint8Array(14) }).retval).toBe(2);
    } finally {
      p.close();
    }
    const devnull = openSync('/dev/null', 'r');
    try {
      const e = thrown(() => BpfProgram.fromFd(devnull));
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message).toContain('/dev/null');
    } finally {
      closeSync(devnull);
    }
  });

  it('listPrograms() includes ours with the same info bpftool shows', () => {
    const p = BpfProgram.load({ type: 'xdp', instructions: returns(XDP_DROP), license: 'GPL', name: 'listed' });
    try {
      const { id, tag } = p.info();
      const before = openFdCount();
      const all = listPrograms();
      expect(openFdCount()).toBe(before);
      const ours = all.find((x) => x.id === id);
      expect(ours).toBeDefined();
      expect(ours!.info.tag).toBe(tag);
      expect(ours!.info.name).toBe('listed');
      expect(ours!.info.type).toBe('xdp');
      const ids = all.map((x) => x.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    } finally {
      p.close();
    }
  });
});

function mapId(fd: number): number {
  const text = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  return Number(/map_id:\s*(\d+)/.exec(text)![1]);
}
