/**
 * nginx as the target of a run at scale: `workers` worker processes, one port on
 * each of the loopback addresses 127.0.0.1 .. 127.0.0.<addresses>. A client's
 * connections to one address share the ~28,000 ephemeral ports of its source
 * address, so 100,000 devices need several target addresses; Linux routes the
 * whole of 127.0.0.0/8 to the loopback interface, so there is nothing to set up.
 * The access log has one line per answered request, for counting.
 *
 * Needs the Debian package nginx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { canConnect, freePorts, stopNginx } from './nginx.js';

export interface LoopbackNginxOptions {
  /** nginx worker processes (default 1). */
  workers?: number;
  /** Loopback addresses to listen on, 127.0.0.1 up (default 1, at most 254). */
  addresses?: number;
  /** Connections each worker may hold (default 1024); the open-file limit each asks for follows. */
  workerConnections?: number;
}

export interface LoopbackNginx {
  port: number;
  /** `127.0.0.1`, `127.0.0.2`, ... */
  hosts: string[];
  /** The master's pid and the workers' (for CPU figures). */
  pids(): Promise<number[]>;
  /** Lines in the access log: requests nginx answered. */
  accessLogCount(): Promise<number>;
  /** The count once it has not moved for `quietMs` (nginx logs a request just after its response leaves). */
  settledAccessLogCount(quietMs?: number, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

export const LOOPBACK_NGINX_BODY = 'hello from nginx\n';
const START_TIMEOUT_MS = 10_000;
const ATTEMPTS = 3;

export async function startLoopbackNginx(options: LoopbackNginxOptions = {}): Promise<LoopbackNginx> {
  const workers = options.workers ?? 1;
  const addresses = options.addresses ?? 1;
  if (!Number.isInteger(addresses) || addresses < 1 || addresses > 254) throw new RangeError(`addresses must be 1 to 254, got ${addresses}`);
  const hosts = Array.from({ length: addresses }, (_, i) => `127.0.0.${i + 1}`);
  const prefix = await mkdtemp(join(tmpdir(), 'sg-nginx-loopback-'));
  try {
    await mkdir(join(prefix, 'temp'));
    for (let attempt = 1; ; attempt++) {
      const [port] = (await freePorts(1)) as [number];
      await writeFile(join(prefix, 'nginx.conf'), config(prefix, port, hosts, workers, options.workerConnections ?? 1024));
      await rm(join(prefix, 'access.log'), { force: true });
      try {
        const child = await launch(prefix, port, hosts);
        return handle(prefix, child, port, hosts);
      } catch (err) {
        if (attempt >= ATTEMPTS || !/Address already in use/.test(String(err))) throw err;
      }
    }
  } catch (err) {
    await rm(prefix, { recursive: true, force: true });
    throw err;
  }
}

function config(prefix: string, port: number, hosts: string[], workers: number, connections: number): string {
  const temp = join(prefix, 'temp');
  return `daemon off;
master_process on;
user root;
worker_processes ${workers};
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
worker_rlimit_nofile ${connections + 64};
events { worker_connections ${connections}; multi_accept on; }
http {
  log_format count '$status';
  access_log ${join(prefix, 'access.log')} count;
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  keepalive_timeout 600s;
  keepalive_requests 1000000;
  default_type text/plain;
  server {
    ${hosts.map((h) => `listen ${h}:${port} backlog=4096;`).join('\n    ')}
    location / { return 200 "${LOOPBACK_NGINX_BODY.replace('\n', '\\n')}"; }
  }
}
`;
}

async function launch(prefix: string, port: number, hosts: string[]): Promise<ChildProcess> {
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`nginx could not start: ${err.message} (is the Debian package nginx installed?)`));
    child.once('exit', (code, signal) => resolve(`nginx exited (${code ?? signal})`));
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const up = Promise.all(hosts.map((h) => canConnect(port, h))).then((all) => all.every(Boolean));
    const outcome = await Promise.race([exited.then((why) => ({ why })), up.then((ok) => ({ ok }))]);
    if ('why' in outcome) {
      const log = await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`${outcome.why}: ${stderr}${log}`.trim());
    }
    if (outcome.ok) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen on port ${port} of ${hosts.join(', ')} within ${START_TIMEOUT_MS} ms: ${stderr}`);
    }
    await sleep(50);
  }
}

function handle(prefix: string, child: ChildProcess, port: number, hosts: string[]): LoopbackNginx {
  const logPath = join(prefix, 'access.log');
  const accessLogCount = (): Promise<number> =>
    new Promise((resolve) => {
      // Counted as a stream: a million lines is tens of megabytes.
      let lines = 0;
      createReadStream(logPath)
        .on('data', (chunk) => {
          const bytes = chunk as Buffer;
          for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
        })
        .on('end', () => resolve(lines))
        .on('error', () => resolve(lines));
    });
  let stopped: Promise<void> | undefined;
  return {
    port,
    hosts,
    async pids() {
      const master = Number((await readFile(join(prefix, 'nginx.pid'), 'utf8').catch(() => String(child.pid))).trim());
      const children = await readFile(`/proc/${master}/task/${master}/children`, 'utf8').catch(() => '');
      return [
        master,
        ...children
          .split(' ')
          .filter((p) => p !== '')
          .map(Number),
      ];
    },
    accessLogCount,
    async settledAccessLogCount(quietMs = 1000, timeoutMs = 30_000) {
      let count = await accessLogCount();
      let since = Date.now();
      const deadline = since + timeoutMs;
      for (;;) {
        await sleep(200);
        const now = await accessLogCount();
        if (now !== count) [count, since] = [now, Date.now()];
        else if (Date.now() - since >= quietMs) return count;
        if (Date.now() > deadline) return count;
      }
    },
    stop() {
      stopped ??= stopNginx(child, prefix);
      return stopped;
    },
  };
}
