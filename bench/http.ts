/**
 * What a Stressgrid generator costs against one local nginx, measured the way a
 * user runs it (the embedded runner, a QuickJS script per device):
 *
 *   1. CPU per request of closed-loop load (`while (true) await get('/')` on N
 *      devices) beside autocannon with as many connections and no pipelining,
 *      in the steady state and for the whole run as a user sees it (process
 *      CPU from start to exit: start-up, workers, script, archive);
 *   2. the same over HTTP/2 (h2c, prior knowledge) beside h2load (Debian's
 *      nghttp2-client) with as many connections and one stream each;
 *   3. resident memory per idle device: each device sends one GET on its
 *      keep-alive connection and then waits in `delay(60000)`;
 *   4. what timing calls cost: the closed loop of 1. with `startTiming`,
 *      `stopTiming` and `incCounter` around each request, beside the plain
 *      loop, both in the steady state.
 *
 * Every generator runs in a child process of its own, so its CPU and RSS are its
 * alone (nginx and this parent are apart). CPU is user+system of the whole child,
 * all threads, from process.cpuUsage().
 *
 *   node dist/bench/http.js [--duration 10] [--connections 100] [--idle-devices 10000]
 *     [--workers 1] [--rounds 1] [--only cpu|h2|idle|timing] [--profile DIR] [--quick]
 *
 * --quick is a smoke run: 3 s of load and 1,000 idle devices. --rounds repeats
 * the CPU comparison and pools the rounds. --profile writes V8 CPU profiles of
 * the first long Stressgrid run of each part (one per thread) into DIR.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runEmbedded } from '../ts/coordinator/embedded.js';
import { DEFAULT_REPORT_INTERVAL_SECONDS } from '../ts/coordinator/run.js';
import { METRIC, isErrorMetric } from '../ts/shared/metrics.js';
import type { LiveSnapshot } from '../ts/shared/live.js';
import type { Plan } from '../ts/shared/plan.js';
import { startNginx } from '../test/support/nginx.js';
import { runBenchChild } from './bench-child.js';
import { archiveLastRow } from './archive-last-row.js';

const CLOSED_LOOP_SCRIPT = "while (true) { await get('/'); }";
const IDLE_SCRIPT = "await get('/'); await delay(60000);";
/** The closed loop with what a script that measures itself adds to each request. */
const TIMED_LOOP_SCRIPT = "while (true) { startTiming('exchange'); await get('/'); stopTiming('exchange'); incCounter('exchanges'); }";
/** The idle devices must all be up and idle well before their 60 s delay ends and they recycle. */
const IDLE_SUSTAIN_S = 30;
/** The run whose cost, subtracted from a full one's, leaves the steady state's. */
const SHORT_RUN_S = 1;
/** Live snapshots, one a second, that must agree every device is up before RSS is read. */
const SETTLED_SNAPSHOTS = 3;

interface CpuResult {
  cpuUs: number;
  requests: number;
  errors: number;
  /** CPU of the whole process from its start to the end of the run (start-up and archive included). */
  processCpuUs?: number;
}

interface IdleResult {
  devices: number;
  rssBeforeRun: number;
  /** RSS and active devices at the first live snapshot with devices up: the runtime is up. */
  rssFirst: number;
  devicesFirst: number;
  rssAll: number;
  responses: number;
}

function plan(name: string, script: string, port: number, size: number, rampup: number, sustain: number, protocol: 'http' | 'http2' = 'http'): Plan {
  return { name, blocks: [{ script }], addresses: [{ host: '127.0.0.1', port, protocol }], size, rampup, sustain, rampdown: 0 };
}

const processCpu = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

interface Finished {
  archivePath: string;
  dataDir: string;
}

async function embedded(p: Plan, workers: number, onLive: (s: LiveSnapshot, abort: () => void) => void = () => {}): Promise<Finished> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-bench-http-'));
  const controller = new AbortController();
  const result = await runEmbedded(p, {
    dataDir,
    reportIntervalSeconds: DEFAULT_REPORT_INTERVAL_SECONDS,
    workers,
    signal: controller.signal,
    onLive: (s) => onLive(s, () => controller.abort()),
    onNotice: (m) => console.error(`stressgrid: ${m}`),
  });
  if (result.archivePath === null || result.criticalErrors > 0) {
    throw new Error(`stressgrid run ${result.outcome} with ${result.criticalErrors} critical errors: ${JSON.stringify(result.problems ?? [])}`);
  }
  return { archivePath: result.archivePath, dataDir };
}

async function totalsOf(archivePath: string): Promise<{ requests: number; errors: number }> {
  const row = await archiveLastRow(archivePath);
  const errors = Object.entries(row)
    .filter(([name]) => isErrorMetric(name) && name.endsWith('_count'))
    .reduce((sum, [, n]) => sum + n, 0);
  return { requests: row[METRIC.responseCount] ?? 0, errors };
}

/** Child: one Stressgrid run of closed-loop devices, starting and ending included. */
async function stressgridCpu(port: number, devices: number, seconds: number, workers: number, protocol: 'http' | 'http2' = 'http', script = CLOSED_LOOP_SCRIPT): Promise<CpuResult> {
  const cpu0 = process.cpuUsage();
  const run = await embedded(plan('bench-cpu', script, port, devices, 0, seconds, protocol), workers);
  const cpu = process.cpuUsage(cpu0);
  const processCpuUs = processCpu();
  const { requests, errors } = await totalsOf(run.archivePath);
  await rm(run.dataDir, { recursive: true, force: true });
  return { cpuUs: cpu.user + cpu.system, requests, errors, processCpuUs };
}

interface AutocannonResult {
  requests: { total: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}
type Autocannon = (options: { url: string; connections: number; pipelining: number; duration: number }) => Promise<AutocannonResult>;

/** Child: autocannon -c `connections` -p 1 for `seconds`. */
async function autocannonCpu(port: number, connections: number, seconds: number): Promise<CpuResult> {
  // autocannon ships no types (a specifier typed as string keeps tsc from looking for them);
  // its promise API is the documented one.
  const specifier: string = 'autocannon';
  const autocannon = ((await import(specifier)) as { default: Autocannon }).default;
  const cpu0 = process.cpuUsage();
  const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, pipelining: 1, duration: seconds });
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: cpu.user + cpu.system, requests: r.requests.total, errors: r.errors + r.timeouts + r.non2xx, processCpuUs: processCpu() };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * h2load (nghttp2-client) with `connections` clients, one stream each, for
 * `seconds`; its CPU is what the shell that waited for it reads as its
 * children's time (/proc/self/stat cutime + cstime), start to exit.
 */
function h2loadCpu(port: number, connections: number, seconds: number): Promise<CpuResult> {
  const script = 'h2load "$@" || exit $?; echo "STAT $(cat /proc/$$/stat)"';
  const args = ['-c', String(connections), '-m', '1', '-D', String(seconds), `http://127.0.0.1:${port}/`];
  const proc = spawn('/bin/sh', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  return new Promise((resolve, reject) => {
    proc.once('error', reject);
    proc.once('exit', (code) => {
      const requests = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
      const stat = /STAT .*\) (.*)$/m.exec(out);
      if (code !== 0 || !requests || !stat) return reject(new Error(`h2load failed (exit ${code}): ${out.slice(-500)}`));
      const fields = stat[1]!.split(' ');
      const cpuUs = ((Number(fields[13]) + Number(fields[14])) * 1e6) / CLOCK_TICKS;
      resolve({ cpuUs, requests: Number(requests[2]), errors: Number(requests[3]) + Number(requests[4]), processCpuUs: cpuUs });
    });
  });
}

/** Child: `devices` idle devices ramped up over `rampup` s; RSS once every one has its response and waits. */
async function stressgridIdle(port: number, devices: number, rampup: number, workers: number): Promise<IdleResult> {
  const rssBeforeRun = process.memoryUsage.rss();
  let first: { rss: number; devices: number } | undefined;
  let all: { rss: number; responses: number } | undefined;
  let settled = 0;
  const run = await embedded(plan('bench-idle', IDLE_SCRIPT, port, devices, rampup, IDLE_SUSTAIN_S), workers, (s, abort) => {
    if (all) return;
    if (!first && s.activeDevices > 0) first = { rss: process.memoryUsage.rss(), devices: s.activeDevices };
    const responses = s.counters[METRIC.responseCount]?.total ?? 0;
    settled = s.activeDevices >= devices && responses >= devices ? settled + 1 : 0;
    if (settled < SETTLED_SNAPSHOTS) return;
    all = { rss: process.memoryUsage.rss(), responses };
    abort();
  });
  await rm(run.dataDir, { recursive: true, force: true });
  if (!first || !all) throw new Error(`not all ${devices} devices were up and idle within ${rampup + IDLE_SUSTAIN_S} s`);
  return { devices, rssBeforeRun, rssFirst: first.rss, devicesFirst: first.devices, rssAll: all.rss, responses: all.responses };
}

async function child(mode: string, args: number[]): Promise<unknown> {
  const [port, n, seconds, workers] = args as [number, number, number, number];
  switch (mode) {
    case 'stressgrid-cpu':
      return stressgridCpu(port, n, seconds, workers);
    case 'stressgrid-h2-cpu':
      return stressgridCpu(port, n, seconds, workers, 'http2');
    case 'stressgrid-timed-cpu':
      return stressgridCpu(port, n, seconds, workers, 'http', TIMED_LOOP_SCRIPT);
    case 'autocannon-cpu':
      return autocannonCpu(port, n, seconds);
    case 'stressgrid-idle':
      return stressgridIdle(port, n, seconds, workers);
  }
  throw new Error(`unknown child mode ${mode}`);
}

/** Runs this file as a child in `mode` (see bench-child.ts). */
const runChild = <T>(mode: string, args: number[], nodeFlags: string[] = []): Promise<T> => runBenchChild<T>(fileURLToPath(import.meta.url), mode, args, nodeFlags);

interface Options {
  duration: number;
  connections: number;
  idleDevices: number;
  workers: number;
  rounds: number;
  profileDir: string | undefined;
  parts: { cpu: boolean; h2: boolean; idle: boolean; timing: boolean };
}

function options(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at === -1 ? undefined : argv[at + 1];
  };
  const number = (name: string, fallback: number): number => {
    const raw = value(name);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a whole number of at least 1, not ${raw}`);
    return n;
  };
  const quick = argv.includes('--quick');
  const only = value('only');
  const parts = ['cpu', 'h2', 'idle', 'timing'];
  if (only !== undefined && !parts.includes(only)) throw new Error(`--only takes ${parts.join(', ')}, not ${only}`);
  const duration = number('duration', quick ? 3 : 10);
  if (duration <= SHORT_RUN_S) throw new Error(`--duration must be more than the ${SHORT_RUN_S} s run it is compared with`);
  return {
    duration,
    connections: number('connections', 100),
    idleDevices: number('idle-devices', quick ? 1000 : 10_000),
    // One thread of load for each generator: autocannon runs on one.
    workers: number('workers', 1),
    rounds: number('rounds', 1),
    profileDir: value('profile'),
    parts: {
      cpu: only === undefined || only === 'cpu',
      h2: only === undefined || only === 'h2',
      idle: only === undefined || only === 'idle',
      timing: only === undefined || only === 'timing',
    },
  };
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const verdict = (met: boolean): string => (met ? 'met' : 'MISSED');

/** One line of the closing table: what was measured, its value, the target and whether it held. */
type SummaryRow = [measure: string, value: string, target: string];

function cpuLine(label: string, r: CpuResult, seconds: number): string {
  const cells = [
    label.padEnd(34),
    String(r.requests).padStart(9),
    String(Math.round(r.requests / seconds)).padStart(8),
    `${(r.cpuUs / 1e6).toFixed(2)} s`.padStart(10),
    (r.cpuUs / r.requests).toFixed(2).padStart(8),
    String(r.errors).padStart(6),
  ];
  return `  ${cells.join(' ')}`;
}

/**
 * The steady state: what a long run cost beyond a short one, per request it
 * served beyond it. Starting worker threads, compiling the script and writing
 * the archive happen once a run whatever its length.
 */
const beyond = (long: CpuResult, short: CpuResult): CpuResult => ({
  cpuUs: long.cpuUs - short.cpuUs,
  requests: long.requests - short.requests,
  errors: long.errors - short.errors,
});

const sum = (a: CpuResult, b: CpuResult): CpuResult => ({
  cpuUs: a.cpuUs + b.cpuUs,
  requests: a.requests + b.requests,
  errors: a.errors + b.errors,
  processCpuUs: (a.processCpuUs ?? 0) + (b.processCpuUs ?? 0),
});
/** µs of whole-process CPU per request. */
const wholePerRequest = (r: CpuResult): number => (r.processCpuUs ?? r.cpuUs) / r.requests;

async function closedLoop(port: number, o: Options): Promise<SummaryRow[]> {
  console.log(`\n1. Closed loop: ${o.connections} connections, back-to-back GET / for ${o.duration} s (Stressgrid: ${o.workers} worker thread(s))`);
  const profile = o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : [];
  const header = ['generator'.padEnd(34), 'requests'.padStart(9), 'req/s'.padStart(8), 'CPU'.padStart(10), 'µs/req'.padStart(8), 'errors'.padStart(6)];
  const none: CpuResult = { cpuUs: 0, requests: 0, errors: 0 };
  let [sgAll, steadyAll, acAll] = [none, none, none];
  // Rounds interleave the two generators, so a shared machine's changing load
  // falls on both alike; the summary pools every round.
  for (let round = 1; round <= o.rounds; round++) {
    const short = await runChild<CpuResult>('stressgrid-cpu', [port, o.connections, SHORT_RUN_S, o.workers]);
    const sgLoad = load();
    const sg = await runChild<CpuResult>('stressgrid-cpu', [port, o.connections, o.duration, o.workers], round === 1 ? profile : []);
    const acLoad = load();
    const ac = await runChild<CpuResult>('autocannon-cpu', [port, o.connections, o.duration]);
    const steady = beyond(sg, short);
    console.log(`  round ${round} of ${o.rounds}\n  ${header.join(' ')}`);
    console.log(cpuLine(`Stressgrid, ${o.duration} s run`, sg, o.duration));
    console.log(cpuLine(`Stressgrid, ${SHORT_RUN_S} s run`, short, SHORT_RUN_S));
    console.log(cpuLine('Stressgrid, steady (difference)', steady, o.duration - SHORT_RUN_S));
    console.log(cpuLine(`autocannon -c ${o.connections} -p 1`, ac, o.duration));
    console.log(`  load average before Stressgrid ${sgLoad}, before autocannon ${acLoad}, after ${load()}`);
    // Failed requests cost a generator far less than answered ones: a round with any is no comparison.
    const failed = [short, sg, ac].filter((r) => r.errors > 0 || r.requests === 0);
    if (failed.length > 0) throw new Error(`round ${round} had failed requests (is nginx still up on port ${port}?); no CPU comparison made`);
    [sgAll, steadyAll, acAll] = [sum(sgAll, sg), sum(steadyAll, steady), sum(acAll, ac)];
  }
  const acPerRequest = acAll.cpuUs / acAll.requests;
  const ratio = steadyAll.cpuUs / steadyAll.requests / acPerRequest;
  const wholeRatio = wholePerRequest(sgAll) / wholePerRequest(acAll);
  const seconds = o.duration * o.rounds;
  return [
    ['Stressgrid CPU per request, steady state', `${(steadyAll.cpuUs / steadyAll.requests).toFixed(1)} µs`, ''],
    [`Stressgrid CPU per request, whole ${o.duration} s run as a user sees it (process start to exit)`, `${wholePerRequest(sgAll).toFixed(1)} µs`, ''],
    ['autocannon CPU per request (its run; whole process)', `${acPerRequest.toFixed(1)} µs; ${wholePerRequest(acAll).toFixed(1)} µs`, ''],
    ['CPU per request, Stressgrid / autocannon (steady)', `${ratio.toFixed(2)}x`, `<= 2x: ${verdict(ratio <= 2)}`],
    ['CPU per request, Stressgrid / autocannon (whole run, both processes start to exit)', `${wholeRatio.toFixed(2)}x`, `<= 1.5x: ${verdict(wholeRatio <= 1.5)}`],
    ['requests/s, Stressgrid / autocannon', `${Math.round(sgAll.requests / seconds)} / ${Math.round(acAll.requests / seconds)}`, ''],
  ];
}

/** HTTP/2 (h2c) closed loop: Stressgrid's `http2` protocol beside h2load, one round; `http1PerRequest` is section 1's steady figure, if it ran. */
async function closedLoopH2(h2Port: number, o: Options, http1PerRequest: number | undefined): Promise<SummaryRow[]> {
  console.log(`\n2. HTTP/2 closed loop (h2c, prior knowledge): ${o.connections} connections, one stream each, for ${o.duration} s`);
  const header = ['generator'.padEnd(34), 'requests'.padStart(9), 'req/s'.padStart(8), 'CPU'.padStart(10), 'µs/req'.padStart(8), 'errors'.padStart(6)];
  const short = await runChild<CpuResult>('stressgrid-h2-cpu', [h2Port, o.connections, SHORT_RUN_S, o.workers]);
  const sgLoad = load();
  const profile = o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : [];
  const sg = await runChild<CpuResult>('stressgrid-h2-cpu', [h2Port, o.connections, o.duration, o.workers], profile);
  const h2Load = load();
  const h2 = await h2loadCpu(h2Port, o.connections, o.duration);
  const steady = beyond(sg, short);
  console.log(`  ${header.join(' ')}`);
  console.log(cpuLine(`Stressgrid h2c, ${o.duration} s run`, sg, o.duration));
  console.log(cpuLine('Stressgrid h2c, steady (difference)', steady, o.duration - SHORT_RUN_S));
  console.log(cpuLine(`h2load -c ${o.connections} -m 1`, h2, o.duration));
  console.log(`  load average before Stressgrid ${sgLoad}, before h2load ${h2Load}, after ${load()}`);
  if ([short, sg, h2].some((r) => r.errors > 0 || r.requests === 0)) throw new Error('the HTTP/2 round had failed requests; no CPU comparison made');
  const perRequest = steady.cpuUs / steady.requests;
  const h2PerRequest = h2.cpuUs / h2.requests;
  const rows: SummaryRow[] = [
    ['HTTP/2: Stressgrid CPU per request, steady state', `${perRequest.toFixed(1)} µs`, ''],
    ['HTTP/2: Stressgrid CPU per request, whole run (process start to exit)', `${wholePerRequest(sg).toFixed(1)} µs`, ''],
    ['HTTP/2: h2load CPU per request (whole process)', `${h2PerRequest.toFixed(1)} µs`, ''],
    ['HTTP/2: CPU per request, Stressgrid / h2load (steady)', `${(perRequest / h2PerRequest).toFixed(2)}x`, ''],
  ];
  if (http1PerRequest !== undefined) {
    const ratio = perRequest / http1PerRequest;
    rows.push(['HTTP/2 / HTTP/1.1 Stressgrid CPU per request (steady)', `${ratio.toFixed(2)}x`, `<= 2x: ${verdict(ratio <= 2)}`]);
  }
  return rows;
}

/** Steady-state CPU per request of `mode`'s closed loop: its long run beyond a short one. */
async function steadyRun(mode: string, port: number, o: Options): Promise<CpuResult> {
  const short = await runChild<CpuResult>(mode, [port, o.connections, SHORT_RUN_S, o.workers]);
  const long = await runChild<CpuResult>(mode, [port, o.connections, o.duration, o.workers]);
  if ([short, long].some((r) => r.errors > 0 || r.requests === 0)) throw new Error(`${mode} had failed requests; no CPU comparison made`);
  return beyond(long, short);
}

/** The closed loop with and without timing calls around each request, rounds interleaved and pooled. */
async function timingCalls(port: number, o: Options): Promise<SummaryRow[]> {
  console.log(`\n4. Timing calls: the closed loop of 1., plain and with startTiming/stopTiming/incCounter around each request, ${o.duration} s each`);
  const none: CpuResult = { cpuUs: 0, requests: 0, errors: 0 };
  let [plainAll, timedAll] = [none, none];
  for (let round = 1; round <= o.rounds; round++) {
    const before = load();
    const plain = await steadyRun('stressgrid-cpu', port, o);
    const timed = await steadyRun('stressgrid-timed-cpu', port, o);
    console.log(`  round ${round} of ${o.rounds}: plain ${(plain.cpuUs / plain.requests).toFixed(2)} µs/req, timed ${(timed.cpuUs / timed.requests).toFixed(2)} µs/req (steady)`);
    console.log(`  load average before ${before}, after ${load()}`);
    [plainAll, timedAll] = [sum(plainAll, plain), sum(timedAll, timed)];
  }
  const plainPerRequest = plainAll.cpuUs / plainAll.requests;
  const timedPerRequest = timedAll.cpuUs / timedAll.requests;
  const ratio = timedPerRequest / plainPerRequest;
  return [
    ['Timing calls: CPU per request, plain / timed (steady)', `${plainPerRequest.toFixed(1)} / ${timedPerRequest.toFixed(1)} µs`, ''],
    ['Timing calls: timed / plain CPU per request', `${ratio.toFixed(2)}x`, `<= 1.2x: ${verdict(ratio <= 1.2)}`],
  ];
}

async function idleDevices(port: number, o: Options): Promise<SummaryRow[]> {
  console.log(`\n3. Idle devices: ${o.idleDevices} devices, each GET / once, then await delay(60000) on its open connection`);
  // Slow enough that the first live second, the baseline, holds a small share of the devices.
  const rampup = Math.max(5, Math.round(o.idleDevices / 1000));
  const idleLoad = load();
  const idle = await runChild<IdleResult>('stressgrid-idle', [port, o.idleDevices, rampup, o.workers]);
  const perDevice = (idle.rssAll - idle.rssFirst) / (idle.devices - idle.devicesFirst);
  const perDeviceAll = (idle.rssAll - idle.rssBeforeRun) / idle.devices;
  console.log(`  ramp-up ${rampup} s; RSS before the run ${mb(idle.rssBeforeRun)}, at the first live second (${idle.devicesFirst} devices up) ${mb(idle.rssFirst)},`);
  console.log(`  with all ${idle.devices} up and idle (${idle.responses} responses) ${mb(idle.rssAll)}`);
  console.log(`  load average before ${idleLoad}, after ${load()}`);
  return [
    ['RSS per idle device, beyond the running runtime', kb(perDevice), `<= 16 KB: ${verdict(perDevice <= 16 * 1024)}`],
    ['RSS per idle device, runtime included', kb(perDeviceAll), ''],
  ];
}

async function main(): Promise<void> {
  const o = options(process.argv);
  const nginx = await startNginx({ workerConnections: Math.max(o.idleDevices, o.connections) + 1000, accessLog: false, http2: o.parts.h2 });
  const rows: SummaryRow[] = [];
  const command = `node dist/bench/http.js ${process.argv.slice(2).join(' ')}`.trimEnd();
  const machine = `${cpus()[0]?.model ?? 'unknown cpu'}, ${availableParallelism()} cores, node ${process.version}`;
  try {
    console.log(`command: ${command}`);
    console.log(`machine: ${machine}, load average ${load()}`);
    console.log(`target:  nginx on 127.0.0.1:${nginx.port}, GET / -> ${nginx.body.length}-byte body, keep-alive, 1 nginx worker`);
    if (o.parts.cpu) rows.push(...(await closedLoop(nginx.port, o)));
    if (o.parts.h2) {
      const steady = rows.find(([measure]) => measure === 'Stressgrid CPU per request, steady state');
      rows.push(...(await closedLoopH2(nginx.h2Port!, o, steady ? Number.parseFloat(steady[1]) : undefined)));
    }
    if (o.parts.idle) rows.push(...(await idleDevices(nginx.port, o)));
    if (o.parts.timing) rows.push(...(await timingCalls(nginx.port, o)));
  } finally {
    await nginx.stop();
  }
  console.log(`\n\`${command}\` on ${machine}, load average ${load()} after the run:\n`);
  console.log('| measure | value | target |');
  console.log('|---|---|---|');
  for (const [measure, value, target] of rows) console.log(`| ${measure} | ${value} | ${target} |`);
}

if (process.argv[2] === '--child') {
  console.log(JSON.stringify(await child(process.argv[3]!, process.argv.slice(4).map(Number))));
} else {
  await main();
}
