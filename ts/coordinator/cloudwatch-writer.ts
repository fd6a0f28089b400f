/**
 * Sends every report interval to Amazon CloudWatch (PutMetricData), in the
 * background: write() only converts the interval and queues its requests, so a
 * slow, throttled or unreachable CloudWatch never holds up the run or the other
 * writers. Requests go one at a time, in order; throttling and transient errors
 * are retried with capped exponential backoff; the queue is bounded (the oldest
 * request is dropped when full); what is given up on is counted, logged and
 * shown in the writer's status.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CloudWatchClient, PutMetricDataCommand, type CloudWatchClientConfig, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { Histogram } from '../hdr/index.js';
import type { WriterStatus } from '../shared/live.js';
import { Backoff, type BackoffOptions } from '../generator/backoff.js';
import { CLOUDWATCH_NAMESPACE, batches, consoleUrl, intervalData } from './cloudwatch-metrics.js';
import { writerStatusLine } from './run-summary.js';
import type { ReportRow } from './report-row.js';
import type { RunInfo, Writer } from './writer.js';

export const CLOUDWATCH_WRITER = 'cloudwatch';

export interface CloudWatchWriterOptions {
  region: string;
  /** Settings for the SDK's client beyond the region (an endpoint and credentials in tests). Credentials default to the SDK's chain. */
  client?: Partial<CloudWatchClientConfig>;
  /** Metric data that may wait to be sent; beyond it the oldest request is dropped (default 100,000: 100 full requests). */
  maxPendingData?: number;
  /** Tries of one request before it is given up on (default 5). */
  maxAttempts?: number;
  /** Delays between tries (default 1 s doubling to 30 s, ±50 %). */
  backoff?: BackoffOptions;
  /** How long close() waits for what is still queued before giving up on it (default 10 s). */
  drainTimeoutMs?: number;
  /** Waits between tries; rejects when `signal` aborts (default a timer; tests record the delays). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  log?: (line: string) => void;
}

const DEFAULT_MAX_PENDING = 100_000;
const DEFAULT_MAX_ATTEMPTS = 5;
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30_000 };
const timer = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal });

export class CloudWatchWriter implements Writer {
  readonly #options: CloudWatchWriterOptions;
  readonly #log: (line: string) => void;
  #client: CloudWatchClient | null = null;
  #runId = '';
  #totals: ReadonlyMap<string, number> = new Map();
  readonly #queue: MetricDatum[][] = [];
  #pump: Promise<void> | null = null;
  #stopping = new AbortController();
  #closed = false;
  /** True while requests fail, so a streak of failures is logged once and not once per try. */
  #failing = false;
  #status: WriterStatus = { writer: CLOUDWATCH_WRITER, sent: 0, failed: 0, retries: 0, pending: 0 };

  constructor(options: CloudWatchWriterOptions) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
  }

  async open(run: RunInfo): Promise<void> {
    this.#runId = run.runId;
    this.#status = { writer: CLOUDWATCH_WRITER, sent: 0, failed: 0, retries: 0, pending: 0, link: consoleUrl(this.#options.region, run.runId) };
    // The writer retries on its own terms (and counts what it does), so the SDK tries each request once.
    this.#client = new CloudWatchClient({
      region: this.#options.region,
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 5000, requestTimeout: 15_000 },
      ...this.#options.client,
    });
  }

  async write(row: ReportRow, histograms: ReadonlyMap<string, Histogram>): Promise<void> {
    if (!this.#client || this.#closed) throw new Error('CloudWatchWriter.write before open or after close');
    const { data, totals } = intervalData(this.#runId, row, histograms, this.#totals);
    this.#totals = new Map([...this.#totals, ...totals]);
    for (const batch of batches(data)) this.#enqueue(batch);
    this.#pump ??= this.#drain();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pump) {
      const timeout = this.#options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
      const drained = await Promise.race([this.#pump.then(() => true), sleep(timeout, false, { ref: false })]);
      if (!drained) {
        const unsent = this.#status.pending;
        this.#stopping.abort();
        await this.#pump;
        this.#log(`CloudWatch: ${unsent} metric data still unsent ${timeout / 1000} s after the run ended were given up on`);
      }
    }
    this.#giveUp(this.#queue.splice(0).flat(), this.#status.lastError ?? 'the run ended before they could be sent');
    this.#client?.destroy();
    this.#client = null;
    this.#log(`run ${this.#runId}: ${writerStatusLine(this.#status)}`);
  }

  status(): WriterStatus {
    return { ...this.#status };
  }

  #enqueue(batch: MetricDatum[]): void {
    this.#queue.push(batch);
    this.#status.pending += batch.length;
    const max = this.#options.maxPendingData ?? DEFAULT_MAX_PENDING;
    while (this.#status.pending > max && this.#queue.length > 1) {
      const dropped = this.#queue.shift()!;
      this.#giveUp(dropped, 'the queue was full (CloudWatch is slower than the reports)');
      this.#log(`CloudWatch: queue full, dropped the oldest ${dropped.length} metric data`);
    }
  }

  /** Sends queued requests one by one until none is left or close() gives up. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stopping.signal.aborted) await this.#send(this.#queue.shift()!);
    } finally {
      this.#pump = null;
    }
  }

  async #send(batch: MetricDatum[]): Promise<void> {
    const backoff = new Backoff({ ...DEFAULT_BACKOFF, ...this.#options.backoff });
    const attempts = this.#options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    const signal = this.#stopping.signal;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#client!.send(new PutMetricDataCommand({ Namespace: CLOUDWATCH_NAMESPACE, MetricData: batch }), { abortSignal: signal });
        this.#status.sent += batch.length;
        this.#status.pending -= batch.length;
        if (this.#failing) this.#log(`CloudWatch: sending again after ${this.#status.lastError}`);
        this.#failing = false;
        return;
      } catch (error) {
        if (signal.aborted) return this.#giveUp(batch, this.#status.lastError ?? 'the run ended before they could be sent');
        const why = describe(error);
        this.#status.lastError = why;
        if (!isRetryable(error) || attempt >= attempts) {
          this.#log(`CloudWatch: gave up on ${batch.length} metric data after ${attempt} ${attempt === 1 ? 'try' : 'tries'}: ${why}`);
          this.#failing = true;
          return this.#giveUp(batch, why);
        }
        const delay = backoff.next();
        if (!this.#failing) this.#log(`CloudWatch: ${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
        this.#failing = true;
        this.#status.retries++;
        try {
          await (this.#options.sleep ?? timer)(delay, signal);
        } catch {
          return this.#giveUp(batch, why);
        }
      }
    }
  }

  #giveUp(batch: readonly MetricDatum[], why: string): void {
    if (batch.length === 0) return;
    this.#status.failed += batch.length;
    this.#status.pending -= batch.length;
    this.#status.lastError = why;
  }
}

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** Throttling, server errors and no answer at all are worth another try; a refusal (bad data, no permission, no credentials) is not. */
export function isRetryable(error: unknown): boolean {
  const e = (error ?? {}) as SdkError;
  if (e.$retryable) return true;
  if (/throttl|toomanyrequests|requestlimitexceeded|slowdown/i.test(e.name ?? '')) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status === undefined) return e.name !== 'CredentialsProviderError';
  return status === 429 || status >= 500;
}

function describe(error: unknown): string {
  const e = (error ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const what = [e.name && e.name !== 'Error' ? e.name : e.code, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  const message = (e.message ?? String(error)).split('\n')[0]!.slice(0, 200);
  return what ? `${what}: ${message}` : message;
}
