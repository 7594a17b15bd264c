// A map shared between two processes through a bpffs pin (examples/bpf/pinned_counter.c).
//
// Process A (this one) loads an object whose map is declared with LIBBPF_PIN_BY_NAME and a
// pinRoot of its own under /sys/fs/bpf, so the loader pins the map at <pinRoot>/shared_counts.
// A runs the object's program (testRun) ten times a second; each run counts under key 0.
// Process B (examples/pinned-maps-b.ts, started here) opens the map with BpfMap.fromPin, reads
// A's count and writes keys 1 and 2, which A sees at once. Loading the object a second time
// with the same pinRoot reuses the pinned map instead of creating one. At the end the pin and
// its directory are removed (also on error and Ctrl-C).
//
//   sudo npx tsx examples/pinned-maps.ts [--seconds 3]
//
// The last line of output is JSON with every number the test (test/examples) checks.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, readU64Number, u32, u64 } from 'tsbpf';
import { runTag, sweepDeadRuns } from './lib/leftovers.js';
import { fail, onExit, parseArgs, requireRoot, sleep } from './lib/testbed.js';

const opts = parseArgs('pinned-maps', { seconds: 3 });
requireRoot('pinned-maps', 'CAP_BPF to load programs and pin maps on /sys/fs/bpf');
if (opts.seconds < 1) fail('pinned-maps', '--seconds must be at least 1');
const here = dirname(fileURLToPath(import.meta.url));
const objectPath = join(here, 'bpf', 'pinned_counter.o');
// Named after this process and its start time, so that a later run can remove it if this one is
// killed before it can (examples/lib/leftovers.ts).
const pinRoot = `/sys/fs/bpf/${runTag('tsbpf-ex-')}`;
const pinPath = `${pinRoot}/shared_counts`;

let obj: BpfObject | undefined;
let b: ReturnType<typeof spawn> | undefined;
const cleanup = onExit(() => {
  b?.kill();
  obj?.close();
  rmSync(pinRoot, { recursive: true, force: true }); // the pin, if still there, and its directory
});

sweepDeadRuns();
mkdirSync(pinRoot);
obj = BpfObject.open(objectPath, { pinRoot }).load();
const map = obj.map('shared_counts');
const prog = obj.program('count_runs');
const frame = new Uint8Array(64); // an XDP test run needs a frame; the program ignores it
const value = (key: number): number => {
  const v = map.lookup(u32(key));
  return v ? readU64Number(v as Uint8Array) : 0;
};
console.log(`A (pid ${process.pid}) loaded the object: map id ${map.info().id} pinned at ${pinPath} (exists: ${existsSync(pinPath)})`);
map.update(u32(3), u64(process.pid)); // a note for anyone who opens the pin

// Process B: the same node and loader flags as this process (tsx), the other script.
b = spawn(process.execPath, [...process.execArgv, join(here, 'pinned-maps-b.ts'), pinPath, String(opts.seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
let bOut = '';
b.stdout!.on('data', (d: Buffer) => {
  bOut += d.toString();
  for (const line of d.toString().split('\n')) if (line && !line.startsWith('{')) console.log(`  | ${line}`);
});
const bExit = new Promise<number | null>((r) => b!.on('exit', (code) => r(code)));

let runs = 0;
let bDone = false;
void bExit.then(() => (bDone = true));
for (let tick = 1; !bDone; tick++) {
  prog.testRun({ data: frame });
  runs++;
  await sleep(100);
  if (tick % 10 === 0) console.log(`[${tick / 10}s] A ran its program ${runs} times; map: runs ${value(0)}, B's updates ${value(1)}, B saw ${value(2)}`);
}
const code = await bExit;
b = undefined;
if (code !== 0) throw new Error(`process B exited with ${code}`);
const fromB = JSON.parse(bOut.trim().split('\n').at(-1)!) as { mapId: number; updates: number; lastSeen: number; readOnlyUpdate: string };
const seenByA = { runs: value(0), bUpdates: value(1), bSaw: value(2) };
console.log(`A sees B's writes: ${seenByA.bUpdates} updates, B last saw ${seenByA.bSaw} runs (A ran ${runs})`);

// Loading again with the same pinRoot reuses the pinned map: same id, same contents.
const second = BpfObject.open(objectPath, { pinRoot }).load();
const reuse = { sameMap: second.map('shared_counts').info().id === map.info().id, runsBefore: value(0), runsAfter: 0 };
second.program('count_runs').testRun({ data: frame });
reuse.runsAfter = value(0);
second.close();
console.log(`a second load reused map id ${map.info().id}: ${reuse.sameMap}; its program's run shows in ours: ${reuse.runsBefore} -> ${reuse.runsAfter}`);

// Unpinning leaves the map alive while fds hold it; closing the object then frees it.
map.unpin(pinPath);
rmSync(pinRoot, { recursive: true });
const unpinned = !existsSync(pinRoot);
console.log(`unpinned: ${unpinned}`);

console.log(JSON.stringify({ pinPath, mapId: map.info().id, aRuns: runs, seenByA, fromB, reuse, unpinned }));
cleanup();
