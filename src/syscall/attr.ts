// An encoded attribute struct with a stable address. Hot paths keep one per object and only
// rewrite the members that change, so a map lookup allocates nothing. An Attr also keeps every
// buffer its pointer members point at (setPointer, setPointerAt, hold): the kernel reads them
// through raw addresses the garbage collector cannot see, so as long as the Attr is reachable —
// and the syscall functions keep it reachable for the length of the call — so are they.
import type { Layout } from './abi/layout.js';
import { addressOf, stableBuffer } from './libc.js';

export class Attr<K extends string> {
  readonly bytes: Buffer;
  readonly address: number;
  readonly size: number;
  private readonly view: DataView;
  /** What pointer members point at, by member (name or byte offset); and indirect pointees. */
  #pointees: Map<string | number, unknown> | undefined;
  #held: unknown[] | undefined;

  constructor(
    readonly layout: Layout<K>,
    size = layout.size,
  ) {
    this.size = size;
    this.bytes = stableBuffer(size);
    this.address = addressOf(this.bytes);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, size);
  }

  /** Writes an integer member; u64 members take numbers up to 2^53 or bigints. */
  set(name: K, value: number | bigint): this {
    const m = this.layout.members[name];
    switch (m.size) {
      case 1:
        this.view.setUint8(m.offset, Number(value));
        break;
      case 2:
        this.view.setUint16(m.offset, Number(value), true);
        break;
      case 4:
        this.view.setUint32(m.offset, Number(value) >>> 0, true);
        break;
      case 8:
        if (typeof value === 'bigint') this.view.setBigUint64(m.offset, BigInt.asUintN(64, value), true);
        else {
          // Two u32 writes: no BigInt on the hot path.
          this.view.setUint32(m.offset, value >>> 0, true);
          this.view.setUint32(m.offset + 4, Math.floor(value / 2 ** 32) >>> 0, true);
        }
        break;
      default:
        throw new TypeError(`${this.layout.cName}.${name} is not an integer member`);
    }
    return this;
  }

  /** Points a u64 member at a buffer (which must have a stable address) or clears it; the
   * Attr keeps the buffer until the member is pointed elsewhere or zeroed. */
  setPointer(name: K, buf: ArrayBufferView | undefined | null): this {
    this.#point(name, buf);
    return this.set(name, buf ? addressOf(buf) : 0);
  }

  /** setPointer for a u64 at a byte offset (members of a union the layout names separately). */
  setPointerAt(offset: number, buf: ArrayBufferView | undefined | null): this {
    this.#point(offset, buf);
    this.view.setBigUint64(offset, buf ? BigInt(addressOf(buf)) : 0n, true);
    return this;
  }

  /** Keeps something the kernel reaches indirectly (the strings an array of pointers points at). */
  hold(x: unknown): this {
    (this.#held ??= []).push(x);
    return this;
  }

  #point(key: string | number, buf: ArrayBufferView | undefined | null): void {
    if (buf) (this.#pointees ??= new Map()).set(key, buf);
    else this.#pointees?.delete(key);
  }

  /** Writes a NUL-padded string into a char[] member (names are truncated, as the kernel does). */
  setString(name: K, s: string): this {
    const m = this.layout.members[name];
    this.bytes.fill(0, m.offset, m.offset + m.size);
    this.bytes.write(s, m.offset, m.size - 1, 'utf8');
    return this;
  }

  get(name: K): number {
    const m = this.layout.members[name];
    switch (m.size) {
      case 1:
        return this.view.getUint8(m.offset);
      case 2:
        return this.view.getUint16(m.offset, true);
      case 4:
        return this.view.getUint32(m.offset, true);
      default:
        return this.view.getUint32(m.offset, true) + this.view.getUint32(m.offset + 4, true) * 2 ** 32;
    }
  }

  getBigInt(name: K): bigint {
    const m = this.layout.members[name];
    return this.view.getBigUint64(m.offset, true);
  }

  getString(name: K): string {
    const m = this.layout.members[name];
    const raw = this.bytes.subarray(m.offset, m.offset + m.size);
    const end = raw.indexOf(0);
    return raw.subarray(0, end < 0 ? m.size : end).toString('utf8');
  }

  getBytes(name: K): Uint8Array {
    const m = this.layout.members[name];
    return Uint8Array.prototype.slice.call(this.bytes, m.offset, m.offset + m.size);
  }

  zero(): this {
    this.bytes.fill(0);
    this.#pointees = undefined;
    this.#held = undefined;
    return this;
  }
}
