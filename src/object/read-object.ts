// Reading an object file for BpfObject.open(path). The bytes go into one buffer reused across
// opens: openObjectSpec keeps no view of its input (it copies the few bytes a spec keeps), so
// the file need not be a fresh allocation each time — that, and skipping fstat, is half of what
// fs.readFileSync costs for a typical object (bench/object.ts).
import { closeSync, openSync, readSync } from 'node:fs';

/** Files up to this size keep the grown buffer for the next open; larger ones get their own. */
const KEEP = 1 << 20;
let scratch = new Uint8Array(64 << 10);

/**
 * The file's bytes, valid until the next call (parse them before reading another file).
 * Throws the `fs` error (ENOENT, EISDIR, ...) as node:fs does.
 */
export function readObjectFile(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    let buf = scratch;
    let n = 0;
    for (;;) {
      if (n === buf.byteLength) {
        const bigger = new Uint8Array(buf.byteLength * 2);
        bigger.set(buf);
        buf = bigger;
        if (buf.byteLength <= KEEP) scratch = buf;
      }
      const got = readSync(fd, buf, n, buf.byteLength - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}
