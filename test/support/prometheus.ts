/**
 * A real Prometheus on loopback for tests: its own config and data directory, a
 * free port, optionally its remote-write receiver, one scrape job at a
 * one-second interval. Queried over its HTTP API; stop() ends it by its pid.
 *
 * Needs the Debian package `prometheus` (2.42 here).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closedPort } from './closed-port.js';

export interface PrometheusScrapeJob {
  /** `127.0.0.1:port` of the coordinator. */
  target: string;
  /** A bearer token Prometheus sends, written to a file it reads (`authorization.credentials_file`). */
  token?: string;
}

export interface PrometheusOptions {
  scrape?: PrometheusScrapeJob;
  /** --web.enable-remote-write-receiver */
  remoteWriteReceiver?: boolean;
  /** Listen on this port (a restart on the same port); default a free one. */
  port?: number;
  /** Reuse a data directory (a restart keeps what was written). */
  dataDir?: string;
}

export interface PrometheusVector {
  metric: Record<string, string>;
  value: [number, string];
}

export interface PrometheusMatrix {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

export interface PrometheusServer {
  port: number;
  url: string;
  /** Where remote write goes: `<url>/api/v1/write`. */
  remoteWriteUrl: string;
  dataDir: string;
  /** An instant query at `time` (seconds; default now). */
  query(expr: string, time?: number): Promise<PrometheusVector[]>;
  /** A range query over [start, end] (seconds) at `step` seconds. */
  queryRange(expr: string, start: number, end: number, step: number): Promise<PrometheusMatrix[]>;
  /** The scrape targets' health (`up`, `down`, `unknown`) and last errors. */
  targets(): Promise<Array<{ health: string; lastError: string; lastScrape: string }>>;
  /** Ends the process; `keepData` leaves its data directory for a restart. */
  stop(keepData?: boolean): Promise<void>;
  output(): string;
}

export async function startPrometheus(options: PrometheusOptions = {}): Promise<PrometheusServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-prometheus-'));
  const dataDir = options.dataDir ?? join(dir, 'data');
  const port = options.port ?? (await closedPort());
  const scrapeConfigs: string[] = [];
  if (options.scrape) {
    const tokenFile = join(dir, 'token');
    if (options.scrape.token !== undefined) await writeFile(tokenFile, options.scrape.token);
    scrapeConfigs.push(
      [
        '  - job_name: stressgrid',
        '    scrape_interval: 1s',
        '    scrape_timeout: 1s',
        ...(options.scrape.token !== undefined ? ['    authorization:', '      type: Bearer', `      credentials_file: ${tokenFile}`] : []),
        '    static_configs:',
        `      - targets: ['${options.scrape.target}']`,
      ].join('\n'),
    );
  }
  const config = join(dir, 'prometheus.yml');
  await writeFile(config, ['global:', '  scrape_interval: 1s', 'scrape_configs:', ...(scrapeConfigs.length > 0 ? scrapeConfigs : ['  []'])].join('\n') + '\n');
  const args = [
    `--config.file=${config}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
    ...(options.remoteWriteReceiver ? ['--web.enable-remote-write-receiver'] : []),
  ];
  const child = spawn('/usr/bin/prometheus', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (keepData = false): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    if (!keepData) await rm(dir, { recursive: true, force: true });
    if (!keepData && options.dataDir) await rm(options.dataDir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (i >= 300 || child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus did not start on ${port}:\n${output}`);
    }
    await sleep(100);
  }
  const api = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const response = await fetch(`${url}${path}?${new URLSearchParams(params).toString()}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  };
  return {
    port,
    url,
    remoteWriteUrl: `${url}/api/v1/write`,
    dataDir,
    async query(expr, time) {
      const data = await api<{ result: PrometheusVector[] }>('/api/v1/query', { query: expr, ...(time === undefined ? {} : { time: String(time) }) });
      return data.result;
    },
    async queryRange(expr, start, end, step) {
      const data = await api<{ result: PrometheusMatrix[] }>('/api/v1/query_range', { query: expr, start: String(start), end: String(end), step: String(step) });
      return data.result;
    },
    async targets() {
      const data = await api<{ activeTargets: Array<{ health: string; lastError: string; lastScrape: string }> }>('/api/v1/targets', {});
      return data.activeTargets;
    },
    stop,
    output: () => output,
  };
}
