// Debian kernels for the guest runner: fetched with apt-get download, unpacked with dpkg-deb
// (nothing is installed on the host), modules decompressed and indexed once, then cached so a
// second run needs no network. One series name ('6.1', '6.12') maps to the newest cloud
// kernel of that series the configured Debian mirrors offer.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where unpacked kernels live between runs. */
export const CACHE_ROOT = process.env.TSBPF_VM_CACHE ?? '/var/cache/tsbpf/kernels';

interface Series {
  /** Package names of this series, newest wins by the number the capture group holds. */
  pattern: RegExp;
  what: string;
}

// The -unsigned packages carry the same kernel as the signed ones without the signing
// wrapper package, and the cloud flavour boots fastest (few drivers, virtio built for VMs).
export const SERIES: Record<string, Series> = {
  '6.1': { pattern: /^linux-image-6\.1\.0-(\d+)-cloud-amd64-unsigned$/, what: 'Debian 12 (bookworm) 6.1 cloud kernel' },
  '6.12': { pattern: /^linux-image-6\.12\.(\d+)\+deb12-cloud-amd64-unsigned$/, what: 'Debian 12 backports 6.12 cloud kernel' },
};

export interface Kernel {
  series: string;
  /** The Debian package it came from. */
  package: string;
  /** `uname -r` of the guest. */
  release: string;
  dir: string;
  bzImage: string;
  /** Directory holding lib/modules/<release> with plain .ko files and busybox depmod's index. */
  modulesRoot: string;
}

export class KernelFetchError extends Error {
  override name = 'KernelFetchError';
}

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, ...opts });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new KernelFetchError(`${cmd} ${args.join(' ')} failed: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

/** The newest package of a series the apt lists know; updates the lists once if none does. */
function newestPackage(series: string): string {
  const s = SERIES[series];
  if (!s) throw new KernelFetchError(`unknown kernel series '${series}'; known: ${Object.keys(SERIES).join(', ')}`);
  const pick = (): string | undefined => {
    const names = sh('apt-cache', ['pkgnames', 'linux-image-6.']).split('\n');
    let best: [number, string] | undefined;
    for (const n of names) {
      const m = s.pattern.exec(n.trim());
      if (m && (!best || Number(m[1]) > best[0])) best = [Number(m[1]), n.trim()];
    }
    return best?.[1];
  };
  let pkg = pick();
  if (!pkg) {
    sh('apt-get', ['update', '-qq']);
    pkg = pick();
  }
  if (!pkg) throw new KernelFetchError(`no package matching ${s.pattern} in the apt lists (${s.what})`);
  return pkg;
}

function readCached(dir: string, series: string): Kernel | undefined {
  const meta = join(dir, 'kernel.json');
  if (!existsSync(meta)) return undefined;
  try {
    const k = JSON.parse(readFileSync(meta, 'utf8')) as Kernel;
    return existsSync(k.bzImage) && existsSync(join(k.modulesRoot, 'lib/modules', k.release, 'modules.dep')) && k.series === series ? k : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A kernel of the series, from the cache or fetched now. `log` receives one line per slow step.
 * The cache entry is written to a temporary directory and renamed into place, so an interrupted
 * fetch never leaves a half-unpacked kernel that a later run would trust.
 */
export function ensureKernel(series: string, log: (line: string) => void = () => {}): Kernel {
  const dir = join(CACHE_ROOT, series);
  const cached = readCached(dir, series);
  if (cached) return cached;

  const pkg = newestPackage(series);
  mkdirSync(CACHE_ROOT, { recursive: true });
  const work = mkdtempSync(join(CACHE_ROOT, `.fetch-${series}-`));
  try {
    log(`fetching ${pkg}`);
    // apt drops privileges to _apt for downloads; a directory it cannot write only earns a warning.
    sh('apt-get', ['download', '-qq', pkg], { cwd: work });
    const deb = readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new KernelFetchError(`apt-get download ${pkg} produced no .deb`);
    const root = join(work, 'root');
    sh('dpkg-deb', ['-x', join(work, deb), root]);
    rmSync(join(work, deb));
    const release = readdirSync(join(root, 'lib/modules'))[0];
    if (!release) throw new KernelFetchError(`${pkg} has no lib/modules/<release>`);
    const bz = join(root, 'boot', `vmlinuz-${release}`);
    if (!existsSync(bz)) throw new KernelFetchError(`${pkg} has no boot/vmlinuz-${release}`);
    // busybox's modprobe in the guest loads plain .ko files; decompress what the package
    // compressed (6.12 ships .ko.xz) and let busybox depmod write modules.dep and modules.alias,
    // so the guest kernel's request_module() ("rtnl-link-veth", "net-sch-ingress"…) resolves.
    log(`unpacking ${release}`);
    const xzs = sh('find', [join(root, 'lib/modules'), '-name', '*.ko.xz']).split('\n').filter(Boolean);
    for (let i = 0; i < xzs.length; i += 256) sh('xz', ['-d', ...xzs.slice(i, i + 256)]);
    sh('busybox', ['depmod', '-b', root, release]);
    const final: Kernel = {
      series,
      package: pkg,
      release,
      dir,
      bzImage: join(dir, 'root/boot', `vmlinuz-${release}`),
      modulesRoot: join(dir, 'root'),
    };
    writeFileSync(join(work, 'kernel.json'), JSON.stringify(final, null, 2));
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    return final;
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

/** Paths of the modules `names` need, dependencies first, skipping what is built in. */
export function moduleLoadOrder(k: Kernel, names: readonly string[]): string[] {
  const base = join(k.modulesRoot, 'lib/modules', k.release);
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(base, 'modules.dep'), 'utf8').split('\n')) {
    const [file, rest] = line.split(':');
    if (file && rest !== undefined) deps.set(file.trim(), rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const file of deps.keys()) byName.set(file.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_'), file);
  const builtin = new Set(
    readFileSync(join(base, 'modules.builtin'), 'utf8')
      .split('\n')
      .map((f) => f.replace(/^.*\//, '').replace(/\.ko$/, '').replace(/-/g, '_')),
  );
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const d of deps.get(file) ?? []) visit(d);
    order.push(join(base, file));
  };
  for (const n of names) {
    const key = n.replace(/-/g, '_');
    if (builtin.has(key)) continue;
    const file = byName.get(key);
    if (!file) throw new KernelFetchError(`kernel ${k.release} has no module '${n}' (neither built in nor in modules.dep)`);
    visit(file);
  }
  return order;
}
