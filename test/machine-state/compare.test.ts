// The suite-level "machine as found" check's own rules (test/helpers/machine-state.ts), on
// made-up snapshots: what counts as this run's, what is reported, and whose it is.
import { describe, expect, it } from 'vitest';
import { byNamePins, compare, madeBy, type MachineState } from '../helpers/machine-state.js';

const state = (s: Partial<MachineState>): MachineState => ({ bpffs: [], interfaces: [], namespaces: [], ...s });
const ROOT = new URL('../../', import.meta.url).pathname;

describe('machine state comparison', () => {
  it('reports what our helpers and reference tools could have left, and only that', () => {
    const before = state({ bpffs: ['maps.debug', 'someone'], interfaces: ['lo', 'eth0'], namespaces: ['prod'] });
    const after = state({
      bpffs: ['maps.debug', 'someone', 'their-app', 'tsbpf-obj-42', 'tsbpf-obj-42/pin', 'filter_ipv4', 'tc', 'tc/globals', 'xdp'],
      interfaces: ['lo', 'eth0', 'tb42ah', 'docker0'],
      namespaces: ['prod', 'tsbpf-42-0', 'other'],
    });
    expect(compare(before, after, ['filter_ipv4']).map((c) => `${c.what}: ${c.name}`)).toEqual([
      'bpffs entry: tsbpf-obj-42', // its contents are not listed again
      'bpffs entry: filter_ipv4',
      'bpffs entry: tc',
      'bpffs entry: xdp',
      'interface: tb42ah',
      'network namespace: tsbpf-42-0',
    ]);
  });

  it('reports what a test removed that was not its own', () => {
    const before = state({ bpffs: ['myapp', 'myapp/map', 'tsbpf-maps-test-9'], interfaces: ['eth0', 'tb9ah'] });
    const after = state({ bpffs: ['myapp'], interfaces: [] });
    expect(compare(before, after, []).map((c) => `${c.change}: ${c.name}`)).toEqual(['removed: myapp/map', 'removed: eth0']);
  });

  it('traces a name to the pid of its maker (pid alone, or with a short counter after it)', () => {
    const pids = new Set([1234]);
    expect(madeBy('tsbpf-obj-1234', pids)).toBe(true);
    expect(madeBy('tsbpf-1234-3', pids)).toBe(true);
    expect(madeBy('tb1234ah', pids)).toBe(true); // tb<pid><counter in base 36>h
    expect(madeBy('tsbpf-obj-12345678', pids)).toBe(false);
    expect(madeBy('tsbpf-obj-4321', pids)).toBe(false);
    expect(madeBy('filter_ipv4', pids)).toBe(false);
  });

  it('knows the by-name pins of the objects tests load (ours and xdp-tools\')', () => {
    const names = byNamePins(ROOT);
    expect(names).toContain('proto_counts'); // test/fixtures/xdp_counter.c
    expect(names).toContain('xdp_stats_map'); // xdp-tools
    expect(names).toContain('filter_ipv4');
  });
});
