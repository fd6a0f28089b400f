/**
 * A run at scale the way a user sets one up on one machine (README "100,000
 * devices on one machine"): nginx with `generators` workers on one port of the
 * loopback addresses 127.0.0.1 .. 127.0.0.<generators>, the stressgrid-coordinator
 * program, `generators` stressgrid-generator programs, and the plan run by
 * `sgcli run ... --coordinator`. Afterwards: the report's response count against
 * nginx's access log, the peak of active devices sgcli showed, and each
 * generator's CPU time and peak RSS from /proc. bench/scale.ts and the CI tests
 * of counting under saturation both run it.
 *
 * Needs Linux (/proc) and the Debian package nginx.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GeneratorInfo } from '../../ts/coordinator/api-messages.js';
import { downloadArchive, total, type RunArchive } from '../e2e/run-archive.js';
import { json } from './api-client.js';
import { startCoordinatorProgram, type CoordinatorProgram } from './coordinator-program.js';
import { startGeneratorProcess, type GeneratorProcess } from './generator-process.js';
import { startLoopbackNginx, type LoopbackNginx } from './loopback-nginx.js';
import { PACKAGE_ROOT } from './program-process.js';
import { until } from './until.js';

export interface ScaleRunOptions {
  devices: number;
  generators: number;
  /** The device's pause between requests: `await delay(thinkMs, 0.5)`. */
  thinkMs: number;
  rampup: number;
  sustain: number;
  rampdown: number;
  /** Worker threads per generator (STRESSGRID_WORKERS); default 1. */
  workersPerGenerator?: number;
  /** Default 10. */
  reportIntervalSeconds?: number;
  name?: string;
  /** Called with the running parts once sgcli has started the run (a test pauses a generator here). */
  during?: (parts: ScaleParts) => Promise<void>;
  /** Progress lines (the bench prints them). */
  log?: (line: string) => void;
}

export interface ScaleParts {
  api: string;
  coordinator: CoordinatorProgram;
  generators: GeneratorProcess[];
  nginx: LoopbackNginx;
  /** sgcli's stderr so far: its plain live lines and notices. */
  sgcliStderr: () => string;
}

export interface GeneratorFigures {
  id: string;
  /** User + system CPU seconds of the process over its life. */
  cpuSeconds: number;
  /** Peak resident set (VmHWM). */
  peakRssBytes: number;
}

export interface ScaleRunResult {
  exitCode: number | null;
  /** The results URL sgcli printed. */
  archiveUrl: string;
  archive: RunArchive;
  /** response_count of the report's last row. */
  csvResponses: number;
  /** Requests nginx logged. */
  nginxResponses: number;
  /** Most devices sgcli's live view showed active. */
  peakActive: number;
  effectiveDevices: number;
  generators: GeneratorFigures[];
  /** nginx's master and workers together. */
  nginxCpuSeconds: number;
  sgcliStderr: string;
  wallSeconds: number;
}

const CLOCK_TICKS = 100;

export async function runAtScale(options: ScaleRunOptions): Promise<ScaleRunResult> {
  const log = options.log ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), 'sg-scale-'));
  const lifetimeMs = (options.rampup + options.sustain + options.rampdown + 300) * 1000;
  let nginx: LoopbackNginx | undefined;
  let coordinator: CoordinatorProgram | undefined;
  const generators: GeneratorProcess[] = [];
  try {
    // One nginx worker per generator, each able to hold all of one generator's connections.
    const perGenerator = Math.ceil(options.devices / options.generators);
    nginx = await startLoopbackNginx({ workers: options.generators, addresses: options.generators, workerConnections: perGenerator + 1024 });
    log(`nginx: ${options.generators} workers on port ${nginx.port} of ${nginx.hosts[0]} .. ${nginx.hosts.at(-1)}`);
    coordinator = startCoordinatorProgram({ dataDir: join(dir, 'data'), args: ['--report-interval', String(options.reportIntervalSeconds ?? 10)], lifetimeMs });
    const { api, generators: url } = await coordinator.listening();
    for (let i = 1; i <= options.generators; i++) {
      generators.push(startGeneratorProcess({ url, id: `gen-${i}`, workers: options.workersPerGenerator ?? 1, lifetimeMs }));
    }
    await until(async () => (await json<GeneratorInfo[]>(await fetch(`${api}/api/generators`))).length === options.generators, 30_000, `${options.generators} generators connected`);
    log(`coordinator ${api}, ${options.generators} generators connected`);

    const script = join(dir, 'device.js');
    await writeFile(script, `for (;;) {\n  await get('/');\n  await delay(${options.thinkMs}, 0.5);\n}\n`);
    const args = [
      join(PACKAGE_ROOT, 'dist/ts/cli/sgcli.js'),
      'run',
      options.name ?? 'scale',
      script,
      '--coordinator',
      api,
      '--target-hosts',
      nginx.hosts.join(','),
      '--target-port',
      String(nginx.port),
      '--size',
      String(options.devices),
      '--rampup',
      String(options.rampup),
      '--sustain',
      String(options.sustain),
      '--rampdown',
      String(options.rampdown),
    ];
    const started = Date.now();
    const sgcli = spawn(process.execPath, args, { cwd: dir, env: { ...process.env, STRESSGRID_TOKEN: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    sgcli.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    sgcli.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      for (const line of s.split('\n')) if (line.startsWith('notice') || line.startsWith('sgcli') || /^t=\d+0 /.test(line)) log(`sgcli: ${line.slice(0, 160)}`);
    });
    const exited = new Promise<number | null>((resolve) => sgcli.once('close', resolve));
    const parts: ScaleParts = { api, coordinator, generators, nginx, sgcliStderr: () => stderr };
    const during = options.during?.(parts);
    const exitCode = await exited;
    await during;
    const wallSeconds = (Date.now() - started) / 1000;
    const archiveUrl = stdout.trim().split('\n').at(-1) ?? '';
    if (!/^https?:\/\//.test(archiveUrl)) throw new Error(`sgcli printed no results URL (exit ${exitCode}); stderr:\n${stderr.slice(-4000)}`);

    const figures = await Promise.all(generators.map(async (g) => ({ id: g.id, ...(await processFigures(g.child.pid!)) })));
    let nginxCpuSeconds = 0;
    for (const pid of await nginx.pids()) nginxCpuSeconds += (await processFigures(pid)).cpuSeconds;
    const nginxResponses = await nginx.settledAccessLogCount(500);
    const archive = await downloadArchive(archiveUrl);
    const peakActive = Math.max(0, ...[...stderr.matchAll(/ active=(\d+) /g)].map((m) => Number(m[1])));
    return {
      exitCode,
      archiveUrl,
      archive,
      csvResponses: total(archive, 'response_count'),
      nginxResponses,
      peakActive,
      effectiveDevices: archive.summary.effectiveDevices ?? 0,
      generators: figures,
      nginxCpuSeconds,
      sgcliStderr: stderr,
      wallSeconds,
    };
  } finally {
    for (const g of generators) {
      g.kill('SIGCONT');
      g.kill('SIGKILL');
    }
    coordinator?.kill('SIGKILL');
    await Promise.all([...generators.map((g) => g.exited), coordinator?.exited]);
    await nginx?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** CPU seconds and peak RSS of a live process, from /proc. */
export async function processFigures(pid: number): Promise<{ cpuSeconds: number; peakRssBytes: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name, which may hold spaces: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSeconds = (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / CLOCK_TICKS;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  return { cpuSeconds, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 };
}
