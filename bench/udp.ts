/**
 * What a UDP device socket costs: DNS queries per CPU-second of the querying
 * process, netio against the node:dgram fallback (and dnsperf, the C tool, when
 * it is installed), against one local caching dnsmasq answering from its cache.
 * Each device sends the DNS example's A query, waits for the answer and checks
 * its ID, in a closed loop. Devices are the generator's socket connections
 * without the QuickJS sandbox (bench:sandbox covers that), each engine in a
 * child process of its own; CPU is that child's user+system over the window.
 *
 *   node dist/bench/udp.js [--duration 10] [--devices 100] [--quick]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SocketConnection, Target } from '../ts/generator/protocols/device-connection.js';
import { createSocketConnection, type SocketEngine } from '../ts/generator/protocols/socket-transport.js';
import { startDnsServer } from '../test/support/dns-server.js';

const NAME = 'stressgrid.com';

interface Result {
  engine: string;
  devices: number;
  queries: number;
  cpuUs: number;
  seconds: number;
}

const sink = { count() {}, duration() {} };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function query(id: number): Buffer {
  const labels = NAME.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  return Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
}

async function child(engine: SocketEngine, port: number, devices: number, seconds: number): Promise<Result> {
  const target: Target = { ip: '127.0.0.1', port, protocol: 'udp', hostname: '127.0.0.1', verifyTls: false };
  const connections: SocketConnection[] = Array.from({ length: devices }, () => createSocketConnection(target, sink, undefined, engine));
  await Promise.all(connections.map((c) => c.connect()));
  const queries = Array.from({ length: 256 }, (_, id) => query(id));
  let answered = 0;
  let running = true;
  const loops = connections.map(async (c, i) => {
    for (let id = i % 256; running; id = (id + 1) % 256) {
      await c.send(queries[id]!);
      const answer = await c.recv(5000);
      if (answer[1] !== id) throw new Error(`answer for ID ${answer[1]}, asked ${id}`);
      answered++;
    }
  });
  await sleep(1000);
  const cpu0 = process.cpuUsage();
  const answered0 = answered;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const result = { engine, devices, queries: answered - answered0, cpuUs: cpu.user + cpu.system, seconds: (performance.now() - t0) / 1000 };
  running = false;
  await Promise.all(loops);
  for (const c of connections) c.close();
  return result;
}

function runChild(args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as Result) : reject(new Error(`child exited with ${code}`))));
  });
}

/** dnsperf for `seconds` with `clients` sockets, or undefined when it is not installed. */
async function dnsperf(port: number, clients: number, seconds: number): Promise<Result | undefined> {
  if (spawnSync('dnsperf', ['-h']).error) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'sg-dnsperf-'));
  try {
    const file = join(dir, 'queries');
    await writeFile(file, `${NAME} A\n`);
    const script = `dnsperf -s 127.0.0.1 -p ${port} -d ${file} -l ${seconds} -c ${clients} -q ${clients} -Q 1000000; times`;
    const t0 = performance.now();
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
    const wall = (performance.now() - t0) / 1000;
    const completed = /Queries completed:\s+(\d+)/.exec(r.stdout);
    const [user, system] = [...(r.stdout.trim().split('\n').pop() ?? '').matchAll(/(\d+)m([\d.]+)s/g)].map((m) => (Number(m[1]) * 60 + Number(m[2])) * 1e6);
    return { engine: 'dnsperf', devices: clients, queries: Number(completed?.[1] ?? NaN), cpuUs: (user ?? NaN) + (system ?? NaN), seconds: wall };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    const [, engine, port, devices, seconds] = argv as [string, SocketEngine, string, string, string];
    console.log(JSON.stringify(await child(engine, Number(port), Number(devices), Number(seconds))));
    return;
  }
  const option = (name: string, fallback: number): number => {
    const at = argv.indexOf(name);
    return at >= 0 ? Number(argv[at + 1]) : fallback;
  };
  const quick = argv.includes('--quick');
  const duration = option('--duration', quick ? 3 : 10);
  const devices = option('--devices', 100);
  const dns = await startDnsServer({ logQueries: false });
  try {
    console.log(
      `bench:udp — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(`caching dnsmasq on 127.0.0.1:${dns.port}; ${devices} devices; ${duration} s windows\n`);
    const results: Result[] = [];
    for (const engine of ['netio', 'node'] as const) results.push(await runChild([engine, String(dns.port), String(devices), String(duration)]));
    const perf = await dnsperf(dns.port, devices, duration);
    if (perf) results.push(perf);
    else console.log('(dnsperf is not installed: no C baseline)');
    const perCpuSecond = (r: Result): number => r.queries / (r.cpuUs / 1e6);
    for (const r of results) {
      console.log(
        `${r.engine.padEnd(8)} ${String(Math.round(perCpuSecond(r))).padStart(8)} queries per CPU-second  ${(r.cpuUs / r.queries).toFixed(2).padStart(6)} µs/query  ${String(Math.round(r.queries / r.seconds)).padStart(7)} queries/s`,
      );
    }
    console.log(`\nnetio / node:dgram = ${(perCpuSecond(results[0]!) / perCpuSecond(results[1]!)).toFixed(2)}x queries per CPU-second`);
  } finally {
    await dns.stop();
  }
}

await main();
