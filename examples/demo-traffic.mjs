// Runs inside the demo's network namespace: sends a known amount of ICMP, UDP and TCP traffic
// to the host end of the veth pair, then prints one JSON line saying exactly what it sent.
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';

const [target, secondsArg, dropPortArg, tcpPortArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const dropPort = Number(dropPortArg);
const tcpPort = Number(tcpPortArg);
const sent = { icmp: 0, udp: 0, udpToDropPort: 0, tcpConnections: 0 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ping(count) {
  return new Promise((resolve) => {
    const p = spawn('ping', ['-c', String(count), '-i', '0.2', '-W', '1', '-q', target], { stdio: 'ignore' });
    p.on('exit', () => resolve());
    p.on('error', () => resolve());
  });
}

function udp(port, n) {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    let left = n;
    const next = () => {
      if (left-- === 0) return s.close(resolve);
      s.send(Buffer.from('tsbpf demo'), port, target, next);
    };
    next();
  });
}

function tcp() {
  return new Promise((resolve) => {
    const c = net.connect({ host: target, port: tcpPort }, () => {
      c.end('hello from the namespace\n');
    });
    c.on('close', () => resolve());
    c.on('error', () => resolve());
    c.setTimeout(2000, () => c.destroy());
  });
}

for (let s = 0; s < seconds; s++) {
  const t0 = Date.now();
  await Promise.all([
    ping(3).then(() => (sent.icmp += 3)),
    udp(5353, 4).then(() => (sent.udp += 4)),
    udp(dropPort, 2).then(() => {
      sent.udp += 2;
      sent.udpToDropPort += 2;
    }),
    tcp().then(() => sent.tcpConnections++),
  ]);
  await sleep(Math.max(0, 1000 - (Date.now() - t0)));
}
process.stdout.write(JSON.stringify(sent) + '\n');
