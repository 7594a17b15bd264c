// What can stand in the way of a multi-program XDP change, as one error class: the hook's
// state (someone else's program, a dispatcher this protocol version cannot change, a
// dispatcher whose pins are gone), or a request the protocol cannot grant (an eleventh
// program, another mode, a program that is not there). `code` is the errno libxdp answers
// in the same situation, so scripts written against either read the same thing.
import { TsbpfError } from '../../errors.js';

export type XdpMultiProblem =
  /** the hook holds a program that is not a dispatcher */
  | 'foreign'
  /** the dispatcher is held by a bpf_link: netlink cannot swap it */
  | 'held-by-link'
  /** a dispatcher of a protocol version newer than 2: not ours to read or change */
  | 'newer-version'
  /** a version-1 dispatcher: listed, but only its last program may be removed */
  | 'older-version'
  /** a program named xdp_dispatcher whose configuration map is not one */
  | 'malformed'
  /** the dispatcher's pin directory (or a program pin in it) is missing */
  | 'unpinned'
  /** more than ten programs */
  | 'full'
  /** the dispatcher runs in another mode than the one asked for */
  | 'mode'
  /** no such program in the dispatcher, or no dispatcher */
  | 'not-found'
  /** the hook kept changing under us (compare-and-exchange lost ten times) */
  | 'busy'
  /** no bpf filesystem where the pins must go */
  | 'no-bpffs';

const CODES: Record<XdpMultiProblem, string> = {
  foreign: 'EBUSY',
  'held-by-link': 'EBUSY',
  'newer-version': 'EOPNOTSUPP',
  'older-version': 'EBUSY',
  malformed: 'EINVAL',
  unpinned: 'EBUSY',
  full: 'E2BIG',
  mode: 'EINVAL',
  'not-found': 'ENOENT',
  busy: 'EBUSY',
  'no-bpffs': 'ENOENT',
};

export class XdpMultiError extends TsbpfError {
  override name = 'XdpMultiError';
  /** The errno name libxdp gives the same refusal. */
  readonly code: string;
  constructor(
    readonly problem: XdpMultiProblem,
    readonly ifindex: number,
    message: string,
    /** The program in question (the one on the hook, or the one asked for), when there is one. */
    readonly progId?: number,
  ) {
    super(message);
    this.code = CODES[problem];
  }
}
