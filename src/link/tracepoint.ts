// Tracepoint programs (`tracepoint/<category>/<name>`, the program type `tracepoint`) on a
// kernel tracepoint through a perf event: its id from tracefs (`events/<category>/<name>/id`),
// perf_event_open with PERF_TYPE_TRACEPOINT, then a perf link (5.15+, cookie) or, when asked
// for by name, the legacy ioctl. The program reads the tracepoint's record as tracefs
// `format` describes it (or as BTF's `struct trace_event_raw_<name>` with CO-RE).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { ERRNO } from '../errno-names.js';
import { BpfError, UsageError, errnoName } from '../errors.js';
import { TRACEFS_PATHS, perf_type_id } from '../syscall/abi/perf.js';
import { perfEventAttr, perfEventOpen } from '../syscall/perf.js';
import { progFd, type Link, type ProgramRef } from './link.js';
import { perfEventLink, perfEventSetBpf, u64Option, type PerfEventAttachment, type PerfEventTarget } from './perf-event.js';

export interface TracepointOptions {
  /** What `bpf_get_attach_cookie()` returns in the program (perf links, 5.15+). */
  cookie?: bigint | number;
}

/** Where tracefs is mounted: the mount table first (tracefs, then debugfs's tracing/), else the usual paths. */
export function tracefsRoot(): string {
  let text = '';
  try {
    text = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    // fall through to the usual places
  }
  const rows = text.split('\n').map((l) => l.split(' '));
  const trace = rows.find((f) => f[2] === 'tracefs')?.[1];
  if (trace !== undefined) return trace;
  const debug = rows.find((f) => f[2] === 'debugfs')?.[1];
  if (debug !== undefined && existsSync(`${debug}/tracing/events`)) return `${debug}/tracing`;
  for (const p of TRACEFS_PATHS) if (existsSync(`${p}/events`)) return p;
  throw new BpfError(
    { errno: ERRNO.ENOENT, command: 'open(tracefs)' },
    'tracefs is not mounted: tracepoints are found in it (mount -t tracefs nodev /sys/kernel/tracing)',
  );
}

function checkPart(what: string, part: string, s: unknown): asserts s is string {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(s))
    throw new UsageError(`${what}: the tracepoint ${part} must be a name like 'sched' or 'sched_switch' (letters, digits, '_', '.', '-'); got ${JSON.stringify(s)}`);
}

/** The id of tracepoint `category:name`, from tracefs. */
export function tracepointId(category: string, name: string, what = 'tracepoint'): number {
  checkPart(what, 'category', category);
  checkPart(what, 'name', name);
  const root = tracefsRoot();
  const file = `${root}/events/${category}/${name}/id`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      let hint = '';
      try {
        const names = readdirSync(`${root}/events/${category}`).filter((n) => n !== 'enable' && n !== 'filter');
        hint = ` (the ${category} category has ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`;
      } catch {
        hint = ` (there is no category '${category}' in ${root}/events)`;
      }
      throw new BpfError({ errno: ERRNO.ENOENT, command: 'open(tracefs)' }, `no tracepoint ${category}:${name} on this kernel${hint}`);
    }
    const errno = (ERRNO as Record<string, number>)[code ?? ''] ?? ERRNO.EIO;
    throw new BpfError({ errno, command: 'open(tracefs)' }, `cannot read ${file}: ${code ?? (e as Error).message}${code === 'EACCES' ? ' — tracefs needs root' : ''}`);
  }
  const id = Number(text.trim());
  if (!Number.isInteger(id) || id < 0) throw new BpfError({ errno: ERRNO.EINVAL, command: 'open(tracefs)' }, `${file} holds ${JSON.stringify(text.trim())}, not a tracepoint id`);
  return id;
}

function target(category: string, name: string, legacyCall: string): PerfEventTarget {
  return { kind: 'tracepoint', target: `${category}:${name}`, programType: 'tracepoint', legacyCall };
}

/** Opens the tracepoint's perf event (system wide: pid -1 on CPU 0 fires on every CPU for a BPF program). */
function openTracepointEvent(category: string, name: string, what: string): number {
  const id = tracepointId(category, name, what);
  const attr = perfEventAttr().set('type', perf_type_id.PERF_TYPE_TRACEPOINT).set('config', id);
  const fd = perfEventOpen(attr, -1, 0);
  if (fd >= 0) return fd;
  const errno = -fd;
  const w =
    errno === ERRNO.EACCES || errno === ERRNO.EPERM
      ? 'tracepoints need root or CAP_PERFMON (and kernel.perf_event_paranoid allowing them)'
      : errno === ERRNO.ENOENT || errno === ERRNO.EINVAL
        ? 'the kernel refused this tracepoint id (is tracefs from this kernel?)'
        : undefined;
  throw new BpfError({ errno, command: 'perf_event_open' }, `perf_event_open (tracepoint ${category}:${name}) failed: ${errnoName(errno)}${w ? ` — ${w}` : ''}`);
}

/** A tracepoint program on `category:name` through a perf link (5.15+). Closing the link detaches it. */
export function attachTracepointLink(category: string, name: string, prog: ProgramRef, opts: TracepointOptions = {}, what = 'attach a tracepoint'): Link {
  const fd = progFd(prog);
  const cookie = opts.cookie === undefined ? undefined : u64Option('cookie', opts.cookie);
  const pfd = openTracepointEvent(category, name, what);
  return perfEventLink(pfd, fd, cookie, target(category, name, 'prog.attachTracepointLegacy()'), what);
}

/** The legacy attach (PERF_EVENT_IOC_SET_BPF): the returned perf event owns it. No cookie. */
export function attachTracepointLegacy(category: string, name: string, prog: ProgramRef, what = 'attach a tracepoint (legacy)'): PerfEventAttachment {
  const fd = progFd(prog);
  const pfd = openTracepointEvent(category, name, what);
  return perfEventSetBpf(pfd, fd, target(category, name, 'prog.attachTracepointLegacy()'), what);
}
