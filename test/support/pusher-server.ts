/**
 * A server speaking the Pusher channels protocol (version 7) as far as the
 * Pusher example uses it, on loopback: `pusher:connection_established` with a
 * socket_id on connect; `pusher:subscribe` to a private channel checked against
 * the HMAC-SHA256 signature `key:hex(hmac(secret, socket_id:channel))`
 * (`pusher_internal:subscription_succeeded`, or `pusher:error` code 4009 when
 * it does not match); client events on a subscribed private channel broadcast
 * to the channel's other subscribers; `pusher:ping` answered. It counts what it
 * saw, and records the channels and the sizes of the events' data, so a test
 * can compare them with the run's report and the example's description.
 */
import { createHmac, randomInt } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeWebSocketServer } from './ws-server.js';

export interface PusherServerOptions {
  appKey?: string;
  secret?: string;
}

export interface PusherStats {
  connections: number;
  subscribed: number;
  authFailures: number;
  /** Client events received on channels the sender had subscribed to. */
  clientEvents: number;
  /** Client events delivered to other subscribers. */
  delivered: number;
  /** Client events refused (not subscribed, not a private channel). */
  refusedEvents: number;
  /** Channels subscribed to, each once. */
  readonly channels: Set<string>;
  /** Client events received, by the length of their `data` (-1 when it is not a string). */
  readonly dataLengths: Map<number, number>;
}

export interface PusherServer {
  port: number;
  readonly stats: PusherStats;
  close(): Promise<void>;
}

const APP_PATH = /^\/app\/([^/?]+)(?:\?(.*))?$/;

export async function startPusherServer(options: PusherServerOptions = {}): Promise<PusherServer> {
  const appKey = options.appKey ?? 'app_key';
  const secret = options.secret ?? 'secret';
  const stats: PusherStats = { connections: 0, subscribed: 0, authFailures: 0, clientEvents: 0, delivered: 0, refusedEvents: 0, channels: new Set(), dataLengths: new Map() };
  const channels = new Map<string, Set<WebSocket>>();
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const wss = new WebSocketServer({ server });

  const send = (ws: WebSocket, message: object): void => ws.send(JSON.stringify(message));

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    ws.on('error', () => {});
    const path = APP_PATH.exec(req.url ?? '');
    if (path === null || path[1] !== appKey) {
      send(ws, { event: 'pusher:error', data: { code: 4001, message: `App key ${path?.[1]} does not exist` } });
      ws.close(4001, 'unknown app key');
      return;
    }
    stats.connections++;
    const socketId = `${randomInt(1, 2 ** 31)}.${randomInt(1, 2 ** 31)}`;
    const joined = new Set<string>();
    ws.on('close', () => {
      for (const name of joined) channels.get(name)?.delete(ws);
    });
    send(ws, { event: 'pusher:connection_established', data: JSON.stringify({ socket_id: socketId, activity_timeout: 120 }) });

    ws.on('message', (raw: Buffer) => {
      let message: { event?: unknown; channel?: unknown; data?: unknown };
      try {
        message = JSON.parse(raw.toString('utf8')) as typeof message;
      } catch {
        send(ws, { event: 'pusher:error', data: { code: null, message: 'the message is not JSON' } });
        return;
      }
      const event = String(message.event);
      if (event === 'pusher:ping') return send(ws, { event: 'pusher:pong', data: {} });
      if (event === 'pusher:subscribe') {
        const data = (message.data ?? {}) as { auth?: unknown; channel?: unknown };
        const channel = String(data.channel);
        const expected = `${appKey}:${createHmac('sha256', secret).update(`${socketId}:${channel}`).digest('hex')}`;
        if (channel.startsWith('private-') && data.auth !== expected) {
          stats.authFailures++;
          return send(ws, { event: 'pusher:error', data: { code: 4009, message: `Invalid signature: Expected HMAC SHA256 hex digest of ${socketId}:${channel}` } });
        }
        let members = channels.get(channel);
        if (members === undefined) channels.set(channel, (members = new Set()));
        members.add(ws);
        joined.add(channel);
        stats.channels.add(channel);
        stats.subscribed++;
        return send(ws, { event: 'pusher_internal:subscription_succeeded', channel, data: '{}' });
      }
      if (event.startsWith('client-')) {
        const channel = String(message.channel);
        if (!channel.startsWith('private-') || !joined.has(channel)) {
          stats.refusedEvents++;
          return send(ws, { event: 'pusher:error', data: { code: null, message: `client event on ${channel}, which this connection has not subscribed to` } });
        }
        stats.clientEvents++;
        const length = typeof message.data === 'string' ? message.data.length : -1;
        stats.dataLengths.set(length, (stats.dataLengths.get(length) ?? 0) + 1);
        const text = JSON.stringify({ event, channel, data: message.data });
        for (const member of channels.get(channel) ?? []) {
          if (member === ws) continue;
          member.send(text);
          stats.delivered++;
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stats,
    close: () => closeWebSocketServer(server, wss, sockets),
  };
}
