// Ordering programs on a tcx hook (Linux 6.6+), from examples/bpf/tcx_chain.c.
//
// Attaches three programs to the ingress of our veth end with prog.attachTcx, placing them with
// `before` / `after` relative to a link, and reads the chain back with tcx.query (run order and
// revision). Pings from a network namespace pass through all three: each counts, and together
// they record the order they ran in. Halfway, link.update(newProg) swaps the middle program
// atomically; finally an attach that names the revision read before the swap is refused
// (ESTALE), and the same attach with the current revision goes through.
//
//   sudo npx tsx examples/tcx-chain.ts [--seconds 4]
//
// The last line of output is JSON with every number the test (test/examples) checks.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError, BpfObject, ifindex, readU64Number, tcx, u32, type Link } from 'tsbpf';
import { Testbed, fail, onExit, parseArgs, requireRoot, sleep } from './lib/testbed.js';

const opts = parseArgs('tcx-chain', { seconds: 4 });
requireRoot('tcx-chain');
if (opts.seconds < 2) fail('tcx-chain', '--seconds must be at least 2 (half before the swap, half after)');
const here = dirname(fileURLToPath(import.meta.url));
const SLOTS = ['first', 'second', 'third', 'second_v2', 'late'] as const;

const bed = new Testbed('c');
let obj: BpfObject | undefined;
const links: Link[] = [];
const cleanup = onExit(() => {
  for (const l of links) l.close(); // each close takes one program out of the chain
  obj?.close();
  bed.destroy();
});

bed.create();
const dev = ifindex(bed.hostIf);
obj = BpfObject.open(join(here, 'bpf', 'tcx_chain.o')).load();
const prog = (name: (typeof SLOTS)[number]) => obj!.program(name);
const nameOf = new Map(SLOTS.map((n) => [prog(n).info().id, n]));

const chain = () => {
  const c = tcx.query(dev, 'ingress');
  return { revision: c.revision, order: c.programs.map((p) => nameOf.get(p.progId) ?? `prog ${p.progId}`) };
};
const hits = () => Object.fromEntries(SLOTS.map((n, i) => [n, readU64Number(obj!.map('hits').lookup(u32(i)) as Uint8Array)]));
const path = () => readU64Number(obj!.global('last_path'));

// Attach out of order on purpose: the middle one first, then one before it and one after it.
const linkSecond = prog('second').attachTcx(dev, 'ingress');
links.push(linkSecond);
links.push(prog('first').attachTcx(dev, 'ingress', { before: linkSecond }));
links.push(prog('third').attachTcx(dev, 'ingress', { after: linkSecond }));
const initial = chain();
console.log(`tcx ingress on ${bed.hostIf}: ${initial.order.join(' -> ')} (revision ${initial.revision})`);

async function traffic(from: number, to: number): Promise<number> {
  let sent = 0;
  for (let s = from; s <= to; s++) {
    sent += (await bed.ping(5, 0.1)).received;
    await sleep(300);
    const h = hits();
    console.log(`[${s}s] pings answered ${sent}; hits ${SLOTS.map((n) => `${n} ${h[n]}`).join(', ')}; last path ${path()}`);
  }
  return sent;
}

const half = Math.ceil(opts.seconds / 2);
const before = { pings: await traffic(1, half), hits: hits(), path: path() };

// Swap the middle program in place: same link, same position, no packet sees a gap.
const beforeSwap = chain();
linkSecond.update(prog('second_v2'), { expected: prog('second') });
const swapped = chain();
console.log(`link ${linkSecond.info().id} now runs second_v2: ${swapped.order.join(' -> ')} (revision ${beforeSwap.revision} -> ${swapped.revision})`);
const after = { pings: await traffic(half + 1, opts.seconds), hits: hits(), path: path() };

// Optimistic concurrency: an attach that names a revision someone has since changed fails.
let stale: { code: string; message: string } | undefined;
try {
  links.push(prog('late').attachTcx(dev, 'ingress', { before: null, expectedRevision: beforeSwap.revision }));
} catch (e) {
  if (!(e instanceof BpfError)) throw e;
  stale = { code: e.code, message: e.message };
  console.log(`attach with stale revision ${beforeSwap.revision}: ${e.message}`);
}
links.push(prog('late').attachTcx(dev, 'ingress', { before: null, expectedRevision: swapped.revision }));
const final = chain();
console.log(`attach with current revision ${swapped.revision}: ${final.order.join(' -> ')} (revision ${final.revision})`);
const last = { pings: (await bed.ping(2, 0.1)).received, hits: hits(), path: path() };
console.log(`2 more pings: late saw ${last.hits.late}, last path ${last.path}`);

console.log(JSON.stringify({ initial, before, beforeSwap, swapped, after, stale, final, last }));
cleanup();
