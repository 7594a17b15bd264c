// tsbpf xdp attach|detach|status
import { listInterfaces, listLinks, xdp, type BpfProgram, type InterfaceInfo, type XdpMode } from '../../index.js';
import { type Verb, flag, positionals, str } from '../command.js';
import { CliUsageError } from '../errors.js';
import { BpfError, withHint } from '../../errors.js';
import { table } from '../output.js';
import { openProgram, parseRef } from '../refs.js';
import { programNameOf } from './names.js';
import { SOURCE_HELP, SOURCE_OPTIONS, programSource, requirePin, resolveIface } from './source.js';
import { MULTI_ATTACH_HELP, components, dispatcherStatus, multiAttach, multiDetach, refuseMultiOptions, refusePlainDetach, type DispatcherStatus } from './xdp-multi.js';

const MODES: readonly XdpMode[] = ['skb', 'drv', 'hw'];

function mode(args: Parameters<Verb['run']>[0], usage: string): XdpMode | undefined {
  const m = str(args, 'mode');
  if (m === undefined) return undefined;
  if (!MODES.includes(m as XdpMode)) throw new CliUsageError(`--mode must be skb, drv or hw, got '${m}'`, usage);
  return m as XdpMode;
}

function byId(id: string | undefined, what: string, usage: string): BpfProgram | undefined {
  return id === undefined ? undefined : openProgram(parseRef(id, what, usage));
}

const attach: Verb = {
  name: 'xdp attach',
  usage: 'xdp attach IFACE FILE|PIN|ID [--program NAME] [--mode skb|drv|hw] [--replace ID] [--force] [--link --pin PATH] [--multi [--priority N] [--chain-call A,B]]',
  summary: 'attach an XDP program over netlink (default) or through a pinned bpf_link (--link)',
  help: [
    SOURCE_HELP,
    '--mode       skb (generic), drv (native) or hw (offload); default: the kernel picks',
    '--replace ID swap only if program ID is the one attached (compare-and-exchange)',
    '--force      overwrite whatever netlink-attached program is there (never a link)',
    '--link       attach through a bpf_link: nothing can replace it over netlink; needs',
    '--pin PATH   the pin that keeps the link alive after this command exits',
    'Without --replace or --force, attaching to a taken hook fails and names the program there.',
    MULTI_ATTACH_HELP,
  ].join('\n'),
  options: { ...SOURCE_OPTIONS, mode: { value: true }, replace: { value: true }, force: {}, link: {}, pin: { value: true }, multi: {}, priority: { value: true }, 'chain-call': { value: true } },
  run(args) {
    const [iface, src] = positionals(args, 2, 2, this.usage);
    const m = mode(args, this.usage);
    if (flag(args, 'multi')) return multiAttach(args, this.usage, resolveIface(iface, this.usage), src!, m);
    refuseMultiOptions(args, this.usage);
    const useLink = flag(args, 'link');
    if (useLink && (str(args, 'replace') !== undefined || flag(args, 'force')))
      throw new CliUsageError('--replace and --force are for netlink attachments; a link owns its hook (update it with the library, or detach it first)', this.usage);
    if (!useLink && str(args, 'pin') !== undefined) throw new CliUsageError('--pin pins the bpf_link: add --link (a netlink attachment needs no pin; the interface holds it)', this.usage);
    const pin = useLink ? requirePin(args, 'xdp attach --link', this.usage) : undefined;
    const dev = resolveIface(iface, this.usage);
    const replace = byId(str(args, 'replace'), 'program to replace', this.usage);
    const source = programSource(src!, args, ['xdp'], this.usage);
    try {
      const progId = source.prog.info().id;
      if (pin !== undefined) {
        const link = source.prog.attachXdp(dev.index, m ? { mode: m } : {});
        try {
          link.pin(pin);
          const linkId = link.info().id;
          const state = xdp.query(dev.index);
          const actual = MODES.find((x) => idIn(state, x) === progId) ?? m;
          const data = { ifindex: dev.index, ifname: dev.name, mode: actual, progId, linkId, pinned: pin };
          return { data, human: () => `attached prog ${progId} to ${dev.name} (${actual} mode) through link ${linkId}, pinned at ${pin}` };
        } finally {
          link.close();
        }
      }
      let a: xdp.XdpAttachment;
      try {
        a = xdp.attach(dev.index, source.prog, {
          ...(m ? { mode: m } : {}),
          ...(replace ? { replace } : {}),
          ...(flag(args, 'force') ? { force: true } : {}),
        });
      } catch (e) {
        // EBUSY: the mode asked for is taken; EEXIST without --mode: the kernel's default (native)
        // is refused because the other mode is in use.
        if (!(e instanceof BpfError && (e.code === 'EBUSY' || (e.code === 'EEXIST' && m === undefined && !replace)))) throw e;
        // Attaching what is attached already is success: the hook is as asked (docs/cli.md).
        const state = xdp.query(dev.index);
        const xdpLinks = listLinks().filter((l) => l.type === 'xdp' && l.ifindex === dev.index);
        const inUse = MODES.filter((x) => idIn(state, x) !== 0);
        const same = MODES.find((x) => idIn(state, x) === progId && (m === undefined ? inUse.length === 1 : x === m));
        if (same && !replace) {
          const heldBy = xdpLinks.find((l) => l.progId === progId)?.id;
          const data = { ifindex: dev.index, ifname: dev.name, mode: same, progId, unchanged: true, ...(heldBy !== undefined ? { linkId: heldBy } : {}) };
          return { data, human: () => `prog ${progId} is already attached to ${dev.name} (${same} mode${heldBy !== undefined ? `, held by link ${heldBy}` : ''}); nothing changed` };
        }
        // The library's advice names its options; say what they are called here, and only
        // what can work: nothing over netlink displaces a bpf_link.
        if (e.code === 'EEXIST') throw e;
        const link = xdpLinks.find((l) => l.progId !== 0 && MODES.some((x) => idIn(state, x) === l.progId && (m === undefined || x === m)));
        if (link) throw withHint(e, `on the command line: tsbpf link detach ${link.id} first (--replace and --force cannot displace a bpf_link)`);
        throw withHint(e, 'on the command line: --replace ID, --force, or tsbpf xdp detach first');
      }
      const data = { ifindex: a.ifindex, ifname: dev.name, mode: a.mode, progId: a.progId, ...(replace ? { replaced: replace.info().id } : {}) };
      return { data, human: () => `attached prog ${a.progId} to ${dev.name} (${a.mode} mode)${replace ? `, replacing prog ${data.replaced}` : ''}` };
    } finally {
      source.close();
      replace?.close();
    }
  },
};

function idIn(s: xdp.XdpState, m: XdpMode): number {
  return m === 'skb' ? s.skbProgId : m === 'drv' ? s.drvProgId : s.hwProgId;
}

const detach: Verb = {
  name: 'xdp detach',
  usage: 'xdp detach IFACE [--mode skb|drv|hw] [--expected ID] | xdp detach IFACE --multi ID|all',
  summary: 'detach the netlink-attached XDP program of an interface',
  help: [
    'Without --mode, the one mode in use is detached (several modes in use: say which).',
    '--expected ID detaches only if program ID is the one attached.',
    'Programs attached through a bpf_link are detached with `tsbpf link detach ID`.',
    '--multi ID   take program ID out of the interface\'s XDP dispatcher (all: every program,',
    '             and the dispatcher, as xdp-loader unload --all); a dispatcher is never',
    '             detached without --multi, which would leave its programs\' pins behind',
  ].join('\n'),
  options: { mode: { value: true }, expected: { value: true }, multi: { value: true } },
  run(args) {
    const [iface] = positionals(args, 1, 1, this.usage);
    const m = mode(args, this.usage);
    const dev = resolveIface(iface, this.usage);
    const which = str(args, 'multi');
    if (which !== undefined) {
      if (m !== undefined || str(args, 'expected') !== undefined) throw new CliUsageError('--mode and --expected do not go with --multi', this.usage);
      return multiDetach(which, this.usage, dev);
    }
    refusePlainDetach(dev, this.usage);
    const expected = byId(str(args, 'expected'), 'expected program', this.usage);
    try {
      const before = xdp.query(dev.index);
      const modes = m ? [m] : MODES.filter((x) => idIn(before, x) !== 0);
      try {
        xdp.detach(dev.index, { ...(m ? { mode: m } : {}), ...(expected ? { expected } : {}) });
      } catch (e) {
        if (e instanceof BpfError && e.code === 'EBUSY') {
          const link = listLinks().find((l) => l.type === 'xdp' && (l as { ifindex: number }).ifindex === dev.index);
          if (link) throw withHint(e, `on the command line: tsbpf link detach ${link.id}`);
        }
        throw e;
      }
      const after = xdp.query(dev.index);
      const detached = modes.filter((x) => idIn(before, x) !== 0 && idIn(after, x) === 0).map((x) => ({ mode: x, progId: idIn(before, x) }));
      return {
        data: { ifindex: dev.index, ifname: dev.name, detached },
        human: () => (detached.length ? detached.map((d) => `detached prog ${d.progId} (${d.mode} mode) from ${dev.name}`).join('\n') : `nothing was attached to ${dev.name}${m ? ` in ${m} mode` : ''}`),
      };
    } finally {
      expected?.close();
    }
  },
};

interface StatusEntry extends DispatcherStatus {
  ifindex: number;
  ifname: string;
  attached: string;
  programs: { mode: XdpMode; id: number; name: string; linkId?: number }[];
}

function status(ifaces: InterfaceInfo[]): StatusEntry[] {
  const links = listLinks().filter((l) => l.type === 'xdp') as { id: number; progId: number; ifindex: number }[];
  return ifaces.map((i) => {
    const programs = MODES.filter((m) => idIn(i.xdp, m) !== 0).map((m) => {
      const id = idIn(i.xdp, m);
      const link = links.find((l) => l.ifindex === i.index && l.progId === id);
      return { mode: m, id, name: programNameOf(id), ...(link ? { linkId: link.id } : {}) };
    });
    // A dispatcher's programs, like xdp-loader status lists them.
    const multi = programs.filter((p) => p.mode !== 'hw').reduce<DispatcherStatus>((acc, p) => ({ ...acc, ...dispatcherStatus(i.index, p.name) }), {});
    return { ifindex: i.index, ifname: i.name, attached: i.xdp.attached, programs, ...multi };
  });
}

const statusVerb: Verb = {
  name: 'xdp status',
  usage: 'xdp status [IFACE] [--all]',
  summary: 'XDP programs per interface and mode, the links holding them, and dispatchers\' programs',
  help: 'Without IFACE, lists the interfaces that have an XDP program (--all: every interface).\nAn XDP dispatcher (libxdp\'s protocol) is followed by its programs in run order: slot,\npriority, chain-call verdicts, link, and where they are pinned (and by whom).',
  options: { all: {} },
  run(args) {
    const [iface] = positionals(args, 0, 1, this.usage);
    let ifaces = listInterfaces();
    if (iface !== undefined) {
      const dev = resolveIface(iface, this.usage);
      ifaces = ifaces.filter((i) => i.index === dev.index);
    } else if (!flag(args, 'all')) ifaces = ifaces.filter((i) => i.xdp.attached !== 'none');
    const entries = status(ifaces);
    return {
      data: entries,
      human: () =>
        entries.length
          ? [
              table(
                ['IFACE', 'IFINDEX', 'MODE', 'PROG', 'NAME', 'LINK'],
                entries.flatMap((e) => (e.programs.length ? e.programs.map((p) => [e.ifname, e.ifindex, p.mode, p.id, p.name || '-', p.linkId ?? '-']) : [[e.ifname, e.ifindex, '-', '-', '-', '-']])),
              ),
              ...entries.flatMap((e) =>
                e.dispatcher
                  ? [`\n${e.ifname}: XDP dispatcher, programs in run order\n${components({ dispatcher: e.dispatcher, programs: e.components ?? [] })}`]
                  : e.dispatcherError
                    ? [`\n${e.ifname}: ${e.dispatcherError}`]
                    : [],
              ),
            ].join('\n')
          : 'no interface has an XDP program',
    };
  },
};

export const xdpVerbs: Verb[] = [attach, detach, statusVerb];
