// Boots a kernel under QEMU (TCG: there is no usable KVM on our machines) with the host's /
// shared through virtiofsd, runs one shell command as root in the guest, and returns its exit
// status. Output streams as it comes. A guest that crashes, hangs or fails to boot is a failure
// that carries the console's tail, never a pass; QEMU and virtiofsd are always reaped (normal
// end, error, timeout, Ctrl-C, SIGTERM), and each runs under `timeout` so that even a runner
// killed with SIGKILL cannot leave them behind for longer than the deadline.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKernel, type Kernel } from './kernels.js';
import { buildInitramfs } from './initramfs.js';

const VIRTIOFSD = '/usr/lib/qemu/virtiofsd';
const QEMU = 'qemu-system-x86_64';

export interface GuestRunOptions {
  /** Kernel series ('6.1', '6.12'). */
  kernel: string;
  /** Shell command, run by busybox sh in `cwd` inside the guest. */
  command: string;
  /** Working directory inside the guest (the host's path: the guest sees the host's files). */
  cwd?: string;
  /** Environment for the command, on top of PATH/HOME/TERM. */
  env?: Record<string, string>;
  /** Whole-run deadline in seconds, boot included (default 1800). */
  timeoutSeconds?: number;
  memoryMiB?: number;
  cpus?: number;
  /** Receives the command's output as it arrives (default: this process's stdout). */
  onOutput?: (chunk: Buffer) => void;
  /** Progress lines (fetching, booting); default stderr. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface GuestRunResult {
  kernel: Kernel;
  /** The command's exit status. */
  status: number;
  seconds: number;
  /** The guest kernel's uptime when the command started. */
  bootSeconds: number | undefined;
  /** Directory the command could write results into (as /run/vm in the guest); removed by `cleanup()`. */
  runDir: string;
  cleanup(): void;
}

/** The guest did not run the command to its end: boot failure, crash, hang, or interruption. */
export class GuestError extends Error {
  override name = 'GuestError';
  constructor(
    message: string,
    readonly consoleTail: string,
  ) {
    super(consoleTail ? `${message}\n--- guest console (last lines) ---\n${consoleTail}` : message);
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function isStaticElf(path: string): boolean {
  const b = readFileSync(path);
  if (b.readUInt32BE(0) !== 0x7f454c46) return false;
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3 /* PT_INTERP */) return false;
  return true;
}

/** What the runner needs on the host, as one message naming the packages to install. */
export function checkHostTools(): void {
  const missing: string[] = [];
  if (!existsSync(VIRTIOFSD)) missing.push(`${VIRTIOFSD} (qemu-system-common)`);
  if (!existsSync('/usr/bin/' + QEMU)) missing.push(`${QEMU} (qemu-system-x86)`);
  if (!existsSync('/bin/busybox') || !isStaticElf('/bin/busybox')) missing.push('a static /bin/busybox (busybox-static)');
  if (missing.length) throw new Error(`the guest runner needs ${missing.join(', ')}: apt-get install qemu-system-x86 busybox-static`);
}

function tail(path: string, lines = 40): string {
  try {
    // Strip the firmware's terminal escapes so the tail reads as text.
    const text = readFileSync(path, 'latin1').replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc/g, '').replace(/\r/g, '');
    return text.split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function waitExit(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Runs `command` in a guest booted from the kernel series; resolves when the guest is gone. */
export async function runInGuest(opts: GuestRunOptions): Promise<GuestRunResult> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`[vm ${opts.kernel}] ${l}\n`));
  checkHostTools();
  const kernel = ensureKernel(opts.kernel, log);

  // The run directory is the one place the guest writes into the host: the command script,
  // its exit status, and whatever results the command leaves in /run/vm.
  const base = join(tmpdir(), 'tsbpf-vm');
  mkdirSync(base, { recursive: true });
  const runDir = mkdtempSync(join(base, `${opts.kernel}-`));
  const cleanup = (): void => rmSync(runDir, { recursive: true, force: true });
  // Built per run (tens of milliseconds), so a changed /init never meets a stale cached copy.
  const initrdPath = join(runDir, 'initramfs.cpio.gz');
  writeFileSync(initrdPath, buildInitramfs(kernel));
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    TERM: 'dumb',
    TSBPF_GUEST_KERNEL: opts.kernel,
    ...opts.env,
  };
  writeFileSync(
    join(runDir, 'cmd.sh'),
    `${Object.entries(env)
      .map(([k, v]) => `export ${k}=${shellQuote(v)}`)
      .join('\n')}\ncd ${shellQuote(opts.cwd ?? process.cwd())} || exit 125\n${opts.command}\n`,
  );

  const timeout = opts.timeoutSeconds ?? 1800;
  const sock = join(runDir, 'virtiofs.sock');
  const consoleLog = join(runDir, 'console.log');
  const mem = opts.memoryMiB ?? 3072;
  const started = Date.now();
  const children: ChildProcess[] = [];
  let interrupted: string | undefined;
  const stopAll = (why: string): void => {
    interrupted ??= why;
    // Each child leads its own process group (`timeout` and the program under it): kill the
    // group, since SIGKILL to `timeout` alone would leave its child running.
    for (const c of children)
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined)
        try {
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
  };
  const onSignal = (sig: NodeJS.Signals): void => stopAll(`interrupted by ${sig}`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onAbort = (): void => stopAll('aborted');
  opts.signal?.addEventListener('abort', onAbort);
  const timer = setTimeout(() => stopAll(`timed out after ${timeout} s`), timeout * 1000);

  try {
    const virtiofsd = spawn(
      'timeout',
      ['-s', 'KILL', String(timeout + 30), VIRTIOFSD, `--socket-path=${sock}`, '-o', 'source=/', '-o', 'cache=always', '-o', 'sandbox=chroot'],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    children.push(virtiofsd);
    let virtiofsdErr = '';
    virtiofsd.stderr!.on('data', (d: Buffer) => (virtiofsdErr += d.toString()));
    for (let i = 0; i < 100 && !existsSync(sock); i++) {
      if (virtiofsd.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!existsSync(sock)) throw new GuestError(`virtiofsd did not start: ${virtiofsdErr.trim() || 'no socket'}`, '');

    log(`booting ${kernel.release} (${kernel.package}), ${opts.cpus ?? 2} CPUs, ${mem} MiB, TCG`);
    const qemu = spawn(
      'timeout',
      [
        '-s', 'KILL', String(timeout + 10), QEMU,
        '-accel', 'tcg,thread=multi', '-cpu', 'max', '-smp', String(opts.cpus ?? 2), '-m', `${mem}M`,
        '-object', `memory-backend-memfd,id=mem,size=${mem}M,share=on`, '-numa', 'node,memdev=mem',
        '-chardev', `socket,id=vfs,path=${sock}`, '-device', 'vhost-user-fs-pci,chardev=vfs,tag=host',
        '-kernel', kernel.bzImage, '-initrd', initrdPath,
        '-append', `console=ttyS0 loglevel=4 panic=-1 oops=panic tsc=reliable mitigations=off tsbpf.run=${runDir}`,
        '-display', 'none', '-vga', 'none', '-monitor', 'none', '-nic', 'none', '-no-reboot',
        '-serial', `file:${consoleLog}`, '-serial', 'stdio',
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], detached: true },
    );
    children.push(qemu);
    let qemuErr = '';
    qemu.stderr!.on('data', (d: Buffer) => (qemuErr += d.toString()));
    qemu.stdout!.on('data', opts.onOutput ?? ((d: Buffer) => process.stdout.write(d)));
    const code = await waitExit(qemu);
    stopAll('guest gone');
    await waitExit(virtiofsd);

    const seconds = (Date.now() - started) / 1000;
    const statusFile = join(runDir, 'status');
    if (interrupted !== undefined && interrupted !== 'guest gone') throw new GuestError(`guest ${kernel.release}: ${interrupted}`, tail(consoleLog));
    if (!existsSync(statusFile)) {
      const why = existsSync(join(runDir, 'started'))
        ? 'the guest died while the command ran (kernel panic, oops or a power-off)'
        : 'the guest did not reach the command (boot failure)';
      throw new GuestError(`guest ${kernel.release}: ${why}; qemu exit ${code}${qemuErr.trim() ? `: ${qemuErr.trim()}` : ''}`, tail(consoleLog));
    }
    const status = Number(readFileSync(statusFile, 'utf8').trim());
    const uptime = Number.parseFloat(readFileSync(join(runDir, 'started'), 'utf8'));
    return { kernel, status, seconds, bootSeconds: Number.isFinite(uptime) ? uptime : undefined, runDir, cleanup };
  } catch (e) {
    cleanup();
    throw e;
  } finally {
    clearTimeout(timer);
    stopAll('guest gone');
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
