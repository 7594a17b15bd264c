// Small native programs the attach tests run: a network client whose traffic a test predicts
// to the byte (test/helpers/native/netclient.c) and a uprobe target with a shared library
// (uprobe_target.c, libtsbpf_target.c). Built with gcc into a directory named after a hash of
// the sources, so runs share one build and nothing piles up in the temporary directory.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SRC = new URL('./native/', import.meta.url).pathname;

function buildDir(): string {
  const h = createHash('sha256');
  for (const f of readdirSync(SRC).sort()) h.update(f).update(readFileSync(join(SRC, f)));
  const dir = join(tmpdir(), `tsbpf-native-${h.digest('hex').slice(0, 16)}`);
  if (existsSync(join(dir, 'done'))) return dir;
  // Build next to it and rename: a concurrent run sees either nothing or a complete build.
  const tmp = `${dir}.${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const gcc = (out: string, args: string[]) => execFileSync('gcc', ['-O1', '-g', '-o', join(tmp, out), ...args], { stdio: 'pipe' });
  gcc('netclient', [join(SRC, 'netclient.c')]);
  gcc('libtsbpf_target.so', ['-shared', '-fPIC', join(SRC, 'libtsbpf_target.c')]);
  // The rpath names the final directory, where the library will be.
  gcc('uprobe_target', [join(SRC, 'uprobe_target.c'), `-L${tmp}`, '-ltsbpf_target', `-Wl,-rpath,${dir}`]);
  execFileSync('touch', [join(tmp, 'done')]);
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // someone else finished first
  }
  return dir;
}

let dir: string | undefined;
const out = (): string => (dir ??= buildDir());

/** The netclient binary. */
export function netclient(): string {
  return join(out(), 'netclient');
}

/** The uprobe target executable and its shared library (found through the executable's rpath). */
export function uprobeTarget(): { exe: string; lib: string } {
  return { exe: join(out(), 'uprobe_target'), lib: join(out(), 'libtsbpf_target.so') };
}
