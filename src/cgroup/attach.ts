// cgroup programs the low-level way: BPF_PROG_ATTACH / BPF_PROG_DETACH / BPF_PROG_QUERY on a
// cgroup v2 directory (4.10+). The cgroup holds what is attached here — no fd does — until it
// is detached or the cgroup is removed. Each attach type of a cgroup is in one mode, set by its
// first program: 'multi' (BPF_F_ALLOW_MULTI: a list, the mode links use), 'override'
// (BPF_F_ALLOW_OVERRIDE: one program, descendants may put their own) or 'exclusive' (one
// program, descendants may not).
//
// In 'override' and 'exclusive' mode the kernel replaces the hook's program without a word, so
// attach looks first and refuses a taken hook unless told which program to replace (`replace`,
// checked by id) or to overwrite it (`force`). In 'multi' mode `replace` is the kernel's own
// compare-and-exchange (BPF_F_REPLACE): the program is swapped in place or nothing changes.
import { BpfError, UsageError, errnoName } from '../errors.js';
import { features } from '../features/index.js';
import {
  BPF_F_ALLOW_MULTI,
  BPF_F_ALLOW_OVERRIDE,
  BPF_F_REPLACE,
  PROG_ATTACH_ATTR,
  bpf_cmd,
} from '../syscall/abi/bpf.js';
import { ATTACH_TYPE_NAMES } from '../syscall/abi/names.js';
import { Attr } from '../syscall/attr.js';
import { bpfAttr } from '../syscall/bpf.js';
import { cgroupAttachType, featureNotSupported, type CgroupAttachType, type CgroupRelative } from '../link/cgroup.js';
import { ERRNO } from '../errno-names.js';
import { EBADF, EEXIST, EINVAL, ENOENT, EPERM, ERANGE, ESTALE } from '../link/features.js';

const { E2BIG } = ERRNO;
import { progFd, type ProgramRef } from '../link/link.js';
import { progQuery, type AttachedProgram } from '../link/prog-query.js';
import { placement } from '../link/tcx.js';
import { programIdentity, programNameById } from '../netlink/programs.js';
import { explainNotCgroup2, openCgroup, type CgroupRef, type OpenCgroup } from './ref.js';

export type CgroupMode = 'multi' | 'override' | 'exclusive';

const MODE_FLAGS: Readonly<Record<CgroupMode, number>> = {
  multi: BPF_F_ALLOW_MULTI,
  override: BPF_F_ALLOW_OVERRIDE,
  exclusive: 0,
};

export interface CgroupAttachOptions {
  /** The hook's mode (default 'multi'); it must match the mode of what is attached already. */
  mode?: CgroupMode;
  /** Replace this program, and only it. 'multi': atomically (BPF_F_REPLACE); otherwise after checking it is the one attached. */
  replace?: ProgramRef;
  /** 'override'/'exclusive': replace whatever program is attached. */
  force?: boolean;
  /** 'multi' on cgroup mprog kernels (6.16): run before / after this program or link. */
  before?: CgroupRelative;
  after?: CgroupRelative;
  /** 'multi' on cgroup mprog kernels: attach only if the hook is still at this revision. */
  expectedRevision?: number;
}

export interface CgroupProgram extends AttachedProgram {
  /** The program's name, when it could be read. */
  name?: string;
}

export interface CgroupHook {
  attachType: CgroupAttachType;
  /** The hook's mode, 'none' when nothing is attached here (always 'none' for an effective query). */
  mode: CgroupMode | 'none';
  /** Changes with every change to the hook (cgroup mprog kernels; 0 elsewhere). */
  revision: number;
  /** In run order. */
  programs: CgroupProgram[];
}

function modeOf(flags: number, count: number): CgroupMode | 'none' {
  if (flags & BPF_F_ALLOW_MULTI) return 'multi';
  if (flags & BPF_F_ALLOW_OVERRIDE) return 'override';
  return count ? 'exclusive' : 'none';
}

function describe(id: number): string {
  const name = programNameById(id);
  return `program ${id}${name ? ` '${name}'` : ''}`;
}

function queryOpen(cg: OpenCgroup, attachType: CgroupAttachType, type: number, effective: boolean): CgroupHook {
  // Link ids and revisions in the query came with mprog (6.6, tcx): older kernels refuse the fields.
  const r = progQuery(cg.fd, type, { effective, mprog: features.has('tcx') });
  if (typeof r === 'number') {
    const errno = -r;
    const say = (why: string): BpfError => new BpfError({ errno, command: 'BPF_PROG_QUERY' }, `BPF_PROG_QUERY (${attachType} on ${cg.label}) failed: ${errnoName(errno)} — ${why}`);
    if (errno === EBADF) throw say(explainNotCgroup2(cg) ?? 'the cgroup fd is not open');
    if (errno === EINVAL) throw say(`this kernel has no ${attachType} hook`);
    throw new BpfError({ errno, command: 'BPF_PROG_QUERY', context: `${attachType} on ${cg.label}` });
  }
  return {
    attachType,
    mode: effective ? 'none' : modeOf(r.attachFlags, r.programs.length),
    revision: r.revision,
    programs: r.programs.map((p) => {
      const name = programNameById(p.progId);
      return name !== undefined ? { ...p, name } : p;
    }),
  };
}

/**
 * The programs attached to one hook of a cgroup, in run order, with the hook's mode.
 * `effective`: those that run for it, inherited from ancestors included.
 */
export function query(cgroup: CgroupRef, attachType: CgroupAttachType, opts: { effective?: boolean } = {}): CgroupHook {
  const type = cgroupAttachType(attachType, 'cgroup.query');
  const cg = openCgroup(cgroup, 'cgroup.query');
  try {
    return queryOpen(cg, attachType, type, opts.effective === true);
  } finally {
    cg.close();
  }
}

/** Every cgroup hook of this cgroup that has programs (attach types this kernel lacks are skipped). */
export function list(cgroup: CgroupRef, opts: { effective?: boolean } = {}): CgroupHook[] {
  const cg = openCgroup(cgroup, 'cgroup.list');
  try {
    const out: CgroupHook[] = [];
    for (const [name, type] of ATTACH_TYPE_NAMES.byName) {
      if (!name.startsWith('cgroup_') && name !== 'lsm_cgroup') continue;
      let hook: CgroupHook;
      try {
        hook = queryOpen(cg, name as CgroupAttachType, type, opts.effective === true);
      } catch (e) {
        if (e instanceof BpfError && e.errno === EINVAL) continue; // newer than this kernel
        throw e;
      }
      if (hook.programs.length) out.push(hook);
    }
    return out;
  } finally {
    cg.close();
  }
}

/**
 * Attaches a program to a cgroup hook with BPF_PROG_ATTACH. The cgroup holds it until
 * `cgroup.detach` (or the cgroup's removal); no fd does. Never replaces a program silently.
 */
export function attach(cgroup: CgroupRef, attachType: CgroupAttachType, prog: ProgramRef, opts: CgroupAttachOptions = {}): void {
  const what = 'cgroup.attach';
  const fd = progFd(prog);
  const type = cgroupAttachType(attachType, what);
  const mode = opts.mode ?? 'multi';
  if (!Object.hasOwn(MODE_FLAGS, mode)) throw new UsageError(`${what}: mode must be 'multi', 'override' or 'exclusive'; got ${JSON.stringify(mode)}`);
  if (opts.replace !== undefined && opts.force) throw new UsageError(`${what}: replace (one expected program) and force (whatever is there) exclude each other`);
  if (opts.force && mode === 'multi') throw new UsageError(`${what}: force is for 'override' and 'exclusive' hooks; in 'multi' mode nothing is overwritten (name the program with replace)`);
  const ordered = opts.before !== undefined || opts.after !== undefined || opts.expectedRevision !== undefined;
  if (ordered && mode !== 'multi') throw new UsageError(`${what}: before/after/expectedRevision order a 'multi' hook`);
  const { flags: order, relative, what: rel } = placement(opts);
  const cg = openCgroup(cgroup, what);
  try {
    const hook = `${attachType} on ${cg.label}`;
    const attr = new Attr(PROG_ATTACH_ATTR).set('target_fd', cg.fd).set('attach_bpf_fd', fd).set('attach_type', type).set('relative_fd', relative);
    let flags = MODE_FLAGS[mode] | order;
    if (mode === 'multi') {
      if (opts.replace !== undefined) {
        flags |= BPF_F_REPLACE;
        attr.set('replace_bpf_fd', progFd(opts.replace, 'the program to replace'));
      }
    } else {
      // The kernel would replace a program here without a word: look first.
      const now = queryOpen(cg, attachType, type, false);
      const current = now.programs[0];
      if (current && now.mode === mode && !opts.force) {
        if (opts.replace === undefined)
          throw new BpfError(
            { errno: EEXIST, command: 'BPF_PROG_ATTACH' },
            `BPF_PROG_ATTACH (${hook}) not sent: EEXIST — ${describe(current.progId)} is attached there in ${mode} mode, and attaching would replace it. ` +
              'Pass { replace: thatProgram } to swap it, { force: true } to overwrite whatever is there, or use mode \'multi\' to run both',
          );
        const expected = programIdentity(progFd(opts.replace, 'the program to replace'), `${what}: the program to replace`);
        if (expected.id !== current.progId)
          throw new BpfError(
            { errno: ENOENT, command: 'BPF_PROG_ATTACH' },
            `BPF_PROG_ATTACH (${hook}) not sent: ENOENT — the hook runs ${describe(current.progId)}, not the program to replace (id ${expected.id}); nothing changed`,
          );
      } else if (!current && opts.replace !== undefined) {
        throw new BpfError({ errno: ENOENT, command: 'BPF_PROG_ATTACH' }, `BPF_PROG_ATTACH (${hook}) not sent: ENOENT — nothing is attached there to replace`);
      }
    }
    attr.set('attach_flags', flags);
    if (opts.expectedRevision !== undefined) attr.set('expected_revision', opts.expectedRevision);
    const r = bpfAttr(bpf_cmd.BPF_PROG_ATTACH, attr);
    if (r >= 0) return;
    const errno = -r;
    if (errno === EINVAL && ordered && features.probe('cgroup_mprog').status === 'absent') throw featureNotSupported('cgroup_mprog', errno);
    const say = (why: string): BpfError => new BpfError({ errno, command: 'BPF_PROG_ATTACH' }, `BPF_PROG_ATTACH (${hook}, ${mode}) failed: ${errnoName(errno)} — ${why}`);
    switch (errno) {
      case EBADF:
        throw say(explainNotCgroup2(cg) ?? 'the program fd (or the relative fd) is not open');
      case EPERM: {
        let other: string | undefined;
        try {
          const m = queryOpen(cg, attachType, type, false).mode;
          if (m !== 'none' && m !== mode) other = m;
        } catch {
          // only for the message
        }
        throw say(
          other
            ? `the hook is in ${other} mode (its first program set it); attach in ${other} mode, or detach what is there first`
            : 'the hook is in another mode (cgroup.query shows it), or this process lacks CAP_BPF/CAP_NET_ADMIN',
        );
      }
      case EEXIST:
        throw say('this program is already attached to this hook');
      case ENOENT:
        throw say(opts.replace !== undefined ? 'the program to replace is not attached to this hook (nothing changed)' : `the relative ${rel ?? 'program or link'} is not attached to this hook`);
      case EINVAL: {
        // Kernels answer a program attached twice with EINVAL (older ones with EEXIST).
        let twice = false;
        try {
          const id = programIdentity(fd, what).id;
          twice = queryOpen(cg, attachType, type, false).programs.some((p) => p.progId === id);
        } catch {
          // only for the message
        }
        throw say(twice ? 'this program is already attached to this hook' : `the program cannot attach to ${attachType}: its type, or the expected attach type it was loaded with, is for another hook`);
      }
      case E2BIG:
        throw say('the hook already has the most programs a cgroup attach type takes (64)');
      case ESTALE:
        throw say(`stale revision: the hook is no longer at revision ${opts.expectedRevision}; query it again and retry; nothing changed`);
      case ERANGE:
        throw say('before/after name positions that contradict each other');
      default:
        throw new BpfError({ errno, command: 'BPF_PROG_ATTACH', context: hook });
    }
  } finally {
    cg.close();
  }
}

/** Detaches a program attached with cgroup.attach (links go away by closing them). */
export function detach(cgroup: CgroupRef, attachType: CgroupAttachType, prog: ProgramRef): void {
  const what = 'cgroup.detach';
  const fd = progFd(prog);
  const type = cgroupAttachType(attachType, what);
  const cg = openCgroup(cgroup, what);
  try {
    const attr = new Attr(PROG_ATTACH_ATTR).set('target_fd', cg.fd).set('attach_bpf_fd', fd).set('attach_type', type);
    const r = bpfAttr(bpf_cmd.BPF_PROG_DETACH, attr);
    if (r >= 0) return;
    const errno = -r;
    const hook = `${attachType} on ${cg.label}`;
    if (errno === ENOENT)
      throw new BpfError(
        { errno, command: 'BPF_PROG_DETACH' },
        `BPF_PROG_DETACH (${hook}) failed: ENOENT — the program is not attached there with BPF_PROG_ATTACH (a program a link holds goes away when the link is closed)`,
      );
    if (errno === EBADF) throw new BpfError({ errno, command: 'BPF_PROG_DETACH' }, `BPF_PROG_DETACH (${hook}) failed: EBADF — ${explainNotCgroup2(cg) ?? 'the program fd is not open'}`);
    throw new BpfError({ errno, command: 'BPF_PROG_DETACH', context: hook });
  } finally {
    cg.close();
  }
}
