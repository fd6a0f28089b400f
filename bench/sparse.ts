/**
 * What a device that mostly waits costs: N devices (default 10,000), each
 * sending one GET to a local nginx and then pausing 5–15 s, for ever:
 *
 *   for (;;) { await get('/'); await delay(10000, 0.5); }
 *
 * beside Locust (FastHttpUser, `wait_time = between(5, 15)`) with as many users
 * on the same nginx. About N / 10 requests a second arrive spread over time, so
 * almost every event-loop turn carries one operation: the fixed cost of a turn,
 * not the cost of an operation, decides the figure.
 *
 * Two floors run the same devices without any script or metric, to show what
 * the machine itself charges for them: `node` (plain node:net sockets and one
 * setTimeout per pause, what any generator running on Node pays at least) and
 * `native` (bench/sparse-floor: one Rust thread with a mio poller and a heap of
 * deadlines, built with cargo on demand; what the kernel's loopback TCP,
 * epoll and wake-ups cost with the least userland a client can have).
 *
 * Each generator runs in a child process of its own; after its ramp-up and a
 * settling period, its CPU time (user + system, all threads) and the responses
 * it counted are sampled over a window, so start-up is not part of the figure.
 * Locust runs from a virtual environment that this bench creates with pip from
 * PyPI when it is missing (LOCUST=/path/to/locust uses another); when that
 * cannot be done its row is skipped with the reason.
 *
 *   node dist/bench/sparse.js [--devices 10000] [--window 30] [--settle 15]
 *     [--rampup 10] [--workers N] [--only stressgrid,node,native,locust]
 *     [--profile DIR]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { runEmbedded } from '../ts/coordinator/embedded.js';
import { DEFAULT_REPORT_INTERVAL_SECONDS } from '../ts/coordinator/run.js';
import { METRIC } from '../ts/shared/metrics.js';
import type { Plan } from '../ts/shared/plan.js';
import { startNginx } from '../test/support/nginx.js';
import { RAISE_OPEN_FILES, runBenchChild } from './bench-child.js';

const SPARSE_SCRIPT = "for (;;) { await get('/'); await delay(10000, 0.5); }";
const LOCUSTFILE = `
import os, time, gevent
from locust import FastHttpUser, task, between, events

COUNT_FILE = os.environ['SPARSE_COUNT_FILE']
responses = 0

@events.request.add_listener
def on_request(exception=None, **kwargs):
    global responses
    if exception is None:
        responses += 1

def report():
    while True:
        with open(COUNT_FILE + '.tmp', 'w') as f:
            f.write(str(responses))
        os.replace(COUNT_FILE + '.tmp', COUNT_FILE)
        gevent.sleep(0.5)

@events.init.add_listener
def on_init(environment, **kwargs):
    gevent.spawn(report)

class Device(FastHttpUser):
    wait_time = between(5, 15)

    @task
    def get(self):
        self.client.get('/')
`;

/** One generator's figures over the measuring window. */
interface SparseResult {
  devices: number;
  windowS: number;
  cpuUs: number;
  responses: number;
  rss: number;
  load: string;
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Child: a Stressgrid run of sparse devices through the embedded runner, measured once all are up and settled. */
async function stressgridSparse(port: number, devices: number, rampup: number, settle: number, window: number, workers: number): Promise<SparseResult> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-bench-sparse-'));
  const controller = new AbortController();
  const plan: Plan = {
    name: 'bench-sparse',
    blocks: [{ script: SPARSE_SCRIPT }],
    addresses: [{ host: '127.0.0.1', port, protocol: 'http' }],
    size: devices,
    rampup,
    sustain: rampup + settle + window + 60,
    rampdown: 0,
  };
  const t0 = performance.now();
  let begin: { at: number; cpu: number; responses: number; load: string } | undefined;
  let result: SparseResult | undefined;
  const cpuNow = (): number => {
    const c = process.cpuUsage();
    return c.user + c.system;
  };
  const run = runEmbedded(plan, {
    dataDir,
    reportIntervalSeconds: DEFAULT_REPORT_INTERVAL_SECONDS,
    ...(workers > 0 ? { workers } : {}),
    signal: controller.signal,
    onLive: (s) => {
      if (result) return;
      const at = performance.now();
      const responses = s.counters[METRIC.responseCount]?.total ?? 0;
      if (!begin) {
        if ((at - t0) / 1000 >= rampup + settle && s.activeDevices >= devices) begin = { at, cpu: cpuNow(), responses, load: load() };
        return;
      }
      if ((at - begin.at) / 1000 < window) return;
      result = {
        devices,
        windowS: (at - begin.at) / 1000,
        cpuUs: cpuNow() - begin.cpu,
        responses: responses - begin.responses,
        rss: process.memoryUsage.rss(),
        load: `${begin.load} -> ${load()}`,
      };
      controller.abort();
    },
    onNotice: (m) => console.error(`stressgrid: ${m}`),
  });
  await run;
  await rm(dataDir, { recursive: true, force: true });
  if (!result) throw new Error(`the ${devices} devices were not all up within ${rampup + settle} s, or the run ended early`);
  return result;
}

/** The same GET as Stressgrid's devices send. */
const BARE_REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const pauseMs = (): number => 5000 + Math.random() * 10_000;

/**
 * Child: the same devices on plain node:net sockets, no script, no metrics, no
 * worker threads: a connection each, a GET, the response read to its
 * Content-Length, one setTimeout for the pause. What a generator on Node pays
 * at least for a device that mostly waits.
 */
async function nodeSparse(port: number, devices: number, rampup: number, settle: number, window: number): Promise<SparseResult> {
  let responses = 0;
  const sockets: Array<ReturnType<typeof connect>> = [];
  const device = (): void => {
    const socket = connect({ port, host: '127.0.0.1', noDelay: true });
    sockets.push(socket);
    let input = '';
    const send = (): void => void socket.write(BARE_REQUEST);
    socket.setEncoding('latin1');
    socket.once('connect', send);
    socket.on('data', (chunk: string) => {
      input += chunk;
      for (;;) {
        const headEnd = input.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const length = /\r\ncontent-length: *(\d+)/i.exec(input.slice(0, headEnd))?.[1];
        const end = headEnd + 4 + Number(length ?? 0);
        if (input.length < end) return;
        input = input.slice(end);
        responses++;
        setTimeout(send, pauseMs());
      }
    });
    socket.on('error', (error) => {
      console.error(`node device: ${error.message}`);
      process.exit(1);
    });
  };
  for (let i = 0; i < devices; i++) setTimeout(device, (rampup * 1000 * i) / devices);
  await sleep((rampup + settle) * 1000);
  const cpu0 = process.cpuUsage();
  const begin = { at: performance.now(), responses, load: load() };
  await sleep(window * 1000);
  const cpu = process.cpuUsage(cpu0);
  const result = {
    devices,
    windowS: (performance.now() - begin.at) / 1000,
    cpuUs: cpu.user + cpu.system,
    responses: responses - begin.responses,
    rss: process.memoryUsage.rss(),
    load: `${begin.load} -> ${load()}`,
  };
  for (const socket of sockets) socket.destroy();
  return result;
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Builds bench/sparse-floor with cargo (a workspace of its own); its executable, or why not. */
function floorExecutable(): { path: string } | { skipped: string } {
  const crate = join(root, 'bench', 'sparse-floor');
  const built = spawnSync('cargo', ['build', '--release', '--quiet', '--manifest-path', join(crate, 'Cargo.toml')], { stdio: 'inherit' });
  const path = join(crate, 'target', 'release', 'stressgrid-sparse-floor');
  if (built.status !== 0 || !existsSync(path)) return { skipped: `cargo build of bench/sparse-floor failed (${built.error?.message ?? `exit ${built.status}`})` };
  return { path };
}

/** The native floor: the Rust client as a process of its own, its response count read from its stdout. */
async function floorSparse(path: string, port: number, devices: number, rampup: number, settle: number, window: number): Promise<SparseResult> {
  const proc = spawn('/bin/sh', ['-c', RAISE_OPEN_FILES, 'sh', path, String(port), String(devices), String(rampup)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let last = 0;
  let pending = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => {
    const lines = (pending + s).split('\n');
    pending = lines.pop()!;
    if (lines.length > 0) last = Number(lines[lines.length - 1]) || last;
  });
  return measureProcess(proc, () => last, devices, rampup, settle, window);
}

/**
 * CPU (from /proc) and responses of a peer running as a process of its own,
 * over the window after its ramp-up and settling; the process is ended after.
 */
async function measureProcess(proc: ChildProcess, count: () => number, devices: number, rampup: number, settle: number, window: number): Promise<SparseResult> {
  try {
    await sleep((rampup + settle) * 1000);
    if (proc.exitCode !== null) throw new Error(`${proc.spawnargs.join(' ')} exited with ${proc.exitCode}`);
    const begin = { at: performance.now(), usage: procUsage(proc.pid!), responses: count(), load: load() };
    await sleep(window * 1000);
    const end = { at: performance.now(), usage: procUsage(proc.pid!), responses: count() };
    return {
      devices,
      windowS: (end.at - begin.at) / 1000,
      cpuUs: end.usage.cpuUs - begin.usage.cpuUs,
      responses: end.responses - begin.responses,
      rss: end.usage.rss,
      load: `${begin.load} -> ${load()}`,
    };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r(undefined) : proc.once('exit', r)));
  }
}

/** pip-installs Locust into a venv under node_modules/.cache when there is none; the locust executable, or why not. */
function locustExecutable(): { path: string } | { skipped: string } {
  if (process.env.LOCUST) return { path: process.env.LOCUST };
  const venv = join(root, 'node_modules', '.cache', 'locust-venv');
  const locust = join(venv, 'bin', 'locust');
  if (existsSync(locust)) return { path: locust };
  console.log(`  installing Locust from PyPI into ${venv} ...`);
  const made = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  if (made.status !== 0) return { skipped: `python3 -m venv failed (${made.error?.message ?? `exit ${made.status}`})` };
  const pip = spawnSync(join(venv, 'bin', 'pip'), ['install', '--quiet', 'locust'], { stdio: 'inherit' });
  if (pip.status !== 0 || !existsSync(locust)) return { skipped: `pip install locust failed (${pip.error?.message ?? `exit ${pip.status}`})` };
  return { path: locust };
}

/** CPU time (µs) and RSS (bytes) of one process, from /proc. */
function procUsage(pid: number): { cpuUs: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuUs: (ticks * 1e6) / CLOCK_TICKS, rss: rssPages * 4096 };
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

async function locustSparse(locust: string, port: number, devices: number, rampup: number, settle: number, window: number): Promise<SparseResult> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-bench-locust-'));
  const countFile = join(dir, 'responses');
  await writeFile(join(dir, 'locustfile.py'), LOCUSTFILE);
  const args = [
    '-f',
    join(dir, 'locustfile.py'),
    '--headless',
    '-u',
    String(devices),
    '-r',
    String(Math.ceil(devices / rampup)),
    '--host',
    `http://127.0.0.1:${port}`,
    '--only-summary',
    '--loglevel',
    'WARNING',
  ];
  const proc = spawn('/bin/sh', ['-c', RAISE_OPEN_FILES, 'sh', locust, ...args], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SPARSE_COUNT_FILE: countFile } });
  const count = (): number => (existsSync(countFile) ? Number(readFileSync(countFile, 'utf8')) || 0 : 0);
  try {
    return await measureProcess(proc, count, devices, rampup, settle, window);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs this file as a child in `mode` (see bench-child.ts). */
const runChild = <T>(mode: string, args: number[], nodeFlags: string[] = []): Promise<T> => runBenchChild<T>(fileURLToPath(import.meta.url), mode, args, nodeFlags);

interface Options {
  devices: number;
  window: number;
  settle: number;
  rampup: number;
  workers: number;
  profileDir: string | undefined;
  /** Which generators run, in this order. */
  only: Generator[];
}

const GENERATORS = ['stressgrid', 'node', 'native', 'locust'] as const;
type Generator = (typeof GENERATORS)[number];

function options(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at === -1 ? undefined : argv[at + 1];
  };
  const number = (name: string, fallback: number, min = 1): number => {
    const raw = value(name);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} takes a whole number of at least ${min}, not ${raw}`);
    return n;
  };
  const only = (value('only') ?? GENERATORS.join(',')).split(',');
  const unknown = only.filter((g) => !(GENERATORS as readonly string[]).includes(g));
  if (unknown.length > 0) throw new Error(`--only takes a comma-separated list of ${GENERATORS.join(', ')}, not ${unknown.join(', ')}`);
  return {
    devices: number('devices', 10_000),
    window: number('window', 30),
    settle: number('settle', 15, 0),
    rampup: number('rampup', 10),
    // 0: the generator's default worker count, as sgcli runs it.
    workers: number('workers', 0, 0),
    profileDir: value('profile'),
    only: GENERATORS.filter((g) => only.includes(g)),
  };
}

interface Figures {
  rps: number;
  cpuPerRequest: number;
  cpuPerDeviceSecond: number;
  rssPerDevice: number;
}

const figures = (r: SparseResult): Figures => ({
  rps: r.responses / r.windowS,
  cpuPerRequest: r.cpuUs / r.responses,
  cpuPerDeviceSecond: r.cpuUs / r.windowS / r.devices,
  rssPerDevice: r.rss / r.devices,
});

function line(label: string, f: Figures | string): string {
  if (typeof f === 'string') return `  ${label.padEnd(26)} ${f}`;
  const cells = [
    label.padEnd(26),
    f.rps.toFixed(0).padStart(7),
    f.cpuPerRequest.toFixed(1).padStart(12),
    f.cpuPerDeviceSecond.toFixed(2).padStart(14),
    `${(f.rssPerDevice / 1024).toFixed(1)} KB`.padStart(12),
  ];
  return `  ${cells.join(' ')}`;
}

async function main(): Promise<void> {
  const o = options(process.argv);
  const nginx = await startNginx({ workerConnections: o.devices + 1000, accessLog: false });
  const command = `node dist/bench/sparse.js ${process.argv.slice(2).join(' ')}`.trimEnd();
  const machine = `${cpus()[0]?.model ?? 'unknown cpu'}, ${availableParallelism()} cores, node ${process.version}`;
  const rows: Array<[string, Figures | string]> = [];
  const measured = new Map<Generator, Figures>();
  const report = (generator: Generator, label: string, r: SparseResult): void => {
    const f = figures(r);
    measured.set(generator, f);
    console.log(`  ${label}: ${r.responses} responses in ${r.windowS.toFixed(1)} s, ${(r.cpuUs / 1e6).toFixed(2)} s CPU; load average ${r.load}`);
    rows.push([label, f]);
  };
  const skip = (label: string, why: string): void => {
    console.log(`  ${label} skipped: ${why}`);
    rows.push([label, `skipped: ${why}`]);
  };
  try {
    console.log(`command: ${command}`);
    console.log(`machine: ${machine}, load average ${load()}`);
    console.log(`target:  nginx on 127.0.0.1:${nginx.port}, GET / -> ${nginx.body.length}-byte body, keep-alive, 1 nginx worker`);
    console.log(`load:    ${o.devices} devices, each GET / then a 5-15 s pause; ramp-up ${o.rampup} s, settle ${o.settle} s, measured over ${o.window} s`);
    const args = [nginx.port, o.devices, o.rampup, o.settle, o.window];
    for (const generator of o.only) {
      if (generator === 'stressgrid') {
        const profile = o.profileDir ? ['--cpu-prof', '--cpu-prof-dir', o.profileDir] : [];
        report(generator, `stressgrid (${o.workers || 'default'} workers)`, await runChild<SparseResult>('stressgrid', [...args, o.workers], profile));
      } else if (generator === 'node') {
        report(generator, 'node:net, no script', await runChild<SparseResult>('node', args));
      } else if (generator === 'native') {
        const floor = floorExecutable();
        if ('skipped' in floor) skip('native floor, no script', floor.skipped);
        else report(generator, 'native floor, no script', await floorSparse(floor.path, nginx.port, o.devices, o.rampup, o.settle, o.window));
      } else {
        const locust = locustExecutable();
        if ('skipped' in locust) skip('Locust FastHttpUser', locust.skipped);
        else report(generator, 'Locust FastHttpUser', await locustSparse(locust.path, nginx.port, o.devices, o.rampup, o.settle, o.window));
      }
    }
  } finally {
    await nginx.stop();
  }
  console.log(`\n\`${command}\` on ${machine}, load average ${load()} after the run:\n`);
  console.log(`  ${'generator'.padEnd(26)} ${'req/s'.padStart(7)} ${'µs CPU/req'.padStart(12)} ${'µs CPU/dev-s'.padStart(14)} ${'RSS/device'.padStart(12)}`);
  for (const [label, f] of rows) console.log(line(label, f));
  const sg = measured.get('stressgrid');
  const ratio = (peer: Generator, label: string): void => {
    const f = measured.get(peer);
    if (!sg || !f) return;
    console.log(
      `  ${label}: CPU per request ${(sg.cpuPerRequest / f.cpuPerRequest).toFixed(2)}x, CPU per device-second ${(sg.cpuPerDeviceSecond / f.cpuPerDeviceSecond).toFixed(2)}x, RSS per device ${(sg.rssPerDevice / f.rssPerDevice).toFixed(2)}x`,
    );
  };
  if (sg) console.log('');
  ratio('locust', 'Stressgrid / Locust');
  ratio('node', 'Stressgrid / node:net without a script');
  ratio('native', 'Stressgrid / native floor');
  if (sg) {
    const met = sg.cpuPerRequest <= 60;
    console.log(`  target: Stressgrid CPU per request <= 60 µs: ${sg.cpuPerRequest.toFixed(1)} µs, ${met ? 'met' : 'MISSED'}`);
  }
  for (const [generator, label] of [
    ['node', 'node:net without a script'],
    ['native', 'the native floor'],
  ] as const) {
    const f = measured.get(generator);
    if (f)
      console.log(
        `  ${label} needs ${f.cpuPerRequest.toFixed(1)} µs per request on this machine: ${f.cpuPerRequest <= 60 ? `${(60 - f.cpuPerRequest).toFixed(1)} µs left under 60 µs` : 'above 60 µs by itself'}`,
      );
  }
}

if (process.argv[2] === '--child') {
  const [port, devices, rampup, settle, window, workers] = process.argv.slice(4).map(Number) as [number, number, number, number, number, number];
  const result = process.argv[3] === 'node' ? await nodeSparse(port, devices, rampup, settle, window) : await stressgridSparse(port, devices, rampup, settle, window, workers);
  console.log(JSON.stringify(result));
  // The node floor's timers and sockets would keep the process alive.
  process.exit(0);
} else {
  await main();
}
