// Running the reference tools (bpftool, ip, tc, xdp-loader) without touching this machine's
// bpffs. libbpf pins maps declared LIBBPF_PIN_BY_NAME at its default root, /sys/fs/bpf — and
// *reuses* whatever is pinned there under that name, such as a running xdp-filter's live
// filter maps; iproute2 creates /sys/fs/bpf/tc/globals and `ip`/`xdp` links beside it. So:
// - inPrivateBpffs runs a tool with a fresh, empty bpffs of its own mounted at /sys/fs/bpf, in a
//   private mount namespace: whatever it pins is gone when it exits (what it attached through
//   netlink stays, as with any netlink attach);
// - libxdpEnv points libxdp's state (xdp-loader's lock and dispatcher pins) at a directory of
//   the test's own, for tools whose state must last from one command to the next.
// No vitest import: usable from any helper.
import { spawnSync } from 'node:child_process';

/** Runs `cmd args…` with a private bpffs at /sys/fs/bpf; returns its status and output. */
export function runInPrivateBpffs(cmd: string, args: readonly string[], opts: { timeoutMs?: number } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-ec', 'mount -t bpf bpf /sys/fs/bpf; exec "$@"', 'sh', cmd, ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 1 << 26,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** As runInPrivateBpffs; returns stdout, throws with stderr on failure. */
export function inPrivateBpffs(cmd: string, args: readonly string[], opts: { timeoutMs?: number } = {}): string {
  const r = runInPrivateBpffs(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (private bpffs) failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Tags libbpf gives an object's programs (`bpftool prog loadall`), by program name; its pins
 * and by-name maps live and die in a private bpffs. */
export function libbpfTags(objectPath: string): Record<string, string> {
  const script =
    'bpftool prog loadall "$1" /sys/fs/bpf/progs >/dev/null && ' +
    'for f in /sys/fs/bpf/progs/*; do printf "%s\\t" "${f##*/}"; bpftool -j prog show pinned "$f"; echo; done';
  const out = inPrivateBpffs('sh', ['-ec', script, 'sh', objectPath]);
  const tags: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0) tags[line.slice(0, tab)] = (JSON.parse(line.slice(tab + 1)) as { tag: string }).tag;
  }
  return tags;
}

/** Environment for libxdp tools keeping their bpffs state under `dir` (created by libxdp as
 * `dir/xdp`); remove `dir` when done. */
export function libxdpEnv(dir: string): NodeJS.ProcessEnv {
  return { ...process.env, LIBXDP_BPFFS: dir };
}
