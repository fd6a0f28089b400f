/**
 * What every TCP/UDP device socket does the same way, whichever engine moves
 * its bytes (netio in Rust, or node:net / node:dgram): the connect timeout,
 * waiting sends and receives, receive timeouts, the metrics, and turning a
 * failure into the DeviceError every pending operation rejects with. An engine
 * implements five small methods and reports back through the protected
 * `opened/openFailed/arrived/flushed/broke` calls. Byte counts are the engine's
 * own: netio counts them natively for the whole thread (netio-connection.ts),
 * the fallback through `countSentBytes/countReceivedBytes`: sent bytes as the
 * kernel takes them, received bytes as a receive takes them (netio reads only
 * for a waiting receive, so both count the same bytes).
 *
 * Bounds (the script-facing numbers README.md documents):
 * - a receive returns at most RECV_BYTES (TCP: what has arrived; UDP: one
 *   datagram); nothing is read from the socket while no receive waits, so a
 *   flooding peer is held back by TCP flow control, and UDP datagrams beyond
 *   the socket's kernel buffer (or UDP_QUEUE_DATAGRAMS in the fallback) are dropped;
 * - a send may queue at most MAX_QUEUED_BYTES the kernel has not taken yet;
 *   a larger send, or one that would overflow the queue, is `bad_argument`.
 */
import { performance } from 'node:perf_hooks';
import { DEVICE_ERROR, DeviceError } from '../../shared/errors.js';
import { KEY } from '../../shared/metrics.js';
import type { MetricSink } from '../metric-sink.js';
import type { SocketConnection, Target } from './device-connection.js';
import { ReceiveDeadlines } from './receive-deadlines.js';

/** Most bytes one receive returns (crates/netio `Limits::recv_bytes`). */
export const RECV_BYTES = 64 * 1024;
/** Most unsent bytes queued per connection (crates/netio `Limits::max_queued_bytes`). */
export const MAX_QUEUED_BYTES = 1024 * 1024;
/** Datagrams the node:dgram fallback holds for a script that is not receiving. */
export const UDP_QUEUE_DATAGRAMS = 64;

export interface SocketOptions {
  /** TCP connect; past it `connect()` rejects with `conn_timedout`. */
  connectTimeoutMs: number;
}

export const SOCKET_DEFAULTS: Readonly<SocketOptions> = Object.freeze({ connectTimeoutMs: 5000 });

/** What an engine's write did: all taken, some queued (`flushed()` follows), or failed. */
export type WriteResult = 'sent' | 'queued' | DeviceError;

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: DeviceError): void;
  timer?: NodeJS.Timeout;
}

/** A receive that waits (one object per receive, no closures: tens of thousands wait at once). */
class WaitingReceive {
  slot = 0;
  constructor(
    readonly resolve: (bytes: Uint8Array) => void,
    readonly reject: (error: DeviceError) => void,
    private readonly owner: SocketDeviceConnection,
    readonly timeoutMs: number,
  ) {}

  expire(): void {
    this.owner.timedOut(this);
  }
}

const deadlines = new ReceiveDeadlines<WaitingReceive>();

type Phase = 'new' | 'connecting' | 'open' | 'broken' | 'closed';

export abstract class SocketDeviceConnection implements SocketConnection {
  private phase: Phase = 'new';
  private failure: DeviceError | undefined;
  private connecting: Waiter<void> | undefined;
  private readonly sends: Waiter<void>[] = [];
  private readonly receives: WaitingReceive[] = [];
  /** Bytes that came for a receive that had already timed out: the next receive gets them first. */
  private early: Uint8Array | undefined;
  private started = 0;

  constructor(
    protected readonly target: Target,
    private readonly sink: MetricSink,
    private readonly options: SocketOptions = SOCKET_DEFAULTS,
  ) {}

  /** Starts connecting; reports `opened` or `openFailed` (possibly synchronously). */
  protected abstract open(): void;
  protected abstract write(data: Uint8Array): WriteResult;
  /** Bytes available now, or undefined after arming the socket to report `arrived` later. */
  protected abstract read(): Uint8Array | undefined | DeviceError;
  /** Releases the socket; no report follows. */
  protected abstract release(): void;

  connect(): Promise<void> {
    if (this.phase !== 'new') return Promise.reject(new DeviceError(DEVICE_ERROR.closed, 'connect() called twice'));
    this.phase = 'connecting';
    this.started = performance.now();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.openFailed(new DeviceError(DEVICE_ERROR.connTimedout, `connect to ${this.address} timed out after ${this.options.connectTimeoutMs} ms`));
        this.release();
      }, this.options.connectTimeoutMs);
      this.connecting = { resolve, reject, timer };
      this.open();
    });
  }

  send(data: Uint8Array): Promise<void> {
    const refused = this.unusable();
    if (refused) return Promise.reject(refused);
    if (data.byteLength > MAX_QUEUED_BYTES) {
      return Promise.reject(new DeviceError(DEVICE_ERROR.badArgument, `send: ${data.byteLength} bytes is more than one send may carry (${MAX_QUEUED_BYTES})`));
    }
    const result = this.write(data);
    if (result === 'sent') {
      this.sink.count(KEY.send);
      return Promise.resolve();
    }
    if (result !== 'queued') {
      if (result.code !== DEVICE_ERROR.badArgument) this.broke(result);
      return Promise.reject(result);
    }
    return new Promise<void>((resolve, reject) => this.sends.push({ resolve, reject }));
  }

  recv(timeoutMs: number): Promise<Uint8Array> {
    const refused = this.unusable();
    if (refused) return Promise.reject(refused);
    if (this.receives.length === 0) {
      const now = this.take();
      if (now instanceof DeviceError) {
        this.broke(now);
        return Promise.reject(now);
      }
      if (now !== undefined) {
        this.sink.count(KEY.receive);
        return Promise.resolve(now);
      }
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const waiter = new WaitingReceive(resolve, reject, this, timeoutMs);
      waiter.slot = deadlines.add(waiter, timeoutMs);
      this.receives.push(waiter);
    });
  }

  /** `waiter`'s time is up (called by the deadlines). */
  timedOut(waiter: WaitingReceive): void {
    const i = this.receives.indexOf(waiter);
    if (i >= 0) this.receives.splice(i, 1);
    waiter.reject(new DeviceError(DEVICE_ERROR.timeout, `nothing received from ${this.address} in ${waiter.timeoutMs} ms`));
  }

  close(): void {
    if (this.phase === 'closed') return;
    const wasOpen = this.phase !== 'new';
    this.fail(new DeviceError(DEVICE_ERROR.closed, 'the device closed its connection'));
    this.phase = 'closed';
    if (wasOpen) this.release();
  }

  protected get address(): string {
    return this.target.ip.includes(':') ? `[${this.target.ip}]:${this.target.port}` : `${this.target.ip}:${this.target.port}`;
  }

  /** The engine connected; `connUs` when it measured the time itself. */
  protected opened(connUs?: number): void {
    const waiter = this.connecting;
    if (this.phase !== 'connecting' || waiter === undefined) return;
    this.connecting = undefined;
    clearTimeout(waiter.timer);
    this.phase = 'open';
    this.sink.duration(KEY.conn, Math.round(connUs ?? (performance.now() - this.started) * 1000));
    this.sink.count(KEY.conn);
    waiter.resolve();
  }

  protected openFailed(error: DeviceError): void {
    if (this.phase !== 'connecting') return;
    this.fail(error);
  }

  /** Bytes for the oldest waiting receive (the engine reads only while one waits). */
  protected arrived(bytes: Uint8Array): void {
    const waiter = this.receives.shift();
    if (waiter === undefined) {
      this.early = this.early === undefined ? bytes : Buffer.concat([this.early, bytes]);
      return;
    }
    deadlines.remove(waiter, waiter.slot);
    this.sink.count(KEY.receive);
    waiter.resolve(bytes);
    // More receives wait: serve them from what is there now, or arm again.
    while (this.receives.length > 0 && this.phase === 'open') {
      const now = this.take();
      if (now === undefined) return;
      if (now instanceof DeviceError) {
        this.broke(now);
        return;
      }
      const next = this.receives.shift()!;
      deadlines.remove(next, next.slot);
      this.sink.count(KEY.receive);
      next.resolve(now);
    }
  }

  /** Every queued send reached the kernel. */
  protected flushed(): void {
    for (const waiter of this.sends.splice(0)) {
      this.sink.count(KEY.send);
      waiter.resolve();
    }
  }

  /** The kernel took `n` bytes of this connection's sends. */
  protected countSentBytes(n: number): void {
    this.sink.count(KEY.socketSentBytes, n);
  }

  /** A receive took `n` bytes read from this connection's socket. */
  protected countReceivedBytes(n: number): void {
    this.sink.count(KEY.socketReceivedBytes, n);
  }

  /** The connection failed; every pending and later operation rejects with `error`. */
  protected broke(error: DeviceError): void {
    if (this.phase === 'open') this.fail(error);
  }

  private take(): Uint8Array | undefined | DeviceError {
    const early = this.early;
    if (early !== undefined) {
      this.early = undefined;
      return early;
    }
    return this.read();
  }

  private unusable(): DeviceError | undefined {
    if (this.phase === 'open') return undefined;
    if (this.failure) return this.failure;
    return new DeviceError(DEVICE_ERROR.closed, this.phase === 'closed' ? 'the connection is closed' : 'the connection is not open yet');
  }

  private fail(error: DeviceError): void {
    if (this.phase === 'broken' || this.phase === 'closed') return;
    this.phase = 'broken';
    this.failure = error;
    const connecting = this.connecting;
    this.connecting = undefined;
    if (connecting) {
      clearTimeout(connecting.timer);
      connecting.reject(error);
    }
    for (const waiter of this.sends.splice(0)) waiter.reject(error);
    for (const waiter of this.receives.splice(0)) {
      deadlines.remove(waiter, waiter.slot);
      waiter.reject(error);
    }
  }
}
