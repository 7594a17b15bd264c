// tsbpf link list|show|pin|detach
import { ifname, listLinks, type LinkInfo } from '../../index.js';
import { type Verb, positionals } from '../command.js';
import { table } from '../output.js';
import { openLink, parseRef } from '../refs.js';

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
  if (typeof r.cgroupId === 'bigint') parts.push(`cgroup ${r.cgroupId}`);
  if (typeof r.netnsIno === 'number') parts.push(`netns ${r.netnsIno}`);
  if (typeof r.mapId === 'number') parts.push(`map ${r.mapId}`);
  if (l.detached) parts.push('(detached)');
  return parts.join(' ') || '-';
}

function linkJson(l: LinkInfo) {
  const r = l as LinkInfo & { ifindex?: number };
  const name = typeof r.ifindex === 'number' && r.ifindex ? ifaceName(r.ifindex) : undefined;
  return { ...l, ...(name !== undefined ? { ifname: name } : {}) };
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
  usage: 'link detach ID|PIN',
  summary: 'detach a link from its hook now (BPF_LINK_DETACH), whoever holds it',
  help: 'The program stops running at once. Pins of the link stay (on a defunct link) until removed.',
  run(args) {
    const [ref] = positionals(args, 1, 1, this.usage);
    const link = openLink(parseRef(ref, 'link', this.usage));
    try {
      const before = link.info();
      link.detach();
      const after = link.info();
      return {
        data: { id: before.id, type: before.type, progId: before.progId, detached: after.detached ?? true },
        human: () => `detached link ${before.id} (${before.type}, prog ${before.progId})${'pin' in parseRef(ref, 'link') ? `; the pin ${ref} remains on the defunct link: rm it` : ''}`,
      };
    } finally {
      link.close();
    }
  },
};

export const linkVerbs: Verb[] = [list, show, pin, detach];
