// A second process for the crash and concurrency tests, bundled by crash.test.ts with esbuild
// (tsx would spend 15-25 s starting each child in a guest). It takes the protocol's directory
// from LIBXDP_BPFFS, as the parent's tests do.
//   child.mjs attach <ifindex> <fixture.o> <program> <priority> <go-file>
//     prints "ready", waits for <go-file> to exist, adds the program, prints the result as JSON
//   child.mjs churn <ifindex> <fixture.o>
//     adds and removes a program over and over, printing "attached ID" / "detached ID"
import { existsSync } from 'node:fs';
import { BpfObject, xdp } from '../../src/index.js';

const [mode, ifindexArg, fixture, ...rest] = process.argv.slice(2);
const ifindex = Number(ifindexArg);
const pinRoot = `${process.env.LIBXDP_BPFFS}/maps`;
const nap = new Int32Array(new SharedArrayBuffer(4));

if (mode === 'attach') {
  const [program, priority, goFile] = rest as [string, string, string];
  const obj = BpfObject.open(fixture!, { pinRoot });
  process.stdout.write('ready\n');
  while (!existsSync(goFile)) Atomics.wait(nap, 0, 0, 1);
  const res = xdp.multi.attach(ifindex, [{ object: obj, program, priority: Number(priority) }]);
  process.stdout.write(`${JSON.stringify({ id: obj.program(program).info().id, programs: res.programs.map((p) => p.id), dispatcher: res.dispatcher.id })}\n`);
  obj.close();
} else if (mode === 'churn') {
  for (;;) {
    const obj = BpfObject.open(fixture!, { pinRoot });
    xdp.multi.attach(ifindex, [{ object: obj, program: 'mp_beta', priority: 60 }]);
    const id = obj.program('mp_beta').info().id;
    process.stdout.write(`attached ${id}\n`);
    xdp.multi.detach(ifindex, id);
    process.stdout.write(`detached ${id}\n`);
    obj.close();
  }
} else {
  process.stderr.write(`child: unknown mode ${mode}\n`);
  process.exit(2);
}
