// The package a user installs (issue 15): `npm pack` of this tree, installed into a fresh
// directory as a dependency. Every README link resolves in it, a small strict TypeScript tool
// type-checks against its declarations and runs, and a shipped example runs against it.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../helpers/fd-guard.js';

const root = new URL('../../', import.meta.url).pathname;
const bin = (name: string): string => join(root, 'node_modules', '.bin', name);

/** Relative links of a markdown file: [text](target), anchors dropped. */
export function relativeLinks(markdown: string): string[] {
  const out = new Set<string>();
  for (const m of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1]!;
    if (/^[a-z]+:/i.test(target) || target.startsWith('#')) continue;
    out.add(target.replace(/#.*$/, ''));
  }
  return [...out];
}

function run(cmd: string, args: string[], cwd: string, timeout = 240_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_loglevel: 'error' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the packed package', () => {
  let work: string;
  let app: string;
  let packed: string[];
  let pkgDir: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tsbpf-pack-'));
    // Pack a copy of the tree (tracked and new files) so the build's dist/ is made fresh from
    // these sources, never a stale one, and the shared checkout's dist/ is left alone.
    const tree = join(work, 'tree');
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f && existsSync(join(root, f)));
    for (const f of files) {
      mkdirSync(join(tree, dirname(f)), { recursive: true });
      cpSync(join(root, f), join(tree, f));
    }
    symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
    const p = run('npm', ['pack', '--json', '--pack-destination', work], tree);
    expect(p.status, p.stdout + p.stderr).toBe(0);
    const info = JSON.parse(p.stdout.slice(p.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    packed = info[0]!.files.map((f) => f.path);
    const tarball = join(work, info[0]!.filename);

    // A user's project: an empty package that depends on the tarball.
    app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'my-tool', private: true, type: 'module' }, null, 2));
    const i = run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], app);
    expect(i.status, i.stderr).toBe(0);
    pkgDir = join(app, 'node_modules', 'tsbpf');
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'ESNext.Disposable'],
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: true,
          outDir: 'out',
          // The user's @types/node; the package must need nothing else.
          typeRoots: [join(root, 'node_modules', '@types')],
          types: ['node'],
        },
        include: ['tool.ts'],
      }),
    );
  }, 300_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships every file the README links to, and the links resolve in node_modules/tsbpf', () => {
    const links = relativeLinks(readFileSync(join(root, 'README.md'), 'utf8'));
    expect(links.length).toBeGreaterThan(5);
    for (const l of links) {
      const file = l.endsWith('/') ? `${l}README.md` : l;
      expect(existsSync(join(root, file)), `${l} in the repository`).toBe(true);
      expect(packed, `${l} in the tarball`).toContain(file);
      expect(existsSync(join(pkgDir, file)), `${l} in node_modules/tsbpf`).toBe(true);
    }
    // The examples come with what they need: their BPF objects and helpers.
    expect(packed).toEqual(expect.arrayContaining(['examples/globals.ts', 'examples/lib/testbed.ts', 'examples/bpf/globals_demo.o', 'dist/index.d.ts']));
    // And nothing of the repository's machinery.
    expect(packed.filter((f) => /^(test|bench|src\/.*\.ts$|\.ci)/.test(f))).toEqual([]);
  });

  it('examples import the package by name, not the repository source', () => {
    for (const f of packed.filter((p) => /^examples\/[^/]+\.ts$/.test(p))) {
      const text = readFileSync(join(pkgDir, f), 'utf8');
      expect(text, f).not.toMatch(/from '\.\.\/src\//);
    }
    // Inside the package, 'tsbpf' is the package itself (self-reference through "exports").
    const r = run(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('tsbpf'), import.meta.resolve('tsbpf/asm'))"], join(pkgDir, 'examples'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`file://${pkgDir}/dist/index.js file://${pkgDir}/dist/asm/index.js`);
  });

  it('a strict TypeScript tool type-checks against the declarations, and a wrong call does not', () => {
    writeFileSync(
      join(app, 'tool.ts'),
      `import { BpfProgram, BpfMap, BpfError, UsageError, u32, u64, readU64, xdp, tc, tcx, type Link } from 'tsbpf';
import { ProgramBuilder, R0 } from 'tsbpf/asm';

const b = new ProgramBuilder();
b.mov64(R0, 2).exit();
using prog = BpfProgram.load({ type: 'xdp', instructions: b.assemble(), license: 'GPL', name: 'packed_pass' });
const run = prog.testRun({ data: new Uint8Array(64) });
using map = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
map.update(u32(7), u64(42n));
const v = map.lookup(u32(7));
const value = v instanceof Uint8Array ? readU64(v) : undefined;
// Interfaces by name or index, everywhere:
type Iface = Parameters<typeof xdp.attach>[0] & Parameters<typeof tcx.query>[0] & Parameters<BpfProgram['attachXdp']>[0];
const lo: Iface = 'lo';
const attachers: [(i: Iface) => unknown, (i: Iface) => unknown] = [(i) => prog.attachXdp(i), (i) => tc.hookCreate({ ifindex: i, attachPoint: 'ingress' })];
let failed: string | undefined;
try {
  prog.attachTcx(lo, 'ingress');
} catch (e) {
  if (e instanceof BpfError || e instanceof UsageError) failed = e.name;
}
const unused: Link | undefined = undefined;
console.log(JSON.stringify({ retval: run.retval, value: value?.toString(), failed, attachers: attachers.length, unused: unused === undefined }));
`,
    );
    const ok = run(bin('tsc'), ['-p', '.'], app);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    // The declarations are real types, not any: a wrong argument is refused.
    writeFileSync(join(app, 'bad.ts'), `import { xdp } from 'tsbpf';\nxdp.attach({ name: 'eth0' }, 3);\n`);
    const badOnly = run(bin('tsc'), ['--strict', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022', '--noEmit', '--typeRoots', join(root, 'node_modules', '@types'), '--types', 'node', 'bad.ts'], app);
    expect(badOnly.status).not.toBe(0);
    expect(badOnly.stdout).toMatch(/bad\.ts\(2,12\): error TS2345/);
  }, 120_000);

  it.runIf(isRoot)('the tool runs with node against the installed package', () => {
    const r = run(process.execPath, [join(app, 'out', 'tool.js')], app);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ retval: 2, value: '42', failed: 'BpfError', attachers: 2, unused: true });
  }, 60_000);

  it('the CLI runs from node_modules/.bin', () => {
    const r = run(join(app, 'node_modules', '.bin', 'tsbpf'), ['--help'], app);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: tsbpf /);
  });

  it.runIf(isRoot)('an example runs from the installed package', () => {
    // As a user would: tsx on the shipped example, from their own project.
    const r = run(bin('tsx'), [join(pkgDir, 'examples', 'globals.ts'), '--seconds', '2', '--action', 'tx'], app, 60_000);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(out.defaults).toEqual({ overLimitAction: 1, limit: 1000, nextSeq: 1000 });
    expect(out.action).toBe(3);
    expect(out.end).toMatchObject({ packets: 200, limit: 500 });
  }, 90_000);
});
