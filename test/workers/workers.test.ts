// tsbpf inside a worker_thread: koffi loads there, programs load (also asynchronously), maps
// work, an XDP link attaches; and the fds the worker hands over are usable from the main
// thread (fds belong to the process, not the thread) through fromFd.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap } from '../../src/maps/index.js';
import { BpfProgram } from '../../src/programs/index.js';
import { Link } from '../../src/link/index.js';
import * as xdp from '../../src/xdp/index.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { VethNs } from '../link/net.js';

interface Ready {
  kind: 'ready';
  mapFd: number;
  progFd: number;
  asyncFd: number;
  linkFd: number;
  progId: number;
  lookup3: number;
  asyncRetval: number;
}

describe.runIf(isRoot)('the library in a worker_thread', () => {
  guardFdLeaks();
  let net: VethNs;
  beforeAll(() => {
    net = new VethNs();
  });
  afterAll(() => net?.cleanup());

  it('loads, creates, attaches in a worker; the main thread uses the fds it hands over', async () => {
    // The worker runs TypeScript sources, as this test does: it registers tsx's loader first.
    // (its ESM entry, named by its package exports: require.resolve would give the CJS one)
    const req = createRequire(import.meta.url);
    const tsxPkg = req.resolve('tsx/package.json');
    const entry = (req(tsxPkg) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api']!.import.default;
    const tsxApi = pathToFileURL(join(dirname(tsxPkg), entry)).href;
    const main = new URL('./in-worker.ts', import.meta.url).href;
    const boot = `import(${JSON.stringify(tsxApi)}).then((t) => { t.register(); return import(${JSON.stringify(main)}); }).catch((e) => { throw e; });`;
    const worker = new Worker(boot, { eval: true, workerData: { ifindex: net.ifindex } });
    const errors: unknown[] = [];
    worker.on('error', (e) => errors.push(e));
    try {
      const [ready] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([e]) => Promise.reject(e))])) as [Ready];
      expect(ready.kind).toBe('ready');
      // What the worker saw itself.
      expect(ready.lookup3).toBe(300);
      expect(ready.asyncRetval).toBe(7);

      // The worker's map, through a duplicate of its fd: the worker's writes, and ours to it.
      const map = BpfMap.fromFd(ready.mapFd).as('hash');
      try {
        expect(map.name).toBe('worker_map');
        const v = map.lookup(new Uint8Array([2, 0, 0, 0]))!;
        expect(new DataView(v.buffer, v.byteOffset).getUint32(0, true)).toBe(200);
        map.update(new Uint8Array([9, 0, 0, 0]), new Uint8Array(8).fill(1));
        expect([...map.keys()].length).toBe(5);
      } finally {
        map.close();
      }
      // Its programs run from here.
      const prog = BpfProgram.fromFd(ready.asyncFd);
      expect(prog.testRun({ data: new Uint8Array(64) }).retval).toBe(7);
      prog.close();
      const drop = BpfProgram.fromFd(ready.progFd);
      expect(drop.info().id).toBe(ready.progId);
      drop.close();
      // Its link holds the hook: the main thread sees it, and packets are dropped.
      const link = Link.fromFd(ready.linkFd);
      expect(link.info().progId).toBe(ready.progId);
      expect(xdp.query(net.ifindex).skbProgId).toBe(ready.progId);
      expect(net.ping(2)).toBe(0);
      // Our duplicate keeps the link after the worker closes its fd.
      worker.postMessage('close');
      const [closed] = (await once(worker, 'message')) as [{ kind: string }];
      expect(closed.kind).toBe('closed');
      expect(xdp.query(net.ifindex).skbProgId).toBe(ready.progId);
      link.close();
      expect(xdp.query(net.ifindex).attached).toBe('none');
      expect(net.ping(2)).toBe(2);
    } finally {
      await worker.terminate();
    }
    expect(errors).toEqual([]);
  }, 300_000); // the worker starts tsx and compiles the library: minutes in a TCG guest (timed out at 60 s)
});
