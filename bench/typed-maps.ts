// Typed map access (a skeleton's `skel.maps.flows`, `map.typed()`) against C doing the same work
// through libbpf in the same run: a hash map with a struct key (struct flow_key, 8 bytes) and a
// struct value (struct flow_stats, two __u64), update and lookup of every entry.
//
//   npx tsx bench/typed-maps.ts [--entries 100000] [--reps 5] [--json]
//
// Three ways side by side: C (bench/c/typed_map_bench.c, where a struct is its bytes), tsbpf's
// byte-level API with the key and value packed by hand through a DataView (what a careful user
// writes without BTF), and the typed view (plain objects in and out, encoded and decoded by BTF).
// Each rep runs the three back to back and each keeps its best rep: on a shared machine
// interference only ever slows a run down. The TypeScript side runs the tsc build (what users
// install; tsx's transform slows calls across modules), compiled into a temporary directory
// so that the bench never replaces dist/.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const build = mkdtempSync(join(tmpdir(), 'tsbpf-bench-'));
process.on('exit', () => rmSync(build, { recursive: true, force: true }));
try {
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', join(build, 'dist')], { cwd: root, stdio: 'pipe' });
} catch (e) {
  // Type errors elsewhere in a tree being edited still emit JavaScript; a missing output does not.
  if (!existsSync(join(build, 'dist', 'index.js'))) throw e;
}
symlinkSync(join(root, 'node_modules'), join(build, 'node_modules'));
writeFileSync(join(build, 'package.json'), '{"type":"module"}');
const { BpfObject } = (await import(join(build, 'dist', 'index.js'))) as typeof import('../src/index.js');
const source = join(here, 'c', 'typed_map_bench.c');
const binary = join(here, 'c', 'build', 'typed_map_bench');
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg('entries', 100_000);
const REPS = arg('reps', 5);

if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
  mkdirSync(dirname(binary), { recursive: true });
  execFileSync('gcc', ['-O2', '-Wall', source, '-lbpf', '-o', binary], { stdio: 'inherit' });
}

interface Figure {
  seconds: number;
  cpuSeconds: number;
  check: bigint;
}

const child = spawn(binary, [String(N)], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
async function c(op: 'update' | 'lookup'): Promise<Figure> {
  child.stdin.write(`${op}\n`);
  const { value } = await lines.next();
  const f = JSON.parse(value as string) as { seconds: number; cpuSeconds: number; check: number };
  return { seconds: f.seconds, cpuSeconds: f.cpuSeconds, check: BigInt(f.check) };
}

// The same map type tsbpf users get from an object: skeleton_types.o's `flows`, made larger.
const obj = BpfObject.open(join(here, '..', 'test', 'fixtures', 'skeleton_types.o'));
obj.mapSpec('flows').maxEntries = N;
obj.load({ programs: [] });
const spec = obj.mapSpec('flows');
const map = obj.map('flows').as('hash');
type Key = { saddr: number; dport: number; proto: number; pad: number };
type Stats = { packets: bigint; bytes: bigint };
const typed = map.typed<Key, Stats>({ btf: obj.btf!, keyType: spec.btfKeyType!, valueType: spec.btfValueType! });

function timed(f: () => bigint): Figure {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const check = f();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const u = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (u.user + u.system) / 1e6, check };
}

const keyBuf = new Uint8Array(8);
const keyView = new DataView(keyBuf.buffer);
const valBuf = new Uint8Array(16);
const valView = new DataView(valBuf.buffer);
function packKey(i: number): Uint8Array {
  keyView.setUint32(0, (0x0a000000 + i) >>> 0, true);
  keyView.setUint16(4, i & 0xffff, true);
  keyBuf[6] = 17;
  keyBuf[7] = 0;
  return keyBuf;
}

const ts = {
  bytes: {
    update: () =>
      timed(() => {
        for (let i = 0; i < N; i++) {
          valView.setBigUint64(0, BigInt(i), true);
          valView.setBigUint64(8, BigInt(i) * 1500n, true);
          map.update(packKey(i), valBuf);
        }
        return 0n;
      }),
    lookup: () =>
      timed(() => {
        let sum = 0n;
        for (let i = 0; i < N; i++) {
          if (!map.lookupInto(packKey(i), valBuf)) throw new Error('missing key');
          sum += valView.getBigUint64(0, true);
        }
        return sum;
      }),
  },
  typed: {
    update: () =>
      timed(() => {
        for (let i = 0; i < N; i++) typed.update({ saddr: (0x0a000000 + i) >>> 0, dport: i & 0xffff, proto: 17 }, { packets: BigInt(i), bytes: BigInt(i) * 1500n });
        return 0n;
      }),
    lookup: () =>
      timed(() => {
        let sum = 0n;
        for (let i = 0; i < N; i++) sum += typed.lookup({ saddr: (0x0a000000 + i) >>> 0, dport: i & 0xffff, proto: 17 })!.packets;
        return sum;
      }),
  },
};

const best = new Map<string, Figure>();
const keep = (name: string, f: Figure) => {
  const b = best.get(name);
  if (!b || f.seconds < b.seconds) best.set(name, f);
};
for (let r = 0; r < REPS; r++)
  for (const op of ['update', 'lookup'] as const) {
    keep(`c ${op}`, await c(op));
    keep(`bytes ${op}`, ts.bytes[op]());
    keep(`typed ${op}`, ts.typed[op]());
  }
child.stdin.end();
obj.close();

const expected = (BigInt(N) * BigInt(N - 1)) / 2n;
for (const k of ['c lookup', 'bytes lookup', 'typed lookup'])
  if (best.get(k)!.check !== expected) throw new Error(`${k}: read ${best.get(k)!.check}, expected ${expected}`);

const rows = (['update', 'lookup'] as const).map((op) => {
  const ns = (k: string) => (best.get(`${k} ${op}`)!.seconds / N) * 1e9;
  return { op, c: ns('c'), bytes: ns('bytes'), typed: ns('typed'), bytesVsC: ns('bytes') / ns('c'), typedVsC: ns('typed') / ns('c'), typedVsBytes: ns('typed') / ns('bytes') };
});
if (process.argv.includes('--json')) console.log(JSON.stringify({ entries: N, reps: REPS, rows }));
else {
  console.log(`hash map, struct flow_key → struct flow_stats, ${N} entries, best of ${REPS} (ns per op)`);
  console.log('op       C/libbpf   tsbpf bytes   tsbpf typed   bytes/C   typed/C   typed/bytes');
  for (const r of rows)
    console.log(
      `${r.op.padEnd(8)} ${r.c.toFixed(0).padStart(8)}   ${r.bytes.toFixed(0).padStart(11)}   ${r.typed.toFixed(0).padStart(11)}   ${r.bytesVsC.toFixed(2).padStart(7)}   ${r.typedVsC.toFixed(2).padStart(7)}   ${r.typedVsBytes.toFixed(2).padStart(11)}`,
    );
}
