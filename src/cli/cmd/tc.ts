// tsbpf tc hook create|destroy, tc attach|detach|list: legacy tc (clsact qdisc + cls_bpf
// direct-action filters).
import { tc } from '../../index.js';
import { tc_h, tcHandle } from '../../netlink/abi.js';
import { type Verb, flag, num, positionals } from '../command.js';
import { CliUsageError } from '../errors.js';
import { table } from '../output.js';
import { SOURCE_HELP, SOURCE_OPTIONS, direction, programSource, resolveIface } from './source.js';

/** The hook of one direction, without creating anything (for detach, list, destroy). */
function existingHook(ifindex: number, dir: 'ingress' | 'egress', existed: boolean): tc.TcHook {
  const minor = dir === 'ingress' ? tc_h.TC_H_MIN_INGRESS : tc_h.TC_H_MIN_EGRESS;
  return { ifindex, attachPoint: dir, parent: tcHandle(tc_h.TC_H_CLSACT, minor), existed };
}

const hookCreate: Verb = {
  name: 'tc hook create',
  usage: 'tc hook create IFACE ingress|egress',
  summary: 'add the clsact qdisc that holds tc filters (fine if it is already there)',
  run(args) {
    const [iface, d] = positionals(args, 2, 2, this.usage);
    const dir = direction(d, this.usage);
    const dev = resolveIface(iface, this.usage);
    const hook = tc.hookCreate({ ifindex: dev.index, attachPoint: dir });
    const data = { ifindex: dev.index, ifname: dev.name, direction: dir, created: !hook.existed };
    return { data, human: () => (hook.existed ? `${dev.name} already has a clsact qdisc; the ${dir} hook is ready` : `created the clsact qdisc on ${dev.name}; the ${dir} hook is ready`) };
  },
};

const hookDestroy: Verb = {
  name: 'tc hook destroy',
  usage: 'tc hook destroy IFACE ingress|egress [--force]',
  summary: 'flush the hook\'s filters and remove clsact once both directions are empty',
  help: [
    'Destroying a hook deletes EVERY filter of that direction, including other applications\'.',
    'If the direction has filters, --force is required. The clsact qdisc itself is removed',
    'when neither direction has a filter left.',
  ].join('\n'),
  options: { force: {} },
  run(args) {
    const [iface, d] = positionals(args, 2, 2, this.usage);
    const dir = direction(d, this.usage);
    const dev = resolveIface(iface, this.usage);
    const filters = tc.list(existingHook(dev.index, dir, false));
    if (filters.length && !flag(args, 'force'))
      throw new CliUsageError(
        `${dev.name} ${dir} has ${filters.length} filter(s) (${filters.map((f) => `prog ${f.progId || '?'}${f.name ? ` ${f.name}` : ''} handle ${f.handle} pref ${f.priority}`).join('; ')}); destroying the hook deletes them all, other applications' included. Detach yours with 'tsbpf tc detach', or pass --force`,
        this.usage,
      );
    tc.hookDestroy(existingHook(dev.index, dir, false));
    const data = { ifindex: dev.index, ifname: dev.name, direction: dir, flushed: filters.map((f) => ({ handle: f.handle, priority: f.priority, progId: f.progId })) };
    return { data, human: () => `destroyed the ${dir} hook of ${dev.name}${filters.length ? ` (${filters.length} filter(s) flushed)` : ''}` };
  },
};

const attach: Verb = {
  name: 'tc attach',
  usage: 'tc attach IFACE ingress|egress FILE|PIN|ID [--program NAME] [--handle H] [--priority P] [--replace]',
  summary: 'attach a sched_cls program as a direct-action cls_bpf filter (creates clsact if needed)',
  help: [
    SOURCE_HELP,
    '--handle H, --priority P  place the filter exactly (default: the kernel picks; printed)',
    '--replace                 swap the program of the filter at H/P (both required)',
    'Without --replace, an occupied handle/priority fails and names the filter there.',
  ].join('\n'),
  options: { ...SOURCE_OPTIONS, handle: { value: true }, priority: { value: true }, replace: {} },
  run(args) {
    const [iface, d, src] = positionals(args, 3, 3, this.usage);
    const dir = direction(d, this.usage);
    const handle = num(args, 'handle', this.usage);
    const priority = num(args, 'priority', this.usage);
    const replace = flag(args, 'replace');
    if (replace && (!handle || !priority)) throw new CliUsageError('--replace needs --handle and --priority (the filter to swap)', this.usage);
    const dev = resolveIface(iface, this.usage);
    const source = programSource(src!, args, ['sched_cls'], this.usage);
    try {
      const hook = tc.hookCreate({ ifindex: dev.index, attachPoint: dir });
      const a = tc.attach(hook, {
        prog: source.prog,
        ...(handle !== undefined ? { handle } : {}),
        ...(priority !== undefined ? { priority } : {}),
        ...(replace ? { replace } : {}),
      });
      const data = { ifindex: dev.index, ifname: dev.name, direction: dir, handle: a.handle, priority: a.priority, progId: a.progId, hookCreated: !hook.existed };
      return { data, human: () => `attached prog ${a.progId} to ${dev.name} ${dir}: handle ${a.handle} priority ${a.priority}${replace ? ' (replaced)' : ''}` };
    } finally {
      source.close();
    }
  },
};

const detach: Verb = {
  name: 'tc detach',
  usage: 'tc detach IFACE ingress|egress --handle H --priority P',
  summary: 'remove one cls_bpf filter (the handle and priority tc attach printed)',
  options: { handle: { value: true }, priority: { value: true } },
  run(args) {
    const [iface, d] = positionals(args, 2, 2, this.usage);
    const dir = direction(d, this.usage);
    const handle = num(args, 'handle', this.usage);
    const priority = num(args, 'priority', this.usage);
    if (!handle || !priority) throw new CliUsageError('--handle and --priority are required (non-zero: zero would match every filter)', this.usage);
    const dev = resolveIface(iface, this.usage);
    const hook = existingHook(dev.index, dir, true);
    const f = tc.query(hook, { handle, priority });
    tc.detach(hook, { handle, priority });
    const data = { ifindex: dev.index, ifname: dev.name, direction: dir, handle, priority, progId: f.progId };
    return { data, human: () => `detached prog ${f.progId} (handle ${handle} priority ${priority}) from ${dev.name} ${dir}` };
  },
};

const list: Verb = {
  name: 'tc list',
  usage: 'tc list IFACE ingress|egress',
  summary: 'the cls_bpf filters of a hook, in the order they run',
  run(args) {
    const [iface, d] = positionals(args, 2, 2, this.usage);
    const dir = direction(d, this.usage);
    const dev = resolveIface(iface, this.usage);
    const filters = tc.list(existingHook(dev.index, dir, true));
    return {
      data: filters.map((f) => ({ ...f, ifindex: dev.index, ifname: dev.name, direction: dir })),
      human: () =>
        filters.length
          ? table(['PRIORITY', 'HANDLE', 'PROG', 'NAME', 'TAG', 'DA'], filters.map((f) => [f.priority, f.handle, f.progId || '-', f.name || f.filterName || '-', f.tag, f.directAction ? 'yes' : 'no']))
          : `no bpf filters on ${dev.name} ${dir}`,
    };
  },
};

export const tcVerbs: Verb[] = [hookCreate, hookDestroy, attach, detach, list];
