/**
 * Opens the one TCP (or TLS) socket an HTTP device holds, and measures what
 * `conn_us` means: TCP connect plus TLS handshake. HTTP/1 and HTTP/2 both open
 * their sockets here so the measurement and its errors are the same for both.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import type { Target } from './device-connection.js';
import { toDeviceError } from './error-codes.js';
import { isTlsTarget, tlsServerName } from './http-target.js';

export interface OpenedSocket {
  socket: Socket | TLSSocket;
  /** Microseconds from the first SYN to the connection being usable (TLS handshake included). */
  connectUs: number;
}

export interface OpenSocketOptions {
  connectTimeoutMs: number;
  /** ALPN protocols to offer over TLS, most preferred first. */
  alpn?: string[];
}

/** Connects to `target`; rejects with a DeviceError (`conn_refused`, `conn_timedout`, `tls`, ...). */
export function openSocket(target: Target, options: OpenSocketOptions): Promise<OpenedSocket> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const tls = isTlsTarget(target);
    const socket = tls
      ? tlsConnect({
          host: target.ip,
          port: target.port,
          servername: tlsServerName(target),
          rejectUnauthorized: target.verifyTls,
          ALPNProtocols: options.alpn,
        })
      : tcpConnect({ host: target.ip, port: target.port });
    const done = (): void => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
    };
    const onError = (err: Error): void => {
      done();
      socket.destroy();
      reject(toDeviceError(err, 'connect'));
    };
    const timer = setTimeout(() => {
      done();
      socket.destroy();
      reject(new DeviceError(DEVICE_ERROR.connTimedout, `connect to ${target.ip}:${target.port} timed out after ${options.connectTimeoutMs} ms`));
    }, options.connectTimeoutMs);
    socket.once('error', onError);
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      done();
      socket.setNoDelay(true);
      resolve({ socket, connectUs: Math.round((performance.now() - started) * 1000) });
    });
  });
}
