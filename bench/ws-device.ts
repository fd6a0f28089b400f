/**
 * What a WebSocket round trip costs a device, beside an HTTP one: N devices (a
 * QuickJS script each, on the real device transport) in closed loop against one
 * server in a child process, either sending a 64-byte text message and awaiting
 * its echo, or POSTing 64 bytes to an echo path on a kept-alive connection.
 * CPU is user+system of this process (the devices only) per round trip; rounds
 * alternate so both see the same machine.
 *
 *   node dist/bench/ws-device.js [--devices 100] [--seconds 3] [--rounds 3]
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { attach } from '../ts/generator/device.js';
import type { MetricSink } from '../ts/generator/metric-sink.js';
import { ScriptSandbox } from '../ts/generator/sandbox/script-sandbox.js';
import { KEY } from '../ts/shared/metrics.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

const SCRIPTS = {
  websocket: "await wsUpgrade('/'); const m = 'x'.repeat(64); while (true) { await wsSendText(m); await wsReceiveText(); }",
  http: "const m = 'x'.repeat(64); while (true) { await post('/echo', {}, m); }",
} as const;
/** The counter that ticks once per round trip of each kind. */
const ROUND_TRIP_KEY = { websocket: KEY.wsReceivedFrames, http: KEY.response } as const;
type Kind = keyof typeof SCRIPTS;

if (process.argv[2] === 'server') {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res.end(Buffer.concat(chunks)));
  });
  server.keepAliveTimeout = 120_000;
  new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
} else {
  const devices = arg('devices', 100);
  const seconds = arg('seconds', 3);
  const rounds = arg('rounds', 3);
  const server = fork(fileURLToPath(import.meta.url), ['server']);
  const port = await new Promise<number>((resolve) => server.once('message', (p) => resolve(Number(p))));
  const target = { ip: '127.0.0.1', port, protocol: 'http' as const, hostname: '127.0.0.1', verifyTls: false };

  async function measure(kind: Kind): Promise<number> {
    let roundTrips = 0;
    const sink: MetricSink = {
      count(key, n = 1) {
        if (key === ROUND_TRIP_KEY[kind]) roundTrips += n;
      },
      duration() {},
    };
    const sandbox = await ScriptSandbox.create({ source: SCRIPTS[kind], params: {}, sink });
    const attached = Array.from({ length: devices }, () => attach(target, sink));
    await Promise.all(attached.map((a) => a.connection.connect()));
    attached.forEach((a, i) => void sandbox.run(i + 1, a.io).catch(() => {}));
    // Let every device get going (upgrades, first turns) before the clock starts.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const startTrips = roundTrips;
    const cpu = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const used = process.cpuUsage(cpu);
    const trips = roundTrips - startTrips;
    attached.forEach((a, i) => {
      sandbox.stop(i + 1);
      a.connection.close();
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    sandbox.dispose();
    return (used.user + used.system) / trips;
  }

  console.log(`${devices} devices in closed loop, ${seconds} s per measurement, CPU µs per round trip (this process only)`);
  const results: Record<Kind, number[]> = { websocket: [], http: [] };
  for (let r = 0; r < rounds; r++) {
    const order: Kind[] = r % 2 === 0 ? ['websocket', 'http'] : ['http', 'websocket'];
    for (const kind of order) results[kind].push(await measure(kind));
    console.log(`round ${r + 1}: websocket ${results.websocket.at(-1)!.toFixed(1)} µs, http ${results.http.at(-1)!.toFixed(1)} µs`);
  }
  const best = (xs: number[]): number => Math.min(...xs);
  console.log(`best: websocket ${best(results.websocket).toFixed(1)} µs, http ${best(results.http).toFixed(1)} µs, ratio http/websocket ${(best(results.http) / best(results.websocket)).toFixed(2)}`);
  server.kill();
}
