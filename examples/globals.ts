// Global variables in .rodata, .data and .bss (examples/bpf/globals_demo.c), no network needed.
//
// The loader turns each data section into a one-element array map. `.rodata` is set before
// load with obj.setConstant and frozen; `.data` and `.bss` are memory-mapped, so obj.global()
// reads and obj.setGlobal() writes the live values without a syscall. The program runs through
// BPF_PROG_TEST_RUN on frames of ten sizes every second; halfway the limit in .data is lowered
// while it runs, and the over-limit count grows faster.
//
//   sudo npx tsx examples/globals.ts [--seconds 4] [--action drop|tx|pass]
//
// The last line of output is JSON with every number the test (test/examples) checks.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfObject, UsageError, readU32, readU64Number } from 'tsbpf';
import { fail, onExit, parseArgs, requireRoot, sleep } from './lib/testbed.js';

const ACTIONS: Record<string, number> = { drop: 1, pass: 2, tx: 3 }; // XDP_DROP, XDP_PASS, XDP_TX
const opts = parseArgs('globals', { seconds: 4, action: 'drop' });
requireRoot('globals', 'CAP_BPF to load and test-run programs');
if (opts.seconds < 2) fail('globals', '--seconds must be at least 2 (the limit changes halfway)');
const action = ACTIONS[opts.action];
if (action === undefined) fail('globals', `--action must be one of ${Object.keys(ACTIONS).join(', ')}`);
const here = dirname(fileURLToPath(import.meta.url));

let obj: BpfObject | undefined;
const cleanup = onExit(() => obj?.close());

obj = BpfObject.open(join(here, 'bpf', 'globals_demo.o'));
// Before load, globals are bytes in the object's spec: read the defaults, override a constant.
const defaults = { overLimitAction: readU32(obj.global('over_limit_action')), limit: readU32(obj.global('limit')), nextSeq: readU64Number(obj.global('next_seq')) };
obj.setConstant('over_limit_action', action);
obj.load();
// BPF_F_MMAPABLE (1024) is what lets obj.global() read the live value without a syscall.
const dataMaps = obj.maps
  .map((m) => m.info())
  .filter((i) => i.name.includes('.'))
  .map((i) => ({ name: i.name, valueSize: i.valueSize, mmapable: (i.flags & 1024) !== 0 }));
console.log(`data maps: ${dataMaps.map((m) => `${m.name} (${m.valueSize} bytes${m.mmapable ? ', mmapable' : ''})`).join(', ')}`);
console.log(`defaults before load: ${JSON.stringify(defaults)}`);

const prog = obj.program('size_gate');
const u64 = (name: string): number => readU64Number(obj!.global(name));
const state = () => ({
  packets: u64('packets'),
  bytes: u64('bytes'),
  overLimit: u64('over_limit'),
  lastLen: readU32(obj!.global('last_len')),
  lastSeq: u64('last_seq'),
  nextSeq: u64('next_seq'),
  limit: readU32(obj!.global('limit')),
});

const sizes = Array.from({ length: 10 }, (_, k) => 64 + 150 * k); // 64, 214, ... 1414 bytes
const retvals = new Map<number, number>();
const half = Math.ceil(opts.seconds / 2);
let halfway = state();
for (let s = 1; s <= opts.seconds; s++) {
  for (const len of sizes) retvals.set(len, prog.testRun({ data: new Uint8Array(len), repeat: 10 }).retval);
  const st = state();
  console.log(`[${s}s] limit ${st.limit}: packets ${st.packets}, bytes ${st.bytes}, over limit ${st.overLimit}, last length ${st.lastLen}, seq ${st.lastSeq}`);
  if (s === half) {
    halfway = st;
    obj.setGlobal('limit', 500); // the program reads it on its next run
    console.log('           limit lowered to 500 through the mmap of .data');
  }
  await sleep(1000);
}
const end = state();

// .bss is writable from user space too: reset a counter, run once.
obj.setGlobal('packets', 0);
prog.testRun({ data: new Uint8Array(64) });
const afterReset = u64('packets');

// .rodata was frozen at load: the constant can no longer change.
let rodataError = '';
try {
  obj.setGlobal('over_limit_action', 2);
} catch (e) {
  if (!(e instanceof UsageError)) throw e;
  rodataError = e.message;
}
console.log(`reset packets -> ${afterReset} after one run; setGlobal on .rodata: ${rodataError}`);

console.log(JSON.stringify({ dataMaps, defaults, action, retvals: Object.fromEntries(retvals), halfway, end, afterReset, rodataError }));
cleanup();
