/**
 * HTTP/2 for a device: one node:http2 session over the device's own socket (h2c
 * with prior knowledge, or TLS with ALPN `h2`), one stream at a time. The socket
 * is opened by openSocket so `conn_us` and connect errors match HTTP/1 exactly.
 * WebSocket runs over an extended CONNECT stream (RFC 8441) when the server
 * announces SETTINGS_ENABLE_CONNECT_PROTOCOL; otherwise `wsUpgrade` rejects
 * with `ws_unsupported`.
 */
import { connect as http2Connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { KEY } from '../../shared/metrics.js';
import type { HttpConnection, HttpRequest, HttpResponse, Target, WebSocketConnection, WsMessage, WsUpgradeResponse } from './device-connection.js';
import type { MetricSink } from '../metric-sink.js';
import { toDeviceError } from './error-codes.js';
import { closedByDevice, HttpExchange, mayRetryUnanswered } from './http-exchange.js';
import { requestProblem } from './http-request-validation.js';
import { openSocket } from './http-socket.js';
import { authority, isTlsTarget } from './http-target.js';
import { upgradedSession, WebSocketSession } from './ws-session.js';
import { WsUpgradeRefused } from './ws-upgrade-refused.js';

export interface Http2Options {
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

const H2_ALPN = ['h2'];
/** Headers HTTP/2 forbids (RFC 9113 8.2.2); `host` becomes `:authority`. */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
/** Headers the extended CONNECT sets itself (RFC 8441 4: no key, no accept; version 13, no extensions). */
const WS_HANDSHAKE_HEADERS: ReadonlySet<string> = new Set(['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions']);

export class Http2Connection implements HttpConnection, WebSocketConnection {
  private session: ClientHttp2Session | undefined;
  /** The server sent GOAWAY: the session finishes what it has but takes no new stream. */
  private draining = false;
  /** The session has carried a whole exchange, so the server may have timed it out since. */
  private sessionServed = false;
  private exchange: HttpExchange | undefined;
  private stream: ClientHttp2Stream | undefined;
  private closed = false;
  /** The server's first SETTINGS, which say whether it takes extended CONNECT. */
  private settings: Promise<void> | undefined;
  /** Set once wsUpgrade succeeded: the device then speaks WebSocket on that stream, never HTTP again. */
  private ws: WebSocketSession | undefined;
  /** `:scheme` and the default `:authority` of every request; the target does not change. */
  private readonly scheme: string;
  private readonly authority: string;

  constructor(
    private readonly target: Target,
    private readonly sink: MetricSink,
    private readonly options: Http2Options,
  ) {
    this.scheme = isTlsTarget(target) ? 'https' : 'http';
    this.authority = authority(target);
  }

  /** Upgrades to WebSocket itself, on an extended-CONNECT stream. */
  get webSocket(): WebSocketConnection {
    return this;
  }

  get upgraded(): boolean {
    return this.ws !== undefined;
  }

  async connect(): Promise<void> {
    if (this.closed) throw closedByDevice();
    if (this.session !== undefined) return;
    const tls = isTlsTarget(this.target);
    const { socket, connectUs } = await openSocket(this.target, {
      connectTimeoutMs: this.options.connectTimeoutMs,
      alpn: tls ? H2_ALPN : undefined,
    });
    if (this.closed) {
      socket.destroy();
      throw closedByDevice();
    }
    const alpn = tls ? (socket as TLSSocket).alpnProtocol : 'h2';
    if (alpn !== 'h2') {
      socket.destroy();
      throw new DeviceError(DEVICE_ERROR.protocol, `${this.target.ip}:${this.target.port} did not agree to HTTP/2 over ALPN (it chose ${alpn === false ? 'nothing' : alpn})`);
    }
    this.sink.duration(KEY.conn, connectUs);
    this.sink.count(KEY.conn);
    const session = http2Connect(`${this.scheme}://${this.authority}`, {
      createConnection: () => socket,
      settings: { enablePush: false },
    });
    session.on('error', (err: Error) => this.sessionEnded(session, toDeviceError(err)));
    session.on('close', () => this.sessionEnded(session, new DeviceError(DEVICE_ERROR.closed, 'HTTP/2 session closed before the response was complete')));
    session.on('goaway', () => {
      if (session === this.session) this.draining = true;
    });
    this.settings = new Promise<void>((resolve) => {
      session.once('remoteSettings', () => resolve());
      session.once('close', () => resolve());
    });
    this.session = session;
    this.draining = false;
    this.sessionServed = false;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    if (this.ws !== undefined) throw new DeviceError(DEVICE_ERROR.wsUpgraded, `${req.method} on a connection upgraded to WebSocket`);
    const problem = requestProblem(req, this.exchange !== undefined);
    if (problem !== undefined) throw problem;
    for (;;) {
      if (this.closed) throw closedByDevice();
      const session = this.session;
      if (session === undefined || this.draining || session.closed || session.destroyed) {
        this.dropSession();
        await this.connect();
      }
      const reused = this.sessionServed;
      const exchange = this.send(req);
      try {
        return await exchange.promise;
      } catch (err) {
        // A session the server is closing may refuse a stream it never processed; that one goes again.
        if (reused && !exchange.headersReceived && mayRetryUnanswered(req.method, err as DeviceError)) {
          this.dropSession();
          continue;
        }
        throw err;
      }
    }
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
    this.failExchange(closedByDevice());
    this.dropSession();
  }

  /**
   * Opens a WebSocket on an extended CONNECT stream (RFC 8441): `:protocol websocket`,
   * answered 200. Needs the server's SETTINGS_ENABLE_CONNECT_PROTOCOL (`ws_unsupported`
   * without it); any status but 200 rejects with the refusing response.
   */
  async wsUpgrade(path: string, headers: Array<[string, string]>): Promise<WsUpgradeResponse> {
    if (this.ws !== undefined) throw new DeviceError(DEVICE_ERROR.wsUpgraded, 'the connection is already upgraded to WebSocket');
    const problem = requestProblem({ method: 'GET', path, headers }, this.exchange !== undefined);
    if (problem !== undefined) throw problem;
    if (this.closed) throw closedByDevice();
    if (this.session === undefined || this.draining || this.session.closed || this.session.destroyed) {
      this.dropSession();
      await this.connect();
    }
    const session = this.session!;
    await this.settings;
    if (session !== this.session || session.destroyed) throw new DeviceError(DEVICE_ERROR.closed, 'the HTTP/2 session closed before the WebSocket upgrade');
    if (session.remoteSettings.enableConnectProtocol !== true) {
      throw new DeviceError(
        DEVICE_ERROR.wsUnsupported,
        `${this.authority} does not announce WebSocket over HTTP/2 (RFC 8441 SETTINGS_ENABLE_CONNECT_PROTOCOL): use an HTTP/1.x protocol (http, https, http10, http10s) for it`,
      );
    }
    const outgoing: OutgoingHttpHeaders = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': this.scheme,
      ':authority': this.authority,
      ':path': path,
    };
    for (const [name, value] of headers) {
      const lower = name.toLowerCase();
      if (lower === 'host') outgoing[':authority'] = value;
      else if (!CONNECTION_SPECIFIC.has(lower) && !WS_HANDSHAKE_HEADERS.has(lower)) outgoing[lower] = value;
    }
    outgoing['sec-websocket-version'] = '13';
    const sentAt = performance.now();
    const stream = session.request(outgoing, { endStream: false });
    const answer = await new Promise<{ status: number; headers: Array<[string, string]> }>((resolve, reject) => {
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(new DeviceError(DEVICE_ERROR.timeout, `no answer to the WebSocket upgrade of ${path} within ${this.options.requestTimeoutMs} ms`));
      }, this.options.requestTimeoutMs);
      stream.once('response', (incoming) => {
        clearTimeout(timer);
        resolve({ status: Number(incoming[':status']), headers: headerPairs(incoming) });
      });
      stream.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(toDeviceError(err));
      });
      stream.once('close', () => {
        clearTimeout(timer);
        reject(new DeviceError(DEVICE_ERROR.closed, `the WebSocket upgrade stream closed before an answer (code ${stream.rstCode})`));
      });
    });
    if (answer.status !== 200) {
      const body = await readToEnd(stream, this.options.requestTimeoutMs);
      stream.close();
      throw new WsUpgradeRefused(path, { ...answer, body }, 200);
    }
    this.sink.duration(KEY.wsUpgrade, Math.round((performance.now() - sentAt) * 1000));
    const ws = new WebSocketSession(stream, this.sink);
    this.ws = ws;
    stream.removeAllListeners('close');
    stream.removeAllListeners('error');
    stream.on('data', (chunk: Buffer) => ws.data(chunk));
    stream.on('end', () => ws.socketGone(new DeviceError(DEVICE_ERROR.closed, 'the server ended the WebSocket stream')));
    stream.on('close', () => ws.socketGone(new DeviceError(DEVICE_ERROR.closed, 'the WebSocket stream closed')));
    stream.on('error', (err: Error) => ws.socketGone(toDeviceError(err)));
    return { status: answer.status, headers: answer.headers, body: new Uint8Array(0) };
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

  closeWhenAnswered(limitMs: number): Promise<void> | undefined {
    const exchange = this.exchange;
    if (exchange === undefined || this.ws !== undefined) {
      this.close();
      return undefined;
    }
    // No new stream from here on; the one in flight completes (and is counted) or times out.
    this.closed = true;
    return exchange.settledWithin(limitMs).then(() => this.close());
  }

  private send(req: HttpRequest): HttpExchange {
    const body = req.body !== undefined && req.body.length > 0 ? req.body : undefined;
    const headers = requestHeaders(req, this.scheme, this.authority, body);
    const exchange = new HttpExchange(this.sink, this.options.requestTimeoutMs, () => {
      this.exchange = undefined;
      this.stream?.close(constants.NGHTTP2_CANCEL);
      this.stream = undefined;
    });
    this.exchange = exchange;
    let stream: ClientHttp2Stream;
    try {
      // @types/node does not know the flat list yet.
      stream = this.session!.request(RAW_REQUEST_HEADERS ? (headers as unknown as OutgoingHttpHeaders) : headerObject(headers), { endStream: body === undefined });
    } catch (err) {
      this.failExchange(toDeviceError(err));
      return exchange;
    }
    this.stream = stream;
    let status = 0;
    let responseHeaders: Array<[string, string]> = [];
    const parts: Buffer[] = [];
    stream.on('response', (incoming) => {
      status = Number(incoming[':status']);
      responseHeaders = headerPairs(incoming);
      exchange.headers();
    });
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.on('end', () => {
      if (exchange !== this.exchange) return;
      this.exchange = undefined;
      this.stream = undefined;
      this.sessionServed = true;
      exchange.complete({ status, headers: responseHeaders, body: parts.length === 1 ? parts[0]! : Buffer.concat(parts) });
    });
    stream.on('error', (err: Error) => {
      if (exchange === this.exchange) this.failExchange(toDeviceError(err));
    });
    stream.on('close', () => {
      if (exchange === this.exchange) {
        this.failExchange(new DeviceError(DEVICE_ERROR.closed, `HTTP/2 stream closed before the response was complete (code ${stream.rstCode})`));
      }
    });
    if (body !== undefined) stream.end(body);
    return exchange;
  }

  private sessionEnded(session: ClientHttp2Session, err: DeviceError): void {
    if (session !== this.session) return;
    this.ws?.socketGone(err);
    this.failExchange(err);
    this.dropSession();
  }

  private failExchange(err: DeviceError): void {
    const exchange = this.exchange;
    const stream = this.stream;
    this.exchange = undefined;
    this.stream = undefined;
    if (stream !== undefined && !stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
    exchange?.fail(err);
  }

  private dropSession(): void {
    const session = this.session;
    if (session === undefined) return;
    this.session = undefined;
    session.destroy();
  }
}

/** The rest of a stream's body (a refused upgrade's explanation), cut short after `timeoutMs`. */
function readToEnd(stream: ClientHttp2Stream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts));
    };
    const timer = setTimeout(done, timeoutMs);
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.once('end', done);
    stream.once('close', done);
  });
}

const COLON = 0x3a;
/** Index of `:authority`'s value in requestHeaders' list. */
const AUTHORITY_AT = 5;
/**
 * Whether node:http2 takes request headers as a flat `[name, value, ...]` list
 * (Node 22.17 and 24): it then skips copying them into a header object, which
 * saves a few µs of a request's CPU.
 */
const RAW_REQUEST_HEADERS = ((version: number[]) => version[0]! > 22 || (version[0] === 22 && version[1]! >= 17))(process.versions.node.split('.').map(Number));

/**
 * A request's headers as node:http2's flat list: pseudo-headers first, names in
 * lower case, `host` as `:authority` (the last one given wins), HTTP/2's
 * forbidden connection headers left out, `content-length` added to a body that
 * has none. A repeated header stays repeated.
 */
function requestHeaders(req: HttpRequest, scheme: string, authority: string, body: Uint8Array | undefined): string[] {
  const list = [':method', req.method, ':scheme', scheme, ':authority', authority, ':path', req.path];
  let length = false;
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    if (lower === 'host') list[AUTHORITY_AT] = value;
    else if (!CONNECTION_SPECIFIC.has(lower)) {
      if (lower === 'content-length') length = true;
      list.push(lower, value);
    }
  }
  if (body !== undefined && !length) list.push('content-length', String(body.length));
  return list;
}

/** The header object older node:http2 takes for requestHeaders' list: a repeated header becomes an array. */
function headerObject(list: string[]): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = Object.create(null) as OutgoingHttpHeaders;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const previous = headers[name];
    headers[name] = previous === undefined ? list[i + 1] : [...(Array.isArray(previous) ? previous : [String(previous)]), list[i + 1]!];
  }
  return headers;
}

/** Response headers as lower-case pairs, pseudo-headers left out, repeated ones (set-cookie) spread. */
function headerPairs(incoming: Record<string, string | string[] | number | undefined>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const name of Object.keys(incoming)) {
    if (name.charCodeAt(0) === COLON) continue;
    const value = incoming[name];
    if (Array.isArray(value)) for (const v of value) pairs.push([name, v]);
    else if (value !== undefined) pairs.push([name, String(value)]);
  }
  return pairs;
}
