/**
 * One simulated device: a connection to its target and one run of the script at
 * a time. A body that returns recycles the device at once (new connection, new
 * run); a failure is counted under its code and recycles it after a second
 * (after a limit error repeated, longer: see limitPauseMs); stop() ends it wherever it is.
 */
import { DEVICE_ERROR, DeviceError, LIMIT_ERRORS } from '../shared/errors.js';
import { HTTP_PROTOCOLS } from '../shared/plan.js';
import { errorKey } from '../shared/metrics.js';
import type { MetricSink } from './metric-sink.js';
import type { DeviceConnection, HttpConnection, Target } from './protocols/device-connection.js';
import { createHttpConnection } from './protocols/http-connection.js';
import { createSocketConnection } from './protocols/socket-transport.js';
import type { DeviceIO } from './sandbox/device-io.js';
import type { ScriptSandbox } from './sandbox/script-sandbox.js';

/** Pause after a failed run before the device starts over (DESIGN.md 3). */
export const RECYCLE_AFTER_ERROR_MS = 1000;
/** The longest pause between runs of a device whose script keeps passing its limits. */
export const MAX_LIMIT_PAUSE_MS = 30_000;

/**
 * Pause before the next run after `streak` runs in a row ended on a limit:
 * 1 s, 2 s, 4 s, … up to 30 s. A script that always leaks or spins to its
 * limit would otherwise spend the CPU its honest neighbours need, all run long.
 */
export function limitPauseMs(streak: number): number {
  return Math.min(MAX_LIMIT_PAUSE_MS, RECYCLE_AFTER_ERROR_MS * 2 ** Math.max(0, Math.min(streak, 16) - 1));
}
/** How long a stopped device waits for the answer to a request already sent (closeWhenAnswered). */
export const STOP_ANSWER_LIMIT_MS = 5000;

/** A device's connection and what its script may do with it. */
interface Attached {
  connection: DeviceConnection;
  io: DeviceIO;
}

/** Opens the transport a target's protocol calls for. */
export function attach(target: Target, sink: MetricSink): Attached {
  if (HTTP_PROTOCOLS.has(target.protocol)) {
    const connection: HttpConnection = createHttpConnection(target, sink);
    const ws = connection.webSocket;
    return { connection, io: { http: (req) => connection.request(req), ...(ws ? { ws } : {}) } };
  }
  if (target.protocol === 'tcp' || target.protocol === 'udp') {
    const socket = createSocketConnection(target, sink);
    return { connection: socket, io: { socket } };
  }
  throw new DeviceError(DEVICE_ERROR.wrongProtocol, `protocol ${target.protocol} has no device transport in this generator yet`);
}

export type DeviceState = 'starting' | 'running' | 'backoff' | 'stopped';

/** Allocates sandbox device ids: every run of a script gets a fresh one. */
export type IdSource = () => number;

export class Device {
  private state_: DeviceState = 'starting';
  private attached: Attached | undefined;
  private runId = -1;
  private backoff: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly sandbox: ScriptSandbox,
    private readonly target: Target,
    private readonly sink: MetricSink,
    private readonly nextId: IdSource,
  ) {}

  get state(): DeviceState {
    return this.state_;
  }

  /** Connecting or running its script: what `active_device_number` counts. */
  get active(): boolean {
    return this.state_ === 'starting' || this.state_ === 'running';
  }

  start(): void {
    void this.cycle();
  }

  /**
   * Ends the device wherever it is: its script at once, its connection once a
   * request already sent has its answer (counted), so that nothing a target served
   * goes unreported. Returns undefined when the connection closed at once, else a
   * promise of its close.
   */
  stop(): Promise<void> | undefined {
    if (this.state_ === 'stopped') return undefined;
    this.state_ = 'stopped';
    clearTimeout(this.backoff);
    this.wake?.();
    if (this.runId >= 0) this.sandbox.stop(this.runId);
    const connection = this.attached?.connection;
    this.attached = undefined;
    if (connection === undefined) return undefined;
    if (connection.closeWhenAnswered !== undefined) return connection.closeWhenAnswered(STOP_ANSWER_LIMIT_MS);
    connection.close();
    return undefined;
  }

  private async cycle(): Promise<void> {
    let limitStreak = 0;
    while (this.state_ !== 'stopped') {
      this.state_ = 'starting';
      let failure: DeviceError | undefined;
      try {
        this.attached = attach(this.target, this.sink);
        await this.attached.connection.connect();
        if (this.state_ !== 'starting') return;
        this.state_ = 'running';
        this.runId = this.nextId();
        await this.sandbox.run(this.runId, this.attached.io, undefined, limitStreak > 0);
      } catch (err) {
        failure = err instanceof DeviceError ? err : new DeviceError(DEVICE_ERROR.unknown, String((err as Error)?.message ?? err), { cause: err });
      } finally {
        this.runId = -1;
        this.attached?.connection.close();
        this.attached = undefined;
      }
      if ((this.state_ as DeviceState) === 'stopped') return;
      limitStreak = failure !== undefined && LIMIT_ERRORS.has(failure.code) ? limitStreak + 1 : 0;
      if (failure) {
        this.sink.count(errorKey(failure.code));
        this.state_ = 'backoff';
        const pauseMs = limitStreak > 0 ? limitPauseMs(limitStreak) : RECYCLE_AFTER_ERROR_MS;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.backoff = setTimeout(resolve, pauseMs);
        });
        this.wake = undefined;
      }
    }
  }
}
