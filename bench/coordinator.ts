/**
 * What a coordinator costs per generator: the real stressgrid-coordinator program
 * in a child process (so its CPU and RSS are its own), and ONE process here
 * simulating N generators over real WebSocket connections to its generator port.
 * Each simulated generator says hello, takes the run's cohorts (its devices are
 * only counted, never run) and pushes realistic telemetry every second: 20
 * histograms encoded from a few thousand samples each, and counters.
 *
 *   node dist/bench/coordinator.js [--generators 100,500,1000] [--seconds 20] [--encoding plain|compressed] [--cpu-prof]
 *
 * --encoding compressed pushes deflated V2 histograms instead of the plain ones
 * generators send, to show what skipping inflate saves.
 * --cpu-prof profiles the coordinator and prints its functions by self time.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { Histogram } from '../ts/hdr/index.js';
import { HISTOGRAM_BOUNDS, TELEMETRY_HISTOGRAM_ENCODING } from '../ts/shared/metrics.js';
import { PROTOCOL_VERSION, type CoordinatorMessage, type GeneratorMessage, type Telemetry } from '../ts/shared/protocol.js';
import { encodeTelemetryFrame, serializeGeneratorMessage } from '../ts/shared/telemetry-frame.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const COORDINATOR = join(root, 'dist/ts/coordinator/main.js');
const HISTOGRAMS_PER_PUSH = 20;
const SAMPLES_PER_HISTOGRAM = 3000;
/** Distinct encoded histograms to rotate through, so the coordinator never merges one byte string over and over. */
const HISTOGRAM_POOL = 64;
/** Connections opened at once while the simulated fleet joins. */
const CONNECT_BATCH = 100;
/** Seconds of the run before measuring: every generator has its cohort and the first report interval is behind. */
const WARM_UP_SECONDS = 4;
const DEVICES_PER_GENERATOR = 10;

const { values } = parseArgs({
  options: {
    generators: { type: 'string', default: '100,500,1000' },
    seconds: { type: 'string', default: '20' },
    'cpu-prof': { type: 'boolean', default: false },
    /** What generators push (plain); compressed V2 is accepted too and measured for comparison. */
    encoding: { type: 'string', default: 'plain' },
  },
});
const fleetSizes = values.generators.split(',').map((s) => Number(s.trim()));
const seconds = Number(values.seconds);
if (fleetSizes.some((n) => !Number.isInteger(n) || n < 1) || !(seconds > 0) || !['plain', 'compressed'].includes(values.encoding)) {
  console.error('usage: node dist/bench/coordinator.js [--generators 100,500,1000] [--seconds 20] [--encoding plain|compressed] [--cpu-prof]');
  process.exit(2);
}
const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Latencies as a service shows them: mostly a few ms, a long tail; encoded as generators push them. */
function encodedHistograms(compressed: boolean): Uint8Array[] {
  const pool: Uint8Array[] = [];
  for (let i = 0; i < HISTOGRAM_POOL; i++) {
    const h = new Histogram(HISTOGRAM_BOUNDS);
    const samples = new Float64Array(SAMPLES_PER_HISTOGRAM);
    const scale = 500 + 200 * (i % 16);
    for (let s = 0; s < samples.length; s++) {
      const tail = Math.random() < 0.01 ? 50 : 1;
      samples[s] = Math.max(1, Math.round(-Math.log(1 - Math.random()) * scale * tail + 100));
    }
    h.recordMany(samples);
    pool.push(compressed ? h.encode() : h.encode(TELEMETRY_HISTOGRAM_ENCODING));
  }
  return pool;
}

const HISTOGRAM_NAMES = ['conn_us', 'headers_us', 'body_us', ...Array.from({ length: HISTOGRAMS_PER_PUSH - 3 }, (_, i) => `step_${i + 1}_us`)];
const COUNTER_NAMES = ['response_count', 'conn_count', 'send_count', 'receive_count', 'status_200_count', 'conn_refused_error_count', 'timeout_error_count', 'login_count'];

/** One simulated generator: a WebSocket and the few facts its telemetry reports. */
class SimulatedGenerator {
  private socket!: WebSocket;
  private runId: string | null = null;
  private readonly cohorts = new Map<number, number>();
  private active = 0;
  private seq = 0;
  private last = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: string,
    /** A push's histograms, in rotation; encoded once so the simulator stays light beside the coordinator. */
    private readonly histogramSets: Array<Record<string, Uint8Array>>,
  ) {}

  connect(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      // A zero mask lets ws skip masking here; the coordinator still unmasks every frame as it would a real generator's.
      this.socket = new WebSocket(url, { perMessageDeflate: false, generateMask: (mask) => void mask.fill(0) });
      this.socket.once('error', reject);
      this.socket.on('message', (data: Buffer) => this.onMessage(JSON.parse(data.toString()) as CoordinatorMessage, resolve));
      this.socket.once('open', () => this.send({ type: 'hello', version: PROTOCOL_VERSION, generatorId: this.id, workers: 1 }));
    });
  }

  private onMessage(m: CoordinatorMessage, welcomed: () => void): void {
    switch (m.type) {
      case 'welcome':
        // Generators are not in step with each other: each pushes at its own phase of the second.
        setTimeout(() => (this.timer = setInterval(() => this.push(false), 1000)), Math.random() * 1000);
        return welcomed();
      case 'prepare_run':
        this.runId = m.runId;
        this.cohorts.clear();
        this.active = 0;
        // Nothing to compile here: ready at once, so the run's clock starts.
        return this.send({ type: 'run_ready', generatorId: this.id, runId: m.runId });
      case 'start_cohort': {
        const n = m.devices.reduce((a, b) => a + b, 0);
        this.cohorts.set(m.cohortId, n);
        this.active += n;
        return;
      }
      case 'stop_cohort':
        this.active -= this.cohorts.get(m.cohortId) ?? 0;
        this.cohorts.delete(m.cohortId);
        return;
      case 'end_run':
        this.active = 0;
        this.push(true);
        this.runId = null;
        return;
      case 'refused':
        throw new Error(`generator ${this.id} refused: ${m.reason}`);
    }
  }

  private push(final: boolean): void {
    const now = performance.now();
    const intervalMs = now - this.last;
    this.last = now;
    const counters: Record<string, number> = {};
    const measuring = this.runId !== null && this.active > 0;
    if (measuring) for (const name of COUNTER_NAMES) counters[name] = Math.round(this.active * 10 * Math.random());
    const telemetry: Telemetry = {
      type: 'telemetry',
      generatorId: this.id,
      runId: this.runId,
      seq: ++this.seq,
      at: Date.now(),
      intervalMs,
      activeDevices: this.active,
      cpuPercent: 20 + Math.random() * 30,
      networkRxBytes: 2_000_000,
      networkTxBytes: 400_000,
      counters,
      histograms: measuring ? this.histogramSets[this.seq % this.histogramSets.length]! : {},
      ...(final ? { final } : {}),
    };
    this.send(telemetry);
  }

  private send(message: GeneratorMessage): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(serializeGeneratorMessage(message));
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.terminate();
  }
}

interface ProcessSample {
  cpuSeconds: number;
  rssBytes: number;
}

function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of proc(5): utime and stime, in clock ticks.
  const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / clockTicks;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuSeconds, rssBytes: Number(rss?.[1] ?? 0) * 1024 };
}

function selfCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

async function startCoordinator(dataDir: string, profileDir: string | undefined): Promise<{ child: ChildProcess; api: string; generators: string }> {
  const args = [...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), COORDINATOR, '--host', '127.0.0.1', '--port', '0', '--generator-port', '0', '--data-dir', dataDir];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, STRESSGRID_TOKEN: '', REPORT_INTERVAL_SECONDS: '10' } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-20_000)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const m = /website and API on (http:\/\/\S+), generators on (ws:\/\/\S+),/.exec(stderr);
    if (m) return { child, api: m[1]!, generators: m[2]! };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the coordinator did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

interface Measurement {
  generators: number;
  cpuPercent: number;
  rssMiB: number;
  peakRssMiB: number;
  simulatorCpuPercent: number;
  activeDevices: number;
  telemetryKiBPerSecond: number;
}

async function measure(n: number, histogramSets: Array<Record<string, Uint8Array>>, pushBytes: number): Promise<Measurement> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-bench-coordinator-'));
  const profileDir = values['cpu-prof'] ? join(dataDir, 'profile') : undefined;
  const { child, api: base, generators: url } = await startCoordinator(join(dataDir, 'data'), profileDir);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const fleet = Array.from({ length: n }, (_, i) => new SimulatedGenerator(`sim-${String(i + 1).padStart(4, '0')}`, histogramSets));
  try {
    for (let i = 0; i < fleet.length; i += CONNECT_BATCH) await Promise.all(fleet.slice(i, i + CONNECT_BATCH).map((g) => g.connect(url)));
    await api(base, 'POST', '/api/runs', {
      name: `bench-${n}`,
      blocks: [{ script: 'await delay(1000)' }],
      // Never contacted: the simulated generators only count their devices.
      addresses: [{ host: '127.0.0.1', port: 9, protocol: 'http' }],
      size: n * DEVICES_PER_GENERATOR,
      rampup: 0,
      sustain: WARM_UP_SECONDS + seconds + 30,
      rampdown: 0,
    });
    await new Promise((resolve) => setTimeout(resolve, WARM_UP_SECONDS * 1000));
    const before = sampleProcess(child.pid!);
    const selfBefore = selfCpuSeconds();
    const started = performance.now();
    let peak = before.rssBytes;
    const sampler = setInterval(() => (peak = Math.max(peak, sampleProcess(child.pid!).rssBytes)), 500);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    clearInterval(sampler);
    const after = sampleProcess(child.pid!);
    const wall = (performance.now() - started) / 1000;
    const snapshot = await api<{ snapshot: { activeDevices: number } }>(base, 'GET', '/api/runs/current');
    await api(base, 'POST', '/api/runs/current/abort');
    return {
      generators: n,
      cpuPercent: ((after.cpuSeconds - before.cpuSeconds) / wall) * 100,
      rssMiB: after.rssBytes / 2 ** 20,
      peakRssMiB: Math.max(peak, after.rssBytes) / 2 ** 20,
      simulatorCpuPercent: ((selfCpuSeconds() - selfBefore) / wall) * 100,
      activeDevices: snapshot.snapshot.activeDevices,
      telemetryKiBPerSecond: (n * pushBytes) / 1024,
    };
  } finally {
    for (const g of fleet) g.close();
    child.kill('SIGTERM');
    await exited;
    if (profileDir) await printProfile(profileDir);
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

/** The coordinator's functions by self time, the heaviest first. */
async function printProfile(dir: string): Promise<void> {
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile'));
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const byNode = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
    const self = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const frame = byNode.get(id)!;
      const where = frame.url ? `${frame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/')}:${frame.lineNumber + 1}` : '';
      const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
      const dt = profile.timeDeltas[i] ?? 0;
      self.set(key, (self.get(key) ?? 0) + dt);
      total += dt;
    });
    console.log(`  coordinator profile, self time (${file}):`);
    for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`    ${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}`);
  }
}

const pool = encodedHistograms(values.encoding === 'compressed');
const histogramSets = pool.map((_, k) => Object.fromEntries(HISTOGRAM_NAMES.map((name, i) => [name, pool[(k + i * 7) % pool.length]!])));
const pushBytes = encodeTelemetryFrame({
  type: 'telemetry',
  generatorId: 'sim-0001',
  runId: 'bench-1000-20260101T000000Z-abcd',
  seq: 1,
  at: Date.now(),
  intervalMs: 1000,
  activeDevices: DEVICES_PER_GENERATOR,
  cpuPercent: 35.5,
  networkRxBytes: 2_000_000,
  networkTxBytes: 400_000,
  counters: Object.fromEntries(COUNTER_NAMES.map((name) => [name, 1234])),
  histograms: histogramSets[0]!,
}).length;
console.log(
  `coordinator bench: ${seconds} s measured per fleet after ${WARM_UP_SECONDS} s of run; each simulated generator pushes ${HISTOGRAMS_PER_PUSH} histograms ` +
    `(${SAMPLES_PER_HISTOGRAM} samples, ${values.encoding} V2, ~${Math.round(pool.reduce((a, s) => a + s.length, 0) / pool.length)} bytes each) and ${COUNTER_NAMES.length} counters every second (~${(pushBytes / 1024).toFixed(1)} KiB binary frame)`,
);
console.log('generators  coordinator CPU (% of one core)  RSS MiB  peak RSS MiB  active devices  telemetry KiB/s  simulator CPU %');
for (const n of fleetSizes) {
  const m = await measure(n, histogramSets, pushBytes);
  console.log(
    `${String(m.generators).padStart(10)}  ${m.cpuPercent.toFixed(1).padStart(31)}  ${m.rssMiB.toFixed(0).padStart(7)}  ${m.peakRssMiB.toFixed(0).padStart(12)}  ${String(m.activeDevices).padStart(14)}  ${m.telemetryKiBPerSecond.toFixed(0).padStart(15)}  ${m.simulatorCpuPercent.toFixed(0).padStart(15)}`,
  );
}
