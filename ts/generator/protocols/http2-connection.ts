/**
 * HTTP/2 for a device: one session (http2-session.ts) over the device's own
 * socket (h2c with prior knowledge, or TLS with ALPN `h2`), one stream at a time.
 * The socket is opened by openSocket so `conn_us` and connect errors match HTTP/1
 * exactly. WebSocket runs over an extended CONNECT stream (RFC 8441) when the
 * server announces SETTINGS_ENABLE_CONNECT_PROTOCOL; otherwise `wsUpgrade`
 * rejects with `ws_unsupported`.
 */
import type { TLSSocket } from 'node:tls';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { KEY } from '../../shared/metrics.js';
import type { HttpConnection, HttpRequest, HttpResponse, Target, WebSocketConnection, WsMessage, WsUpgradeResponse } from './device-connection.js';
import type { MetricSink } from '../metric-sink.js';
import { closedByDevice, HttpExchange, mayRetryUnanswered } from './http-exchange.js';
import { H2_ERROR } from './http2-frames.js';
import { Http2Session, type StreamHandler } from './http2-session.js';
import { requestProblem } from './http-request-validation.js';
import { openSocket } from './http-socket.js';
import { authority, isTlsTarget } from './http-target.js';
import { upgradedSession, WebSocketSession, type WsTransport } from './ws-session.js';
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
  private session: Http2Session | undefined;
  /** The session has carried a whole exchange, so the server may have timed it out since. */
  private sessionServed = false;
  private exchange: HttpExchange | undefined;
  /** The stream of the exchange in flight. */
  private streamId = 0;
  private closed = false;
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
    const session: Http2Session = new Http2Session(socket, (err) => this.sessionEnded(session, err));
    this.session = session;
    this.sessionServed = false;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    if (this.ws !== undefined) throw new DeviceError(DEVICE_ERROR.wsUpgraded, `${req.method} on a connection upgraded to WebSocket`);
    const problem = requestProblem(req, this.exchange !== undefined);
    if (problem !== undefined) throw problem;
    for (;;) {
      if (this.closed) throw closedByDevice();
      if (this.session === undefined || !this.session.open) {
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
    if (this.session === undefined || !this.session.open) {
      this.dropSession();
      await this.connect();
    }
    const session = this.session!;
    await session.settled;
    if (session !== this.session || session.destroyed) throw new DeviceError(DEVICE_ERROR.closed, 'the HTTP/2 session closed before the WebSocket upgrade');
    if (!session.connectProtocol) {
      throw new DeviceError(
        DEVICE_ERROR.wsUnsupported,
        `${this.authority} does not announce WebSocket over HTTP/2 (RFC 8441 SETTINGS_ENABLE_CONNECT_PROTOCOL): use an HTTP/1.x protocol (http, https, http10, http10s) for it`,
      );
    }
    const outgoing = [':method', 'CONNECT', ':protocol', 'websocket', ':scheme', this.scheme, ':authority', this.authority, ':path', path];
    for (const [name, value] of headers) {
      const lower = name.toLowerCase();
      if (lower === 'host') outgoing[7] = value;
      else if (!CONNECTION_SPECIFIC.has(lower) && !WS_HANDSHAKE_HEADERS.has(lower)) outgoing.push(lower, value);
    }
    outgoing.push('sec-websocket-version', '13');
    const sentAt = performance.now();
    const upgrade = new UpgradeStream();
    const id = session.request(outgoing, undefined, false, upgrade);
    const timer = setTimeout(() => {
      session.reset(id);
      upgrade.fail(new DeviceError(DEVICE_ERROR.timeout, `no answer to the WebSocket upgrade of ${path} within ${this.options.requestTimeoutMs} ms`));
    }, this.options.requestTimeoutMs);
    this.upgrading = upgrade;
    let answer: { status: number; headers: Array<[string, string]> };
    try {
      answer = await upgrade.answer;
    } finally {
      clearTimeout(timer);
      this.upgrading = undefined;
    }
    if (answer.status !== 200) {
      const body = await upgrade.rest(this.options.requestTimeoutMs);
      session.reset(id);
      throw new WsUpgradeRefused(path, { ...answer, body }, 200);
    }
    this.sink.duration(KEY.wsUpgrade, Math.round((performance.now() - sentAt) * 1000));
    const ws = new WebSocketSession(new StreamTransport(session, id), this.sink);
    this.ws = ws;
    upgrade.becomes(ws);
    return { status: answer.status, headers: answer.headers, body: new Uint8Array(0) };
  }

  /** The extended CONNECT waiting for its answer, which hears of the session's end. */
  private upgrading: UpgradeStream | undefined;

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
    const session = this.session!;
    const body = req.body !== undefined && req.body.length > 0 ? req.body : undefined;
    const exchange = new HttpExchange(this.sink, this.options.requestTimeoutMs, () => this.abandon(exchange));
    this.exchange = exchange;
    const response = new ResponseStream(
      exchange,
      () => this.answered(exchange),
      (err) => exchange === this.exchange && this.failExchange(err),
    );
    this.streamId = session.request(requestHeaders(req, this.scheme, this.authority, body), body, true, response);
    return exchange;
  }

  /** The exchange's response is whole: the session served it, and a stream we still send on is cancelled. */
  private answered(exchange: HttpExchange): void {
    if (exchange !== this.exchange) return;
    this.exchange = undefined;
    this.sessionServed = true;
    if (this.session?.has(this.streamId)) this.session.reset(this.streamId, H2_ERROR.cancel);
  }

  /** The exchange timed out (already failed): its stream is cancelled. */
  private abandon(exchange: HttpExchange): void {
    if (exchange !== this.exchange) return;
    this.exchange = undefined;
    this.session?.reset(this.streamId);
  }

  private sessionEnded(session: Http2Session, err: DeviceError): void {
    if (session !== this.session) return;
    this.session = undefined;
    this.ws?.socketGone(err);
    this.upgrading?.fail(err);
    this.failExchange(err);
  }

  private failExchange(err: DeviceError): void {
    const exchange = this.exchange;
    if (exchange === undefined) return;
    this.exchange = undefined;
    this.session?.reset(this.streamId);
    exchange.fail(err);
  }

  private dropSession(): void {
    const session = this.session;
    if (session === undefined) return;
    this.session = undefined;
    session.destroy();
  }
}

/** Why a stream the server reset ended: a refusal is `closed` (the request may go again), as are NO_ERROR and CANCEL; any other code is `protocol`. */
function resetError(code: number, what: string): DeviceError {
  if (code === H2_ERROR.refusedStream || code === H2_ERROR.noError || code === H2_ERROR.cancel) {
    return new DeviceError(DEVICE_ERROR.closed, `HTTP/2 ${what} closed before the response was complete (code ${code})`);
  }
  return new DeviceError(DEVICE_ERROR.protocol, `HTTP/2 ${what} reset by the server with error code ${code}`);
}

/** The response to one request: status and headers, then the body, then the exchange completes. */
class ResponseStream implements StreamHandler {
  private status = 0;
  private headerPairs: Array<[string, string]> = [];
  private readonly parts: Buffer[] = [];

  constructor(
    private readonly exchange: HttpExchange,
    private readonly onComplete: () => void,
    private readonly onFailure: (err: DeviceError) => void,
  ) {}

  headers(fields: Array<[string, string]>, endStream: boolean): void {
    if (this.status === 0) {
      const status = statusOf(fields);
      if (status === undefined) return this.broken('a response without a valid :status');
      // An informational response (100 Continue, 103 Early Hints) comes before the real one.
      if (status < 200) {
        if (endStream) this.broken(`an informational response (${status}) that ends the stream`);
        return;
      }
      this.status = status;
      this.headerPairs = withoutPseudo(fields);
      this.exchange.headers();
    }
    // Later blocks are trailers: they end the stream and are not kept.
    if (endStream) this.complete();
  }

  data(chunk: Buffer, endStream: boolean): void {
    if (this.status === 0) return this.broken('DATA before the response headers');
    if (chunk.length > 0) this.parts.push(chunk);
    if (endStream) this.complete();
  }

  reset(code: number): void {
    this.onFailure(resetError(code, 'stream'));
  }

  private complete(): void {
    this.onComplete();
    const parts = this.parts;
    this.exchange.complete({ status: this.status, headers: this.headerPairs, body: parts.length === 1 ? parts[0]! : Buffer.concat(parts) });
  }

  private broken(why: string): void {
    this.onFailure(new DeviceError(DEVICE_ERROR.protocol, `HTTP/2: ${why}`));
  }
}

/**
 * The extended CONNECT of a WebSocket upgrade: its answer, a refusal's body,
 * and once upgraded the stream's DATA handed to the WebSocket session.
 */
class UpgradeStream implements StreamHandler {
  readonly answer: Promise<{ status: number; headers: Array<[string, string]> }>;
  private resolveAnswer!: (answer: { status: number; headers: Array<[string, string]> }) => void;
  private rejectAnswer!: (err: DeviceError) => void;
  private answered = false;
  private readonly parts: Buffer[] = [];
  private ended = false;
  private onEnd: (() => void) | undefined;
  private ws: WebSocketSession | undefined;

  constructor() {
    this.answer = new Promise((resolve, reject) => {
      this.resolveAnswer = resolve;
      this.rejectAnswer = reject;
    });
  }

  headers(fields: Array<[string, string]>, endStream: boolean): void {
    if (!this.answered) {
      const status = statusOf(fields);
      if (status === undefined) return this.fail(new DeviceError(DEVICE_ERROR.protocol, 'HTTP/2: an upgrade answer without a valid :status'));
      if (status < 200) return;
      this.answered = true;
      this.resolveAnswer({ status, headers: withoutPseudo(fields) });
    }
    if (endStream) this.end();
  }

  data(chunk: Buffer, endStream: boolean): void {
    if (this.ws !== undefined) {
      if (chunk.length > 0) this.ws.data(chunk);
    } else if (chunk.length > 0) this.parts.push(chunk);
    if (endStream) this.end();
  }

  reset(code: number): void {
    if (this.ws !== undefined) this.ws.socketGone(new DeviceError(DEVICE_ERROR.closed, `the WebSocket stream closed (code ${code})`));
    else if (!this.answered) this.fail(new DeviceError(DEVICE_ERROR.closed, `the WebSocket upgrade stream closed before an answer (code ${code})`));
    this.end();
  }

  fail(err: DeviceError): void {
    if (this.ws !== undefined) {
      this.ws.socketGone(err);
      return;
    }
    if (!this.answered) {
      this.answered = true;
      this.rejectAnswer(err);
    }
    this.end();
  }

  /** From the upgrade on, the stream's DATA is the WebSocket's. */
  becomes(ws: WebSocketSession): void {
    this.ws = ws;
    for (const part of this.parts.splice(0)) ws.data(part);
    if (this.ended) ws.socketGone(new DeviceError(DEVICE_ERROR.closed, 'the server ended the WebSocket stream'));
  }

  /** A refusal's body: what came until the stream ended, cut short after `timeoutMs`. */
  rest(timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(Buffer.concat(this.parts));
      };
      const timer = setTimeout(done, timeoutMs);
      if (this.ended) done();
      else this.onEnd = done;
    });
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ws !== undefined) this.ws.socketGone(new DeviceError(DEVICE_ERROR.closed, 'the server ended the WebSocket stream'));
    this.onEnd?.();
  }
}

/** An upgraded stream as the WebSocket session's transport: its frames go out as DATA. */
class StreamTransport implements WsTransport {
  constructor(
    private readonly session: Http2Session,
    private readonly id: number,
  ) {}

  get destroyed(): boolean {
    return !this.session.has(this.id);
  }

  write(chunk: Uint8Array, callback?: (err?: Error | null) => void): boolean {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    this.session.write(this.id, data, false, callback);
    return true;
  }

  end(): this {
    this.session.write(this.id, Buffer.alloc(0), true);
    return this;
  }

  destroy(): this {
    this.session.reset(this.id);
    return this;
  }

  resume(): this {
    return this;
  }
}

function statusOf(fields: Array<[string, string]>): number | undefined {
  for (const [name, value] of fields) {
    if (name === ':status') return /^[1-5]\d\d$/.test(value) ? Number(value) : undefined;
  }
  return undefined;
}

/** Response headers as lower-case pairs, pseudo-headers left out, repeated ones (set-cookie) kept repeated. */
function withoutPseudo(fields: Array<[string, string]>): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const field of fields) if (field[0].charCodeAt(0) !== COLON) pairs.push(field);
  return pairs;
}

const COLON = 0x3a;
/** Index of `:authority`'s value in requestHeaders' list. */
const AUTHORITY_AT = 5;

/**
 * A request's headers as a flat list: pseudo-headers first, names in
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
