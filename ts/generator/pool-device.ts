/**
 * A device of an arrival-rate block's pool: it serves one iteration (one run of
 * the script body) at a time, when the block's schedule hands it one, and keeps
 * its connection between iterations, as a real client keeps its keep-alive
 * connection. A failed iteration is counted under its code and drops the
 * connection; the next iteration opens a new one (no pause: the schedule, not the
 * device, decides when work starts). A connection upgraded to WebSocket is not
 * reused either, since the next run of the script would upgrade it again.
 */
import { DEVICE_ERROR, DeviceError, LIMIT_ERRORS } from '../shared/errors.js';
import { errorKey } from '../shared/metrics.js';
import { attach, type IdSource } from './device.js';
import { IntendedTwinSink } from './intended-sink.js';
import type { MetricSink } from './metric-sink.js';
import type { Target } from './protocols/device-connection.js';
import type { ScriptSandbox } from './sandbox/script-sandbox.js';

export class PoolDevice {
  private attached: ReturnType<typeof attach> | undefined;
  private runId = -1;
  private stopped = false;
  /** The last iteration ended on a per-device limit: the next one runs as heavy (ScriptSandbox.run). */
  private lastHitLimit = false;
  private readonly sink: IntendedTwinSink;

  constructor(
    private readonly sandbox: ScriptSandbox,
    private readonly target: Target,
    sink: MetricSink,
    private readonly nextId: IdSource,
  ) {
    this.sink = new IntendedTwinSink(sink);
  }

  /**
   * Runs one iteration due at `intendedMs` (this thread's performance.now()).
   * Resolves when it ended, well or not; never once the device is stopped.
   */
  async iterate(intendedMs: number): Promise<void> {
    this.sink.intendedStartMs = intendedMs;
    let failure: DeviceError | undefined;
    try {
      if (this.attached === undefined) {
        this.attached = attach(this.target, this.sink);
        await this.attached.connection.connect();
      }
      if (this.stopped) return new Promise(() => {});
      this.runId = this.nextId();
      await this.sandbox.run(this.runId, this.attached.io, intendedMs * 1000, this.lastHitLimit);
    } catch (err) {
      failure = err instanceof DeviceError ? err : new DeviceError(DEVICE_ERROR.unknown, String((err as Error)?.message ?? err), { cause: err });
    } finally {
      this.runId = -1;
    }
    if (this.stopped) return new Promise(() => {});
    if (failure) this.sink.count(errorKey(failure.code));
    this.lastHitLimit = failure !== undefined && LIMIT_ERRORS.has(failure.code);
    if (failure || this.attached?.io.ws?.upgraded === true) this.dropConnection();
  }

  /** Ends the device wherever it is: its iteration is abandoned, its connection closed. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.runId >= 0) this.sandbox.stop(this.runId);
    this.dropConnection();
  }

  private dropConnection(): void {
    this.attached?.connection.close();
    this.attached = undefined;
  }
}
