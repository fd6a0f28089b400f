/**
 * One worker's share of an arrival-rate block: it starts the iterations of its
 * slot when they are due (shared/arrival-rate.ts), whatever became of earlier
 * ones, each on a device of its pool.
 *
 * An iteration that finds no free device, with the pool at its size, waits in a
 * queue; the first device to come free takes the oldest waiting one at once
 * (`late_iteration_count`), so its start is late but its `_intended` latencies
 * still count from when it was due. An iteration still waiting after
 * MAX_ITERATION_WAIT_MS, or when the block ends, never starts: it is counted in
 * `dropped_iteration_count`. Every started iteration records in
 * `iteration_lateness_us` how long after its due time it started (for most,
 * the timer's own delay). So scheduled = started + dropped, once the block ended.
 * When the block ends, iterations in flight get GRACEFUL_STOP_MS to finish.
 */
import { SlotSchedule, type ArrivalSlot } from '../shared/arrival-rate.js';
import type { ArrivalPattern, Stage } from '../shared/plan.js';
import { KEY } from '../shared/metrics.js';
import type { IdSource } from './device.js';
import type { MetricSink } from './metric-sink.js';
import { PoolDevice } from './pool-device.js';
import type { Target } from './protocols/device-connection.js';
import type { ScriptSandbox } from './sandbox/script-sandbox.js';

/** How long a due iteration may wait for a free device before it is dropped. */
export const MAX_ITERATION_WAIT_MS = 10_000;
/**
 * How long iterations in flight when a block ends (its last stage, or the run) may
 * take to finish before their devices are stopped: the last ones scheduled are
 * measured too, instead of being cut off a millisecond after they started.
 */
export const GRACEFUL_STOP_MS = 1000;

export interface ArrivalBlockOptions {
  sandbox: ScriptSandbox;
  stages: readonly Stage[];
  pattern: ArrivalPattern;
  slot: ArrivalSlot;
  /** The pool: device n (created when first needed) targets `targets[n]`. */
  targets: readonly Target[];
  sink: MetricSink;
  nextId: IdSource;
  /** When the block's clock started, in this thread's performance.now() ms. */
  startedAt: number;
  /** Seconds into the block before which its iterations are not run (a generator that rejoined a run under way); default 0. */
  from?: number;
}

export class ArrivalBlock {
  private readonly schedule: SlotSchedule;
  private readonly devices: PoolDevice[] = [];
  private readonly idle: PoolDevice[] = [];
  /** Due times (ms) of iterations waiting for a device, oldest first, from `head` on. */
  private waiting: number[] = [];
  private head = 0;
  private busy_ = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Set once the block ends: no iteration starts any more. */
  private ending = false;
  private stopped = false;
  private whenIdle: (() => void) | undefined;
  private finishing: Promise<void> | undefined;

  constructor(private readonly options: ArrivalBlockOptions) {
    this.schedule = new SlotSchedule(options.stages, options.slot, options.pattern);
    // Iterations due before `from` were this slot's while its generator was away: they are not run late now.
    const from = options.from ?? 0;
    while (from > 0 && this.schedule.peek() < from) this.schedule.take();
  }

  /** Devices running an iteration now (what `active_device_number` counts). */
  get busy(): number {
    return this.busy_;
  }

  start(): void {
    this.tick();
  }

  /**
   * Ends the block: nothing more starts, iterations still waiting are dropped, and
   * those in flight get `graceMs` to finish before every device is stopped.
   */
  finish(graceMs = GRACEFUL_STOP_MS): Promise<void> {
    this.finishing ??= this.finishOnce(graceMs);
    return this.finishing;
  }

  private async finishOnce(graceMs: number): Promise<void> {
    if (this.stopped) return;
    // What is due by now starts (or waits, and is dropped below) even if its timer has not fired yet.
    this.startDue(performance.now());
    this.ending = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.drop(this.waiting.length - this.head);
    this.waiting = [];
    this.head = 0;
    if (this.busy_ > 0 && graceMs > 0) {
      await new Promise<void>((resolve) => {
        this.whenIdle = resolve;
        setTimeout(resolve, graceMs);
      });
      this.whenIdle = undefined;
    }
    this.stop();
  }

  /** Stops every device wherever it is; iterations still waiting are dropped. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.ending = true;
    clearTimeout(this.timer);
    this.drop(this.waiting.length - this.head);
    this.waiting = [];
    this.head = 0;
    for (const d of this.devices) d.stop();
    this.busy_ = 0;
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (this.ending) return;
    const now = performance.now();
    this.expire(now);
    const next = this.startDue(now);
    if (next !== Infinity) {
      this.timer = setTimeout(this.tick, Math.max(1, Math.ceil(next - now)));
      return;
    }
    // Nothing more is due: the block ends with its last stage.
    const end = this.options.startedAt + this.schedule.duration * 1000;
    if (end <= now) void this.finish();
    else this.timer = setTimeout(this.tick, Math.ceil(end - now));
  };

  /** Starts every iteration due by `now`; returns when the next one is due (ms), Infinity when none is left. */
  private startDue(now: number): number {
    const { startedAt } = this.options;
    for (;;) {
      const due = this.schedule.peek();
      if (due === Infinity) return due;
      const dueAt = startedAt + due * 1000;
      if (dueAt > now) return dueAt;
      this.schedule.take();
      this.arrive(dueAt, now);
    }
  }

  private arrive(dueAt: number, now: number): void {
    const device = this.idle.pop() ?? this.newDevice();
    if (device === undefined) this.waiting.push(dueAt);
    else this.begin(device, dueAt, now);
  }

  private newDevice(): PoolDevice | undefined {
    const { targets, sandbox, sink, nextId } = this.options;
    if (this.devices.length >= targets.length) return undefined;
    const device = new PoolDevice(sandbox, targets[this.devices.length]!, sink, nextId);
    this.devices.push(device);
    return device;
  }

  private begin(device: PoolDevice, dueAt: number, now: number): void {
    const { sink } = this.options;
    this.busy_++;
    sink.count(KEY.iteration);
    sink.duration(KEY.iterationLateness, (now - dueAt) * 1000);
    void device.iterate(dueAt).then(() => this.ended(device));
  }

  private ended(device: PoolDevice): void {
    if (this.stopped) return;
    this.busy_--;
    if (this.ending) {
      this.idle.push(device);
      if (this.busy_ === 0) this.whenIdle?.();
      return;
    }
    const now = performance.now();
    this.expire(now);
    if (this.head < this.waiting.length) {
      const dueAt = this.waiting[this.head++]!;
      this.compact();
      this.options.sink.count(KEY.lateIteration);
      this.begin(device, dueAt, now);
    } else {
      this.idle.push(device);
    }
  }

  /** Drops the iterations that have waited too long. */
  private expire(now: number): void {
    const before = this.head;
    while (this.head < this.waiting.length && now - this.waiting[this.head]! > MAX_ITERATION_WAIT_MS) this.head++;
    if (this.head > before) {
      this.drop(this.head - before);
      this.compact();
    }
  }

  private drop(n: number): void {
    if (n > 0) this.options.sink.count(KEY.droppedIteration, n);
  }

  /** Lets go of the consumed front of the queue once it is most of it. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }
}
