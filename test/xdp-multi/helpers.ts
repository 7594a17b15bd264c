// Shared by the multi-program XDP suites: a private bpf filesystem for the protocol's state
// (LIBXDP_BPFFS, which xdp-loader honours too), so that nothing these tests pin lands in the
// machine's /sys/fs/bpf and unmounting it at the end drops every pin left behind; component
// objects from test/fixtures/xdp_multi.o; and readers for what a component counted.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { BpfMap, BpfObject, BpfProgram, xdp } from '../../src/index.js';
import { alive, createVethPair, type VethPair } from '../helpers/netns.js';
import { until } from '../helpers/until.js';
import { DISPATCHER_MAGIC, type DispatcherConfig } from '../../src/xdp/multi/protocol.js';

export const FIXTURE = new URL('../fixtures/xdp_multi.o', import.meta.url).pathname;
export const V1_DISPATCHER = new URL('../fixtures/xdp_dispatcher_v1.o', import.meta.url).pathname;
export const XDP = { aborted: 0, drop: 1, pass: 2, tx: 3, redirect: 4 } as const;

export interface PrivateBpffs {
  /** The mount point (what LIBXDP_BPFFS says). */
  root: string;
  /** `<root>/xdp`: the protocol's directory. */
  xdpDir: string;
  /** `<root>/maps`: where the components' shared clock is pinned. */
  maps: string;
  /** Names in the protocol's directory (dispatch-… and tsbpf-txn-… entries). */
  entries(): string[];
  /** Files in one of them. */
  files(dir: string): string[];
  /** Removes every entry of the protocol's directory (what hand-made dispatchers leave). */
  clear(): void;
  unmount(): void;
}

/** Unmounts what test processes of ours that died without cleaning up left mounted. */
function sweepStale(): void {
  for (const name of readdirSync('/tmp')) {
    const m = /^tsbpf-xdp-multi-(\d+)-/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    spawnSync('umount', [`/tmp/${name}`], { stdio: 'ignore' });
    try {
      rmdirSync(`/tmp/${name}`);
    } catch {
      /* still mounted, or not empty: not ours to force */
    }
  }
}

/** Mounts a bpf filesystem of our own and points LIBXDP_BPFFS at it (for this process and the
 * tools it runs). */
export function privateBpffs(): PrivateBpffs {
  sweepStale();
  const root = mkdtempSync(`/tmp/tsbpf-xdp-multi-${process.pid}-`);
  execFileSync('mount', ['-t', 'bpf', 'bpf', root]);
  process.env.LIBXDP_BPFFS = root;
  const maps = `${root}/maps`;
  mkdirSync(maps);
  return {
    root,
    xdpDir: `${root}/xdp`,
    maps,
    entries: () => (existsSync(`${root}/xdp`) ? readdirSync(`${root}/xdp`).sort() : []),
    files: (dir) => readdirSync(`${root}/xdp/${dir}`).sort(),
    clear() {
      if (existsSync(`${root}/xdp`)) for (const d of readdirSync(`${root}/xdp`)) rmSync(`${root}/xdp/${d}`, { recursive: true, force: true });
    },
    unmount() {
      delete process.env.LIBXDP_BPFFS;
      spawnSync('umount', [root]);
      try {
        rmdirSync(root);
      } catch {
        /* still mounted: umount failed, and said so on stderr */
      }
    },
  };
}

export interface ComponentOptions {
  /** The verdict it returns for test packets (default pass). */
  verdict?: number;
  /** Test packets: UDP to this port; 0 (default) = every IPv4 packet. */
  port?: number;
}

/** An xdp_multi.o instance, opened (not loaded), with its own counters and the shared clock. */
export function component(bpffs: PrivateBpffs, opts: ComponentOptions = {}): BpfObject {
  const o = BpfObject.open(FIXTURE, { pinRoot: bpffs.maps });
  o.setConstant('verdict', opts.verdict ?? XDP.pass);
  o.setConstant('port', opts.port ?? 0);
  return o;
}

/** A component's counters: test packets seen, and the clock tick of the last one. */
export function counters(o: BpfObject): { runs: number; stamp: number } {
  return { runs: Number(o.globalValue('runs')), stamp: Number(o.globalValue('stamp')) };
}

/** The same counters of a component someone else loaded (xdp-loader), by its program id. */
export function countersOfProgram(progId: number): { runs: number; stamp: number } {
  using p = BpfProgram.fromId(progId);
  for (const id of p.info().mapIds) {
    using m = BpfMap.fromId(id);
    if (!m.info().name.endsWith('.bss')) continue;
    const v = Buffer.from(m.lookup(new Uint8Array(4)) as Uint8Array);
    return { runs: Number(v.readBigUInt64LE(0)), stamp: Number(v.readBigUInt64LE(8)) };
  }
  throw new Error(`program ${progId} has no .bss map`);
}

/** `xdp-loader status IFACE` as rows: the dispatcher, then its programs in run order. */
export function xdpLoaderStatus(iface: string): { dispatcher?: { id: number; mode: string }; programs: { priority: number; name: string; id: number; actions: string }[] } {
  const r = spawnSync('xdp-loader', ['status', iface], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`xdp-loader status ${iface} failed: ${r.stderr}`);
  const out: ReturnType<typeof xdpLoaderStatus> = { programs: [] };
  for (const line of r.stdout.split('\n')) {
    const d = new RegExp(`^${iface}\\s+(\\S+)\\s+(\\S+)\\s+(\\d+)\\s+[0-9a-f]{16}`).exec(line);
    if (d && d[1] === 'xdp_dispatcher') out.dispatcher = { id: Number(d[3]), mode: d[2]! };
    const c = /^ =>\s+(\d+)\s+(\S+)\s+(\d+)\s+[0-9a-f]{16}\s*(\S*)/.exec(line);
    if (c) out.programs.push({ priority: Number(c[1]), name: c[2]!, id: Number(c[3]), actions: c[4]! });
  }
  return out;
}

export function xdpLoader(...args: string[]): string {
  const r = spawnSync('xdp-loader', args, { encoding: 'utf8', env: process.env });
  if (r.status !== 0) throw new Error(`xdp-loader ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout + r.stderr;
}

/** Polls until `check` holds (the kernel frees programs after an RCU grace period). */
export async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  await until(check, ms, 50);
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

/** Hooks set up namespaces and tear down dispatchers: slow in guests that share the cores. */
export const HOOK = 180_000;

export interface MultiTestbed {
  /** The suite's private bpf filesystem (LIBXDP_BPFFS). */
  readonly fs: PrivateBpffs;
  /** The suite's veth pair: programs go on its host end. */
  readonly v: VethPair;
  /** A component object (closed after the test). */
  comp(opts?: ComponentOptions): BpfObject;
}

/**
 * Registers a multi-program XDP suite's hooks: a private bpffs and a veth pair for the whole
 * file, and after each test the components closed and the hook emptied. By default through the
 * protocol (`xdp.multi.detachAll`), checking that nothing is left attached or pinned; `hard`
 * detaches whatever is on the hook and clears the protocol's directory, for suites that put
 * hand-made dispatchers and other tools' programs there.
 */
export function multiTestbed(opts: { reset?: 'protocol' | 'hard'; beforeReset?: () => void } = {}): MultiTestbed {
  let fs: PrivateBpffs | undefined;
  let v: VethPair | undefined;
  const open: BpfObject[] = [];
  beforeAll(() => {
    fs = privateBpffs();
    v = createVethPair();
  }, HOOK);
  afterAll(() => {
    v?.destroy();
    fs?.unmount();
  }, HOOK);
  afterEach(() => {
    opts.beforeReset?.();
    if (!v || !fs) return;
    if (opts.reset === 'hard') xdp.detach(v.hostIndex);
    else xdp.multi.detachAll(v.hostIndex);
    for (const o of open.splice(0)) o.close();
    expect(xdp.query(v.hostIndex).attached).toBe('none');
    if (opts.reset === 'hard') fs.clear();
    else expect(fs.entries()).toEqual([]);
  }, HOOK);
  return {
    get fs() {
      if (!fs) throw new Error('multiTestbed: used outside a test');
      return fs;
    },
    get v() {
      if (!v) throw new Error('multiTestbed: used outside a test');
      return v;
    },
    comp(o?: ComponentOptions) {
      const obj = component(this.fs, o);
      open.push(obj);
      return obj;
    },
  };
}

/** The configuration of a version-2 dispatcher with two programs at the default priority
 * (50), each chaining on to the next on XDP_PASS (bit 31: the protocol's always-set bit) — what
 * libxdp builds for two plain components, for tests that build dispatchers by hand. */
export function twoProgramConfig(): DispatcherConfig {
  return {
    magic: DISPATCHER_MAGIC,
    version: 2,
    numProgsEnabled: 2,
    isXdpFrags: false,
    chainCallActions: [0x80000004, 0x80000004, 0, 0, 0, 0, 0, 0, 0, 0],
    runPrios: [50, 50, 0, 0, 0, 0, 0, 0, 0, 0],
    programFlags: new Array<number>(10).fill(0),
  };
}
