// Spawns the CLI the way a user does (`node bin/tsbpf.mjs …` from the repository root) and
// bpftool for cross-checks. Each spawn of the TypeScript sources costs about half a second,
// so suites group their assertions around few calls.
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (call with --json). */
  json<T = any>(): T;
  /** stderr parsed as the JSON error report (call with --json). */
  error(): { name: string; message: string; exitCode: number; code?: string; errno?: number; command?: string; extack?: string; verifierSummary?: string; verifierLog?: string };
}

/** Runs the CLI asynchronously, so the test worker's event loop stays responsive. */
export function tsbpf(...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'tsbpf.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({
        code,
        stdout,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`tsbpf ${args.join(' ')}: stdout is not JSON (exit ${code}):\n${stdout}\n${stderr}`);
          }
        },
        error() {
          try {
            return JSON.parse(stderr).error;
          } catch {
            throw new Error(`tsbpf ${args.join(' ')}: stderr is not a JSON error (exit ${code}):\n${stderr}`);
          }
        },
      });
    });
  });
}

/** Runs and requires exit 0, with the output in the failure message. */
export async function ok(...args: string[]): Promise<CliResult> {
  const r = await tsbpf(...args);
  if (r.code !== 0) throw new Error(`tsbpf ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

export function bpftool<T = any>(...args: string[]): T {
  const r = spawnSync('bpftool', ['-j', ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`bpftool ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

/** A fresh directory on bpffs, removed (with every pin in it) by the returned cleanup. */
export function pinDir(tag: string): { dir: string; cleanup(): void } {
  const dir = `/sys/fs/bpf/tsbpf-cli-${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const fixture = (name: string): string => join(ROOT, 'test', 'fixtures', name);
