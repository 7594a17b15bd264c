// The link and tcx suites' view of the shared veth/netns helper (test/helpers/netns.ts): the
// near end is in our namespace (BPF_LINK_CREATE resolves ifindexes there), real packets come
// from the far end. Adds what these suites ask of it: ping → replies, `ip -d -j link` of our end.
import { execFileSync, spawnSync } from 'node:child_process';
import { createVethPair, type VethPair } from '../helpers/netns.js';

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command and returns its exit status and output instead of throwing. */
export function run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export class VethNs {
  readonly pair: VethPair;

  constructor() {
    this.pair = createVethPair();
  }

  get ns(): string {
    return this.pair.ns;
  }
  get hostIf(): string {
    return this.pair.host;
  }
  get ifindex(): number {
    return this.pair.hostIndex;
  }

  /** Pings our end from inside the namespace; returns how many replies came back. */
  ping(count = 3): number {
    return this.pair.ping(count, { intervalS: 0.05 }).received;
  }

  /** `ip -d -j link show` of our end. */
  linkJson(): { xdp?: { mode?: number; prog?: { id: number }; attached?: unknown } } & Record<string, unknown> {
    return JSON.parse(sh('ip', ['-d', '-j', 'link', 'show', 'dev', this.hostIf]))[0];
  }

  cleanup(): void {
    this.pair.destroy();
  }
}
