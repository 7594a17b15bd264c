// Programs that attach to a network namespace through a bpf_link (BPF_LINK_CREATE with the
// namespace's fd): sk_lookup (5.9; several per namespace, run in order, the first to pick a
// socket wins) and the flow dissector (5.7 for links; one per namespace, and one in the initial
// namespace overrides every other namespace's). The link ends with the namespace, or when closed.
import { UsageError } from '../errors.js';
import { BpfError, errnoName } from '../errors.js';
import { openNetns, type NetnsRef } from '../netns/index.js';
import { LINK_CREATE_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { NotSupportedError } from '../errors.js';
import { kernelAtLeast, kernelRelease } from '../features/index.js';
import { ERRNO } from '../errno-names.js';
import { EBADF, EEXIST, EINVAL, EPERM } from './features.js';

const { E2BIG } = ERRNO;
import { Link, progFd, type ProgramRef } from './link.js';

export type NetnsAttachType = 'sk_lookup' | 'flow_dissector';

const TYPES: Readonly<Record<NetnsAttachType, number>> = {
  sk_lookup: bpf_attach_type.BPF_SK_LOOKUP,
  flow_dissector: bpf_attach_type.BPF_FLOW_DISSECTOR,
};

/**
 * Attaches an sk_lookup or flow dissector program to a network namespace (default: the calling
 * thread's) and returns the Link that owns the attachment.
 */
export function attachNetnsLink(netns: NetnsRef | undefined, attachType: NetnsAttachType, prog: ProgramRef, what = `attach a ${attachType} link`): Link {
  const fd = progFd(prog);
  if (!Object.hasOwn(TYPES, attachType)) throw new UsageError(`${what}: a network namespace takes 'sk_lookup' or 'flow_dissector' links; got ${JSON.stringify(attachType)}`);
  const ns = openNetns(netns, what);
  try {
    const attr = new Attr(LINK_CREATE_ATTR).set('prog_fd', fd).set('target_fd', ns.fd).set('attach_type', TYPES[attachType]);
    const r = bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
    if (r >= 0) return Link.adopt(r);
    const errno = -r;
    const where = `${attachType} on ${ns.label}`;
    const say = (why: string): BpfError => new BpfError({ errno, command: 'BPF_LINK_CREATE' }, `BPF_LINK_CREATE (${where}) failed: ${errnoName(errno)} — ${why}`);
    switch (errno) {
      case EINVAL:
        // Before 5.7 BPF_LINK_CREATE knew no namespace; there is no probe for it but the version.
        if (!kernelAtLeast(kernelRelease(), '5.7'))
          throw new NotSupportedError(
            'network namespace links (BPF_LINK_CREATE on a netns fd)',
            '5.7',
            attachType === 'flow_dissector' ? 'flowDissector.attach(prog) (BPF_PROG_ATTACH: the namespace holds it, not a link fd)' : undefined,
            errno,
          );
        throw say(`the program is not a ${attachType} program (or was loaded for another attach type)`);
      case EEXIST:
        throw say(
          attachType === 'flow_dissector'
            ? 'a flow dissector is attached with BPF_PROG_ATTACH in this namespace, or one is attached in the initial namespace (which overrides every namespace): detach it first'
            : 'a program is attached here in another way',
        );
      case E2BIG:
        throw say(attachType === 'flow_dissector' ? 'the namespace already has a flow dissector link (one per namespace)' : 'the namespace has the most sk_lookup programs it takes (64)');
      case EBADF:
        throw say('the namespace fd is not a network namespace, or the program fd is not open');
      case EPERM:
        throw say('needs root or CAP_BPF + CAP_NET_ADMIN');
      default:
        throw new BpfError({ errno, command: 'BPF_LINK_CREATE', context: where });
    }
  } finally {
    ns.close();
  }
}
