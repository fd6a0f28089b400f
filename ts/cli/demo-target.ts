/**
 * A small HTTP server a fresh user can load-test with nothing else installed
 * (`sgcli run ... --demo`, or `sgcli demo-target` on its own); `/ws` upgrades to
 * a WebSocket that echoes every message. The TCP and UDP echoes (demo-echo.ts)
 * share the DemoTarget shape, so the CLI starts whichever the plan's protocol needs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Protocol } from '../shared/plan.js';
import { startTcpEcho, startUdpEcho } from './demo-echo.js';
import { listen } from './listen.js';

/** A running demo service. */
export interface DemoTarget {
  readonly host: string;
  readonly port: number;
  readonly protocol: Protocol;
  /** Requests answered so far (responses finished). */
  readonly served: number;
  close(): Promise<void>;
}

export interface DemoTargetOptions {
  /** Default 127.0.0.1: the demo is for this machine only. */
  host?: string;
  /** Default 0: a free port chosen by the OS. */
  port?: number;
  /** `tcp` and `udp` start an echo (demo-echo.ts); anything else the HTTP target. */
  protocol?: Protocol;
}

/** Where a user (or a browser) reaches the target: `http://127.0.0.1:41234`, `http://[::1]:41234`, `tcp://127.0.0.1:41235`. */
export const demoUrl = (target: Pick<DemoTarget, 'host' | 'port'> & { protocol?: Protocol }): string =>
  `${target.protocol === 'tcp' || target.protocol === 'udp' ? target.protocol : 'http'}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;

/** Where the demo target upgrades to its WebSocket echo. */
export const WEBSOCKET_ECHO_PATH = '/ws';

/** Longest wait `/delay` accepts, so a typo cannot hold a connection for hours. */
export const MAX_DELAY_MS = 60_000;
const GREETING = 'Hello from the Stressgrid demo target\n';
const JSON_DOCUMENT = JSON.stringify({
  service: 'stressgrid-demo-target',
  message: 'a small JSON document for load tests',
  items: [
    { id: 1, name: 'alpha', tags: ['a', 'first'] },
    { id: 2, name: 'beta', tags: ['b'] },
    { id: 3, name: 'gamma', tags: [] },
  ],
});

type Handler = (request: IncomingMessage, response: ServerResponse, url: URL) => void;

const send = (response: ServerResponse, status: number, contentType: string, body: string | Buffer): void => {
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  response.end(body);
};

const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  '/': {
    GET: (_request, response) => send(response, 200, 'text/plain; charset=utf-8', GREETING),
  },
  '/json': {
    GET: (_request, response) => send(response, 200, 'application/json', JSON_DOCUMENT),
  },
  '/echo': {
    POST: (request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => send(response, 200, request.headers['content-type'] ?? 'application/octet-stream', Buffer.concat(chunks)));
    },
  },
  '/delay': {
    GET: (request, response, url) => {
      const raw = url.searchParams.get('ms') ?? '0';
      const ms = Number(raw);
      if (!/^\d+$/.test(raw) || ms > MAX_DELAY_MS) {
        send(response, 400, 'text/plain; charset=utf-8', `ms must be a whole number from 0 to ${MAX_DELAY_MS}\n`);
        return;
      }
      const timer = setTimeout(() => send(response, 200, 'text/plain; charset=utf-8', `delayed ${ms} ms\n`), ms);
      // A device stopped during ramp-down closes mid-wait; do not keep its timer.
      request.socket.once('close', () => clearTimeout(timer));
    },
  },
};

function route(request: IncomingMessage, response: ServerResponse): void {
  const url = new URL(request.url ?? '/', 'http://demo');
  const methods = ROUTES[url.pathname];
  if (methods === undefined) {
    send(response, 404, 'text/plain; charset=utf-8', `no such path: ${url.pathname}\n`);
    return;
  }
  // HEAD answers as GET does; node drops the body.
  const handler = methods[request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET')];
  if (handler === undefined) {
    response.setHeader('allow', Object.keys(methods).join(', '));
    send(response, 405, 'text/plain; charset=utf-8', `${request.method} not allowed on ${url.pathname}\n`);
    return;
  }
  handler(request, response, url);
}

/** Starts the HTTP/1.1 demo target (keep-alive), or the echo `options.protocol` names, and resolves once it listens. */
export async function startDemoTarget(options: DemoTargetOptions = {}): Promise<DemoTarget> {
  if (options.protocol === 'tcp') return startTcpEcho(options);
  if (options.protocol === 'udp') return startUdpEcho(options);
  let served = 0;
  const server = createServer((request, response) => {
    response.once('finish', () => served++);
    route(request, response);
  });
  // WebSocket echo: each message goes back as it came, text or binary.
  const echo = new WebSocketServer({ server, path: WEBSOCKET_ECHO_PATH });
  echo.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  // Devices wait between requests (a script's delay) on one kept-alive connection;
  // node's 5 s default would close them under the load test and count as errors.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;

  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;

  return {
    host,
    port,
    protocol: 'http',
    get served() {
      return served;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const socket of echo.clients) socket.terminate();
        echo.close();
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
