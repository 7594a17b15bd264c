// Generated skeletons, without a kernel: for every fixture with BTF (test/fixtures/*.o and
// bpf/*.o) the module type-checks under `tsc --strict` (importing 'tsbpf', mapped to the source
// tree), as does a strict tool written against one, and misuse of its types is rejected. The
// CLI verb prints what the library writes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ElfError, UsageError, generateSkeleton } from '../../src/index.js';
import { thrown } from '../helpers/thrown.js';
import { ROOT, base, withBtf, without } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-skel-gen-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('what a skeleton module says', () => {
  const file = join(ROOT, 'test/fixtures/skeleton_types.o');
  const text = generateSkeleton(readFileSync(file), { fileName: file });

  it('an interface per struct, typed maps (per-CPU: one value per CPU), programs, sections', () => {
    expect(text).toContain('export interface flow_stats {\n  packets: bigint;\n  bytes: bigint;\n}\n');
    expect(text).toContain('export interface flow_key {\n  saddr: number;\n  dport: number;\n  proto: number;\n  pad: number;\n}\n');
    expect(text).toContain('export interface backend_t {');
    expect(text).toContain('  verdict: "V_DROP" | "V_PASS" | number;\n');
    expect(text).toContain('  readonly flows: TypedMap<flow_key, flow_stats>;\n');
    expect(text).toContain('  readonly per_cpu: TypedMap<number, bigint, bigint[]>;\n');
    expect(text).toContain('  readonly pending: TypedMap<null, flow_key>;\n');
    expect(text).toContain("  readonly bss: BpfMap<'array'>;\n");
    expect(text).toContain('  readonly count_flows: BpfProgram;\n');
    expect(text).toContain('  get drop_port(): number;\n  set drop_port(value: Init<number>);\n');
    expect(text).toContain('  get watch(): flow_key;\n');
    expect(text).toContain('export type SkeletonTypesSkeleton = Skeleton<SkeletonTypesMaps, SkeletonTypesPrograms, SkeletonTypesTypes> & {\n  readonly rodata: SkeletonTypesRodata;\n  readonly data: SkeletonTypesData;\n  readonly bss: SkeletonTypesBss;\n};');
    // One interface per struct, however often it is used.
    expect(text.match(/export interface flow_key /g)).toHaveLength(1);
  });

  it('keeps names from the object and the command line inside its comments', () => {
    const odd = generateSkeleton(readFileSync(join(ROOT, 'test/fixtures/xdp_counter.o')), { fileName: 'x.o', name: 'evil */ process.exit(1); /*\nmore' });
    expect(odd).not.toContain('*/ process.exit');
    // (An object's name ends at its first '.', as libbpf's does.)
    expect(odd.split('\n')[1]).toBe("// Object 'evil *\\/ process': 2 maps, 1 programs, 0 globals; its bytes are embedded below.");
    expect(odd).toContain('export type EvilProcessSkeleton = Skeleton<');
  });

  it('embeds the object byte for byte, or names the file', () => {
    const b64 = /base64: \[\n([\s\S]*?)\n {2}\]\.join/.exec(text)![1]!.replace(/[\s',]/g, '');
    expect(Buffer.from(b64, 'base64').equals(readFileSync(file))).toBe(true);
    const byPath = generateSkeleton(readFileSync(file), { fileName: file, objectPath: './skeleton_types.o' });
    expect(byPath).not.toContain('base64');
    expect(byPath).toContain('const OBJECT = { url: new URL("./skeleton_types.o", import.meta.url) };');
  });
});

describe('generated skeletons type-check under tsc --strict', () => {
  it('every fixture object either has BTF or says why it cannot have a skeleton', () => {
    expect(withBtf.length).toBeGreaterThan(20);
    expect(withBtf).toContain(join(ROOT, 'test/fixtures/skeleton_types.o'));
    expect(withBtf).toContain(join(ROOT, 'bpf/xdp-dispatcher.o'));
    for (const { file, why } of without) {
      const e = thrown(() => generateSkeleton(readFileSync(file), { fileName: file }));
      expect(e, file).toBeInstanceOf(why === 'no BTF' ? UsageError : ElfError);
      expect((e as Error).message, file).toContain(why === 'no BTF' ? 'has no BTF (build it with clang -g)' : why.replace(/^.*?ELF: /, ''));
    }
  });

  it('tsc --strict --noEmit accepts every skeleton and a strict tool using one, and rejects misuse', async () => {
    for (const f of withBtf)
      writeFileSync(join(dir, `${base(f)}.skel.ts`), generateSkeleton(readFileSync(f), { fileName: f, ...(base(f) === 'skeleton_types' ? { types: ['event', 'backend_t'] } : {}) }));
    // A tool written against a skeleton: every read is its C type's TS type, no narrowing, no casts.
    writeFileSync(
      join(dir, 'tool.ts'),
      `import { open, type event, type flow_key, type flow_stats, type sample, type backend_t } from './skeleton_types.skel.js';
import { BtfValueError, type BpfMap, type BpfProgram } from 'tsbpf';

export function tool(): bigint {
  using skel = open();
  skel.rodata.drop_port = 53;
  skel.rodata.watch = { saddr: 0x0100007f, dport: 99 };
  skel.rodata.banner = 'hello';
  skel.data.default_verdict = 'V_DROP';
  skel.load();
  const key: flow_key = { saddr: 1, dport: 53, proto: 17, pad: 0 };
  const stats: flow_stats | undefined = skel.maps.flows.lookup(key);
  skel.maps.flows.update({ saddr: 2, dport: 80 }, { packets: 1, bytes: 2n });
  const perCpu: bigint[] | undefined = skel.maps.per_cpu.lookup(0);
  skel.maps.per_cpu.update(1, 5n);
  const s: sample | undefined = skel.maps.samples.lookup(0);
  const comm: string | undefined = s?.comm;
  const mac: Uint8Array | undefined = s?.mac;
  const verdict: 'V_DROP' | 'V_PASS' | number | undefined = s?.verdict;
  const b: backend_t | undefined = skel.maps.backends.lookup(7);
  const queued: flow_key | undefined = skel.maps.pending.pop();
  const bytes: BpfMap<'array'> = skel.maps.bss;
  const prog: BpfProgram = skel.programs.count_flows;
  skel.bss.ipv4_packets = 0;
  let total: bigint = skel.bss.ipv4_packets + (stats?.bytes ?? 0n);
  for (const [k, v] of skel.maps.flows) total += BigInt(k.dport) + v.packets;
  const seeds: number[] = skel.data.seeds;
  const record: event = skel.types.event.decode(new Uint8Array(skel.types.event.size));
  const len: bigint = record.len;
  const weight: number = skel.types.backend_t.toBytes({ port: 1 }).length + record.dport;
  // @ts-expect-error: struct flow_key has no member 'nope'
  skel.maps.flows.lookup({ nope: 1 });
  // @ts-expect-error: a u64 reads as a bigint
  const wrong: number = skel.bss.ipv4_packets;
  // @ts-expect-error: there is no program 'missing'
  void skel.programs.missing;
  // @ts-expect-error: char[8] is a string
  skel.rodata.banner = 5;
  // @ts-expect-error: not an enumerator of enum verdict
  skel.data.default_verdict = 'V_MAYBE';
  // @ts-expect-error: only the types named when generating have codecs
  void skel.types.sample;
  void [perCpu, comm, mac, verdict, b, queued, bytes, prog, seeds, wrong, BtfValueError, len, weight];
  return total;
}
`,
    );
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'ESNext.Disposable'],
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
          strict: true,
          noUncheckedIndexedAccess: true,
          noUnusedLocals: false,
          noEmit: true,
          skipLibCheck: true,
          paths: { tsbpf: [join(ROOT, 'src/index.ts')] },
        },
        include: ['*.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules/.bin/tsc');
    const run = (project: string) =>
      new Promise<{ code: number; out: string }>((resolve) =>
        execFile(tsc, ['-p', project], { cwd: dir, encoding: 'utf8', timeout: 240_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out: stdout + stderr }),
        ),
      );
    // Errors of the source tree itself are `npx tsc -p .`'s business (and may be another change
    // in progress): this test owns the files it wrote.
    const ours = (out: string) => out.split('\n').filter((l) => /^error TS/.test(l) || (/^\S+\(\d+,\d+\): error/.test(l) && !/^(\.\.\/|\/)/.test(l)));
    const ok = await run(dir);
    expect(ours(ok.out)).toEqual([]);
    if (ok.code !== 0) expect(ok.out, 'tsc failed on the source tree only').toMatch(/^\S*src\/\S+\.ts\(\d+,\d+\): error/m);
    // The check can fail: the same tool without its @ts-expect-error lines is six errors.
    writeFileSync(join(dir, 'tool.ts'), readFileSync(join(dir, 'tool.ts'), 'utf8').replace(/^\s*\/\/ @ts-expect-error.*$/gm, ''));
    const bad = await run(dir);
    expect(bad.code).not.toBe(0);
    expect(ours(bad.out).filter((l) => l.startsWith('tool.ts'))).toHaveLength(6);
    expect(ours(bad.out).filter((l) => !l.startsWith('tool.ts'))).toEqual([]);
    expect(bad.out).toContain("'nope'");
    expect(bad.out).toContain("Type 'bigint' is not assignable to type 'number'");
    rmSync(join(dir, 'tool.ts'));
  }, 300_000);
});

describe('tsbpf gen skeleton', () => {
  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
      ),
    );

  it('prints the module generateSkeleton writes; -o writes a file; errors exit as documented', async () => {
    const file = 'test/fixtures/skeleton_types.o';
    const out = await cli('gen', 'skeleton', file);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toBe(`${generateSkeleton(readFileSync(join(ROOT, file)), { fileName: file })}`);
    const o = join(dir, 'cli.skel.ts');
    const written = await cli('gen', 'skeleton', file, '--object-path', './skeleton_types.o', '--import', '../src/index.js', '-o', o);
    expect(written.code).toBe(0);
    expect(readFileSync(o, 'utf8')).toBe(generateSkeleton(readFileSync(join(ROOT, file)), { fileName: file, objectPath: './skeleton_types.o', importFrom: '../src/index.js' }));
    const withType = await cli('gen', 'skeleton', file, '--type', 'event', '--type', 'backend_t');
    expect(withType.code).toBe(0);
    expect(withType.stdout).toBe(generateSkeleton(readFileSync(join(ROOT, file)), { fileName: file, types: ['event', 'backend_t'] }));
    expect(withType.stdout).toContain('  readonly event: ValueCodec<event>;\n  readonly backend_t: ValueCodec<backend_t>;\n');
    const noType = await cli('gen', 'skeleton', file, '--type', 'nosuch');
    expect(noType.code).toBe(2);
    expect(noType.stderr).toBe("tsbpf: no struct, union, typedef or enum named 'nosuch' in the object's BTF\n");
    const missing = await cli('gen', 'skeleton', 'test/fixtures/nothing.o');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe('tsbpf: test/fixtures/nothing.o: no such file\n');
    const noBtf = await cli('gen', 'skeleton', 'test/fixtures/legacy_maps.o');
    expect(noBtf.code).toBe(2);
    expect(noBtf.stderr).toContain('has no BTF (build it with clang -g)');
  }, 120_000);
});
