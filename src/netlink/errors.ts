// The netlink flavour of NetlinkError: keeps what the request was about (interface, hook) and
// adds our own explanation after the kernel's sentence, never instead of it.
import { NetlinkError } from '../errors.js';

export interface NetlinkFailure {
  errno: number;
  /** The rtnetlink message type that failed, e.g. `RTM_SETLINK`. */
  command: string;
  /** What we were doing, in the user's terms: `xdp.attach on veth0 (ifindex 7)`. */
  context?: string;
  /** The kernel's extended-ack sentence. */
  extack?: string;
  ifindex?: number;
}

export class NetlinkRequestError extends NetlinkError {
  override name = 'NetlinkError';
  readonly context?: string;
  readonly ifindex?: number;
  /** tsbpf's explanation (what is in the way, what to do), also appended to `message`. */
  readonly detail?: string;

  constructor(f: NetlinkFailure, detail?: string, cause?: NetlinkRequestError) {
    super({
      errno: f.errno,
      ...(cause !== undefined ? { cause } : {}),
      command: f.command,
      ...(f.context !== undefined ? { context: f.context } : {}),
      ...(f.extack !== undefined ? { extack: f.extack } : {}),
    });
    if (f.context !== undefined) this.context = f.context;
    if (f.ifindex !== undefined) this.ifindex = f.ifindex;
    if (detail) {
      this.detail = detail;
      this.message += ` — ${detail}`;
    }
  }

  /** The same failure with a (different) explanation attached; this one becomes its `cause`. */
  explain(detail: string): NetlinkRequestError {
    const e = new NetlinkRequestError(
      {
        errno: this.errno,
        command: this.command,
        ...(this.context !== undefined ? { context: this.context } : {}),
        ...(this.extack !== undefined ? { extack: this.extack } : {}),
        ...(this.ifindex !== undefined ? { ifindex: this.ifindex } : {}),
      },
      detail,
      this,
    );
    return e;
  }
}
