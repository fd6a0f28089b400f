/**
 * The HTTP device transport: picks the HTTP/1.0, HTTP/1.1 or HTTP/2 connection
 * for a target's protocol. Devices call this and see only HttpConnection.
 */
import type { HttpConnection, Target } from './device-connection.js';
import type { MetricSink } from '../metric-sink.js';
import { Http1Connection } from './http1-connection.js';
import { Http2Connection } from './http2-connection.js';

export interface HttpConnectionOptions {
  /** TCP connect plus TLS handshake; past it `connect()` rejects with `conn_timedout`. Default 5000. */
  connectTimeoutMs?: number;
  /** Request written to body complete; past it `request()` rejects with `timeout`. Default 30000. */
  requestTimeoutMs?: number;
}

export const HTTP_CONNECTION_DEFAULTS = Object.freeze({ connectTimeoutMs: 5000, requestTimeoutMs: 30_000 });

export function createHttpConnection(target: Target, sink: MetricSink, options: HttpConnectionOptions = {}): HttpConnection {
  const timeouts = {
    connectTimeoutMs: options.connectTimeoutMs ?? HTTP_CONNECTION_DEFAULTS.connectTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs ?? HTTP_CONNECTION_DEFAULTS.requestTimeoutMs,
  };
  switch (target.protocol) {
    case 'http10':
    case 'http10s':
      return new Http1Connection(target, sink, { minorVersion: 0, ...timeouts });
    case 'http':
    case 'https':
      return new Http1Connection(target, sink, { minorVersion: 1, ...timeouts });
    case 'http2':
    case 'http2s':
      return new Http2Connection(target, sink, timeouts);
    default:
      throw new TypeError(`createHttpConnection: protocol ${target.protocol} is not HTTP`);
  }
}
