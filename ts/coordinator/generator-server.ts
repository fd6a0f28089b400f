/**
 * The coordinator's generator port (9696): a WebSocket server whose every
 * connection becomes a Link handed to the coordinator. It admits a connection
 * only with the shared token (when one is set), and it is where a hostile or
 * broken peer stops: a bad frame, a wrong token, a peer that never says hello
 * closes that one connection, is logged, and touches nothing else.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { parseGeneratorFrame } from '../shared/protocol-validation.js';
import { PROTOCOL_VERSION, type CoordinatorMessage, type GeneratorMessage, type Hello } from '../shared/protocol.js';
import { DEFAULT_MAX_MESSAGE_BYTES, wsLink, type WsLink } from '../shared/ws-link.js';
import type { Coordinator } from './coordinator.js';
import { tokenCheck, tokenInQuery } from './token-auth.js';
import { SETTINGS } from '../shared/settings.js';

/** The port generators connect to (DESIGN.md section 6). */
export const GENERATOR_PORT = SETTINGS.generatorPort.fallback;
/** A connection that has not said hello by then is closed: it holds a socket and nothing else. */
export const HELLO_TIMEOUT_MS = 10_000;
/** How long close() lets generators finish their closing handshake. */
const CLOSE_TIMEOUT_MS = 2000;

export interface GeneratorServerOptions {
  coordinator: Coordinator;
  /** Default '0.0.0.0'. */
  host?: string;
  /** Default 9696; 0 picks a free port. */
  port?: number;
  /** When set, generators must present it as `Authorization: Bearer <token>` (never in the URL). */
  token?: string;
  log?: (line: string) => void;
  /** Largest message accepted from a generator (default 16 MiB). */
  maxMessageBytes?: number;
  /** Ping interval of each link (default DEFAULT_HEARTBEAT_MS); for tests. */
  heartbeatMs?: number;
  /** Default HELLO_TIMEOUT_MS; for tests. */
  helloTimeoutMs?: number;
}

export interface GeneratorServer {
  port: number;
  /** Connections open now, whether or not they have said hello yet. */
  connections(): number;
  close(): Promise<void>;
}

export async function startGeneratorServer(options: GeneratorServerOptions): Promise<GeneratorServer> {
  const { coordinator } = options;
  const log = options.log ?? ((line: string) => console.error(line));
  const say = (line: string) => log(`stressgrid coordinator: ${line}`);
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const helloTimeoutMs = options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
  const admits = generatorTokenCheck(options.token);

  const http = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket', connection: 'Upgrade' });
    res.end('This is the Stressgrid generator port: generators connect here over WebSocket. The website and API are on port 8000.\n');
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: maxMessageBytes });
  const links = new Set<WsLink<CoordinatorMessage, GeneratorMessage>>();

  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    // A peer that resets mid-handshake must cost its own socket, never the process.
    socket.on('error', () => socket.destroy());
    if (!admits(req)) {
      const inUrl = tokenInQuery(queryOf(req.url));
      const where = inUrl
        ? 'a token in the URL (?token=) is not accepted: generators send STRESSGRID_TOKEN as Authorization: Bearer'
        : 'missing or wrong token (set the same STRESSGRID_TOKEN on both sides)';
      say(`refused a generator connection from ${peer}: ${where}`);
      socket.end(
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n' +
          `this coordinator requires the generator token (STRESSGRID_TOKEN) as Authorization: Bearer${inUrl ? ', never in the URL' : ''}\n`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => accept(ws, peer));
  });

  function accept(ws: WebSocket, peer: string): void {
    let reported = false;
    let hello: Hello | undefined;
    const link = wsLink<CoordinatorMessage, GeneratorMessage>(ws, parseGeneratorFrame, {
      maxMessageBytes,
      heartbeatMs: options.heartbeatMs,
      onInvalid: (reason) => {
        reported = true;
        say(`closed the connection of ${hello?.generatorId ? `generator ${hello.generatorId}` : 'a generator'} from ${peer}: ${reason}`);
      },
    });
    links.add(link);
    const helloTimer = setTimeout(() => link.close(`no hello within ${helloTimeoutMs} ms`), helloTimeoutMs);
    link.onMessage((m) => {
      if (m.type !== 'hello' || hello !== undefined) return;
      hello = m;
      clearTimeout(helloTimer);
      if (m.version === PROTOCOL_VERSION) say(`generator ${m.generatorId} connected from ${peer} (${m.workers} workers)`);
    });
    link.onClose((reason) => {
      clearTimeout(helloTimer);
      void link.ended.then(() => links.delete(link));
      if (reported) return;
      // The registry closes a link it will not take (another version, no hello first) without a log line of its own.
      if (hello === undefined) say(`closed the connection of a generator from ${peer}: ${reason}`);
      else if (hello.version !== PROTOCOL_VERSION)
        say(`refused generator ${hello.generatorId || '(no id)'} from ${peer}: it speaks protocol version ${hello.version}, this coordinator ${PROTOCOL_VERSION}`);
      else say(`generator ${hello.generatorId} from ${peer} disconnected: ${reason}`);
    });
    coordinator.attachGenerator(link);
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? GENERATOR_PORT, options.host ?? '0.0.0.0', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  http.on('error', (err) => say(`generator port: ${err.message}`));

  let closing: Promise<void> | undefined;
  return {
    port,
    connections: () => links.size,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => http.close(() => resolve()));
        const open = [...links];
        for (const link of open) link.close('coordinator shutting down');
        const ended = Promise.all(open.map((l) => l.ended));
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref());
        await Promise.race([ended, timeout]);
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.closeAllConnections();
        await stopped;
      })();
      return closing;
    },
  };
}

/** Accepts every upgrade without a token; with one, a request that presents it (token-auth.ts). */
function generatorTokenCheck(token: string | undefined): (req: IncomingMessage) => boolean {
  if (!token) return () => true;
  const check = tokenCheck(token, 'generator');
  return (req) =>
    check({
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0]!,
      authorization: req.headers.authorization,
      protocols: req.headers['sec-websocket-protocol'],
    });
}

/** The query string of a request URL, without its `?` ('' when none). */
function queryOf(url: string | undefined): string {
  const at = (url ?? '').indexOf('?');
  return at < 0 ? '' : url!.slice(at + 1);
}
