// An rtnetlink (NETLINK_ROUTE) socket: one request at a time, replies matched by sequence
// number, errors carrying the kernel's extended-ack sentence. Requests are synchronous:
// rtnetlink handles a request inside sendto(), so the reply is queued before recvfrom().
import { FdOwner } from '../syscall/fd.js';
import { stableBuffer } from '../syscall/libc.js';
import { sendStep, sysRecv, sysSend, sysSetsockopt, sysSocket } from '../syscall/socket.js';
import type { Steps } from '../syscall/steps.js';
import { netlink, nlm_f, rtmName, sock } from './abi.js';
import { NetlinkRequestError } from './errors.js';
import { type Message, MessageBuilder, parseAck, parseMessages, NetlinkProtocolError } from './message.js';
import { ERRNO } from '../errno-names.js';

const { ENOBUFS, EAGAIN, EINTR } = ERRNO;

/** How long to wait for the kernel before giving up (it answers within microseconds). */
const RECEIVE_TIMEOUT_S = 10;
const RECV_SIZE = 1 << 16;

let seqBase = (Date.now() & 0x7fff) << 16;

// One receive and one send buffer for every socket: requests are synchronous and replies are
// parsed (and their payloads copied) before the next recv, so sharing is safe, and a fresh
// 64 KiB stable buffer per call would cost more than the request itself.
let sharedRecv: Buffer | undefined;
let sharedSend: Buffer | undefined;
// setsockopt values: int 1, and struct timeval { long tv_sec; long tv_usec; }.
const intOne = stableBuffer(4);
intOne.writeInt32LE(1);
const receiveTimeout = stableBuffer(16);
receiveTimeout.writeBigInt64LE(BigInt(RECEIVE_TIMEOUT_S), 0);

function recvBuffer(): Buffer {
  return (sharedRecv ??= stableBuffer(RECV_SIZE));
}
function sendBuffer(size: number): Buffer {
  if (!sharedSend || sharedSend.length < size) sharedSend = stableBuffer(Math.max(size, 4096));
  return sharedSend;
}

export interface RequestContext {
  /** What we were doing, in the user's terms (becomes the error's `context`). A function is
   * called only if the request fails, so success paths pay nothing for a good message. */
  context?: string | (() => string);
  ifindex?: number;
}

function failure(errno: number, command: string, ctx: RequestContext, extack?: string) {
  const context = typeof ctx.context === 'function' ? ctx.context() : ctx.context;
  return {
    errno,
    command,
    ...(context !== undefined ? { context } : {}),
    ...(ctx.ifindex !== undefined ? { ifindex: ctx.ifindex } : {}),
    ...(extack !== undefined ? { extack } : {}),
  };
}

export class NetlinkSocket extends FdOwner {
  private seq = seqBase++;
  /** Extended-ack warnings the kernel attached to successful requests (tc emits some). */
  readonly warnings: string[] = [];

  private constructor(fd: number) {
    // A socket owns no attachment: the GC may close one a caller dropped.
    super(fd, 'netlink socket', true);
  }

  static open(): NetlinkSocket {
    const fd = sysSocket(sock.AF_NETLINK, sock.SOCK_RAW | sock.SOCK_CLOEXEC, netlink.NETLINK_ROUTE);
    if (fd < 0) throw new NetlinkRequestError({ errno: -fd, command: 'socket(AF_NETLINK, NETLINK_ROUTE)' });
    const s = new NetlinkSocket(fd);
    try {
      // Ask for the kernel's sentence, and don't echo our request back inside errors. Both are
      // best effort (4.12+ and 4.3+); a kernel without them still answers, only less clearly.
      sysSetsockopt(fd, sock.SOL_NETLINK, netlink.NETLINK_EXT_ACK, intOne);
      sysSetsockopt(fd, sock.SOL_NETLINK, netlink.NETLINK_CAP_ACK, intOne);
      const r = sysSetsockopt(fd, sock.SOL_SOCKET, sock.SO_RCVTIMEO, receiveTimeout);
      if (r < 0) throw new NetlinkRequestError({ errno: -r, command: 'setsockopt(SO_RCVTIMEO)' });
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  private send(msg: MessageBuilder, seq: number, ctx: RequestContext): void {
    const fd = this.fd;
    const bytes = msg.finish(seq);
    const buf = sendBuffer(bytes.length);
    bytes.copy(buf);
    for (;;) {
      const r = sysSend(fd, buf, bytes.length);
      if (r === -EINTR) continue;
      if (r < 0) throw new NetlinkRequestError(failure(-r, rtmName(msg.type), ctx));
      return;
    }
  }

  private receive(command: string, ctx: RequestContext): Message[] {
    for (;;) {
      const buf = recvBuffer();
      const r = sysRecv(this.fd, buf, sock.MSG_TRUNC);
      if (r === -EINTR) continue;
      if (r === -EAGAIN)
        throw new NetlinkRequestError(
          failure(EAGAIN, command, ctx),
          `no reply from the kernel within ${RECEIVE_TIMEOUT_S} s`,
        );
      if (r < 0)
        throw new NetlinkRequestError(
          failure(-r, command, ctx),
          -r === ENOBUFS ? 'the socket receive buffer overflowed during a dump' : undefined,
        );
      if (r > buf.length) throw new NetlinkProtocolError(`netlink reply of ${r} bytes exceeds the ${buf.length}-byte buffer`);
      return parseMessages(buf, r);
    }
  }

  private fail(command: string, msg: Message, ctx: RequestContext): never {
    const ack = parseAck(msg);
    throw new NetlinkRequestError(failure(ack.errno, command, ctx, ack.extack));
  }

  /**
   * Sends a request built by `newRequest` and returns the messages the kernel
   * sent before its ACK (e.g. the reply to a GET, or an NLM_F_ECHO notification).
   * Throws NetlinkRequestError with the kernel's sentence if it refused.
   */
  request(msg: MessageBuilder, ctx: RequestContext = {}): Message[] {
    const command = rtmName(msg.type);
    const seq = ++this.seq >>> 0;
    this.send(msg, seq, ctx);
    return this.replies(command, seq, ctx);
  }

  /**
   * request() as a task (src/syscall/steps.ts) whose step is the sendto(2) in which rtnetlink
   * does the work (an XDP attach waits there for RCU): run with runStepsAsync, it happens off
   * the main thread. The reply is already queued when sendto returns, and is read in place.
   */
  *requestSteps(msg: MessageBuilder, ctx: RequestContext = {}): Steps<Message[]> {
    const command = rtmName(msg.type);
    const seq = ++this.seq >>> 0;
    const bytes = msg.finish(seq);
    // Not the shared send buffer: another request may reuse it while this one is in flight.
    const buf = stableBuffer(bytes.length);
    bytes.copy(buf);
    for (;;) {
      const r = yield sendStep(this.fd, buf, bytes.length);
      if (r === -EINTR) continue;
      if (r < 0) throw new NetlinkRequestError(failure(-r, command, ctx));
      break;
    }
    return this.replies(command, seq, ctx);
  }

  /** The messages answering request `seq`, up to its ACK; throws the kernel's refusal. */
  private replies(command: string, seq: number, ctx: RequestContext): Message[] {
    const replies: Message[] = [];
    for (;;) {
      for (const m of this.receive(command, ctx)) {
        if (m.seq !== seq) continue; // a late answer to an earlier, abandoned request
        if (m.type === netlink.NLMSG_ERROR) {
          const ack = parseAck(m);
          if (ack.errno !== 0) this.fail(command, m, ctx);
          if (ack.extack) this.warnings.push(ack.extack);
          return replies;
        }
        if (m.type === netlink.NLMSG_NOOP) continue;
        // Copy: the payload is a view into the receive buffer, reused by the next recv.
        replies.push({ ...m, payload: Buffer.from(m.payload) });
      }
    }
  }

  /**
   * Sends a request built by `newDump` and returns every message up to
   * NLMSG_DONE. A dump the kernel marks inconsistent (NLM_F_DUMP_INTR) is restarted.
   */
  dump(msg: MessageBuilder, ctx: RequestContext = {}, attempts = 3): Message[] {
    const command = rtmName(msg.type);
    for (let attempt = 1; ; attempt++) {
      const seq = ++this.seq >>> 0;
      this.send(msg, seq, ctx);
      const out: Message[] = [];
      let interrupted = false;
      let done = false;
      while (!done) {
        for (const m of this.receive(command, ctx)) {
          if (m.seq !== seq) continue;
          if (m.flags & nlm_f.NLM_F_DUMP_INTR) interrupted = true;
          if (m.type === netlink.NLMSG_DONE) {
            // DONE carries an int: a negative errno if the dump failed midway (plus extack).
            if (m.payload.length >= 4 && m.payload.readInt32LE(0) < 0) {
              const errno = -m.payload.readInt32LE(0);
              throw new NetlinkRequestError(failure(errno, command, ctx));
            }
            done = true;
            break;
          }
          if (m.type === netlink.NLMSG_ERROR) {
            const ack = parseAck(m);
            if (ack.errno !== 0) this.fail(command, m, ctx);
            continue;
          }
          if (m.type === netlink.NLMSG_NOOP) continue;
          out.push({ ...m, payload: Buffer.from(m.payload) });
        }
      }
      if (!interrupted || attempt >= attempts) return out;
    }
  }
}

/** A request that the kernel acknowledges (NLM_F_REQUEST|NLM_F_ACK plus `flags`). */
export function newRequest(type: number, flags = 0): MessageBuilder {
  return new MessageBuilder(type, nlm_f.NLM_F_REQUEST | nlm_f.NLM_F_ACK | flags);
}

/** A dump request (NLM_F_REQUEST|NLM_F_DUMP). */
export function newDump(type: number): MessageBuilder {
  return new MessageBuilder(type, nlm_f.NLM_F_REQUEST | nlm_f.NLM_F_DUMP);
}

/** withSocket for tasks (src/syscall/steps.ts). */
export function* withSocketSteps<T>(fn: (s: NetlinkSocket) => Steps<T>): Steps<T> {
  const s = NetlinkSocket.open();
  try {
    return yield* fn(s);
  } finally {
    s.close();
  }
}

/** Runs `fn` with a fresh socket and always closes it. */
export function withSocket<T>(fn: (s: NetlinkSocket) => T): T {
  const s = NetlinkSocket.open();
  try {
    return fn(s);
  } finally {
    s.close();
  }
}
