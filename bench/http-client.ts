/**
 * Why HTTP/1 devices use the hand-written client: CPU per request and memory per
 * idle connection of it, of a raw undici Client (pipelining 1) and of node:http
 * with a keep-alive Agent, all against the same local nginx. Each measurement
 * runs in its own child process so one client's heap does not colour another's.
 * Two HTTP/2 rows (h2c, prior knowledge) follow: the device's own HTTP/2 client
 * and the least a node:http2 client can do (one session, a GET stream, its body
 * collected), which is the floor of any transport built on node:http2 and what
 * the device's client replaced.
 *
 *   node dist/bench/http-client.js [--seconds 5] [--connections 100] [--idle 5000] [--only KIND,...]
 */
import { execFile } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Client } from 'undici';
import type { MetricSink } from '../ts/generator/metric-sink.js';
import { createHttpConnection } from '../ts/generator/protocols/http-connection.js';
import { startNginx } from '../test/support/nginx.js';

const KINDS = ['stressgrid', 'undici', 'node-http', 'stressgrid-h2', 'node-http2'] as const;
type Kind = (typeof KINDS)[number];

/** One way of holding `n` keep-alive connections and sending GET / on one of them. */
interface Pool {
  get(i: number): Promise<number>;
  close(): Promise<void>;
}

const NO_SINK: MetricSink = { count() {}, duration() {} };

async function openPool(kind: Kind, port: number, n: number): Promise<Pool> {
  switch (kind) {
    case 'stressgrid':
    case 'stressgrid-h2': {
      const protocol = kind === 'stressgrid' ? 'http' : 'http2';
      const connections = Array.from({ length: n }, () => createHttpConnection({ ip: '127.0.0.1', port, protocol, hostname: '127.0.0.1', verifyTls: false }, NO_SINK));
      await Promise.all(connections.map((c) => c.connect()));
      return {
        get: async (i) => (await connections[i]!.request({ method: 'GET', path: '/', headers: [] })).body.length,
        close: () => {
          connections.forEach((c) => c.close());
          return Promise.resolve();
        },
      };
    }
    case 'undici': {
      const clients = Array.from({ length: n }, () => new Client(`http://127.0.0.1:${port}`, { pipelining: 1 }));
      return {
        get: async (i) => {
          const response = await clients[i]!.request({ method: 'GET', path: '/' });
          return (await response.body.arrayBuffer()).byteLength;
        },
        close: async () => {
          await Promise.all(clients.map((c) => c.close()));
        },
      };
    }
    case 'node-http': {
      const agent = new Agent({ keepAlive: true, maxSockets: n, maxFreeSockets: n });
      return {
        get: () =>
          new Promise((resolve, reject) => {
            httpRequest({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
              const parts: Buffer[] = [];
              res.on('data', (chunk: Buffer) => parts.push(chunk));
              res.on('end', () => resolve(Buffer.concat(parts).length));
              res.on('error', reject);
            })
              .on('error', reject)
              .end();
          }),
        close: () => {
          agent.destroy();
          return Promise.resolve();
        },
      };
    }
    case 'node-http2': {
      const sessions: ClientHttp2Session[] = Array.from({ length: n }, () => http2Connect(`http://127.0.0.1:${port}`, { settings: { enablePush: false } }));
      const headers = { ':method': 'GET', ':path': '/', ':scheme': 'http', ':authority': `127.0.0.1:${port}` };
      return {
        get: (i) =>
          new Promise((resolve, reject) => {
            const stream = sessions[i]!.request(headers);
            const parts: Buffer[] = [];
            stream.on('data', (chunk: Buffer) => parts.push(chunk));
            stream.on('end', () => resolve(Buffer.concat(parts).length));
            stream.on('error', reject);
          }),
        close: () => {
          sessions.forEach((s) => s.destroy());
          return Promise.resolve();
        },
      };
    }
  }
}

/** Child: `n` loops of back-to-back requests for `seconds`; prints CPU µs per request. */
async function measureCpu(kind: Kind, port: number, n: number, seconds: number): Promise<object> {
  const pool = await openPool(kind, port, n);
  let requests = 0;
  let measuring = false;
  let stop = false;
  const loops = Array.from({ length: n }, async (_, i) => {
    while (!stop) {
      await pool.get(i);
      if (measuring) requests++;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 500));
  measuring = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - t0) / 1000;
  measuring = false;
  stop = true;
  await Promise.all(loops);
  await pool.close();
  return {
    requestsPerSecond: Math.round(requests / elapsed),
    cpuUsPerRequest: Number(((cpu.user + cpu.system) / requests).toFixed(2)),
  };
}

/** Child: `n` connections, each used once and left idle; prints RSS and heap bytes per connection. */
async function measureIdle(kind: Kind, port: number, n: number): Promise<object> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const settle = async (): Promise<NodeJS.MemoryUsage> => {
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return process.memoryUsage();
  };
  // Warm the code paths on a few connections, so compiled code is not counted per connection.
  const warm = await openPool(kind, port, 10);
  await Promise.all(Array.from({ length: 10 }, (_, i) => warm.get(i)));
  await warm.close();
  const before = await settle();
  const pool = await openPool(kind, port, n);
  // All at once: an Agent opens a socket per concurrent request and would reuse a few for sequential ones.
  await Promise.all(Array.from({ length: n }, (_, i) => pool.get(i)));
  const after = await settle();
  const result = {
    rssBytesPerConnection: Math.round((after.rss - before.rss) / n),
    heapBytesPerConnection: Math.round((after.heapUsed - before.heapUsed) / n),
    externalBytesPerConnection: Math.round((after.external - before.external) / n),
  };
  await pool.close();
  return result;
}

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

async function main(): Promise<void> {
  const [, , mode, kind, port, n, seconds] = process.argv;
  if (mode === '--child-cpu') {
    console.log(JSON.stringify(await measureCpu(kind as Kind, Number(port), Number(n), Number(seconds))));
    return;
  }
  if (mode === '--child-idle') {
    console.log(JSON.stringify(await measureIdle(kind as Kind, Number(port), Number(n))));
    return;
  }
  const connections = option('connections', 100);
  const idle = option('idle', 5000);
  const duration = option('seconds', 5);
  const only = process.argv.indexOf('--only');
  const kinds = only === -1 ? KINDS : KINDS.filter((k) => process.argv[only + 1]!.split(',').includes(k));
  const nginx = await startNginx({ workerConnections: idle * 2 + 1000, http2: true });
  const portOf = (kind: Kind): string => String(kind.endsWith('h2') || kind.endsWith('http2') ? nginx.h2Port : nginx.port);
  const self = fileURLToPath(import.meta.url);
  const run = async (args: string[]): Promise<Record<string, number>> => {
    const { stdout } = await promisify(execFile)(process.execPath, [self, ...args], { maxBuffer: 1 << 20 });
    return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>;
  };
  try {
    console.log(`GET / (${nginx.body.length}-byte body) from nginx on loopback, node ${process.version}`);
    console.log(`\nCPU: ${connections} connections looping requests for ${duration} s`);
    for (const kind of kinds) {
      const r = await run(['--child-cpu', kind, portOf(kind), String(connections), String(duration)]);
      console.log(`  ${kind.padEnd(11)} ${String(r.cpuUsPerRequest).padStart(6)} µs CPU/request  ${String(r.requestsPerSecond).padStart(7)} req/s`);
    }
    if (idle > 0) console.log(`\nMemory: ${idle} connected idle connections (each used once)`);
    for (const kind of idle > 0 ? kinds : []) {
      const r = await run(['--child-idle', kind, portOf(kind), String(idle)]);
      console.log(
        `  ${kind.padEnd(11)} ${String(r.rssBytesPerConnection).padStart(6)} B RSS  ${String(r.heapBytesPerConnection).padStart(6)} B heap  ${String(r.externalBytesPerConnection).padStart(5)} B external  per connection`,
      );
    }
  } finally {
    await nginx.stop();
  }
}

await main();
