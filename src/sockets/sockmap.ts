// sk_msg and sk_skb programs on a sockmap or sockhash the low-level way (BPF_PROG_ATTACH with
// the map's fd, 4.14+): the map holds the program until sockmap.detach (or the map is freed);
// no fd does. Links (attachSockmapLink, 6.10+) are the high level.
//
// BPF_PROG_ATTACH replaces a map's program of the same attach type without a word, so attach
// looks first (BPF_PROG_QUERY on the map, 5.19+) and refuses a taken hook unless told which
// program to replace (`replace`, checked by id) or to overwrite it (`force`).
import { BpfError, UsageError, errnoName } from '../errors.js';
import { ENOENT } from '../link/features.js';
import { progFd, type ProgramRef } from '../link/link.js';
import { progQuery, type AttachedProgram } from '../link/prog-query.js';
import { mapFd, sockmapAttachType, sockmapAttachWhy, type MapRef, type SockmapAttachType } from '../link/sockmap.js';
import { programIdentity, programNameById } from '../netlink/programs.js';
import { PROG_ATTACH_ATTR, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { ERRNO } from '../errno-names.js';

export interface SockmapAttachOptions {
  /** Replace this program, and only it (checked by id before the attach). */
  replace?: ProgramRef;
  /** Replace whatever program the hook has. */
  force?: boolean;
}

/** The program on one hook of a sockmap/sockhash (at most one; a link's program is listed too, with its link). */
export function query(map: MapRef, attachType: SockmapAttachType): AttachedProgram[] {
  const m = mapFd(map);
  const type = sockmapAttachType(attachType, 'sockmap.query');
  const r = progQuery(m, type);
  if (typeof r !== 'number') return r.programs;
  const errno = -r;
  const why = errno === ERRNO.EINVAL ? 'the map is not a sockmap or sockhash, or this kernel cannot query one (5.19+)' : sockmapAttachWhy(errno, attachType);
  throw new BpfError({ errno, command: 'BPF_PROG_QUERY' }, `BPF_PROG_QUERY (${attachType} on map fd ${m}) failed: ${errnoName(errno)}${why ? ` — ${why}` : ''}`);
}

function describe(id: number): string {
  const name = programNameById(id);
  return `program ${id}${name ? ` '${name}'` : ''}`;
}

/** Attaches a program to a sockmap/sockhash hook with BPF_PROG_ATTACH. Never replaces one silently. */
export function attach(map: MapRef, attachType: SockmapAttachType, prog: ProgramRef, opts: SockmapAttachOptions = {}): void {
  const what = 'sockmap.attach';
  const fd = progFd(prog);
  const m = mapFd(map);
  const type = sockmapAttachType(attachType, what);
  if (opts.replace !== undefined && opts.force) throw new UsageError(`${what}: replace (one expected program) and force (whatever is there) exclude each other`);
  const hook = `${attachType} on map fd ${m}`;
  if (!opts.force) {
    const current = query(m, attachType)[0];
    if (current && opts.replace === undefined)
      throw new BpfError(
        { errno: ERRNO.EEXIST, command: 'BPF_PROG_ATTACH' },
        `BPF_PROG_ATTACH (${hook}) not sent: EEXIST — ${describe(current.progId)} is attached there${current.linkId ? ` (held by link ${current.linkId})` : ''}, and attaching would replace it; pass { replace: thatProgram } or { force: true }`,
      );
    if (opts.replace !== undefined) {
      const expected = programIdentity(progFd(opts.replace, 'the program to replace'), `${what}: the program to replace`);
      if (!current || current.progId !== expected.id)
        throw new BpfError(
          { errno: ENOENT, command: 'BPF_PROG_ATTACH' },
          `BPF_PROG_ATTACH (${hook}) not sent: ENOENT — ${current ? `the hook runs ${describe(current.progId)}` : 'nothing is attached there'}, not the program to replace (id ${expected.id}); nothing changed`,
        );
    }
  }
  const attr = new Attr(PROG_ATTACH_ATTR).set('target_fd', m).set('attach_bpf_fd', fd).set('attach_type', type);
  const r = bpfAttr(bpf_cmd.BPF_PROG_ATTACH, attr);
  if (r >= 0) return;
  const errno = -r;
  const why = sockmapAttachWhy(errno, attachType);
  throw new BpfError({ errno, command: 'BPF_PROG_ATTACH' }, `BPF_PROG_ATTACH (${hook}) failed: ${errnoName(errno)}${why ? ` — ${why}` : ''}`);
}

/** Detaches a program attached with sockmap.attach. */
export function detach(map: MapRef, attachType: SockmapAttachType, prog: ProgramRef): void {
  const fd = progFd(prog);
  const m = mapFd(map);
  const type = sockmapAttachType(attachType, 'sockmap.detach');
  const attr = new Attr(PROG_ATTACH_ATTR).set('target_fd', m).set('attach_bpf_fd', fd).set('attach_type', type);
  const r = bpfAttr(bpf_cmd.BPF_PROG_DETACH, attr);
  if (r >= 0) return;
  const errno = -r;
  const why = errno === ENOENT ? 'the program is not attached there (a link holds its program until closed)' : sockmapAttachWhy(errno, attachType);
  throw new BpfError({ errno, command: 'BPF_PROG_DETACH' }, `BPF_PROG_DETACH (${attachType} on map fd ${m}) failed: ${errnoName(errno)}${why ? ` — ${why}` : ''}`);
}
