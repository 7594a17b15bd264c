// Tracepoints through perf events: the sock:inet_sock_set_state tracepoint sees this test's
// TCP connection open and close (events through a ring buffer, with the link's cookie), via a
// perf link and via the legacy ioctl; unknown tracepoints are named as such.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { BpfError, BpfObject, RingBuffer, UsageError, type LinkInfo } from '../../src/index.js';
import { kernelAtLeast, kernelRelease } from '../../src/features/index.js';
import { needs } from '../helpers/features.js';
import { guardFdLeaks, isRoot } from '../helpers/fd-guard.js';
import { thrown } from '../helpers/thrown.js';
import { until } from '../helpers/until.js';

const FIX = new URL('../fixtures/attach_perf.o', import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TCP = { ESTABLISHED: 1, SYN_SENT: 2, SYN_RECV: 3, FIN_WAIT1: 4, FIN_WAIT2: 5, TIME_WAIT: 6, CLOSE: 7, CLOSE_WAIT: 8, LAST_ACK: 9, LISTEN: 10 };

interface TcpEvent {
  skaddr: bigint;
  cookie: bigint;
  oldstate: number;
  newstate: number;
  sport: number;
  dport: number;
  saddr: string;
  daddr: string;
}

function decode(b: Uint8Array): TcpEvent {
  const d = Buffer.from(b);
  return {
    skaddr: d.readBigUInt64LE(0),
    cookie: d.readBigUInt64LE(8),
    oldstate: d.readInt32LE(16),
    newstate: d.readInt32LE(20),
    sport: d.readUInt16LE(24),
    dport: d.readUInt16LE(26),
    saddr: [...d.subarray(28, 32)].join('.'),
    daddr: [...d.subarray(32, 36)].join('.'),
  };
}

/** Listens, connects, exchanges a few bytes and closes both ends; returns the ports. */
async function oneConnection(server: net.Server): Promise<{ client: number; server: number }> {
  const port = (server.address() as net.AddressInfo).port;
  const c = net.connect(port, '127.0.0.1');
  await new Promise((r) => c.once('connect', r));
  const client = c.localPort!;
  c.end('bye');
  await new Promise((r) => c.once('close', r));
  await sleep(50);
  return { client, server: port };
}

async function withServer<T>(fn: (s: net.Server, port: number) => Promise<T>): Promise<T> {
  const s = net.createServer((c) => {
    c.on('data', () => {});
    c.on('end', () => c.end());
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    return await fn(s, (s.address() as net.AddressInfo).port);
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
  }
}

/**
 * The ring's events, read until both ends of the connection have reached CLOSE: the server's
 * last transition (LAST_ACK -> CLOSE) happens in softirq when the client's final ACK lands,
 * which can be after the client's socket has closed.
 */
async function connectionEvents(ring: RingBuffer, ports: { client: number; server: number }): Promise<TcpEvent[]> {
  const events: TcpEvent[] = [];
  const closed = (from: number, to: number): boolean => events.filter((e) => e.sport === from && e.dport === to).at(-1)?.newstate === TCP.CLOSE;
  await until(() => {
    events.push(...ring.drain().map(decode));
    return closed(ports.client, ports.server) && closed(ports.server, ports.client);
  });
  return events;
}

function checkConnection(events: TcpEvent[], ports: { client: number; server: number }, cookie: bigint): void {
  // The client's socket, by its address: its port is only bound after CLOSE -> SYN_SENT.
  const sk = events.find((e) => e.sport === ports.client && e.dport === ports.server)?.skaddr;
  const mine = events.filter((e) => e.skaddr === sk);
  // CLOSE -> SYN_SENT -> ESTABLISHED, …, and finally CLOSE.
  expect(mine.slice(0, 2).map((e) => [e.oldstate, e.newstate])).toEqual([
    [TCP.CLOSE, TCP.SYN_SENT],
    [TCP.SYN_SENT, TCP.ESTABLISHED],
  ]);
  expect(mine.at(-1)!.newstate).toBe(TCP.CLOSE);
  expect(mine[0]).toMatchObject({ dport: ports.server, daddr: '127.0.0.1' });
  expect(mine[1]).toMatchObject({ sport: ports.client, saddr: '127.0.0.1' });
  // The server's socket for it: SYN_RECV -> ESTABLISHED, then closed too.
  const theirs = events.filter((e) => e.sport === ports.server && e.dport === ports.client);
  expect(theirs.some((e) => e.newstate === TCP.ESTABLISHED)).toBe(true);
  expect(theirs.at(-1)!.newstate).toBe(TCP.CLOSE);
  for (const e of events) expect(e.cookie).toBe(cookie);
}

describe.runIf(isRoot)('tracepoints', () => {
  guardFdLeaks();

  // Skip reason: needs perf_link; skipped where absent or refused (the title says which).
  needs('perf_link')('sock:inet_sock_set_state sees a TCP connection open and close, with the link cookie; nothing after close', async () => {
    await withServer(async (server, port) => {
      using obj = BpfObject.open(FIX).setConstant('watch_port', port).load({ programs: ['on_tcp_state'] });
      using ring = RingBuffer.open(obj.map('tcp_events'));
      let ports;
      {
        // Category and name from the section: tracepoint/sock/inet_sock_set_state.
        using link = obj.program('on_tcp_state').attachTracepoint({ cookie: 0xc0ffeen });
        ports = await oneConnection(server);
        const info = link.info() as Extract<LinkInfo, { type: 'perf_event' }>;
        expect(info).toMatchObject({ type: 'perf_event', progId: obj.program('on_tcp_state').info().id });
        if (kernelAtLeast(kernelRelease(), '6.6')) {
          // 6.6+ describe the event (the cookie from 6.9).
          expect(info).toMatchObject({ perfEventKind: 'tracepoint', tracepoint: { name: 'inet_sock_set_state' } });
          if (kernelAtLeast(kernelRelease(), '6.9')) expect(info.tracepoint!.cookie).toBe(0xc0ffeen);
        }
      }
      checkConnection(await connectionEvents(ring, ports), ports, 0xc0ffeen);
      await oneConnection(server);
      expect(ring.drain()).toEqual([]);
    });
  });

  it('the legacy attach (PERF_EVENT_IOC_SET_BPF) sees the same; the perf event owns it; no cookie', async () => {
    await withServer(async (server, port) => {
      using obj = BpfObject.open(FIX).setConstant('watch_port', port).load({ programs: ['on_tcp_state'] });
      using ring = RingBuffer.open(obj.map('tcp_events'));
      let ports;
      {
        using ev = obj.program('on_tcp_state').attachTracepointLegacy('sock', 'inet_sock_set_state');
        expect(ev).toMatchObject({ kind: 'tracepoint', target: 'sock:inet_sock_set_state' });
        ports = await oneConnection(server);
      }
      checkConnection(await connectionEvents(ring, ports), ports, 0n);
      await oneConnection(server);
      expect(ring.drain()).toEqual([]);
    });
  });

  it('an unknown tracepoint is named as such, with what its category has; mistakes are UsageErrors', () => {
    using obj = BpfObject.open(FIX).load({ programs: ['on_tcp_state', 'on_add'] });
    const p = obj.program('on_tcp_state');
    const e = thrown<BpfError>(() => p.attachTracepoint('sock', 'no_such_tracepoint'));
    expect(e).toBeInstanceOf(BpfError);
    expect(e.code).toBe('ENOENT');
    expect(e.message).toMatch(/no tracepoint sock:no_such_tracepoint on this kernel \(the sock category has .*inet_sock_set_state/);
    expect(thrown<BpfError>(() => p.attachTracepoint('no_such_category_tsbpf', 'x')).message).toMatch(/there is no category 'no_such_category_tsbpf'/);
    expect(() => p.attachTracepoint('sock')).toThrow(/give both the tracepoint's category and its name/);
    expect(() => p.attachTracepoint('../..', 'x')).toThrow(UsageError);
    expect(() => obj.program('on_add').attachTracepoint('sock', 'inet_sock_set_state')).toThrow(/tracepoints attach tracepoint programs; this kprobe program attaches with attachKprobe\(\) or attachUprobe\(\)/);
    expect(() => p.attachTracepoint({ cookie: -1 })).toThrow(/cookie must be an unsigned 64-bit integer/);
  });
});
