/**
 * TCP/UDP device sockets on netio (crates/netio): one engine, one poller, per
 * thread, driven from the Node event loop. Its events arrive in batches; this
 * file routes each to its connection. Sends and receives that can finish at
 * once do so inside the call, with no event at all.
 */
import type { DeviceError } from '../../shared/errors.js';
import { KEY } from '../../shared/metrics.js';
import { EVENT, EVENT_WIDTH, TRANSPORT, type EngineHandle, type NetioAddon } from '../../netio/native.js';
import type { MetricSink } from '../metric-sink.js';
import type { Target } from './device-connection.js';
import { SocketDeviceConnection, SOCKET_DEFAULTS, type SocketOptions, type WriteResult } from './socket-connection.js';
import { errnoError } from './socket-errors.js';

/**
 * `STRESSGRID_NETIO_WAKE=thread` wakes the event loop from a waiter thread
 * (uv_async) instead of polling the engine's fd on the loop: the I/O-thread
 * handoff, kept so docs/performance.md's comparison can be repeated. Only an
 * addon built with cargo feature `thread-wake` has it; the default build's
 * createEngine refuses the setting (ERR_NETIO_ARGUMENT, naming the feature).
 */
export const NETIO_WAKE_ENV = 'STRESSGRID_NETIO_WAKE';

/** The engine of this thread and the connections it carries, by engine id. */
class ThreadEngine {
  readonly handle: EngineHandle;
  readonly connections = new Map<number, NetioConnection>();
  /** The engine's byte totals as last recorded: what came since is recorded next time. */
  private recordedSent = 0;
  private recordedReceived = 0;

  constructor(readonly addon: NetioAddon) {
    this.handle = addon.createEngine((events, data) => this.dispatch(new Int32Array(events), data), process.env[NETIO_WAKE_ENV] === 'thread');
  }

  recordBytes(sink: MetricSink): void {
    const [sent, received] = this.addon.stats(this.handle);
    if (sent > this.recordedSent) sink.count(KEY.socketSentBytes, sent - this.recordedSent);
    if (received > this.recordedReceived) sink.count(KEY.socketReceivedBytes, received - this.recordedReceived);
    this.recordedSent = sent;
    this.recordedReceived = received;
  }

  private dispatch(events: Int32Array, data: Buffer | null): void {
    for (let i = 0; i < events.length; i += EVENT_WIDTH) {
      const connection = this.connections.get(events[i + 1]!);
      if (connection === undefined) continue;
      const a = events[i + 2]!;
      switch (events[i]) {
        case EVENT.connected:
          connection.onConnected(a);
          break;
        case EVENT.connectFailed:
          connection.onConnectFailed(a);
          break;
        case EVENT.data:
          // A view: every batch gets a buffer of its own, never reused.
          connection.onData(data!.subarray(a, a + events[i + 3]!));
          break;
        case EVENT.sent:
          connection.onSent();
          break;
        case EVENT.failed:
          connection.onFailed(a);
          break;
      }
    }
  }
}

let engine: ThreadEngine | undefined;

export class NetioConnection extends SocketDeviceConnection {
  private id = -1;
  private readonly engine: ThreadEngine;

  constructor(addon: NetioAddon, target: Target, sink: MetricSink, options: SocketOptions = SOCKET_DEFAULTS) {
    super(target, sink, options);
    if (engine === undefined || engine.addon !== addon) engine = new ThreadEngine(addon);
    this.engine = engine;
  }

  /**
   * Records the bytes every netio connection of this thread moved since the last
   * call: the engine counts them natively, so one call per telemetry push reads
   * them all instead of one count per send and receive.
   */
  static recordBytes(sink: MetricSink): void {
    engine?.recordBytes(sink);
  }

  protected open(): void {
    const { addon, handle } = this.engine;
    const result = addon.connect(handle, this.target.protocol === 'udp' ? TRANSPORT.udp : TRANSPORT.tcp, this.target.ip, this.target.port);
    if (typeof result === 'number') {
      this.openFailed(errnoError(-result, 'connect', this.address));
      return;
    }
    this.id = result[0];
    this.engine.connections.set(this.id, this);
    if (result[1] >= 0) this.opened(result[1]);
  }

  protected write(data: Uint8Array): WriteResult {
    const r = this.engine.addon.send(this.engine.handle, this.id, data);
    if (r === 0) return 'sent';
    if (r === 1) return 'queued';
    return errnoError(-r, 'request', this.address);
  }

  protected read(): Uint8Array | undefined | DeviceError {
    const r = this.engine.addon.recv(this.engine.handle, this.id);
    if (typeof r !== 'number') return r;
    if (r === 0) return undefined;
    return errnoError(-r, 'request', this.address);
  }

  protected release(): void {
    if (this.id < 0) return;
    this.engine.connections.delete(this.id);
    this.engine.addon.close(this.engine.handle, this.id);
    this.id = -1;
  }

  onConnected(connUs: number): void {
    this.opened(connUs);
  }

  onConnectFailed(errno: number): void {
    this.openFailed(errnoError(errno, 'connect', this.address));
  }

  onData(bytes: Uint8Array): void {
    this.arrived(bytes);
  }

  onSent(): void {
    this.flushed();
  }

  onFailed(errno: number): void {
    this.broke(errnoError(errno, 'request', this.address));
  }
}
