// Runs an example the way its header comment says, and lists what examples leave behind.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export const root = new URL('../../', import.meta.url).pathname;
const tsx = `${root}node_modules/.bin/tsx`;

export interface Run {
  /** The pid of the process spawned (tsx, whose child runs the example). */
  pid: number;
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout, parsed. */
  json: () => Record<string, any>;
}

function result(pid: number, status: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string): Run {
  return {
    pid,
    status,
    signal,
    stdout,
    stderr,
    json: () => JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, any>,
  };
}

export function runExample(name: string, args: string[] = [], timeout = 60_000): Run {
  const r = spawnSync(tsx, [`examples/${name}.ts`, ...args], { cwd: root, encoding: 'utf8', timeout });
  return result(r.pid, r.status, r.signal, r.stdout, r.stderr);
}

/** Starts an example, sends it `signal` once its stdout matches `when`, and waits for it. */
export function interruptExample(name: string, args: string[], when: RegExp, signal: NodeJS.Signals = 'SIGINT'): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(tsx, [`examples/${name}.ts`, ...args], { cwd: root });
    let out = '';
    let err = '';
    let sent = false;
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!sent && when.test(out)) {
        sent = true;
        p.kill(signal);
      }
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    // The output is whole once the pipes are closed ('close'), which can come after 'exit'.
    // A grandchild that kept them open must not hang the test: then what was read by 2 s after
    // the exit is the output.
    let exited: [number | null, NodeJS.Signals | null] | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      if (exited) resolve(result(p.pid ?? 0, exited[0], exited[1], out, err));
    };
    p.on('exit', (code, sig) => {
      exited = [code, sig];
      setTimeout(finish, 2_000).unref();
    });
    p.on('close', finish);
  });
}

/** An example running in a process group of its own (tsx and the example under it), so that a
 * SIGKILL reaches the example itself: tsx cannot pass on a signal it never sees. */
export interface Started {
  pid: number;
  stdout: () => string;
  /** Signals the whole group and resolves when tsx has exited. */
  kill: (signal: NodeJS.Signals) => Promise<void>;
}

/** Starts an example and resolves once its stdout matches `when`. */
export function startExample(name: string, args: string[], when: RegExp): Promise<Started> {
  return new Promise((resolve, reject) => {
    const p = spawn(tsx, [`examples/${name}.ts`, ...args], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    // 'close': exited and its pipes closed (no fd of ours left open).
    const exited = new Promise<void>((r) => p.once('close', () => r()));
    const kill = async (signal: NodeJS.Signals): Promise<void> => {
      try {
        process.kill(-p.pid!, signal);
      } catch {
        // already gone
      }
      await exited;
    };
    const timer = setTimeout(() => {
      void kill('SIGKILL');
      reject(new Error(`${name} did not print ${when} in 60 s:\n${out}\n${err}`));
    }, 60_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (when.test(out)) {
        clearTimeout(timer);
        resolve({ pid: p.pid!, stdout: () => out, kill });
      }
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? sig}) before printing ${when}:\n${out}\n${err}`));
    });
  });
}

/** Network namespaces whose name starts with `prefix`. */
export function namespacesNamed(prefix: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!) // a namespace with an id is listed as `name (id: N)`
    .filter((n) => n !== '' && n.startsWith(prefix));
}

/** Interfaces of this namespace whose name matches `pattern`. */
export function interfacesNamed(pattern: RegExp): string[] {
  return readdirSync('/sys/class/net').filter((n) => pattern.test(n));
}

/** Namespaces, interfaces, bpffs entries and cgroups that the examples create (all named after a pid). */
export function leftovers(): string[] {
  const pins = readdirSync('/sys/fs/bpf').filter((n) => n.startsWith('tsbpf-ex-'));
  const cg2 = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')).find((f) => f[2] === 'cgroup2')?.[1];
  const cgroups = cg2 ? readdirSync(cg2).filter((n) => n.startsWith('tsbpf-ex-')) : [];
  return [...namespacesNamed('tsbpf-ex-'), ...interfacesNamed(/^te[a-z]\d+[hn]$/), ...pins, ...cgroups];
}

export const isRoot = process.getuid?.() === 0;
