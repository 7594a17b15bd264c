// A BPF program on a perf event (a kprobe, uprobe or tracepoint opened with perf_event_open),
// the two ways the kernel offers, never one silently standing in for the other:
//
// - a perf link (BPF_LINK_CREATE with BPF_PERF_EVENT, 5.15+): a Link that holds the event, with
//   info, pins and an attach cookie;
// - the legacy ioctl (PERF_EVENT_IOC_SET_BPF + ENABLE, 4.x): the perf event's fd itself holds
//   the attachment (a PerfEventAttachment): no pin, no link info, no cookie.
//
// Each event kind (kprobe.ts, tracepoint.ts, uprobe.ts) opens its event and hands the fd here.
import { ERRNO } from '../errno-names.js';
import { BpfError, NotSupportedError, UsageError, errnoName } from '../errors.js';
import { features } from '../features/index.js';
import { LINK_CREATE_PERF_EVENT_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF } from '../syscall/abi/perf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { FdOwner } from '../syscall/fd.js';
import { closeFd } from '../syscall/libc.js';
import { ioctl } from '../syscall/perf.js';
import { Link } from './link.js';

const { EINVAL, EEXIST, EPERM, EACCES, EBADF } = ERRNO;

/** What the event probes: 'kprobe', 'kretprobe', 'uprobe', 'uretprobe' or 'tracepoint'. */
export type PerfEventKind = 'kprobe' | 'kretprobe' | 'uprobe' | 'uretprobe' | 'tracepoint';

export interface PerfEventTarget {
  kind: PerfEventKind;
  /** 'do_sys_openat2', '/usr/lib/x86_64-linux-gnu/libssl.so.3:SSL_write', 'sock:inet_sock_set_state'. */
  target: string;
  /** The program type the event takes, for messages ('kprobe' for k/uprobes, 'tracepoint'). */
  programType: 'kprobe' | 'tracepoint';
  /** What the caller named the legacy call, for the NotSupportedError of a kernel without perf links. */
  legacyCall: string;
}

/** An unsigned 64-bit option (cookies, offsets). */
export function u64Option(what: string, v: bigint | number): bigint {
  if (typeof v === 'number' ? !Number.isSafeInteger(v) || v < 0 : typeof v !== 'bigint' || v < 0n || v >= 1n << 64n)
    throw new UsageError(`${what} must be an unsigned 64-bit integer (number or bigint); got ${String(v)}`);
  return BigInt(v);
}

function why(errno: number, t: PerfEventTarget): string | undefined {
  switch (errno) {
    case EINVAL:
      return `the program is not a ${t.programType} program${t.programType === 'kprobe' ? ', or it was loaded for a multi link (a kprobe.multi/ or uprobe.multi/ section)' : ''}`;
    case EEXIST:
      return 'the perf event already runs a program';
    case EPERM:
    case EACCES:
      return `attaching ${t.programType} programs needs root or CAP_BPF + CAP_PERFMON`;
    case EBADF:
      return 'the perf event or the program fd is not open';
    default:
      return undefined;
  }
}

/**
 * A perf link over an open perf event. Consumes `perfFd` (closed here in every case: the link
 * holds its own reference to the event).
 */
export function perfEventLink(perfFd: number, progFd: number, cookie: bigint | undefined, t: PerfEventTarget, what: string): Link {
  try {
    const attr = new Attr(LINK_CREATE_PERF_EVENT_ATTR).set('prog_fd', progFd).set('target_fd', perfFd).set('attach_type', bpf_attach_type.BPF_PERF_EVENT);
    if (cookie !== undefined) attr.set('perf_event.bpf_cookie', cookie);
    const r = bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
    if (r >= 0) return Link.adopt(r);
    const errno = -r;
    if (errno === EINVAL && features.probe('perf_link').status === 'absent') {
      const f = features.info('perf_link');
      throw new NotSupportedError(f.title, f.minKernel, `${t.legacyCall} (PERF_EVENT_IOC_SET_BPF: the perf event fd owns the attachment; no pin, no link info, no cookie)`, errno);
    }
    const w = why(errno, t);
    throw new BpfError({ errno, command: 'BPF_LINK_CREATE' }, `BPF_LINK_CREATE (${what}: ${t.kind} ${t.target}) failed: ${errnoName(errno)}${w ? ` — ${w}` : ''}`);
  } finally {
    closeFd(perfFd);
  }
}

/**
 * A perf event with a BPF program set on it by ioctl (PERF_EVENT_IOC_SET_BPF + ENABLE): how
 * kprobes, uprobes and tracepoints were attached before perf links (5.15). The event's fd owns
 * the attachment; it cannot be pinned and has no link info. Never garbage-collected: a GC must
 * not detach a program.
 */
export class PerfEventAttachment extends FdOwner {
  readonly kind: PerfEventKind;
  /** What is probed: a kernel function, `binary:function`, or `category:tracepoint`. */
  readonly target: string;
  /** kprobes: the function (as `target`); others: undefined. */
  readonly function?: string;
  /** kprobes and uprobes: the offset (into the function, or into the file when no function is named). */
  readonly offset: number;

  /** @internal */
  constructor(fd: number, kind: PerfEventKind, target: string, offset = 0, fn?: string) {
    super(fd, 'perf event', false);
    this.kind = kind;
    this.target = target;
    this.offset = offset;
    if (fn !== undefined) this.function = fn;
  }

  override describe(): string {
    return `${this.kind} on ${this.target}`;
  }
}

/**
 * The legacy attach: sets the program on an open perf event and enables it. Takes ownership of
 * `perfFd` (closed if this fails).
 */
export function perfEventSetBpf(perfFd: number, progFd: number, t: PerfEventTarget, what: string, offset = 0, fn?: string): PerfEventAttachment {
  let r = ioctl(perfFd, PERF_EVENT_IOC_SET_BPF, progFd);
  if (r >= 0) r = ioctl(perfFd, PERF_EVENT_IOC_ENABLE, 0);
  if (r >= 0) return new PerfEventAttachment(perfFd, t.kind, t.target, offset, fn);
  closeFd(perfFd);
  const errno = -r;
  const w = why(errno, t);
  throw new BpfError(
    { errno, command: 'ioctl(PERF_EVENT_IOC_SET_BPF)' },
    `ioctl(PERF_EVENT_IOC_SET_BPF) (${what}: ${t.kind} ${t.target}) failed: ${errnoName(errno)}${w ? ` — ${w}` : ''}`,
  );
}
