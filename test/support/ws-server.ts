/**
 * A real `ws` WebSocket server on loopback, plain or TLS, for device tests. By
 * default it echoes every message back with its type; `onConnection` replaces
 * that with a test's own behaviour. Plain HTTP requests get `200 plain`, and an
 * upgrade to a path starting `/refuse` is answered 401, so tests can mix HTTP
 * and WebSocket on one connection. It counts what it received, so a test can
 * compare the server's view with the device's metrics.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Protocol } from '../../ts/shared/plan.js';
import type { Target } from '../../ts/generator/protocols/device-connection.js';
import { selfSignedCert } from './tls-cert.js';

export interface WsServerOptions {
  tls?: boolean;
  /** Replaces the echo. */
  onConnection?: (ws: WebSocket, req: IncomingMessage) => void;
}

export interface WsTestServer {
  port: number;
  wss: WebSocketServer;
  /** TCP connections accepted. */
  readonly connections: number;
  /** WebSocket connections opened (upgrades accepted). */
  readonly upgrades: number;
  /** Messages received from clients, all connections together. */
  readonly messages: number;
  /** The last messages received (up to 100), oldest first. */
  readonly recent: Array<{ data: Buffer; isBinary: boolean }>;
  /** A device target on this server; `protocol` defaults to `http` or `https`. */
  target(protocol?: Protocol): Target;
  close(): Promise<void>;
}

export async function startWsServer(options: WsServerOptions = {}): Promise<WsTestServer> {
  let server: Server;
  if (options.tls) {
    const cert = await selfSignedCert();
    server = createHttpsServer({ key: cert.key, cert: cert.cert });
  } else {
    server = createHttpServer();
  }
  server.on('request', (_req, res) => res.end('plain'));
  const sockets = new Set<Socket>();
  const counts = { connections: 0, upgrades: 0, messages: 0 };
  const recent: Array<{ data: Buffer; isBinary: boolean }> = [];
  server.on(options.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    counts.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({
    server,
    maxPayload: 128 * 1024 * 1024,
    verifyClient: (info: { req: IncomingMessage }) => !(info.req.url ?? '').startsWith('/refuse'),
  });
  wss.on('connection', (ws, req) => {
    counts.upgrades++;
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      counts.messages++;
      recent.push({ data, isBinary });
      if (recent.length > 100) recent.shift();
    });
    if (options.onConnection) options.onConnection(ws, req);
    else ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    wss,
    get connections() {
      return counts.connections;
    },
    get upgrades() {
      return counts.upgrades;
    },
    get messages() {
      return counts.messages;
    },
    recent,
    target: (protocol = options.tls ? 'https' : 'http') => ({ ip: '127.0.0.1', port, protocol, hostname: '127.0.0.1', verifyTls: false }),
    close: () => closeWebSocketServer(server, wss, sockets),
  };
}

/** Drops every client and connection at once, then stops listening. */
export function closeWebSocketServer(server: Server, wss: WebSocketServer, sockets: Iterable<Socket>): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const client of wss.clients) client.terminate();
    for (const socket of sockets) socket.destroy();
    wss.close();
    server.close(() => resolve());
  });
}
