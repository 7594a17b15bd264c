// Process B of examples/pinned-maps.ts (which starts it; it can also run on its own).
// Opens a map another process pinned, by path alone, reads what that process's program counted
// and writes back: key 1 = how many updates B made, key 2 = the run count B saw last.
//
//   sudo npx tsx examples/pinned-maps-b.ts /sys/fs/bpf/<dir>/shared_counts [seconds]
import { BpfError, BpfMap, readU64Number, u32, u64 } from 'tsbpf';

const [path, secondsArg = '2'] = process.argv.slice(2);
if (!path) {
  console.error('usage: npx tsx examples/pinned-maps-b.ts PIN_PATH [SECONDS]');
  process.exit(2);
}
const seconds = Number(secondsArg);

using map = BpfMap.fromPin(path);
const info = map.info();
console.log(`B (pid ${process.pid}) opened ${path}: ${info.type} map '${info.name}', id ${info.id}`);

// A read-only handle really is read-only: the kernel refuses writes through it.
let readOnlyUpdate = 'allowed';
{
  using ro = BpfMap.fromPin(path, { readOnly: true });
  try {
    ro.update(u32(9), u64(1));
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    readOnlyUpdate = e.code;
  }
}

let updates = 0;
let lastSeen = 0;
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  const runs = map.lookup(u32(0));
  lastSeen = runs ? readU64Number(runs as Uint8Array) : 0;
  map.update(u32(1), u64(++updates));
  map.update(u32(2), u64(lastSeen));
  await new Promise((r) => setTimeout(r, 250));
}
console.log(`B saw ${lastSeen} runs of A's program and wrote ${updates} updates; a read-only handle's update: ${readOnlyUpdate}`);
console.log(JSON.stringify({ mapId: info.id, mapName: info.name, updates, lastSeen, readOnlyUpdate }));
