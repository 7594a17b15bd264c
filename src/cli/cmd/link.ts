// tsbpf link list|show|pin|detach
import { cgroup, ifname, listLinks, type LinkInfo } from '../../index.js';
import { type Verb, flag, positionals } from '../command.js';
import { CliUsageError } from '../errors.js';
import { table } from '../output.js';
import { openLink, parseRef } from '../refs.js';
import { unpinVerb } from './unpin.js';

export function ifaceName(index: number): string | undefined {
  try {
    return ifname(index);
  } catch {
    return undefined;
  }
}

function target(l: LinkInfo): string {
  const r = l as LinkInfo & Record<string, unknown>;
  const parts: string[] = [];
  if (typeof r.ifindex === 'number') parts.push(r.ifindex ? `dev ${ifaceName(r.ifindex) ?? '?'} (ifindex ${r.ifindex})` : 'dev -');
  if (typeof r.attachType === 'string') parts.push(r.attachType);
  if (typeof r.tpName === 'string') parts.push(`tp ${r.tpName}`);
  if (typeof r.targetName === 'string') parts.push(`iter ${r.targetName}`);
  if (typeof r.cgroupId === 'bigint') parts.push(`cgroup ${cgroupPathOf(r.cgroupId) ?? '?'} (id ${r.cgroupId})`);
  if (typeof r.netnsIno === 'number') parts.push(`netns ${r.netnsIno}`);
  if (typeof r.mapId === 'number') parts.push(`map ${r.mapId}`);
  if (l.type === 'netfilter') parts.push(`netfilter ${l.family} ${l.hook} priority ${l.priority}${l.defrag ? ' defrag' : ''}`);
  if (l.type === 'kprobe_multi') parts.push(`${l.count} ${l.retprobe ? 'kretprobes' : 'kprobes'}`);
  if (l.type === 'uprobe_multi') parts.push(`${l.flags & 1 ? 'uretprobes' : 'uprobes'} ${l.path} (${l.count})${l.pid ? ` pid ${l.pid}` : ''}`);
  if (l.type === 'perf_event') {
    if (l.kprobe) parts.push(`${l.perfEventKind} ${l.kprobe.function}${l.kprobe.offset ? `+0x${l.kprobe.offset.toString(16)}` : ''}`);
    else if (l.uprobe) parts.push(`${l.perfEventKind} ${l.uprobe.path}+0x${l.uprobe.offset.toString(16)}`);
    else if (l.tracepoint) parts.push(`tracepoint ${l.tracepoint.name}`);
    else if (l.perfEventKind) parts.push(l.perfEventKind);
  }
  if (l.detached) parts.push('(detached)');
  return parts.join(' ') || '-';
}

/** Where a cgroup id lives on the cgroup v2 mount (a directory walk, so only for display). */
function cgroupPathOf(id: bigint): string | undefined {
  try {
    return id ? cgroup.cgroupPath(id) : undefined;
  } catch {
    return undefined;
  }
}

function linkJson(l: LinkInfo) {
  const r = l as LinkInfo & { ifindex?: number; cgroupId?: bigint };
  const name = typeof r.ifindex === 'number' && r.ifindex ? ifaceName(r.ifindex) : undefined;
  const path = typeof r.cgroupId === 'bigint' ? cgroupPathOf(r.cgroupId) : undefined;
  return { ...l, ...(name !== undefined ? { ifname: name } : {}), ...(path !== undefined ? { cgroupPath: path } : {}) };
}

const list: Verb = {
  name: 'link list',
  usage: 'link list',
  summary: 'every bpf link in the system (like bpftool link list)',
  run(args) {
    positionals(args, 0, 0, this.usage);
    const links = listLinks();
    return {
      data: links.map(linkJson),
      human: () => table(['ID', 'TYPE', 'PROG', 'ATTACHED TO'], links.map((l) => [l.id, l.type, l.progId || '-', target(l)])),
    };
  },
};

const show: Verb = {
  name: 'link show',
  usage: 'link show ID|PIN',
  summary: 'one link: type, program, what it is attached to',
  run(args) {
    const [ref] = positionals(args, 1, 1, this.usage);
    const link = openLink(parseRef(ref, 'link', this.usage));
    try {
      const info = link.info();
      const j = linkJson(info);
      return {
        data: j,
        human: () => [`id      ${info.id}`, `type    ${info.type}`, `prog    ${info.progId || '-'}`, `target  ${target(info)}`].join('\n'),
      };
    } finally {
      link.close();
    }
  },
};

const pin: Verb = {
  name: 'link pin',
  usage: 'link pin ID|PIN PATH',
  summary: 'pin a link on bpffs so that it outlives every process holding it',
  run(args) {
    const [ref, path] = positionals(args, 2, 2, this.usage);
    const link = openLink(parseRef(ref, 'link', this.usage));
    try {
      link.pin(path!);
      const id = link.info().id;
      return { data: { id, pinned: path }, human: () => `pinned link ${id} at ${path}` };
    } finally {
      link.close();
    }
  },
};

const detach: Verb = {
  name: 'link detach',
  usage: 'link detach ID|PIN [--unpin]',
  summary: 'detach a link from its hook now (BPF_LINK_DETACH), whoever holds it',
  help: [
    'The program stops running at once. The link object itself lives on, defunct, while a pin',
    'or an fd holds it: a pin is kept unless --unpin (given PIN) removes it; pins of a link',
    'named by ID are kept (tsbpf link unpin PATH removes one).',
  ].join('\n'),
  options: { unpin: {} },
  run(args) {
    const [ref] = positionals(args, 1, 1, this.usage);
    const r = parseRef(ref, 'link', this.usage);
    const unpin = flag(args, 'unpin');
    if (unpin && !('pin' in r)) throw new CliUsageError('--unpin removes the pin the link was named by: name it by PIN, or use tsbpf link unpin PATH', this.usage);
    const link = openLink(r);
    try {
      const before = link.info();
      link.detach();
      const after = link.info();
      const pin = 'pin' in r ? r.pin : undefined;
      if (pin !== undefined && unpin) link.unpin(pin);
      const said =
        pin === undefined
          ? 'its pins, if any, are kept (tsbpf link unpin PATH)'
          : unpin
            ? `removed its pin ${pin}`
            : `its pin ${pin} is kept and holds the defunct link (remove it with --unpin or tsbpf link unpin ${pin})`;
      return {
        data: { id: before.id, type: before.type, progId: before.progId, detached: after.detached ?? true, ...(pin !== undefined ? { pin, unpinned: unpin } : {}) },
        human: () => `detached link ${before.id} (${before.type}, prog ${before.progId}); ${said}`,
      };
    } finally {
      link.close();
    }
  },
};

export const linkVerbs: Verb[] = [list, show, pin, unpinVerb('link'), detach];
