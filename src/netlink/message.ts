// Netlink messages as bytes: a builder for requests and parsers for replies. Pure (no
// syscalls), so every rule about alignment, nesting and extended acks is testable without root.
import { TsbpfError } from '../errors.js';
import type { Layout } from '../syscall/abi/layout.js';
import { netlink, nlm_f, nlmsgerr_attrs, NLATTR, NLMSGERR, NLMSGHDR } from './abi.js';

const HDRLEN = NLMSGHDR.size;
const ATTRLEN = NLATTR.size;
const align = (n: number): number => (n + netlink.NLMSG_ALIGNTO - 1) & ~(netlink.NLMSG_ALIGNTO - 1);

/** A reply the parser could not make sense of: a kernel/loader mismatch, never user error. */
export class NetlinkProtocolError extends TsbpfError {
  override name = 'NetlinkProtocolError';
}

/** Builds one request: nlmsghdr, a fixed family header, then attributes (nested as needed). */
export class MessageBuilder {
  private buf = Buffer.alloc(256);
  private len = HDRLEN;
  private readonly open: number[] = [];

  constructor(
    readonly type: number,
    readonly flags: number,
  ) {}

  private reserve(n: number): number {
    const at = this.len;
    const need = at + align(n);
    if (need > this.buf.length) {
      const grown = Buffer.alloc(Math.max(need, this.buf.length * 2));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.len = need;
    return at;
  }

  /** Appends a family header (ifinfomsg, tcmsg...) with the given members set, others zero. */
  header<K extends string>(layout: Layout<K>, values: Partial<Record<K, number>>): this {
    const at = this.reserve(layout.size);
    for (const [name, value] of Object.entries(values) as [K, number][]) {
      const m = layout.members[name];
      const o = at + m.offset;
      if (m.size === 1) this.buf.writeUInt8(value & 0xff, o);
      else if (m.size === 2) this.buf.writeUInt16LE(value & 0xffff, o);
      else if (m.size === 4) this.buf.writeUInt32LE(value >>> 0, o);
      else throw new TsbpfError(`${layout.cName}.${name}: unsupported member size ${m.size}`);
    }
    return this;
  }

  /** An attribute with raw bytes as its payload. */
  bytes(type: number, payload: Uint8Array): this {
    const at = this.reserve(ATTRLEN + payload.length);
    this.buf.writeUInt16LE(ATTRLEN + payload.length, at);
    this.buf.writeUInt16LE(type, at + 2);
    this.buf.set(payload, at + ATTRLEN);
    return this;
  }

  u8(type: number, v: number): this {
    return this.bytes(type, Uint8Array.of(v & 0xff));
  }

  u16(type: number, v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v & 0xffff);
    return this.bytes(type, b);
  }

  u32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return this.bytes(type, b);
  }

  s32(type: number, v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v | 0);
    return this.bytes(type, b);
  }

  /** A NUL-terminated string attribute. */
  string(type: number, s: string): this {
    const b = Buffer.alloc(Buffer.byteLength(s) + 1);
    b.write(s);
    return this.bytes(type, b);
  }

  /** Opens a nested attribute (NLA_F_NESTED set); close it with `end()`. */
  begin(type: number): this {
    const at = this.reserve(ATTRLEN);
    this.buf.writeUInt16LE(type | netlink.NLA_F_NESTED, at + 2);
    this.open.push(at);
    return this;
  }

  end(): this {
    const at = this.open.pop();
    if (at === undefined) throw new TsbpfError('MessageBuilder.end() without begin()');
    this.buf.writeUInt16LE(this.len - at, at);
    return this;
  }

  /** The finished message with its header filled in. The returned bytes are a copy. */
  finish(seq: number, pid = 0): Buffer {
    if (this.open.length) throw new TsbpfError('MessageBuilder.finish() with an unclosed nested attribute');
    const h = NLMSGHDR.members;
    this.buf.writeUInt32LE(this.len, h.nlmsg_len.offset);
    this.buf.writeUInt16LE(this.type, h.nlmsg_type.offset);
    this.buf.writeUInt16LE(this.flags, h.nlmsg_flags.offset);
    this.buf.writeUInt32LE(seq >>> 0, h.nlmsg_seq.offset);
    this.buf.writeUInt32LE(pid >>> 0, h.nlmsg_pid.offset);
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

export interface Message {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the nlmsghdr (a view into the receive buffer: parse before the next recv). */
  payload: Buffer;
}

/** Splits a datagram into messages. */
export function parseMessages(buf: Buffer, length = buf.length): Message[] {
  const out: Message[] = [];
  const h = NLMSGHDR.members;
  let off = 0;
  while (off + HDRLEN <= length) {
    const len = buf.readUInt32LE(off + h.nlmsg_len.offset);
    if (len < HDRLEN || off + len > length)
      throw new NetlinkProtocolError(`malformed netlink message: length ${len} at offset ${off} of ${length}`);
    out.push({
      type: buf.readUInt16LE(off + h.nlmsg_type.offset),
      flags: buf.readUInt16LE(off + h.nlmsg_flags.offset),
      seq: buf.readUInt32LE(off + h.nlmsg_seq.offset),
      pid: buf.readUInt32LE(off + h.nlmsg_pid.offset),
      payload: buf.subarray(off + HDRLEN, off + len),
    });
    off += align(len);
  }
  return out;
}

/** A set of attributes, by type (flag bits masked off). A repeated type keeps the last value. */
export class Attrs {
  private readonly byType = new Map<number, Buffer>();

  constructor(buf: Buffer, start = 0, end = buf.length) {
    let off = start;
    while (off + ATTRLEN <= end) {
      const len = buf.readUInt16LE(off);
      const type = buf.readUInt16LE(off + 2) & netlink.NLA_TYPE_MASK;
      if (len < ATTRLEN || off + len > end)
        throw new NetlinkProtocolError(`malformed netlink attribute: length ${len} at offset ${off}`);
      this.byType.set(type, buf.subarray(off + ATTRLEN, off + len));
      off += align(len);
    }
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  types(): number[] {
    return [...this.byType.keys()];
  }

  raw(type: number): Buffer | undefined {
    return this.byType.get(type);
  }

  u8(type: number): number | undefined {
    const b = this.byType.get(type);
    return b && b.length >= 1 ? b.readUInt8(0) : undefined;
  }

  u16(type: number): number | undefined {
    const b = this.byType.get(type);
    return b && b.length >= 2 ? b.readUInt16LE(0) : undefined;
  }

  u32(type: number): number | undefined {
    const b = this.byType.get(type);
    return b && b.length >= 4 ? b.readUInt32LE(0) : undefined;
  }

  s32(type: number): number | undefined {
    const b = this.byType.get(type);
    return b && b.length >= 4 ? b.readInt32LE(0) : undefined;
  }

  /** A string attribute without its NUL. */
  string(type: number): string | undefined {
    const b = this.byType.get(type);
    if (!b) return undefined;
    const nul = b.indexOf(0);
    return b.subarray(0, nul < 0 ? b.length : nul).toString('utf8');
  }

  nested(type: number): Attrs | undefined {
    const b = this.byType.get(type);
    return b ? new Attrs(b) : undefined;
  }
}

/** Attributes that follow a fixed family header in a message payload. */
export function payloadAttrs(payload: Buffer, headerSize: number): Attrs {
  return new Attrs(payload, align(headerSize), payload.length);
}

export interface Ack {
  /** 0 for success, else a positive errno. */
  errno: number;
  /** The kernel's sentence (NLMSGERR_ATTR_MSG), on errors and sometimes as a warning on success. */
  extack?: string;
  /** Byte offset, in the request, of the attribute the kernel blamed (NLMSGERR_ATTR_OFFS). */
  extackOffset?: number;
  /** Sequence number of the request this answers. */
  seq: number;
}

/** Parses an NLMSG_ERROR payload (an error, or with error 0, an ACK) and its extended-ack TLVs. */
export function parseAck(msg: Message): Ack {
  const p = msg.payload;
  if (p.length < NLMSGERR.size) throw new NetlinkProtocolError(`short NLMSG_ERROR (${p.length} bytes)`);
  const error = p.readInt32LE(NLMSGERR.members.error.offset);
  const origOff = NLMSGERR.members.msg.offset;
  const origLen = p.readUInt32LE(origOff + NLMSGHDR.members.nlmsg_len.offset);
  const ack: Ack = { errno: error === 0 ? 0 : -error, seq: p.readUInt32LE(origOff + NLMSGHDR.members.nlmsg_seq.offset) };
  if (!(msg.flags & nlm_f.NLM_F_ACK_TLVS)) return ack;
  // Without NLM_F_CAPPED the whole request is echoed before the TLVs.
  const tlvStart = msg.flags & nlm_f.NLM_F_CAPPED ? NLMSGERR.size : origOff + align(origLen);
  if (tlvStart > p.length) return ack;
  const tlv = new Attrs(p, tlvStart, p.length);
  const text = tlv.string(nlmsgerr_attrs.NLMSGERR_ATTR_MSG);
  if (text) ack.extack = text;
  const offs = tlv.u32(nlmsgerr_attrs.NLMSGERR_ATTR_OFFS);
  if (offs !== undefined) ack.extackOffset = offs;
  return ack;
}
