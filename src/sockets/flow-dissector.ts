// The flow dissector the low-level way (BPF_PROG_ATTACH, 4.20+): one program per network
// namespace, held by the namespace (no fd) until detached. BPF_PROG_ATTACH acts on the calling
// thread's namespace; `netns` moves the thread there for the call (src/netns). Links
// (attachNetnsLink / prog.attachFlowDissector, 5.7+) are the high level.
//
// The kernel replaces a namespace's flow dissector without a word, so attach looks first and
// refuses a namespace that has one unless told which program to replace or to overwrite it.
import { BpfError, UsageError, errnoName } from '../errors.js';
import { ERRNO } from '../errno-names.js';
import { progFd, type ProgramRef } from '../link/link.js';
import { progQuery, type AttachedProgram } from '../link/prog-query.js';
import { inNetns, openNetns, type NetnsRef } from '../netns/index.js';
import { programIdentity, programNameById } from '../netlink/programs.js';
import { PROG_ATTACH_ATTR, bpf_attach_type, bpf_cmd } from '../syscall/abi/bpf.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';

const TYPE = bpf_attach_type.BPF_FLOW_DISSECTOR;

export interface FlowDissectorOptions {
  /** The namespace (default: the calling thread's). */
  netns?: NetnsRef;
  /** Replace this program, and only it (checked by id). */
  replace?: ProgramRef;
  /** Replace whatever program the namespace has. */
  force?: boolean;
}

/** The flow dissector of a namespace: none, or one program (with its link, if a link holds it). */
export function query(netns?: NetnsRef): AttachedProgram[] {
  const ns = openNetns(netns, 'flowDissector.query');
  try {
    const r = progQuery(ns.fd, TYPE);
    if (typeof r !== 'number') return r.programs;
    throw new BpfError({ errno: -r, command: 'BPF_PROG_QUERY', context: `flow dissector of ${ns.label}` });
  } finally {
    ns.close();
  }
}

function describe(id: number): string {
  const name = programNameById(id);
  return `program ${id}${name ? ` '${name}'` : ''}`;
}

function inside<T>(netns: NetnsRef | undefined, fn: () => T): T {
  return netns === undefined ? fn() : inNetns(netns, fn);
}

/** Attaches a flow_dissector program to a namespace with BPF_PROG_ATTACH. */
export function attach(prog: ProgramRef, opts: FlowDissectorOptions = {}): void {
  const what = 'flowDissector.attach';
  const fd = progFd(prog);
  if (opts.replace !== undefined && opts.force) throw new UsageError(`${what}: replace (one expected program) and force (whatever is there) exclude each other`);
  const where = opts.netns === undefined ? "this thread's network namespace" : `network namespace ${String(opts.netns)}`;
  if (!opts.force) {
    const current = query(opts.netns)[0];
    if (current && opts.replace === undefined)
      throw new BpfError(
        { errno: ERRNO.EEXIST, command: 'BPF_PROG_ATTACH' },
        `BPF_PROG_ATTACH (flow dissector of ${where}) not sent: EEXIST — ${describe(current.progId)} is attached there${current.linkId ? ` (held by link ${current.linkId}: close it)` : ''}; pass { replace: thatProgram } or { force: true } to replace it`,
      );
    if (opts.replace !== undefined) {
      const expected = programIdentity(progFd(opts.replace, 'the program to replace'), `${what}: the program to replace`);
      if (!current || current.progId !== expected.id)
        throw new BpfError(
          { errno: ERRNO.ENOENT, command: 'BPF_PROG_ATTACH' },
          `BPF_PROG_ATTACH (flow dissector of ${where}) not sent: ENOENT — ${current ? `the namespace runs ${describe(current.progId)}` : 'the namespace has no flow dissector'}, not the program to replace (id ${expected.id})`,
        );
    }
  }
  const attr = new Attr(PROG_ATTACH_ATTR).set('attach_bpf_fd', fd).set('attach_type', TYPE);
  const r = inside(opts.netns, () => bpfAttr(bpf_cmd.BPF_PROG_ATTACH, attr));
  if (r >= 0) return;
  const errno = -r;
  const why =
    errno === ERRNO.EEXIST
      ? 'a link holds the namespace\'s flow dissector, or one is attached in the initial namespace (which overrides every namespace) or, attaching in the initial namespace, another namespace has one'
      : errno === ERRNO.EINVAL
        ? 'the program is not a flow_dissector program, or it is already the one attached'
        : undefined;
  throw new BpfError({ errno, command: 'BPF_PROG_ATTACH' }, `BPF_PROG_ATTACH (flow dissector of ${where}) failed: ${errnoName(errno)}${why ? ` — ${why}` : ''}`);
}

/** Detaches a flow dissector attached with flowDissector.attach. */
export function detach(prog: ProgramRef, opts: { netns?: NetnsRef } = {}): void {
  const fd = progFd(prog);
  const attr = new Attr(PROG_ATTACH_ATTR).set('attach_bpf_fd', fd).set('attach_type', TYPE);
  const r = inside(opts.netns, () => bpfAttr(bpf_cmd.BPF_PROG_DETACH, attr));
  if (r >= 0) return;
  const errno = -r;
  const why = errno === ERRNO.ENOENT ? 'that program is not the namespace\'s flow dissector' : errno === ERRNO.EINVAL ? 'a link holds the flow dissector (close the link instead)' : undefined;
  throw new BpfError({ errno, command: 'BPF_PROG_DETACH' }, `BPF_PROG_DETACH (flow dissector) failed: ${errnoName(errno)}${why ? ` — ${why}` : ''}`);
}
