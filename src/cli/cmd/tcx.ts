// tsbpf tcx attach|detach|list: the link-based multi-program tc hook (6.6+).
import { tcx, type BpfProgram } from '../../index.js';
import { BpfError } from '../../errors.js';
import { Attr, PROG_ATTACH_ATTR, bpf_cmd, bpfCall } from '../../syscall/index.js';
import { TCX_ATTACH_TYPE } from '../../tcx/direction.js';
import { type Verb, flag, positionals, str } from '../command.js';
import { CliUsageError, NotFoundError } from '../errors.js';
import { table } from '../output.js';
import { openLink, openProgram } from '../refs.js';
import { programNameOf } from './names.js';
import { SOURCE_HELP, SOURCE_OPTIONS, direction, programSource, requirePin, resolveIface } from './source.js';

/** `--before 12` (a program id) or `--before link:7` (a link id). */
function relative(v: string | undefined, opt: string, usage: string): tcx.TcxRelative | undefined {
  if (v === undefined) return undefined;
  const m = /^(link:)?(\d+)$/.exec(v);
  if (!m || Number(m[2]) <= 0) throw new CliUsageError(`--${opt} takes a program id (12) or a link id (link:7), got '${v}'`, usage);
  return m[1] ? { linkId: Number(m[2]) } : { progId: Number(m[2]) };
}

const attach: Verb = {
  name: 'tcx attach',
  usage: 'tcx attach IFACE ingress|egress FILE|PIN|ID --pin PATH [--program NAME] [--before ID|link:ID] [--after ID|link:ID] [--first|--last]',
  summary: 'attach a sched_cls program to the tcx chain through a bpf_link, pinned at PATH',
  help: [
    SOURCE_HELP,
    '--pin PATH      required: the link lives only while pinned (this command exits at once)',
    '--before/--after  position relative to a program id or a link id (link:N)',
    '--first/--last  the very front or back of the chain (default: last)',
  ].join('\n'),
  options: { ...SOURCE_OPTIONS, pin: { value: true }, before: { value: true }, after: { value: true }, first: {}, last: {} },
  run(args) {
    const [iface, d, src] = positionals(args, 3, 3, this.usage);
    const dir = direction(d, this.usage);
    const pin = requirePin(args, 'tcx attach', this.usage);
    const before = relative(str(args, 'before'), 'before', this.usage);
    const after = relative(str(args, 'after'), 'after', this.usage);
    const placements = [before, after, flag(args, 'first') || undefined, flag(args, 'last') || undefined].filter((x) => x !== undefined);
    if (placements.length > 1) throw new CliUsageError('give one of --before, --after, --first, --last', this.usage);
    const dev = resolveIface(iface, this.usage);
    const source = programSource(src!, args, ['sched_cls'], this.usage);
    try {
      const opts: tcx.TcxLinkOptions = before ? { before } : after ? { after } : flag(args, 'first') ? { before: null } : {};
      const link = source.prog.attachTcx(dev.index, dir, opts);
      try {
        link.pin(pin);
        const info = link.info();
        const chain = tcx.query(dev.index, dir);
        const position = chain.programs.findIndex((p) => p.linkId === info.id);
        const data = { ifindex: dev.index, ifname: dev.name, direction: dir, progId: info.progId, linkId: info.id, pinned: pin, position, revision: chain.revision };
        return { data, human: () => `attached prog ${info.progId} to ${dev.name} tcx ${dir} at position ${position} through link ${info.id}, pinned at ${pin}` };
      } finally {
        link.close();
      }
    } finally {
      source.close();
    }
  },
};

/** BPF_PROG_DETACH of a program attached to tcx without a link (bpftool net attach tcx_*). */
function progDetach(prog: BpfProgram, ifindex: number, dir: 'ingress' | 'egress'): void {
  const attr = new Attr(PROG_ATTACH_ATTR)
    .set('target_ifindex', ifindex)
    .set('attach_bpf_fd', prog.fd)
    .set('attach_type', TCX_ATTACH_TYPE[dir]);
  bpfCall(bpf_cmd.BPF_PROG_DETACH, attr, `detach prog from tcx ${dir} of ifindex ${ifindex}`);
}

const detach: Verb = {
  name: 'tcx detach',
  usage: 'tcx detach IFACE ingress|egress --link ID | --prog ID',
  summary: 'take a program off the tcx chain: by its link, or by program id',
  help: [
    '--link ID  detach that link (it must be on this interface and direction); its pins stay,',
    '           on a defunct link, until removed',
    '--prog ID  the program: its link is detached, or, when it was attached without a link,',
    '           it is removed with BPF_PROG_DETACH',
  ].join('\n'),
  options: { link: { value: true }, prog: { value: true } },
  run(args) {
    const [iface, d] = positionals(args, 2, 2, this.usage);
    const dir = direction(d, this.usage);
    const linkArg = str(args, 'link');
    const progArg = str(args, 'prog');
    if ((linkArg === undefined) === (progArg === undefined)) throw new CliUsageError('give exactly one of --link ID and --prog ID', this.usage);
    const dev = resolveIface(iface, this.usage);
    const chain = tcx.query(dev.index, dir);
    const id = Number(linkArg ?? progArg);
    if (!/^\d+$/.test(linkArg ?? progArg!) || id <= 0) throw new CliUsageError(`--${linkArg ? 'link' : 'prog'} takes an id, got '${linkArg ?? progArg}'`, this.usage);
    const entry = chain.programs.find((p) => (linkArg !== undefined ? p.linkId === id : p.progId === id));
    if (!entry) throw new NotFoundError(`${linkArg !== undefined ? `link ${id}` : `program ${id}`} is not on the tcx ${dir} chain of ${dev.name}`);
    if (entry.linkId !== undefined) {
      const link = openLink({ id: entry.linkId });
      try {
        link.detach();
      } finally {
        link.close();
      }
    } else {
      const prog = openProgram({ id: entry.progId });
      try {
        progDetach(prog, dev.index, dir);
      } catch (e) {
        if (e instanceof BpfError && e.code === 'ENOENT') throw new NotFoundError(`program ${entry.progId} is no longer on the tcx ${dir} chain of ${dev.name}`);
        throw e;
      } finally {
        prog.close();
      }
    }
    const data = { ifindex: dev.index, ifname: dev.name, direction: dir, progId: entry.progId, ...(entry.linkId !== undefined ? { linkId: entry.linkId } : {}) };
    return { data, human: () => `detached prog ${entry.progId}${entry.linkId !== undefined ? ` (link ${entry.linkId})` : ''} from ${dev.name} tcx ${dir}` };
  },
};

const list: Verb = {
  name: 'tcx list',
  usage: 'tcx list IFACE ingress|egress',
  summary: 'the tcx chain in run order, with the link holding each program and the revision',
  run(args) {
    const [iface, d] = positionals(args, 2, 2, this.usage);
    const dir = direction(d, this.usage);
    const dev = resolveIface(iface, this.usage);
    const chain = tcx.query(dev.index, dir);
    const programs = chain.programs.map((p, i) => ({ position: i, progId: p.progId, name: programNameOf(p.progId), ...(p.linkId !== undefined ? { linkId: p.linkId } : {}) }));
    return {
      data: { ifindex: dev.index, ifname: dev.name, direction: dir, revision: chain.revision, programs },
      human: () =>
        programs.length
          ? `${table(['POS', 'PROG', 'NAME', 'LINK'], programs.map((p) => [p.position, p.progId, p.name || '-', p.linkId ?? '-']))}\nrevision ${chain.revision}`
          : `no programs on ${dev.name} tcx ${dir} (revision ${chain.revision})`,
    };
  },
};

export const tcxVerbs: Verb[] = [attach, detach, list];
