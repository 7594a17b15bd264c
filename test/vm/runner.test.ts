// The guest runner itself (scripts/vm): a command's exit status comes back, and a guest that
// panics or hangs is a failure with the console's tail — never a pass — with QEMU and
// virtiofsd gone afterwards, also when the runner is interrupted. Host only (it boots guests).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const tsx = join(root, 'node_modules/.bin/tsx');
const haveQemu = existsSync('/usr/bin/qemu-system-x86_64') && existsSync('/usr/lib/qemu/virtiofsd');
const isRoot = process.getuid?.() === 0;
// CI installs QEMU (scripts/setup-vm.sh) before the suite: there a missing QEMU is a failure.
// Skip reason: booting a guest needs QEMU, virtiofsd and root; a developer's machine without them skips.
const runIf = haveQemu && isRoot ? describe : process.env.CI ? describe : describe.skip;

// Run directories (and so every QEMU and virtiofsd command line) live under this TMPDIR, so
// the checks below see only this suite's processes, whatever else runs guests meanwhile.
const tmp = mkdtempSync(join(tmpdir(), 'tsbpf-vm-test-'));
const env = { ...process.env, TMPDIR: tmp };
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function vm(args: string[], timeoutMs = 120_000) {
  return spawnSync(tsx, [join(root, 'scripts/vm/vm.ts'), '--kernel', '6.12', ...args], { cwd: root, env, encoding: 'utf8', timeout: timeoutMs });
}

/** QEMU or virtiofsd processes started for this suite's run directories. */
function leftovers(): string[] {
  const r = spawnSync('pgrep', ['-af', `${tmp}/tsbpf-vm/`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => /qemu-system|virtiofsd/.test(l));
}

runIf(`guest runner (scripts/vm)${haveQemu ? '' : ' [skipped: needs qemu-system-x86 (scripts/setup-vm.sh)]'}`, () => {
  it('returns the command\'s exit status and output, run as root in the guest kernel', () => {
    const r = vm(['--', 'sh', '-c', 'echo "in $(uname -r) as $(id -u)"; exit 7']);
    expect(r.status).toBe(7);
    expect(r.stdout).toMatch(/^in 6\.12\.\S+ as 0$/m);
    expect(leftovers()).toEqual([]);
  });

  it('a kernel panic is a failure (125) carrying the console tail', () => {
    const r = vm(['--', 'sh', '-c', 'echo c > /proc/sysrq-trigger; sleep 30']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/the guest died while the command ran/);
    expect(r.stderr).toMatch(/--- guest console \(last lines\) ---[\s\S]*(sysrq|Kernel panic)/i);
    expect(leftovers()).toEqual([]);
  });

  it('a hang past --timeout is a failure (125), and QEMU and virtiofsd are gone', () => {
    const r = vm(['--timeout', '20', '--', 'sleep', '600']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/timed out after 20 s/);
    expect(leftovers()).toEqual([]);
  });

  it('SIGTERM to the runner stops the guest and reaps its helpers', async () => {
    const child = spawn(tsx, [join(root, 'scripts/vm/vm.ts'), '--kernel', '6.12', '--', 'sh', '-c', 'echo ready; sleep 600'], { cwd: root, env });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) child.kill('SIGTERM');
      });
      child.on('exit', (c) => resolve(c));
    });
    expect(out).toContain('ready');
    expect(code).toBe(125);
    expect(err).toMatch(/interrupted by SIGTERM/);
    expect(leftovers()).toEqual([]);
  });
});
