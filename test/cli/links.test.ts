// `tsbpf link list` and `link show` describe every attach kind this process creates: cgroup
// (with its path), netns (sk_lookup), netfilter, tracepoint, uprobe and uprobe_multi links.
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfObject, cgroup, features, type Link } from '../../src/index.js';
import { kernelAtLeast, kernelRelease } from '../../src/features/index.js';
import { isRoot } from '../helpers/fd-guard.js';
import { uprobeTarget } from '../helpers/native.js';
import { ROOT, ok } from './run.js';

const fx = (name: string) => `${ROOT}/test/fixtures/${name}`;

describe.runIf(isRoot)('tsbpf link list/show: cgroup, netns, netfilter and perf-event links', () => {
  const objs: BpfObject[] = [];
  const links: Record<string, Link> = {};
  let dir = '';
  beforeAll(() => {
    dir = `${cgroup.cgroup2Root()}/tsbpf-cli-${process.pid}`;
    mkdirSync(dir);
    const cg = BpfObject.open(fx('attach_cgroup.o')).load({ programs: ['count_egress'] });
    const so = BpfObject.open(fx('attach_sockets.o')).load({ programs: ['steer'] });
    const nf = BpfObject.open(fx('attach_netfilter.o')).load();
    const pf = BpfObject.open(fx('attach_perf.o')).load({ programs: ['on_tcp_state', 'on_add', 'on_multi'] });
    objs.push(cg, so, nf, pf);
    links.cgroup = cg.program('count_egress').attachCgroup(dir);
    links.sk_lookup = so.program('steer').attachSkLookup();
    links.netfilter = nf.program('filter_udp').attachNetfilter({ family: 'ipv4', hook: 'local_out', priority: 123 });
    links.tracepoint = pf.program('on_tcp_state').attachTracepoint();
    links.uprobe = pf.program('on_add').attachUprobe({ binary: uprobeTarget().exe, function: 'tsbpf_add' });
    if (features.has('uprobe_multi')) links.multi = pf.program('on_multi').attachUprobeMulti(uprobeTarget().exe, { pattern: 'tsbpf_*' });
  });
  afterAll(() => {
    for (const l of Object.values(links)) l.close();
    for (const o of objs) o.close();
    if (dir) rmdirSync(dir);
  });

  it('link list --json has each with its own fields; link show prints where each is attached', async () => {
    const list = (await ok('link', 'list', '--json')).json<Record<string, unknown>[]>();
    const byId = (l: Link) => list.find((x) => x.id === l.info().id);
    expect(byId(links.cgroup!)).toMatchObject({ type: 'cgroup', attachType: 'cgroup_inet_egress', cgroupPath: dir, cgroupId: Number(statSync(dir, { bigint: true }).ino) });
    expect(byId(links.sk_lookup!)).toMatchObject({ type: 'netns', attachType: 'sk_lookup', netnsIno: statSync('/proc/self/ns/net').ino });
    expect(byId(links.netfilter!)).toMatchObject({ type: 'netfilter', family: 'ipv4', hook: 'local_out', priority: 123, defrag: false });
    expect(byId(links.tracepoint!)).toMatchObject({ type: 'perf_event' });
    expect(byId(links.uprobe!)).toMatchObject({ type: 'perf_event' });
    if (links.multi) expect(byId(links.multi)).toMatchObject({ type: 'uprobe_multi', path: uprobeTarget().exe, count: 2 });

    const show = async (l: Link) => (await ok('link', 'show', String(l.info().id))).stdout;
    expect(await show(links.cgroup!)).toMatch(new RegExp(`target  cgroup_inet_egress cgroup ${dir} \\(id \\d+\\)`));
    expect(await show(links.netfilter!)).toMatch(/target  netfilter ipv4 local_out priority 123/);
    expect(await show(links.sk_lookup!)).toMatch(/target  sk_lookup netns \d+/);
    if (kernelAtLeast(kernelRelease(), '6.6')) {
      expect(await show(links.tracepoint!)).toMatch(/target  tracepoint inet_sock_set_state/);
      expect(await show(links.uprobe!)).toMatch(new RegExp(`target  uprobe ${uprobeTarget().exe}\\+0x[0-9a-f]+`));
    }
    if (links.multi) expect(await show(links.multi)).toMatch(new RegExp(`target  uprobes ${uprobeTarget().exe} \\(2\\)`));
  });
});
