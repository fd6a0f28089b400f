/**
 * Sends every report interval to Amazon CloudWatch (PutMetricData), in the
 * background: write() only converts the interval and queues its requests
 * (send-queue.ts: one at a time, retried with backoff, bounded, counted), so a
 * slow, throttled or unreachable CloudWatch never holds up the run or the
 * other writers. Throttling and transient errors are worth another try; a
 * refusal is not.
 */
import { CloudWatchClient, PutMetricDataCommand, type CloudWatchClientConfig, type MetricDatum } from '@aws-sdk/client-cloudwatch';
import type { Histogram } from '../hdr/index.js';
import type { WriterStatus } from '../shared/live.js';
import type { BackoffOptions } from '../shared/backoff.js';
import { CLOUDWATCH_NAMESPACE, batches, consoleUrl, intervalData } from './cloudwatch-metrics.js';
import { writerStatusLine } from './run-summary.js';
import { SendQueue } from './send-queue.js';
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

export class CloudWatchWriter implements Writer {
  readonly #options: CloudWatchWriterOptions;
  readonly #log: (line: string) => void;
  #client: CloudWatchClient | null = null;
  #runId = '';
  #totals: ReadonlyMap<string, number> = new Map();
  #queue: SendQueue<MetricDatum[]> | null = null;
  #closed = false;
  #status: WriterStatus = { writer: CLOUDWATCH_WRITER, sent: 0, failed: 0, retries: 0, pending: 0 };

  constructor(options: CloudWatchWriterOptions) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
  }

  open(run: RunInfo): Promise<void> {
    const o = this.#options;
    this.#runId = run.runId;
    this.#status = { writer: CLOUDWATCH_WRITER, sent: 0, failed: 0, retries: 0, pending: 0, link: consoleUrl(o.region, run.runId) };
    // The writer retries on its own terms (and counts what it does), so the SDK tries each request once.
    const client = new CloudWatchClient({
      region: o.region,
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 5000, requestTimeout: 15_000 },
      ...o.client,
    });
    this.#client = client;
    this.#queue = new SendQueue<MetricDatum[]>({
      service: 'CloudWatch',
      unit: 'metric data',
      status: this.#status,
      sizeOf: (batch) => batch.length,
      send: async (batch, signal) => {
        await client.send(new PutMetricDataCommand({ Namespace: CLOUDWATCH_NAMESPACE, MetricData: batch }), { abortSignal: signal });
      },
      isRetryable,
      describe,
      fullWhy: 'the queue was full (CloudWatch is slower than the reports)',
      maxPending: o.maxPendingData ?? DEFAULT_MAX_PENDING,
      maxAttempts: o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
      backoff: { ...DEFAULT_BACKOFF, ...o.backoff },
      drainTimeoutMs: o.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      ...(o.sleep ? { sleep: o.sleep } : {}),
      log: this.#log,
    });
    return Promise.resolve();
  }

  write(row: ReportRow, histograms: ReadonlyMap<string, Histogram>): Promise<void> {
    if (!this.#queue || this.#closed) return Promise.reject(new Error('CloudWatchWriter.write before open or after close'));
    const { data, totals } = intervalData(this.#runId, row, histograms, this.#totals);
    this.#totals = new Map([...this.#totals, ...totals]);
    for (const batch of batches(data)) this.#queue.push(batch);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue?.close();
    this.#client?.destroy();
    this.#client = null;
    this.#log(`run ${this.#runId}: ${writerStatusLine(this.#status)}`);
  }

  status(): WriterStatus {
    return { ...this.#status };
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
