// A veth pair whose far end lives in a network namespace of its own: the near end is in our
// namespace (BPF_LINK_CREATE resolves ifindexes there), and real packets come from the far
// end through `ip netns exec`. Unique names; cleanup removes everything even after failures.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { interfaceIndex } from '../../src/syscall/libc.js';

let seq = 0;

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a command and returns its exit status and output instead of throwing. */
export function run(cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export class VethNs {
  readonly ns: string;
  readonly hostIf: string;
  readonly nsIf: string;
  readonly hostIp: string;
  readonly nsIp: string;
  readonly ifindex: number;

  constructor() {
    const tag = `${process.pid.toString(36)}${(seq++).toString(36)}${Math.floor(Math.random() * 36 ** 2).toString(36)}`.slice(-8);
    this.ns = `tsbpf-lk-${tag}`;
    this.hostIf = `lkh${tag}`;
    this.nsIf = `lkn${tag}`;
    const a = 100 + (process.pid % 100);
    const b = Math.floor(Math.random() * 256);
    const c = Math.floor(Math.random() * 63) * 4;
    this.hostIp = `10.${a}.${b}.${c + 1}`;
    this.nsIp = `10.${a}.${b}.${c + 2}`;
    try {
      sh('ip', ['netns', 'add', this.ns]);
      sh('ip', ['link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', this.nsIf, 'netns', this.ns]);
      // No IPv6 chatter (router solicitations, DAD) on the counters.
      writeFileSync(`/proc/sys/net/ipv6/conf/${this.hostIf}/disable_ipv6`, '1');
      sh('ip', ['netns', 'exec', this.ns, 'sysctl', '-qw', `net.ipv6.conf.${this.nsIf}.disable_ipv6=1`]);
      sh('ip', ['addr', 'add', `${this.hostIp}/30`, 'dev', this.hostIf]);
      sh('ip', ['link', 'set', this.hostIf, 'up']);
      sh('ip', ['-n', this.ns, 'addr', 'add', `${this.nsIp}/30`, 'dev', this.nsIf]);
      sh('ip', ['-n', this.ns, 'link', 'set', this.nsIf, 'up']);
      sh('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
      this.ifindex = interfaceIndex(this.hostIf);
      if (!this.ifindex) throw new Error(`no ifindex for ${this.hostIf}`);
    } catch (e) {
      this.cleanup();
      throw e;
    }
  }

  /** Pings our end from inside the namespace; returns how many replies came back. */
  ping(count = 3): number {
    const r = run('ip', ['netns', 'exec', this.ns, 'ping', '-n', '-q', '-c', String(count), '-i', '0.05', '-W', '1', this.hostIp]);
    const m = /(\d+) received/.exec(r.stdout);
    return m ? Number(m[1]) : 0;
  }

  /** `ip -d -j link show` of our end. */
  linkJson(): { xdp?: { mode?: number; prog?: { id: number }; attached?: unknown } } & Record<string, unknown> {
    return JSON.parse(sh('ip', ['-d', '-j', 'link', 'show', 'dev', this.hostIf]))[0];
  }

  cleanup(): void {
    run('ip', ['link', 'del', this.hostIf]);
    run('ip', ['netns', 'del', this.ns]);
  }
}
