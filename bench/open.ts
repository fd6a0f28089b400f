/**
 * The open model beside vegeta: the same constant rate against the same nginx,
 * one tool at a time, with nginx frozen (SIGSTOP) for 2 s in the middle of each
 * run. For each tool: the rate nginx saw, CPU per request (user+system of the
 * tool's whole process tree), and the p99 latency it reports over the run, whose
 * top percent is made of the requests due during the freeze. vegeta measures each
 * request from when it was due (it opens more connections rather than wait), so
 * its p99 is the corrected one; sgcli reports both, `headers_intended_us` (from
 * the iteration's due time) and `headers_us` (from the request's send).
 *
 * vegeta is built from the Go module proxy into a temporary directory; without Go
 * or the proxy, its half is skipped with a message and sgcli runs alone.
 *
 *   node dist/bench/open.js [--rate 1000] [--duration 20] [--stall-at 8] [--stall 2] [--workers 2]
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Histogram } from '../ts/hdr/index.js';
import { HISTOGRAM_BOUNDS } from '../ts/shared/metrics.js';
import { startNginx, type NginxServer } from '../test/support/nginx.js';
import { readArchive, type RunArchive } from '../test/e2e/run-archive.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SGCLI = join(ROOT, 'dist/ts/cli/sgcli.js');
const VEGETA_MODULE = 'github.com/tsenart/vegeta/v12@v12.13.0';
/** The run whose cost, subtracted from the full one's, leaves the steady state's (startup, script compilation). */
const SHORT_RUN_S = 2;

interface Options {
  rate: number;
  duration: number;
  stallAt: number;
  stall: number;
  workers: number;
}

function parseArgs(argv: string[]): Options {
  const get = (name: string, fallback: number): number => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? Number(argv[at + 1]) : fallback;
  };
  return { rate: get('rate', 1000), duration: get('duration', 20), stallAt: get('stall-at', 8), stall: get('stall', 2), workers: get('workers', 2) };
}

interface Outcome {
  tool: string;
  /** Requests nginx logged. */
  served: number;
  cpuSeconds: number;
  /** Requests the CPU figure is per (after the short run's subtraction for sgcli). */
  requestsForCpu: number;
  p99Us: number;
  uncorrectedP99Us?: number;
}

/** Runs `command` under bash's `time`, which adds up the CPU of the whole process tree; returns its output and CPU seconds. */
async function timed(command: string[], env: NodeJS.ProcessEnv = process.env, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string; cpuSeconds: number }> {
  const quoted = command.map((c) => `'${c.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('bash', ['-c', `TIMEFORMAT='cpu %U %S'; time ${quoted}`], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.end(stdin ?? '');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  return { code, stdout, stderr, cpuSeconds: m ? Number(m[1]) + Number(m[2]) : NaN };
}

async function buildVegeta(dir: string): Promise<string | string[]> {
  const bin = join(dir, 'bin');
  const result = await timed(['go', 'install', VEGETA_MODULE], { ...process.env, GOBIN: bin, GOFLAGS: '-mod=mod' }).catch((err: Error) => ({
    code: 1,
    stderr: err.message,
    stdout: '',
    cpuSeconds: 0,
  }));
  if (result.code !== 0) return [`could not build vegeta (${VEGETA_MODULE}) with go install: ${result.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${result.code}`}`];
  return join(bin, 'vegeta');
}

function freezeDuring(nginx: NginxServer, o: Options): void {
  setTimeout(() => void nginx.freeze(o.stall * 1000), o.stallAt * 1000);
}

/**
 * nginx with an accept queue deep enough for every connection vegeta opens while
 * it is frozen (one per request then): with its default 511, the kernel drops the
 * rest of the SYNs and their retransmissions (1 s, 3 s) would be counted as latency.
 */
const NGINX = { backlog: 4096, workerConnections: 8192 };

async function runVegeta(vegeta: string, dir: string, o: Options): Promise<Outcome> {
  const nginx = await startNginx(NGINX);
  try {
    const results = join(dir, 'vegeta.bin');
    freezeDuring(nginx, o);
    const attack = await timed([vegeta, 'attack', `-rate=${o.rate}/1s`, `-duration=${o.duration}s`, `-output=${results}`], process.env, `GET http://127.0.0.1:${nginx.port}/\n`);
    if (attack.code !== 0) throw new Error(`vegeta attack failed: ${attack.stderr}`);
    const report = await timed([vegeta, 'report', '-type=json', results]);
    const r = JSON.parse(report.stdout) as { requests: number; success: number; errors: string[] | null; latencies: { '99th': number } };
    if (r.success < 1) console.log(`vegeta: ${((1 - r.success) * 100).toFixed(2)} % of requests failed: ${(r.errors ?? []).slice(0, 3).join('; ')}`);
    const served = (await nginx.waitForAccessLog(r.requests, undefined, 5000)).length;
    return { tool: 'vegeta', served, cpuSeconds: attack.cpuSeconds, requestsForCpu: r.requests, p99Us: r.latencies['99th'] / 1000 };
  } finally {
    await nginx.stop();
  }
}

function runHistogram(archive: RunArchive, name: string): Histogram {
  const merged = new Histogram(HISTOGRAM_BOUNDS);
  for (const entry of archive.hlog) if (entry.tag === name) merged.add(entry.histogram);
  return merged;
}

async function sgcliRun(dir: string, o: Options, sustain: number, stall: boolean): Promise<{ archive: RunArchive; cpuSeconds: number; served: number }> {
  const nginx = await startNginx(NGINX);
  try {
    const script = join(dir, 'get.js');
    await writeFile(script, "await get('/');");
    if (stall) freezeDuring(nginx, o);
    const run = await timed(
      [
        process.execPath,
        SGCLI,
        'run',
        'bench-open',
        script,
        '--target-hosts',
        '127.0.0.1',
        '--target-port',
        String(nginx.port),
        '--arrival-rate',
        String(o.rate),
        '--sustain',
        String(sustain),
        '--report-interval',
        '60',
        '--data-dir',
        join(dir, 'data'),
      ],
      { ...process.env, STRESSGRID_WORKERS: String(o.workers), NO_COLOR: '1' },
    );
    if (run.code !== 0)
      throw new Error(
        `sgcli exited ${run.code}: ${run.stderr
          .split('\n')
          .filter((l) => !l.startsWith('t='))
          .join('\n')}`,
      );
    const archive = await readArchive(run.stdout.trim().split('\n').at(-1)!);
    const served = (await nginx.waitForAccessLog(o.rate * sustain, undefined, 5000)).length;
    return { archive, cpuSeconds: run.cpuSeconds, served };
  } finally {
    await nginx.stop();
  }
}

async function runSgcli(dir: string, o: Options): Promise<Outcome> {
  const short = await sgcliRun(dir, o, SHORT_RUN_S, false);
  const full = await sgcliRun(dir, o, o.duration, true);
  return {
    tool: 'sgcli',
    served: full.served,
    cpuSeconds: full.cpuSeconds - short.cpuSeconds,
    requestsForCpu: full.served - short.served,
    p99Us: runHistogram(full.archive, 'headers_intended_us').valueAtPercentile(99),
    uncorrectedP99Us: runHistogram(full.archive, 'headers_us').valueAtPercentile(99),
  };
}

function line(o: Options, r: Outcome): string {
  const achieved = r.served / o.duration;
  const rateError = Math.abs(achieved - o.rate) / o.rate;
  const cpuUs = (r.cpuSeconds * 1e6) / r.requestsForCpu;
  const uncorrected = r.uncorrectedP99Us === undefined ? '' : `, uncorrected p99 ${(r.uncorrectedP99Us / 1000).toFixed(2)} ms`;
  return `${r.tool.padEnd(7)} ${achieved.toFixed(1)} req/s (error ${(rateError * 100).toFixed(2)} %), ${cpuUs.toFixed(1)} µs CPU per request, p99 ${(r.p99Us / 1000).toFixed(1)} ms${uncorrected}`;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const dir = await mkdtemp(join(tmpdir(), 'sg-bench-open-'));
  try {
    console.log(`bench:open: ${o.rate} requests/s for ${o.duration} s against nginx, frozen ${o.stall} s at ${o.stallAt} s; sgcli with ${o.workers} workers`);
    console.log(
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    const vegeta = await buildVegeta(dir);
    let peer: Outcome | undefined;
    if (Array.isArray(vegeta)) console.log(`vegeta: skipped: ${vegeta[0]}`);
    else {
      peer = await runVegeta(vegeta, dir, o);
      console.log(line(o, peer));
    }
    const ours = await runSgcli(dir, o);
    console.log(line(o, ours));
    if (peer) {
      const cpu = ours.cpuSeconds / ours.requestsForCpu / (peer.cpuSeconds / peer.requestsForCpu);
      console.log(`sgcli/vegeta: CPU per request ${cpu.toFixed(2)}x (target ≤ 1.5x), corrected p99 ${(ours.p99Us / peer.p99Us).toFixed(3)}x (target within 10 %)`);
    }
    console.log(
      `load average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
