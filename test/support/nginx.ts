/**
 * A real nginx on loopback for tests and benchmarks: its own prefix directory,
 * free ports, an access log that records per request the connection it came on
 * and the protocol nginx saw, and TLS / HTTP/2 listeners on demand. nginx runs in
 * the foreground as one process (`daemon off; master_process off`), so it needs
 * no `user` switch when tests run as root and stop() can end it by its pid.
 *
 * Needs the Debian packages `nginx` and `openssl`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { selfSignedCert } from './tls-cert.js';

export interface NginxOptions {
  /** Adds an HTTPS listener (`tlsPort`) with a self-signed certificate for localhost. */
  tls?: boolean;
  /**
   * Adds a plain h2c listener with prior knowledge (`h2Port`), and, with `tls`,
   * offers `h2` by ALPN on `tlsPort` beside `http/1.1`.
   */
  http2?: boolean;
  /** nginx `keepalive_timeout`; default 60 s. */
  keepaliveTimeoutMs?: number;
  /** `worker_connections` (and the open-file limit nginx asks for); default 1024. */
  workerConnections?: number;
  /** Write the access log (default true); benchmarks turn it off so nginx spends nothing on it. */
  accessLog?: boolean;
  /** The plain listener's accept queue (`listen ... backlog=`); default nginx's own (511). */
  backlog?: number;
}

/** One line of the access log. */
export interface AccessLogEntry {
  /** nginx `$connection`: the serial number of the connection the request came on. */
  connection: number;
  /** `$connection_requests`: how many requests that connection had carried, this one included. */
  connectionRequests: number;
  /** `$server_protocol`: `HTTP/1.0`, `HTTP/1.1` or `HTTP/2.0`. */
  protocol: string;
  method: string;
  uri: string;
  status: number;
  /** `$ssl_server_name` (the SNI), or undefined when none was sent or over plain TCP. */
  sni: string | undefined;
  /** `$http_host`; for HTTP/2 the `:authority`. */
  host: string;
  /** `$scheme`. */
  scheme: string;
  /** `$msec`: when nginx logged the request (its response left), in ms since the epoch. */
  atMs: number;
}

export interface NginxServer {
  port: number;
  tlsPort: number | undefined;
  h2Port: number | undefined;
  /** Body of every response to `/`. */
  readonly body: string;
  /** Body of `/large` (a static file of LARGE_BODY_BYTES bytes). */
  readonly largeBody: Buffer;
  accessLogLines(): Promise<AccessLogEntry[]>;
  accessLogCount(): Promise<number>;
  /**
   * The lines with `uri` (every line when undefined) once there are `count` of
   * them, or what there is after `timeoutMs` (default 2000): nginx writes a line
   * just after the response leaves, so a client may see the response first.
   */
  waitForAccessLog(count: number, uri?: string, timeoutMs?: number): Promise<AccessLogEntry[]>;
  /** Freezes nginx (SIGSTOP) for `ms`: connections and requests queue in the kernel, nothing is answered until it resumes (SIGCONT). */
  freeze(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export const NGINX_BODY = 'hello from nginx\n';
export const LARGE_BODY_BYTES = 1024 * 1024 + 7;

const LOG_FORMAT = '$connection $connection_requests $server_protocol $request_method "$request_uri" $status "$ssl_server_name" "$http_host" $scheme $msec';
const LOG_LINE = /^(\d+) (\d+) (\S+) (\S+) "([^"]*)" (\d+) "([^"]*)" "([^"]*)" (\S+) (\d+\.\d+)$/;
const START_TIMEOUT_MS = 5000;
const ATTEMPTS = 3;

export async function startNginx(options: NginxOptions = {}): Promise<NginxServer> {
  const prefix = await mkdtemp(join(tmpdir(), 'sg-nginx-'));
  try {
    await mkdir(join(prefix, 'html'));
    await mkdir(join(prefix, 'temp'));
    const largeBody = Buffer.alloc(LARGE_BODY_BYTES);
    for (let i = 0; i < largeBody.length; i++) largeBody[i] = (i * 31 + 7) & 0xff;
    await writeFile(join(prefix, 'html', 'large'), largeBody);
    const cert = options.tls ? await selfSignedCert() : undefined;
    // Free ports are found by binding port 0; another process may take one before
    // nginx binds it, so a start that fails on a busy port is tried again.
    for (let attempt = 1; ; attempt++) {
      const ports = await freePorts(1 + (options.tls ? 1 : 0) + (options.http2 ? 1 : 0));
      const port = ports[0]!;
      const tlsPort = options.tls ? ports[1] : undefined;
      const h2Port = options.http2 ? ports[ports.length - 1] : undefined;
      const conf = config({ prefix, port, tlsPort, h2Port, cert, ...options });
      await writeFile(join(prefix, 'nginx.conf'), conf);
      await rm(join(prefix, 'access.log'), { force: true });
      try {
        const child = await launch(prefix, port);
        return server(prefix, child, { port, tlsPort, h2Port, largeBody });
      } catch (err) {
        if (attempt >= ATTEMPTS || !/Address already in use/.test(String(err))) throw err;
      }
    }
  } catch (err) {
    await rm(prefix, { recursive: true, force: true });
    throw err;
  }
}

interface ConfigInput extends NginxOptions {
  prefix: string;
  port: number;
  tlsPort: number | undefined;
  h2Port: number | undefined;
  cert: { keyPath: string; certPath: string } | undefined;
}

function config(c: ConfigInput): string {
  const connections = c.workerConnections ?? 1024;
  const temp = join(c.prefix, 'temp');
  const listens = [`listen 127.0.0.1:${c.port}${c.backlog === undefined ? '' : ` backlog=${c.backlog}`};`];
  if (c.tlsPort !== undefined) listens.push(`listen 127.0.0.1:${c.tlsPort} ssl${c.http2 ? ' http2' : ''};`);
  if (c.h2Port !== undefined) listens.push(`listen 127.0.0.1:${c.h2Port} http2;`);
  const tls = c.cert === undefined ? [] : [`ssl_certificate ${c.cert.certPath};`, `ssl_certificate_key ${c.cert.keyPath};`];
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(c.prefix, 'nginx.pid')};
error_log ${join(c.prefix, 'error.log')} warn;
worker_rlimit_nofile ${connections * 2 + 64};
events { worker_connections ${connections}; }
http {
  log_format sg '${LOG_FORMAT}';
  access_log ${c.accessLog === false ? 'off' : `${join(c.prefix, 'access.log')} sg`};
  client_body_temp_path ${temp}/body;
  proxy_temp_path ${temp}/proxy;
  fastcgi_temp_path ${temp}/fastcgi;
  uwsgi_temp_path ${temp}/uwsgi;
  scgi_temp_path ${temp}/scgi;
  keepalive_timeout ${c.keepaliveTimeoutMs ?? 60_000}ms;
  keepalive_requests 1000000;
  http2_max_requests 1000000;
  default_type text/plain;
  server {
    ${listens.join('\n    ')}
    ${tls.join('\n    ')}
    root ${join(c.prefix, 'html')};
    location = / { return 200 "${NGINX_BODY.replace('\n', '\\n')}"; }
    location = /large { default_type application/octet-stream; }
  }
}
`;
}

async function launch(prefix: string, port: number): Promise<ChildProcess> {
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`nginx could not start: ${err.message} (is the Debian package nginx installed?)`));
    child.once('exit', (code, signal) => resolve(`nginx exited (${code ?? signal})`));
  });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const outcome = await Promise.race([exited.then((why) => ({ why })), canConnect(port).then((up) => ({ up }))]);
    if ('why' in outcome) {
      const log = await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '');
      throw new Error(`${outcome.why}: ${stderr}${log}`.trim());
    }
    if (outcome.up) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms: ${stderr}`);
    }
    await sleep(20);
  }
}

function server(prefix: string, child: ChildProcess, ports: { port: number; tlsPort: number | undefined; h2Port: number | undefined; largeBody: Buffer }): NginxServer {
  const logPath = join(prefix, 'access.log');
  const accessLogLines = async (): Promise<AccessLogEntry[]> => {
    const text = await readFile(logPath, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map(parseLogLine);
  };
  let stopped: Promise<void> | undefined;
  return {
    ...ports,
    body: NGINX_BODY,
    accessLogLines,
    accessLogCount: async () => (await accessLogLines()).length,
    async waitForAccessLog(count, uri, timeoutMs = 2000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const lines = (await accessLogLines()).filter((line) => uri === undefined || line.uri === uri);
        if (lines.length >= count || Date.now() > deadline) return lines;
        await sleep(10);
      }
    },
    async freeze(ms) {
      child.kill('SIGSTOP');
      try {
        await sleep(ms);
      } finally {
        child.kill('SIGCONT');
      }
    },
    stop() {
      stopped ??= stopNginx(child, prefix);
      return stopped;
    },
  };
}

/** Ends an nginx started in the foreground and removes its prefix directory. */
export async function stopNginx(child: ChildProcess, prefix: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exit = new Promise((resolve) => child.once('exit', resolve));
    // SIGTERM is nginx's fast shutdown: it drops keep-alive connections instead of waiting for them.
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exit;
    clearTimeout(timer);
  }
  await rm(prefix, { recursive: true, force: true });
}

function parseLogLine(line: string): AccessLogEntry {
  const m = LOG_LINE.exec(line);
  if (m === null) throw new Error(`unexpected nginx access log line: ${line}`);
  return {
    connection: Number(m[1]),
    connectionRequests: Number(m[2]),
    protocol: m[3]!,
    method: m[4]!,
    uri: m[5]!,
    status: Number(m[6]),
    sni: m[7] === '' || m[7] === '-' ? undefined : m[7],
    host: m[8]!,
    scheme: m[9]!,
    atMs: Math.round(Number(m[10]) * 1000),
  };
}

/** `count` distinct ports the OS reports free right now. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
