/**
 * The contract every device transport keeps: one connection per device, opened
 * before the script's first operation, closed when the device ends. HTTP,
 * WebSocket, TCP and UDP each implement it; the device runtime knows nothing else
 * of them.
 */
import type { Protocol } from '../../shared/plan.js';
import type { MetricSink } from '../metric-sink.js';
import type { HttpMethod } from './http-grammar.js';

/** Where one device connects: an address already resolved to an IP. */
export interface Target {
  /** IPv4 or IPv6 literal. */
  ip: string;
  port: number;
  protocol: Protocol;
  /** The name the user gave (Host header, TLS SNI); equals `ip` when they gave an IP. */
  hostname: string;
  /** TLS server name override from the plan. */
  serverName?: string;
  verifyTls: boolean;
}

export interface HttpRequest {
  method: HttpMethod;
  path: string;
  headers: Array<[string, string]>;
  body?: Uint8Array;
}

export interface HttpResponse {
  status: number;
  /** Lower-case names, in the order received. */
  headers: Array<[string, string]>;
  body: Uint8Array;
}

export interface DeviceConnection {
  /** Opens the connection, recording `conn_us` and `conn_count`; rejects with a DeviceError. */
  connect(): Promise<void>;
  /** Closes at once; pending operations reject with code `closed`. Never throws. */
  close(): void;
  /**
   * Closes once the request already sent has its response (recorded like any
   * other), or after `limitMs`; at once when nothing is in flight. A target logs a
   * request it answered whether or not the device read the answer, so a device
   * stopped mid-request waits for it rather than leave a served request unreported.
   * Returns undefined when it closed at once, else a promise of the close; takes
   * no new request meanwhile.
   */
  closeWhenAnswered?(limitMs: number): Promise<void> | undefined;
}

export interface HttpConnection extends DeviceConnection {
  /**
   * One request at a time. Records `headers_us` (request sent → headers in),
   * `body_us` (headers in → body complete) and `response_count`; rejects with a
   * DeviceError (`conn_reset`, `closed`, `timeout`, ...).
   */
  request(req: HttpRequest): Promise<HttpResponse>;
  /**
   * The WebSocket this connection becomes after `wsUpgrade` (HTTP/1.1 takes
   * over its socket, HTTP/2 opens an extended-CONNECT stream), or undefined for
   * a connection that cannot carry one.
   */
  readonly webSocket: WebSocketConnection | undefined;
}

/** A WebSocket message as it came: text or binary, defragmented. */
export interface WsMessage {
  binary: boolean;
  data: Buffer;
}

export interface WsUpgradeResponse {
  /** 101 (HTTP/1.1) or 200 (HTTP/2 extended CONNECT): any other status rejects the upgrade with WsUpgradeRefused. */
  status: number;
  /** Lower-case names, in the order received. */
  headers: Array<[string, string]>;
  /** Empty on success; the server's explanation when refused. */
  body: Uint8Array;
}

/**
 * WebSocket on a device's HTTP/1.x connection, after `wsUpgrade`. Before it the
 * other calls reject with `ws_not_upgraded`; after it HTTP requests reject with
 * `ws_upgraded`. Received messages wait in a bounded buffer until the script takes them.
 */
export interface WebSocketConnection {
  /** True once `wsUpgrade` succeeded: the connection carries WebSocket now, never HTTP again. */
  readonly upgraded: boolean;
  /** Sends the upgrade request on the connection; records `ws_upgrade_us`. */
  wsUpgrade(path: string, headers: Array<[string, string]>): Promise<WsUpgradeResponse>;
  /** Sends one message (text as UTF-8); settles once the socket took it. */
  wsSend(binary: boolean, payload: Uint8Array | string): Promise<void>;
  /** The next message, waiting up to `timeoutMs` (then `timeout`); `closed` once the server closed and nothing is left. */
  wsReceive(timeoutMs: number): Promise<WsMessage>;
  /** The next buffered message or undefined, without waiting; throws a DeviceError before the upgrade. */
  wsFetch(): WsMessage | undefined;
}

export type ConnectionFactory<C extends DeviceConnection = DeviceConnection> = (target: Target, sink: MetricSink) => C;

/**
 * A TCP or UDP device's socket (`protocol: "tcp"` / `"udp"`): one send and one
 * receive at a time are typical, several may be pending. Rejections are
 * DeviceErrors (`conn_reset`, `closed`, `timeout`, ...).
 */
export interface SocketConnection extends DeviceConnection {
  /** Hands `data` to the kernel whole (TCP: a stream; UDP: one datagram); records `send_count` (its bytes: `socket_sent_bytes_count`). */
  send(data: Uint8Array): Promise<void>;
  /**
   * TCP: the bytes that have arrived, at least one and at most RECV_BYTES; UDP:
   * the next datagram. Waits up to `timeoutMs` (then `timeout`); records `receive_count`
   * (its bytes: `socket_received_bytes_count`).
   */
  recv(timeoutMs: number): Promise<Uint8Array>;
}
