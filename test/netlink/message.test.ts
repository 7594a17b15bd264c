// Netlink message bytes without the kernel: alignment, nesting, multipart splitting and the
// extended-ack layout (capped and uncapped), plus malformed input.
import { describe, expect, it } from 'vitest';
import { IFINFOMSG, ifla, ifla_xdp, netlink, nlm_f, rtm } from '../../src/netlink/abi.js';
import { Attrs, MessageBuilder, NetlinkProtocolError, parseAck, parseMessages, payloadAttrs } from '../../src/netlink/message.js';

function hdr(len: number, type: number, flags: number, seq: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(flags, 6);
  b.writeUInt32LE(seq, 8);
  return b;
}

function tlv(type: number, payload: Buffer): Buffer {
  const len = 4 + payload.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  payload.copy(b, 4);
  return b;
}

describe('MessageBuilder', () => {
  it('lays out header, family header and nested attributes with 4-byte alignment', () => {
    const m = new MessageBuilder(rtm.RTM_SETLINK, nlm_f.NLM_F_REQUEST | nlm_f.NLM_F_ACK)
      .header(IFINFOMSG, { ifi_index: 7 })
      .begin(ifla.IFLA_XDP)
      .s32(ifla_xdp.IFLA_XDP_FD, -1)
      .u32(ifla_xdp.IFLA_XDP_FLAGS, 0x11)
      .end()
      .string(ifla.IFLA_IFNAME, 'ab')
      .finish(42, 0);
    // 16 nlmsghdr + 16 ifinfomsg + (4 + 8 + 8) nest + 8 string ("ab\0" padded)
    expect(m.length).toBe(16 + 16 + 20 + 8);
    expect(m.readUInt32LE(0)).toBe(m.length);
    expect(m.readUInt16LE(4)).toBe(rtm.RTM_SETLINK);
    expect(m.readUInt16LE(6)).toBe(5);
    expect(m.readUInt32LE(8)).toBe(42);
    expect(m.readInt32LE(16 + 4)).toBe(7);
    expect(m.readUInt16LE(32)).toBe(20); // nest length covers its children
    expect(m.readUInt16LE(34)).toBe(ifla.IFLA_XDP | netlink.NLA_F_NESTED);
    expect(m.readUInt16LE(36)).toBe(8);
    expect(m.readUInt16LE(38)).toBe(ifla_xdp.IFLA_XDP_FD);
    expect(m.readInt32LE(40)).toBe(-1);
    expect(m.readUInt32LE(48)).toBe(0x11);
    expect(m.readUInt16LE(52)).toBe(7); // "ab\0" + 4
    expect(m.subarray(56, 59).toString('latin1')).toBe('ab\0');

    const parsed = parseMessages(m);
    expect(parsed).toHaveLength(1);
    const a = payloadAttrs(parsed[0]!.payload, IFINFOMSG.size);
    expect(a.string(ifla.IFLA_IFNAME)).toBe('ab');
    const x = a.nested(ifla.IFLA_XDP)!; // the NESTED flag is masked off the type
    expect(x.s32(ifla_xdp.IFLA_XDP_FD)).toBe(-1);
    expect(x.u32(ifla_xdp.IFLA_XDP_FLAGS)).toBe(0x11);
    expect(x.u32(ifla_xdp.IFLA_XDP_EXPECTED_FD)).toBeUndefined();
  });

  it('grows past its first buffer and refuses unbalanced nests', () => {
    const b = new MessageBuilder(rtm.RTM_GETLINK, 1);
    for (let i = 0; i < 200; i++) b.u32(i + 1, i);
    const m = b.finish(1);
    expect(m.length).toBe(16 + 200 * 8);
    const a = new Attrs(m, 16);
    expect(a.u32(200)).toBe(199);
    expect(() => new MessageBuilder(1, 1).begin(1).finish(1)).toThrow(/unclosed/);
    expect(() => new MessageBuilder(1, 1).end()).toThrow(/without begin/);
  });
});

describe('parsing replies', () => {
  it('splits a multipart datagram into aligned messages', () => {
    const one = Buffer.concat([hdr(21, rtm.RTM_NEWLINK, nlm_f.NLM_F_MULTI, 9), Buffer.from([1, 2, 3, 4, 5]), Buffer.alloc(3)]);
    const done = Buffer.concat([hdr(20, netlink.NLMSG_DONE, nlm_f.NLM_F_MULTI, 9), Buffer.alloc(4)]);
    const msgs = parseMessages(Buffer.concat([one, done]));
    expect(msgs.map((m) => [m.type, m.seq, m.payload.length])).toEqual([
      [rtm.RTM_NEWLINK, 9, 5],
      [netlink.NLMSG_DONE, 9, 4],
    ]);
  });

  it('rejects lengths that run past the datagram', () => {
    expect(() => parseMessages(hdr(64, 2, 0, 1))).toThrow(NetlinkProtocolError);
    expect(() => parseMessages(hdr(8, 2, 0, 1))).toThrow(NetlinkProtocolError);
    const badAttr = Buffer.from([40, 0, 1, 0, 0, 0, 0, 0]);
    expect(() => new Attrs(badAttr)).toThrow(NetlinkProtocolError);
  });

  it('reads the extended ack after a capped request header', () => {
    const orig = hdr(40, rtm.RTM_SETLINK, 5, 77);
    const payload = Buffer.concat([
      Buffer.from(Int32Array.of(-16).buffer),
      orig,
      tlv(1, Buffer.from('XDP program already attached\0')),
      tlv(2, Buffer.from(Uint32Array.of(36).buffer)),
    ]);
    const ack = parseAck({ type: netlink.NLMSG_ERROR, flags: nlm_f.NLM_F_CAPPED | nlm_f.NLM_F_ACK_TLVS, seq: 77, pid: 0, payload });
    expect(ack).toEqual({ errno: 16, seq: 77, extack: 'XDP program already attached', extackOffset: 36 });
  });

  it('skips the echoed request when the kernel did not cap it', () => {
    const body = Buffer.alloc(8, 0xee);
    const orig = Buffer.concat([hdr(24, rtm.RTM_NEWTFILTER, 5, 3), body]);
    const payload = Buffer.concat([Buffer.from(Int32Array.of(-17).buffer), orig, tlv(1, Buffer.from('Filter already exists\0'))]);
    const ack = parseAck({ type: netlink.NLMSG_ERROR, flags: nlm_f.NLM_F_ACK_TLVS, seq: 3, pid: 0, payload });
    expect(ack.errno).toBe(17);
    expect(ack.extack).toBe('Filter already exists');
    const plain = parseAck({ type: netlink.NLMSG_ERROR, flags: 0, seq: 3, pid: 0, payload: Buffer.concat([Buffer.alloc(4), orig]) });
    expect(plain).toEqual({ errno: 0, seq: 3 });
    expect(() => parseAck({ type: 2, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(8) })).toThrow(NetlinkProtocolError);
  });
});
