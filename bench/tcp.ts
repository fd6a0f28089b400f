/**
 * What a TCP device socket costs, netio against the node:net fallback, with
 * redis-benchmark (C, hiredis-style event loop) as the floor, all against one
 * local redis-server:
 *
 *   1. CPU per round trip of the Redis example's loop (SET key <1024 B>, read
 *      +OK, GET key, read the value), closed loop on N devices, N = 100 and
 *      10,000. A round trip is one command and its reply;
 *   2. resident memory per idle connected TCP device, 10,000 devices;
 *   3. 19,000 concurrent TCP devices in one generator process: the embedded
 *      coordinator and generator (two worker threads, QuickJS scripts), each
 *      device sending PING, checking +PONG and then waiting, under an open-file
 *      limit of 20,000 set for the bench only.
 *
 * In 1 and 2 devices are the generator's socket connections (SocketConnection)
 * driven by a plain async loop, without the QuickJS sandbox, so the figures are
 * the transport's own; the sandbox's cost per operation is bench:sandbox's subject.
 * Each engine runs in a child process of its own; CPU is user+system of that
 * whole child (all threads) from process.cpuUsage() over the measured window,
 * and redis-benchmark's from its rusage (`times` of the shell that ran it).
 *
 *   node dist/bench/tcp.js [--duration 10] [--quick]
 *
 * --quick: 3 s windows, 2,000 devices for the large runs and the idle RSS, no 19,000.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runEmbedded } from '../ts/coordinator/embedded.js';
import { isErrorMetric, METRIC } from '../ts/shared/metrics.js';
import type { Plan } from '../ts/shared/plan.js';
import type { SocketConnection, Target } from '../ts/generator/protocols/device-connection.js';
import { createSocketConnection, type SocketEngine } from '../ts/generator/protocols/socket-transport.js';
import { startRedis } from '../test/support/redis.js';

const VALUE = 'v'.repeat(1024);
const KEYS = 64;
const GET_REPLY_BYTES = `$1024\r\n`.length + 1024 + 2;
/** Connects in flight at once: more overflows the server's accept backlog and waits out SYN retries. */
const CONNECT_WAVE = 500;
const OPEN_FILES = 20_000;

interface LoopResult {
  engine: string;
  devices: number;
  roundTrips: number;
  cpuUs: number;
  seconds: number;
}

interface IdleResult {
  engine: string;
  devices: number;
  rssBefore: number;
  rssAfter: number;
}

interface GeneratorResult {
  devices: number;
  /** Most devices the live view reported active at once. */
  active: number;
  /** PONGs the scripts received and checked. */
  pongs: number;
  errors: number;
  rss: number;
}

const sink = { count() {}, duration() {} };

async function connectAll(engine: SocketEngine, port: number, devices: number): Promise<SocketConnection[]> {
  const target: Target = { ip: '127.0.0.1', port, protocol: 'tcp', hostname: '127.0.0.1', verifyTls: false };
  const all: SocketConnection[] = [];
  for (let i = 0; i < devices; i += CONNECT_WAVE) {
    const wave = Array.from({ length: Math.min(CONNECT_WAVE, devices - i) }, () => createSocketConnection(target, sink, { connectTimeoutMs: 30_000 }, engine));
    await Promise.all(wave.map((c) => c.connect()));
    all.push(...wave);
  }
  return all;
}

const setCommands = Array.from({ length: KEYS }, (_, k) => Buffer.from(`SET key${k} ${VALUE}\r\n`));
const getCommands = Array.from({ length: KEYS }, (_, k) => Buffer.from(`GET key${k}\r\n`));

async function replyOf(connection: SocketConnection, bytes: number): Promise<void> {
  let got = 0;
  while (got < bytes) got += (await connection.recv(30_000)).byteLength;
}

/** One SET and one GET: two round trips. */
async function setGet(connection: SocketConnection, k: number): Promise<void> {
  await connection.send(setCommands[k]!);
  await replyOf(connection, 5);
  await connection.send(getCommands[k]!);
  await replyOf(connection, GET_REPLY_BYTES);
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function childLoop(engine: SocketEngine, port: number, devices: number, seconds: number): Promise<LoopResult> {
  const connections = await connectAll(engine, port, devices);
  let roundTrips = 0;
  let running = true;
  const loops = connections.map(async (c, i) => {
    for (let k = i % KEYS; running; k = (k + 1) % KEYS) {
      await setGet(c, k);
      roundTrips += 2;
    }
  });
  await sleep(1000);
  const cpu0 = process.cpuUsage();
  const trips0 = roundTrips;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const result = { engine, devices, roundTrips: roundTrips - trips0, cpuUs: cpu.user + cpu.system, seconds: (performance.now() - t0) / 1000 };
  running = false;
  await Promise.all(loops);
  for (const c of connections) c.close();
  return result;
}

async function childIdle(engine: SocketEngine, port: number, devices: number): Promise<IdleResult> {
  // Load everything the connections use before the baseline: one device, closed again.
  (await connectAll(engine, port, 1))[0]!.close();
  gc();
  await sleep(500);
  const rssBefore = process.memoryUsage().rss;
  const connections = await connectAll(engine, port, devices);
  gc();
  await sleep(1000);
  gc();
  const rssAfter = process.memoryUsage().rss;
  for (const c of connections) c.close();
  return { engine, devices, rssBefore, rssAfter };
}

const IDLE_DEVICE_SCRIPT = "await send('PING\\r\\n'); if (text.decode(await recv(30000)) !== '+PONG\\r\\n') throw new Error('no PONG'); await delay(600000);";

/** Ramps `devices` up in an embedded generator; aborts once all are up, answered and settled. */
async function childGenerator(port: number, devices: number): Promise<GeneratorResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-bench-tcp-'));
  const controller = new AbortController();
  let result: GeneratorResult = { devices, active: 0, pongs: 0, errors: 0, rss: 0 };
  let settled = 0;
  const plan: Plan = { name: 'tcp-19k', blocks: [{ script: IDLE_DEVICE_SCRIPT }], addresses: [{ host: '127.0.0.1', port, protocol: 'tcp' }], size: devices, rampup: 30, sustain: 120, rampdown: 0 };
  try {
    await runEmbedded(plan, {
      dataDir,
      reportIntervalSeconds: 60,
      signal: controller.signal,
      onNotice: (m) => console.error(`stressgrid: ${m}`),
      onLive: (s) => {
        const pongs = s.counters[METRIC.receiveCount]?.total ?? 0;
        const errors = Object.entries(s.counters)
          .filter(([name]) => isErrorMetric(name))
          .reduce((sum, [, c]) => sum + (c.total ?? 0), 0);
        result = { devices, active: Math.max(result.active, s.activeDevices), pongs, errors, rss: Math.max(result.rss, process.memoryUsage.rss()) };
        settled = s.activeDevices >= devices && pongs >= devices ? settled + 1 : 0;
        if (settled >= 3 || s.elapsed > 90) controller.abort();
      },
    });
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  return result;
}

/** Runs this file as a child under the bench's open-file limit; resolves with its JSON line. */
function child<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const self = fileURLToPath(import.meta.url);
  const command = `ulimit -n ${OPEN_FILES} && exec "${process.execPath}" --expose-gc "${self}" --child ${args.map((a) => `'${a}'`).join(' ')}`;
  return new Promise((resolve, reject) => {
    const p = spawn('bash', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`child ${args.join(' ')} exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
    });
  });
}

/** redis-benchmark with `clients` connections, SET and GET of 1024 B values; its CPU from the shell's `times`. */
function redisBenchmark(port: number, clients: number, requests: number): LoopResult {
  const script = `ulimit -n ${OPEN_FILES}; redis-benchmark -h 127.0.0.1 -p ${port} -c ${clients} -n ${requests} -d 1024 -r ${KEYS} -t set,get -q > /dev/null; times`;
  const t0 = performance.now();
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  // `times` prints the shell's own user/system, then its children's: "0m1.234s 0m0.567s".
  const line = r.stdout.trim().split('\n').pop() ?? '';
  const [user, system] = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => (Number(m[1]) * 60 + Number(m[2])) * 1e6);
  return { engine: 'redis-benchmark', devices: clients, roundTrips: 2 * requests, cpuUs: (user ?? NaN) + (system ?? NaN), seconds };
}

const perTrip = (r: LoopResult): number => r.cpuUs / r.roundTrips;
const fmt = (n: number, digits = 2): string => n.toFixed(digits);

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    const [, mode, engine, port, devices, seconds] = argv as [string, string, SocketEngine, string, string, string];
    const result =
      mode === 'loop'
        ? await childLoop(engine, Number(port), Number(devices), Number(seconds))
        : mode === 'idle'
          ? await childIdle(engine, Number(port), Number(devices))
          : await childGenerator(Number(port), Number(devices));
    console.log(JSON.stringify(result));
    return;
  }
  const quick = argv.includes('--quick');
  const at = argv.indexOf('--duration');
  const duration = at >= 0 ? Number(argv[at + 1]) : quick ? 3 : 10;
  const large = quick ? 2000 : 10_000;
  const redis = await startRedis({ maxClients: OPEN_FILES });
  try {
    console.log(
      `bench:tcp — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model}, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(`redis-server on 127.0.0.1:${redis.port}; ${duration} s windows; CPU-µs per round trip (one command and its reply)\n`);
    for (const devices of [100, large]) {
      const netio = await child<LoopResult>(['loop', 'netio', String(redis.port), String(devices), String(duration)]);
      const node = await child<LoopResult>(['loop', 'node', String(redis.port), String(devices), String(duration)]);
      // As many requests as netio made in its window, so the C client runs about as long.
      const floor = redisBenchmark(redis.port, devices, Math.max(20_000, Math.round(netio.roundTrips / 2)));
      for (const r of [netio, node, floor]) {
        console.log(
          `${String(devices).padStart(6)} devices  ${r.engine.padEnd(16)} ${fmt(perTrip(r)).padStart(7)} µs/rt  ${String(Math.round(r.roundTrips / r.seconds)).padStart(7)} rt/s  (${r.roundTrips} rt, ${fmt(r.cpuUs / 1e6)} s CPU)`,
        );
      }
      console.log(`${String(devices).padStart(6)} devices  node:net / netio = ${fmt(perTrip(node) / perTrip(netio))}x   netio / redis-benchmark = ${fmt(perTrip(netio) / perTrip(floor))}x\n`);
    }
    for (const engine of ['netio', 'node'] as const) {
      const idle = await child<IdleResult>(['idle', engine, String(redis.port), String(large)]);
      console.log(
        `idle ${engine.padEnd(6)} ${large} connected devices: ${fmt((idle.rssAfter - idle.rssBefore) / idle.devices / 1024)} KB RSS each (${fmt(idle.rssBefore / 2 ** 20, 1)} → ${fmt(idle.rssAfter / 2 ** 20, 1)} MiB)`,
      );
    }
    if (!quick) {
      let clients = 0;
      const watch = setInterval(() => {
        redis.info('clients').then(
          (info) => (clients = Math.max(clients, Number(info.get('connected_clients') ?? 0))),
          () => {},
        );
      }, 1000);
      const generator = await child<GeneratorResult>(['generator', 'netio', String(redis.port), '19000']).finally(() => clearInterval(watch));
      console.log(
        `\none generator process (embedded, open-file limit ${OPEN_FILES}): ${generator.active} of ${generator.devices} TCP devices active at once, ` +
          `${generator.pongs} PONGs checked, ${generator.errors} errors, redis saw up to ${clients} clients, RSS ${fmt(generator.rss / 2 ** 20, 1)} MiB`,
      );
    }
  } finally {
    await redis.stop();
  }
}

await main();
