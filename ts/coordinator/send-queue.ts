/**
 * The background sending of a writer that sends over the network (CloudWatch,
 * Prometheus remote write): what the run hands over is queued at once, so a
 * slow, throttled or unreachable service never holds up the run or the other
 * writers. Requests go one at a time, in order; failures worth another try are
 * retried with capped exponential backoff; the queue is bounded (the oldest
 * item is dropped when full); what is given up on is counted, logged once per
 * streak of failures, and shown in the writer's status.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { WriterStatus } from '../shared/live.js';
import { Backoff, type BackoffOptions } from '../shared/backoff.js';

/** How one writer's requests are made and judged. */
export interface SendQueueOptions<Item, Request> {
  /** Names the service in log lines (`CloudWatch`). */
  service: string;
  /** What the sizes count, in log lines (`metric data`, `samples`). */
  unit: string;
  /** Counted into: sent, failed, retries, pending, lastError. */
  status: WriterStatus;
  sizeOf(item: Item): number;
  /** Takes the next request's items off the head of the queue, at least one, and says their total size (default: one item per request). */
  take?(queue: Item[]): { request: Request; size: number };
  send(request: Request, signal: AbortSignal): Promise<void>;
  /** Whether a failure may go away on another try (throttling, a server error, no answer). */
  isRetryable(error: unknown): boolean;
  /** One line about a failure, for the log and the status. */
  describe(error: unknown): string;
  /** Why the oldest item is dropped when the queue is full. */
  fullWhy: string;
  /** Sizes that may wait; beyond it the oldest item is dropped. */
  maxPending: number;
  /** Tries of one request before it is given up on. */
  maxAttempts: number;
  backoff: BackoffOptions;
  /** How long close() waits for what is still queued before giving up on it. */
  drainTimeoutMs: number;
  /** Waits between tries; rejects when `signal` aborts (default a timer). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  log: (line: string) => void;
}

const timer = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal });
const UNSENT_AT_END = 'the run ended before they could be sent';

export class SendQueue<Item, Request = Item> {
  readonly #o: SendQueueOptions<Item, Request>;
  readonly #queue: Item[] = [];
  #pump: Promise<void> | null = null;
  readonly #stopping = new AbortController();
  /** True while requests fail, so a streak of failures is logged once and not once per try. */
  #failing = false;

  constructor(options: SendQueueOptions<Item, Request>) {
    this.#o = options;
  }

  push(item: Item): void {
    this.#queue.push(item);
    const { status } = this.#o;
    status.pending += this.#o.sizeOf(item);
    while (status.pending > this.#o.maxPending && this.#queue.length > 1) {
      const size = this.#o.sizeOf(this.#queue.shift()!);
      this.#giveUp(size, this.#o.fullWhy);
      this.#o.log(`${this.#o.service}: queue full, dropped the oldest ${size} ${this.#o.unit}`);
    }
    this.#pump ??= this.#drain();
  }

  /** Waits up to drainTimeoutMs for the queue to empty, then gives up on what is left. */
  async close(): Promise<void> {
    if (this.#pump) {
      const timeout = this.#o.drainTimeoutMs;
      const drained = await Promise.race([this.#pump.then(() => true), sleep(timeout, false, { ref: false })]);
      if (!drained) {
        const unsent = this.#o.status.pending;
        this.#stopping.abort();
        await this.#pump;
        this.#o.log(`${this.#o.service}: ${unsent} ${this.#o.unit} still unsent ${timeout / 1000} s after the run ended were given up on`);
      }
    }
    const left = this.#queue.splice(0).reduce((n, item) => n + this.#o.sizeOf(item), 0);
    this.#giveUp(left, this.#o.status.lastError ?? UNSENT_AT_END);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stopping.signal.aborted) {
        const { request, size } = this.#o.take ? this.#o.take(this.#queue) : this.#takeOne();
        await this.#send(request, size);
      }
    } finally {
      this.#pump = null;
    }
  }

  #takeOne(): { request: Request; size: number } {
    const item = this.#queue.shift()!;
    // Without take(), a request is one item.
    return { request: item as unknown as Request, size: this.#o.sizeOf(item) };
  }

  async #send(request: Request, size: number): Promise<void> {
    const { status, service, unit } = this.#o;
    const backoff = new Backoff(this.#o.backoff);
    const signal = this.#stopping.signal;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#o.send(request, signal);
        status.sent += size;
        status.pending -= size;
        if (this.#failing) this.#o.log(`${service}: sending again after ${status.lastError}`);
        this.#failing = false;
        return;
      } catch (error) {
        if (signal.aborted) return this.#giveUp(size, status.lastError ?? UNSENT_AT_END);
        const why = this.#o.describe(error);
        status.lastError = why;
        if (!this.#o.isRetryable(error) || attempt >= this.#o.maxAttempts) {
          this.#o.log(`${service}: gave up on ${size} ${unit} after ${attempt} ${attempt === 1 ? 'try' : 'tries'}: ${why}`);
          this.#failing = true;
          return this.#giveUp(size, why);
        }
        const delay = backoff.next();
        if (!this.#failing) this.#o.log(`${service}: ${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
        this.#failing = true;
        status.retries++;
        try {
          await (this.#o.sleep ?? timer)(delay, signal);
        } catch {
          return this.#giveUp(size, why);
        }
      }
    }
  }

  #giveUp(size: number, why: string): void {
    if (size === 0) return;
    const { status } = this.#o;
    status.failed += size;
    status.pending -= size;
    status.lastError = why;
  }
}
