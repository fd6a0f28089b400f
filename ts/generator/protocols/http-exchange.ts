/**
 * One request in flight on a device's connection: its deadline, its timing
 * (`headers_us` from the request written to the headers in, `body_us` from the
 * headers to the body complete) and the promise the script awaits. HTTP/1 and
 * HTTP/2 drive it the same way, so both record the same metrics the same way.
 */
import { performance } from 'node:perf_hooks';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { KEY } from '../../shared/metrics.js';
import type { HttpRequest, HttpResponse } from './device-connection.js';
import type { MetricSink } from '../metric-sink.js';

/** Methods RFC 9110 9.2.2 lets a client resend when a reused connection turns out to be closed. */
const IDEMPOTENT: ReadonlySet<HttpRequest['method']> = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT']);

/**
 * Whether a request that failed on a reused connection before any response came
 * may go again on a fresh one: the server closed the idle connection as the
 * request left, so it never processed it.
 */
export const mayRetryUnanswered = (method: HttpRequest['method'], err: DeviceError): boolean => IDEMPOTENT.has(method) && (err.code === DEVICE_ERROR.closed || err.code === DEVICE_ERROR.connReset);

/** The error of anything asked of a connection its device already closed. */
export const closedByDevice = (): DeviceError => new DeviceError(DEVICE_ERROR.closed, 'connection closed by the device');

export class HttpExchange {
  readonly promise: Promise<HttpResponse>;
  private resolveFn!: (response: HttpResponse) => void;
  private rejectFn!: (err: DeviceError) => void;
  private readonly timer: NodeJS.Timeout;
  private readonly sentAt = performance.now();
  private headersAt = 0;
  settled = false;

  /**
   * Starts the clock; `onTimeout` must tear the exchange's stream or socket down.
   * A WebSocket upgrade records only `ws_upgrade_us` (request written to 101 in), not the response metrics.
   */
  constructor(
    private readonly sink: MetricSink,
    timeoutMs: number,
    onTimeout: (err: DeviceError) => void,
    private readonly upgrade = false,
  ) {
    this.promise = new Promise<HttpResponse>((resolve, reject) => {
      this.resolveFn = resolve;
      this.rejectFn = reject;
    });
    this.timer = setTimeout(() => {
      const err = new DeviceError(DEVICE_ERROR.timeout, `no complete response within ${timeoutMs} ms`);
      this.fail(err);
      onTimeout(err);
    }, timeoutMs);
  }

  /** Resolves once the exchange has settled either way, or after `limitMs`, whichever comes first. */
  settledWithin(limitMs: number): Promise<void> {
    if (this.settled) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, limitMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.promise.then(done, done);
    });
  }

  get headersReceived(): boolean {
    return this.headersAt !== 0;
  }

  /** Marks the response headers as in; later calls are ignored. */
  headers(): void {
    if (this.headersAt !== 0) return;
    this.headersAt = performance.now();
    if (this.upgrade) return;
    this.sink.duration(KEY.headers, Math.round((this.headersAt - this.sentAt) * 1000));
  }

  complete(response: HttpResponse): void {
    if (this.settled) return;
    this.headers();
    this.settled = true;
    clearTimeout(this.timer);
    if (!this.upgrade) {
      this.sink.duration(KEY.body, Math.round((performance.now() - this.headersAt) * 1000));
      this.sink.count(KEY.response);
    } else if (response.status === 101) {
      this.sink.duration(KEY.wsUpgrade, Math.round((this.headersAt - this.sentAt) * 1000));
    }
    this.resolveFn(response);
  }

  fail(err: DeviceError): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.rejectFn(err);
  }
}
