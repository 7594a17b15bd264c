// netfilter programs on a netfilter hook through a bpf_link (BPF_LINK_TYPE_NETFILTER, 6.4+): the
// program sees every IPv4 or IPv6 packet at that hook of a network namespace, ordered among
// iptables/nftables by priority, and returns NF_DROP (0) or NF_ACCEPT (1). The hook belongs to
// the namespace of the thread that creates the link (`netns` picks another). With `defrag`
// (6.6+) the program sees reassembled datagrams instead of fragments.
import { BpfError, NotSupportedError, UsageError, errnoName } from '../errors.js';
import { features, kernelAtLeast, kernelRelease } from '../features/index.js';
import { inNetns, type NetnsRef } from '../netns/index.js';
import { BPF_F_NETFILTER_IP_DEFRAG, LINK_CREATE_NETFILTER_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { NF_IP_PRI_CONNTRACK_DEFRAG, NF_IP_PRI_FIRST, NF_IP_PRI_LAST } from '../syscall/abi/net.js';
import { NETFILTER_FAMILIES, NETFILTER_HOOKS, type NetfilterFamily, type NetfilterHookName } from './netfilter-hooks.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { ERRNO } from '../errno-names.js';
import { EINVAL, EOPNOTSUPP, EPERM, ERANGE } from './features.js';
import { Link, progFd, type ProgramRef } from './link.js';

const { EAFNOSUPPORT, EPROTO, ENOENT } = ERRNO;

export type { NetfilterFamily, NetfilterHookName };

export interface NetfilterHook {
  family: NetfilterFamily;
  hook: NetfilterHookName;
  /** Order among the hook's functions (iptables' filter table is 0, conntrack -200); not INT_MIN or INT_MAX. */
  priority: number;
}

export interface NetfilterLinkOptions {
  /** Reassemble IP fragments before the program (BPF_F_NETFILTER_IP_DEFRAG, 6.6+); needs priority > -400. */
  defrag?: boolean;
  /** The network namespace whose hook to use (default: the calling thread's). */
  netns?: NetnsRef;
}

/** Attaches a netfilter program to a netfilter hook and returns the Link that owns it. */
export function attachNetfilterLink(where: NetfilterHook, prog: ProgramRef, opts: NetfilterLinkOptions = {}, what = 'attach a netfilter link'): Link {
  const fd = progFd(prog);
  if (!where || typeof where !== 'object') throw new UsageError(`${what}: the hook is { family: 'ipv4' | 'ipv6', hook: 'prerouting' | 'local_in' | …, priority }`);
  if (!Object.hasOwn(NETFILTER_FAMILIES, where.family))
    throw new UsageError(`${what}: family must be ${Object.keys(NETFILTER_FAMILIES).map((k) => `'${k}'`).join(' or ')}; got ${JSON.stringify(where.family)}`);
  if (!Object.hasOwn(NETFILTER_HOOKS, where.hook))
    throw new UsageError(`${what}: hook must be one of ${Object.keys(NETFILTER_HOOKS).join(', ')}; got ${JSON.stringify(where.hook)}`);
  const { priority } = where;
  if (!Number.isInteger(priority) || priority <= NF_IP_PRI_FIRST || priority >= NF_IP_PRI_LAST)
    throw new UsageError(`${what}: priority must be an integer strictly between INT_MIN and INT_MAX (the kernel keeps those for its own first and last hooks); got ${String(priority)}`);
  if (opts.defrag && priority <= NF_IP_PRI_CONNTRACK_DEFRAG)
    throw new UsageError(`${what}: with defrag the priority must be above ${NF_IP_PRI_CONNTRACK_DEFRAG} (after defragmentation runs); got ${priority}`);
  const label = `${where.family} ${where.hook} priority ${priority}${opts.defrag ? ' defrag' : ''}`;
  const attr = new Attr(LINK_CREATE_NETFILTER_ATTR)
    .set('prog_fd', fd)
    .set('attach_type', bpf_attach_type.BPF_NETFILTER)
    .set('pf', NETFILTER_FAMILIES[where.family])
    .set('hooknum', NETFILTER_HOOKS[where.hook])
    .set('priority', priority)
    .set('netfilter.flags', opts.defrag ? BPF_F_NETFILTER_IP_DEFRAG : 0);
  const create = (): number => bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
  const r = opts.netns === undefined ? create() : inNetns(opts.netns, create);
  if (r >= 0) return Link.adopt(r);
  const errno = -r;
  if (errno === EINVAL && features.probe('netfilter_link').status === 'absent') {
    const f = features.info('netfilter_link');
    throw new NotSupportedError(f.title, f.minKernel, f.alternative, errno);
  }
  if (errno === EOPNOTSUPP && opts.defrag && !kernelAtLeast(kernelRelease(), '6.6'))
    throw new NotSupportedError('netfilter links with IP defragmentation (BPF_F_NETFILTER_IP_DEFRAG)', '6.6', 'a netfilter link without defrag, whose program sees each fragment', errno);
  const say = (why: string): BpfError => new BpfError({ errno, command: 'BPF_LINK_CREATE' }, `BPF_LINK_CREATE (netfilter ${label}) failed: ${errnoName(errno)} — ${why}`);
  switch (errno) {
    case EINVAL:
      throw say('the program is not a netfilter program (load it from a netfilter section: expected attach type netfilter)');
    case EAFNOSUPPORT:
      throw say(`the kernel does not take netfilter links for ${where.family}`);
    case EPROTO:
      throw say(`the kernel does not take netfilter links on the ${where.hook} hook`);
    case ERANGE:
      throw say('the priority is out of the range the kernel allows here');
    case EOPNOTSUPP:
      throw say(opts.defrag ? 'this kernel cannot defragment for this family (nf_defrag_ipv4/ipv6 not available)' : 'a flag is not supported');
    case ENOENT:
      throw say('the defragmentation module (nf_defrag_ipv4/ipv6) could not be loaded');
    case EPERM:
      throw say('needs root or CAP_BPF + CAP_NET_ADMIN');
    default:
      throw new BpfError({ errno, command: 'BPF_LINK_CREATE', context: `netfilter ${label}` });
  }
}
