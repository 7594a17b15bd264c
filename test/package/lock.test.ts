// Reproducible installs (issue 15): the committed lock is exactly what npm writes for
// package.json (so `npm ci` accepts it and no `npm install` rewrites it), every install script
// in it has been decided on in allowScripts, and the README's commands install with npm ci.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const read = (f: string): string => readFileSync(join(root, f), 'utf8');

/** npm, asynchronously (a long synchronous child starves vitest's worker RPC). */
function npm(args: string[], cwd: string): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile('npm', args, { cwd, encoding: 'utf8', timeout: 120_000 }, (err, _stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === 'number' ? err.code : null) : 0, stderr: stderr + (err && typeof err.code !== 'number' ? err.message : '') }),
    );
  });
}

interface Lock {
  packages: Record<string, { version?: string; hasInstallScript?: boolean; resolved?: string; optional?: boolean }>;
}

describe('package-lock.json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-lock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is what npm writes for package.json, byte for byte', async () => {
    for (const f of ['package.json', 'package-lock.json', '.npmrc']) copyFileSync(join(root, f), join(dir, f));
    const r = await npm(['install', '--package-lock-only', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(read('package-lock.json'));
    // npm ci's own check: in sync with package.json (it refuses otherwise, naming what is missing).
    const ci = await npm(['ci', '--dry-run', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], dir);
    expect(ci.status, ci.stderr).toBe(0);
  }, 300_000);

  it('names no registry, and holds every platform package of every optional dependency', () => {
    const lock = JSON.parse(read('package-lock.json')) as Lock;
    expect(Object.values(lock.packages).filter((p) => p.resolved !== undefined)).toEqual([]);
    // The per-platform packages a fresh clone on another machine would need (rollup's, esbuild's).
    const names = Object.keys(lock.packages);
    expect(names.filter((n) => n.includes('@rollup/rollup-')).length).toBeGreaterThan(10);
    expect(names).toContain('node_modules/@rollup/rollup-darwin-arm64');
  });

  it('every dependency with an install script is decided on in allowScripts', () => {
    const lock = JSON.parse(read('package-lock.json')) as Lock;
    const allow = (JSON.parse(read('package.json')) as { allowScripts?: Record<string, boolean> }).allowScripts ?? {};
    const withScripts = Object.entries(lock.packages)
      .filter(([n, p]) => n && p.hasInstallScript)
      .map(([n]) => n.slice(n.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).toBeGreaterThan(0);
    for (const name of withScripts) expect(allow, `allowScripts lacks ${name}`).toHaveProperty([name]);
  });

  it("the README's commands and CI install with npm ci, never npm install", () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const s of ['test', 'demo', 'setup']) {
      expect(scripts[s]).toContain('scripts/install-deps.sh');
      expect(scripts[s]).not.toMatch(/npm (install|i)\b/);
    }
    expect(read('scripts/install-deps.sh')).toMatch(/^npm ci /m);
    const ci = read('.ci/run');
    expect(ci).toContain('bash scripts/install-deps.sh');
    expect(ci).toMatch(/git diff --exit-code .*package-lock\.json/);
  });
});
