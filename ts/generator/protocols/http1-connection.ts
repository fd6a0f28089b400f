/**
 * HTTP/1.0 and HTTP/1.1 (plain or TLS) over one socket per device, written on
 * node:net/node:tls rather than undici because a device needs far less than a
 * general client: one request in flight, a whole body, no pool. An idle connection
 * is this object and its socket, nothing else (no parser, no buffers, no per-socket
 * closures); see bench/http-client.ts for the CPU and memory it saves. It also
 * sends a real `HTTP/1.0` request line, which undici cannot.
 */
import type { Socket } from 'node:net';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { WsUpgradeRefused } from './ws-upgrade-refused.js';
import { KEY } from '../../shared/metrics.js';
import type { HttpConnection, HttpRequest, HttpResponse, Target, WebSocketConnection, WsMessage, WsUpgradeResponse } from './device-connection.js';
import type { MetricSink } from '../metric-sink.js';
import { toDeviceError } from './error-codes.js';
import { closedByDevice, HttpExchange, mayRetryUnanswered } from './http-exchange.js';
import { requestProblem } from './http-request-validation.js';
import { openSocket } from './http-socket.js';
import { authority, isTlsTarget } from './http-target.js';
import { Http1ResponseParser } from './http1-response-parser.js';
import { handshakeProblem, newWebSocketKey, upgradeHeaders } from './ws-handshake.js';
import { upgradedSession, WebSocketSession } from './ws-session.js';

export interface Http1Options {
  /** 0 sends `HTTP/1.0` requests, 1 sends `HTTP/1.1`. */
  minorVersion: 0 | 1;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

const BODY_EXPECTED: ReadonlySet<HttpRequest['method']> = new Set(['POST', 'PUT', 'PATCH']);
const HTTP11_ALPN = ['http/1.1'];

const OWNER = Symbol('http1Connection');
type OwnedSocket = Socket & { [OWNER]?: Http1Connection | undefined };

// Module-level listeners, shared by every socket: per-connection closures would
// cost four function objects per idle device.
function onData(this: OwnedSocket, chunk: Buffer): void {
  this[OWNER]?.socketData(this, chunk);
}
function onEnd(this: OwnedSocket): void {
  this[OWNER]?.socketEnd(this);
}
function onError(this: OwnedSocket, err: Error): void {
  this[OWNER]?.socketFailed(this, toDeviceError(err));
}
function onClose(this: OwnedSocket): void {
  this[OWNER]?.socketFailed(this, new DeviceError(DEVICE_ERROR.closed, 'connection closed before the response was complete'));
}

export class Http1Connection implements HttpConnection, WebSocketConnection {
  private socket: OwnedSocket | undefined;
  /** Set once wsUpgrade succeeded: the socket then carries WebSocket frames, never HTTP again. */
  private ws: WebSocketSession | undefined;
  /** The Sec-WebSocket-Key of the upgrade request in flight, if the exchange is one. */
  private upgradeKey: string | undefined;
  private exchange: HttpExchange | undefined;
  private parser: Http1ResponseParser | undefined;
  private closed = false;
  private gotBytes = false;
  /** The socket has carried a whole exchange, so the server may have timed it out since. */
  private socketServed = false;
  /** The last exchange failed before a single response byte came, as in the keep-alive race. */
  private unanswered = false;

  constructor(
    private readonly target: Target,
    private readonly sink: MetricSink,
    private readonly options: Http1Options,
  ) {}

  async connect(): Promise<void> {
    if (this.closed) throw closedByDevice();
    if (this.socket !== undefined) return;
    const opened = await openSocket(this.target, {
      connectTimeoutMs: this.options.connectTimeoutMs,
      alpn: this.options.minorVersion === 1 && isTlsTarget(this.target) ? HTTP11_ALPN : undefined,
    });
    const socket = opened.socket as OwnedSocket;
    if (this.closed) {
      socket.destroy();
      throw closedByDevice();
    }
    this.sink.duration(KEY.conn, opened.connectUs);
    this.sink.count(KEY.conn);
    socket[OWNER] = this;
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    this.socket = socket;
    this.socketServed = false;
  }

  /** Upgrades to WebSocket itself, on its own socket. */
  get webSocket(): WebSocketConnection {
    return this;
  }

  get upgraded(): boolean {
    return this.ws !== undefined;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    if (this.ws !== undefined) throw new DeviceError(DEVICE_ERROR.wsUpgraded, `${req.method} on a connection upgraded to WebSocket`);
    return this.roundTrip(req, undefined);
  }

  /** Upgrades the connection to WebSocket (always as HTTP/1.1, RFC 6455 4.1); any status but 101 rejects with WsUpgradeRefused, which carries the response. */
  async wsUpgrade(path: string, headers: Array<[string, string]>): Promise<WsUpgradeResponse> {
    if (this.ws !== undefined) throw new DeviceError(DEVICE_ERROR.wsUpgraded, 'the connection is already upgraded to WebSocket');
    const key = newWebSocketKey();
    const response = await this.roundTrip({ method: 'GET', path, headers: upgradeHeaders(headers, key) }, key);
    if (response.status !== 101) throw new WsUpgradeRefused(path, response, 101);
    return { status: response.status, headers: response.headers, body: new Uint8Array(0) };
  }

  async wsSend(binary: boolean, payload: Uint8Array | string): Promise<void> {
    return upgradedSession(this.ws).send(binary, payload);
  }

  async wsReceive(timeoutMs: number): Promise<WsMessage> {
    return upgradedSession(this.ws).receive(timeoutMs);
  }

  wsFetch(): WsMessage | undefined {
    return upgradedSession(this.ws).fetch();
  }

  private async roundTrip(req: HttpRequest, upgradeKey: string | undefined): Promise<HttpResponse> {
    const problem = requestProblem(req, this.exchange !== undefined);
    if (problem !== undefined) throw problem;
    for (;;) {
      if (this.closed) throw closedByDevice();
      // A socket the server closed while idle was already dropped: reconnecting here is the transparent case.
      if (this.socket === undefined) await this.connect();
      const reused = this.socketServed;
      try {
        return await this.send(req, upgradeKey);
      } catch (err) {
        // The server may close an idle connection just as the request leaves; the
        // request was then never processed, so an idempotent one goes again, once.
        if (reused && this.unanswered && mayRetryUnanswered(req.method, err as DeviceError)) continue;
        throw err;
      }
    }
  }

  close(): void {
    this.closed = true;
    const exchange = this.exchange;
    this.exchange = undefined;
    this.parser = undefined;
    this.dropSocket();
    exchange?.fail(closedByDevice());
  }

  closeWhenAnswered(limitMs: number): Promise<void> | undefined {
    const exchange = this.exchange;
    if (exchange === undefined || this.ws !== undefined) {
      this.close();
      return undefined;
    }
    // No new request from here on; the one in flight completes (and is counted) or times out.
    this.closed = true;
    return exchange.settledWithin(limitMs).then(() => this.close());
  }

  /** @internal called by the shared socket listeners. */
  socketData(socket: OwnedSocket, chunk: Buffer): void {
    if (socket !== this.socket) return;
    if (this.ws !== undefined) {
      this.ws.data(chunk);
      return;
    }
    const { exchange, parser } = this;
    if (exchange === undefined || parser === undefined) {
      // Bytes nobody asked for: the stream is out of step, so it cannot be reused.
      this.dropSocket();
      return;
    }
    this.gotBytes = true;
    try {
      parser.push(chunk);
    } catch (err) {
      this.failExchange(toDeviceError(err));
      return;
    }
    if (parser.headersComplete) exchange.headers();
    if (parser.done) this.completeExchange(exchange, parser);
  }

  /** @internal */
  socketEnd(socket: OwnedSocket): void {
    if (socket !== this.socket) return;
    if (this.ws !== undefined) {
      this.ws.socketGone(new DeviceError(DEVICE_ERROR.closed, 'the server ended the connection'));
      return;
    }
    const { exchange, parser } = this;
    if (exchange === undefined || parser === undefined) {
      this.dropSocket();
      return;
    }
    try {
      parser.end();
    } catch (err) {
      this.failExchange(toDeviceError(err));
      return;
    }
    this.completeExchange(exchange, parser);
  }

  /** @internal */
  socketFailed(socket: OwnedSocket, err: DeviceError): void {
    if (socket !== this.socket) return;
    if (this.ws !== undefined) {
      this.ws.socketGone(err);
      return;
    }
    if (this.exchange === undefined) this.dropSocket();
    else this.failExchange(err);
  }

  private send(req: HttpRequest, upgradeKey: string | undefined): Promise<HttpResponse> {
    const socket = this.socket!;
    const minorVersion = upgradeKey === undefined ? this.options.minorVersion : 1;
    this.gotBytes = false;
    this.unanswered = false;
    this.upgradeKey = upgradeKey;
    this.parser = new Http1ResponseParser(req.method === 'HEAD', minorVersion);
    this.exchange = new HttpExchange(
      this.sink,
      this.options.requestTimeoutMs,
      () => {
        this.exchange = undefined;
        this.parser = undefined;
        this.dropSocket();
      },
      upgradeKey !== undefined,
    );
    socket.cork();
    socket.write(this.head(req, minorVersion), 'latin1');
    if (req.body !== undefined && req.body.length > 0) socket.write(req.body);
    socket.uncork();
    return this.exchange.promise;
  }

  private head(req: HttpRequest, minorVersion: 0 | 1): string {
    let hasHost = false;
    let hasConnection = false;
    let hasFraming = false;
    let fields = '';
    for (const [name, value] of req.headers) {
      const lower = name.toLowerCase();
      if (lower === 'host') hasHost = true;
      else if (lower === 'connection') hasConnection = true;
      else if (lower === 'content-length' || lower === 'transfer-encoding') hasFraming = true;
      fields += `${name}: ${value}\r\n`;
    }
    let head = `${req.method} ${req.path} HTTP/1.${minorVersion}\r\n`;
    if (!hasHost) head += `host: ${authority(this.target)}\r\n`;
    head += fields;
    // HTTP/1.0 closes after each response unless asked to keep the connection.
    if (minorVersion === 0 && !hasConnection) head += 'connection: keep-alive\r\n';
    const bodyLength = req.body?.length ?? 0;
    if (!hasFraming && (bodyLength > 0 || BODY_EXPECTED.has(req.method))) head += `content-length: ${bodyLength}\r\n`;
    return `${head}\r\n`;
  }

  private completeExchange(exchange: HttpExchange, parser: Http1ResponseParser): void {
    this.exchange = undefined;
    this.parser = undefined;
    const upgradeKey = this.upgradeKey;
    this.upgradeKey = undefined;
    if (upgradeKey !== undefined && parser.status === 101) {
      this.switchedToWebSocket(exchange, parser, upgradeKey);
      return;
    }
    if (parser.keepAlive) this.socketServed = true;
    else this.dropSocket();
    exchange.complete({ status: parser.status, headers: parser.headers, body: parser.bodyBytes() });
  }

  /** The server switched to WebSocket: from here on the socket's bytes are frames. */
  private switchedToWebSocket(exchange: HttpExchange, parser: Http1ResponseParser, key: string): void {
    const problem = handshakeProblem(parser.headers, key);
    if (problem !== undefined) {
      this.dropSocket();
      exchange.fail(problem);
      return;
    }
    const ws = new WebSocketSession(this.socket!, this.sink);
    this.ws = ws;
    exchange.complete({ status: parser.status, headers: parser.headers, body: new Uint8Array(0) });
    // Frames the server sent right behind its 101, in the same read.
    if (parser.afterEnd !== undefined) ws.data(parser.afterEnd);
  }

  private failExchange(err: DeviceError): void {
    const exchange = this.exchange;
    this.upgradeKey = undefined;
    this.unanswered = !this.gotBytes;
    this.exchange = undefined;
    this.parser = undefined;
    this.dropSocket();
    exchange?.fail(err);
  }

  private dropSocket(): void {
    const socket = this.socket;
    if (socket === undefined) return;
    this.socket = undefined;
    socket[OWNER] = undefined;
    // An upgraded socket ends with the WebSocket close handshake instead of a reset.
    if (this.ws !== undefined) this.ws.close();
    else socket.destroy();
  }
}
