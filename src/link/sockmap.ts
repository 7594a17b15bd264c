// sk_msg and sk_skb programs on a sockmap or sockhash through a bpf_link (BPF_LINK_CREATE with
// the map's fd, 6.10+): the program runs for the sockets in the map while the link exists. One
// program per attach type and map. Before 6.10, sockmap.attach (BPF_PROG_ATTACH: the map holds
// the program) is the only way, and it is never chosen for you.
import { BpfError, NotSupportedError, UsageError, errnoName } from '../errors.js';
import { features } from '../features/index.js';
import { LINK_CREATE_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { EBADF, EBUSY, EEXIST, EINVAL, EPERM } from './features.js';
import { Link, progFd, type ProgramRef } from './link.js';

/** A map: a BpfMap (anything with its fd) or the fd itself. */
export type MapRef = { readonly fd: number } | number;

export function mapFd(m: MapRef, what = 'map'): number {
  const fd = typeof m === 'number' ? m : m?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0)
    throw new UsageError(`${what} must be a map (an object with an open fd, or an fd number); got ${String(fd)}`);
  return fd;
}

/** The hooks of a sockmap/sockhash: `sk_msg_verdict` (sk_msg programs), `sk_skb_stream_parser`,
 * `sk_skb_stream_verdict`, `sk_skb_verdict` (sk_skb programs). */
export type SockmapAttachType = 'sk_msg_verdict' | 'sk_skb_stream_parser' | 'sk_skb_stream_verdict' | 'sk_skb_verdict';

export const SOCKMAP_ATTACH_TYPES: Readonly<Record<SockmapAttachType, number>> = {
  sk_msg_verdict: bpf_attach_type.BPF_SK_MSG_VERDICT,
  sk_skb_stream_parser: bpf_attach_type.BPF_SK_SKB_STREAM_PARSER,
  sk_skb_stream_verdict: bpf_attach_type.BPF_SK_SKB_STREAM_VERDICT,
  sk_skb_verdict: bpf_attach_type.BPF_SK_SKB_VERDICT,
};

export function sockmapAttachType(name: string, what: string): number {
  if (!Object.hasOwn(SOCKMAP_ATTACH_TYPES, name))
    throw new UsageError(`${what}: ${JSON.stringify(name)} is not a sockmap attach type; one of ${Object.keys(SOCKMAP_ATTACH_TYPES).join(', ')}`);
  return SOCKMAP_ATTACH_TYPES[name as SockmapAttachType];
}

/** Why a sockmap attach (link or not) failed, for the errnos both share. */
export function sockmapAttachWhy(errno: number, attachType: string): string | undefined {
  switch (errno) {
    case EINVAL:
      return `the map is not a sockmap or sockhash, or the program is not a${attachType.startsWith('sk_msg') ? 'n sk_msg' : ' sk_skb'} program loaded for ${attachType}`;
    case EBUSY:
      return attachType === 'sk_skb_verdict' || attachType === 'sk_skb_stream_verdict'
        ? 'the map already has the other kind of sk_skb verdict program (sk_skb_verdict and sk_skb_stream_verdict exclude each other), or a link holds this hook'
        : 'a link already holds this hook of the map';
    case EEXIST:
      return 'this hook of the map already has this program';
    case EBADF:
      return 'the map fd or the program fd is not open';
    case EPERM:
      return 'needs root or CAP_BPF + CAP_NET_ADMIN';
    default:
      return undefined;
  }
}

/** Attaches an sk_msg/sk_skb program to a sockmap or sockhash through a link (6.10+). */
export function attachSockmapLink(map: MapRef, attachType: SockmapAttachType, prog: ProgramRef, what = 'attach a sockmap link'): Link {
  const fd = progFd(prog);
  const m = mapFd(map);
  const type = sockmapAttachType(attachType, what);
  const attr = new Attr(LINK_CREATE_ATTR).set('prog_fd', fd).set('target_fd', m).set('attach_type', type);
  const r = bpfAttr(bpf_cmd.BPF_LINK_CREATE, attr);
  if (r >= 0) return Link.adopt(r);
  const errno = -r;
  if (errno === EINVAL && features.probe('sockmap_link').status === 'absent') {
    const f = features.info('sockmap_link');
    throw new NotSupportedError(f.title, f.minKernel, `sockmap.attach(map, '${attachType}', prog) (BPF_PROG_ATTACH: the map holds the program until sockmap.detach, not a link fd)`, errno);
  }
  const why = sockmapAttachWhy(errno, attachType);
  const where = `${attachType} on map fd ${m}`;
  if (why) throw new BpfError({ errno, command: 'BPF_LINK_CREATE' }, `BPF_LINK_CREATE (${where}) failed: ${errnoName(errno)} — ${why}`);
  throw new BpfError({ errno, command: 'BPF_LINK_CREATE', context: where });
}
