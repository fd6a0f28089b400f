/**
 * What an upgraded, idle WebSocket device costs over an idle HTTP one: opens
 * `--connections` device connections (the device transport, no sandbox) to a
 * `ws` echo server in a child process, measures heap and RSS, makes one HTTP
 * request on each, measures, upgrades them all, exchanges one message on each,
 * and measures again.
 *
 *   node --expose-gc dist/bench/ws-memory.js [--connections 2000]
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import type { MetricSink } from '../ts/generator/metric-sink.js';
import { Http1Connection } from '../ts/generator/protocols/http1-connection.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};

if (process.argv[2] === 'server') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  wss.on('listening', () => process.send!((wss.address() as { port: number }).port));
} else {
  const n = arg('connections', 2000);
  const server = fork(fileURLToPath(import.meta.url), ['server']);
  const port = await new Promise<number>((resolve) => server.once('message', (p) => resolve(Number(p))));
  const sink: MetricSink = { count() {}, duration() {} };
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  const measure = (): { heap: number; rss: number } => {
    gc();
    gc();
    const m = process.memoryUsage();
    return { heap: m.heapUsed, rss: m.rss };
  };
  const before = measure();
  const connections = Array.from(
    { length: n },
    () => new Http1Connection({ ip: '127.0.0.1', port, protocol: 'http', hostname: '127.0.0.1', verifyTls: false }, sink, { minorVersion: 1, connectTimeoutMs: 5000, requestTimeoutMs: 30000 }),
  );
  for (let i = 0; i < n; i += 200) await Promise.all(connections.slice(i, i + 200).map((c) => c.connect()));
  const connected = measure();
  // One plain HTTP exchange first (the server answers 426), so the socket has read and
  // written once: what remains after that is the WebSocket's own cost.
  for (let i = 0; i < n; i += 200) await Promise.all(connections.slice(i, i + 200).map((c) => c.request({ method: 'GET', path: '/', headers: [] })));
  const exchanged = measure();
  for (let i = 0; i < n; i += 200) {
    await Promise.all(
      connections.slice(i, i + 200).map(async (c) => {
        await c.wsUpgrade('/', []);
        await c.wsSend(false, 'hello');
        await c.wsReceive(5000);
      }),
    );
  }
  const upgraded = measure();
  const per = (a: number, b: number): string => `${Math.round((b - a) / n).toLocaleString('en-US')} B`;
  console.log(`${n} connections, node ${process.version}`);
  console.log(`idle HTTP/1.1 connection:          heap ${per(before.heap, connected.heap)}, RSS ${per(before.rss, connected.rss)} per connection`);
  console.log(`after one HTTP exchange (extra):   heap ${per(connected.heap, exchanged.heap)}, RSS ${per(connected.rss, exchanged.rss)} per connection`);
  console.log(`upgraded, after one echo (extra):  heap ${per(exchanged.heap, upgraded.heap)}, RSS ${per(exchanged.rss, upgraded.rss)} per connection`);
  for (const c of connections) c.close();
  server.kill();
}
