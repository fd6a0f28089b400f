/**
 * Pushes every second of a run to a Prometheus remote-write receiver
 * (Prometheus with --web.enable-remote-write-receiver, Mimir, Thanos, Grafana
 * Cloud, VictoriaMetrics), in the background: writeSecond() only converts the
 * second to samples and queues them, so a slow or unreachable receiver never
 * holds up the run or the other writers. send-queue.ts sends one request at a
 * time and in order (receivers refuse a series' samples out of order), retries
 * with backoff, bounds the queue and counts what is given up on; each request
 * carries the seconds queued so far up to a size limit.
 */
import type { Histogram } from '../hdr/index.js';
import type { WriterStatus } from '../shared/live.js';
import type { BackoffOptions } from '../shared/backoff.js';
import { REMOTE_WRITE_HEADERS, encodeWriteRequest, type RemoteWriteSeries } from './prometheus-remote-write.js';
import { runFamilies, runLabels, type Labels } from './prometheus-series.js';
import type { ReportRow } from './report-row.js';
import { writerStatusLine } from './run-summary.js';
import { SendQueue } from './send-queue.js';
import type { RunInfo, SecondSample, StreamingWriter } from './writer.js';

export const PROMETHEUS_WRITER = 'prometheus';

export interface PrometheusWriterOptions {
  /** The receiver's remote-write URL (`http://prometheus:9090/api/v1/write`), without credentials. */
  url: string;
  bearerToken?: string;
  basicAuth?: { username: string; password: string };
  /** Labels added to every series (`env="staging"`). */
  labels?: Labels;
  /** Samples in one request at most (default 20,000: about 30 seconds of a run with four latency metrics). */
  maxSamplesPerRequest?: number;
  /** Samples that may wait to be sent; beyond it the oldest second is dropped (default 1,000,000). */
  maxPendingSamples?: number;
  /** Tries of one request before it is given up on (default 10: about a minute of backoff). */
  maxAttempts?: number;
  /** Delays between tries (default 500 ms doubling to 10 s, ±50 %). */
  backoff?: BackoffOptions;
  /** One request's limit (default 10 s). */
  requestTimeoutMs?: number;
  /** How long close() waits for what is still queued before giving up on it (default 10 s). */
  drainTimeoutMs?: number;
  /** Waits between tries; rejects when `signal` aborts (default a timer). */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  log?: (line: string) => void;
}

/** One second's samples, each series by its key (name and labels). */
interface QueuedSecond {
  series: Array<{ key: string; labels: Labels; samples: Array<{ value: number; timestampMs: number }> }>;
  samples: number;
}

const DEFAULTS = {
  maxSamplesPerRequest: 20_000,
  maxPendingSamples: 1_000_000,
  maxAttempts: 10,
  requestTimeoutMs: 10_000,
  drainTimeoutMs: 10_000,
};
const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 10_000 };

/** A refusal worth no second try: the receiver understood and said no (bad samples, no permission). */
class Refused extends Error {}

export class PrometheusRemoteWriter implements StreamingWriter {
  readonly #options: PrometheusWriterOptions;
  readonly #log: (line: string) => void;
  readonly #headers: Record<string, string>;
  #runId = '';
  #startedAt = 0;
  #lastTime = 0;
  /** Counter series already sent: a new one first gets a 0 at the second before, so increase() over the run counts from zero. */
  readonly #seen = new Set<string>();
  #queue: SendQueue<QueuedSecond, RemoteWriteSeries[]> | null = null;
  #closed = false;
  readonly #status: WriterStatus = { writer: PROMETHEUS_WRITER, unit: 'samples', sent: 0, failed: 0, retries: 0, pending: 0 };

  constructor(options: PrometheusWriterOptions) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.#headers = { ...REMOTE_WRITE_HEADERS, 'user-agent': 'stressgrid' };
    if (options.bearerToken) this.#headers.authorization = `Bearer ${options.bearerToken}`;
    else if (options.basicAuth) this.#headers.authorization = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
  }

  open(run: RunInfo): Promise<void> {
    const o = this.#options;
    this.#runId = run.runId;
    this.#startedAt = run.startedAt;
    this.#lastTime = run.startedAt;
    this.#queue = new SendQueue<QueuedSecond, RemoteWriteSeries[]>({
      service: 'Prometheus',
      unit: 'samples',
      status: this.#status,
      sizeOf: (second) => second.samples,
      take: (queue) => takeSeconds(queue, o.maxSamplesPerRequest ?? DEFAULTS.maxSamplesPerRequest),
      send: (series, signal) => this.#post(encodeWriteRequest(series), signal),
      isRetryable: (error) => !(error instanceof Refused),
      describe,
      fullWhy: 'the queue was full (the receiver is slower than the run)',
      maxPending: o.maxPendingSamples ?? DEFAULTS.maxPendingSamples,
      maxAttempts: o.maxAttempts ?? DEFAULTS.maxAttempts,
      backoff: { ...DEFAULT_BACKOFF, ...o.backoff },
      drainTimeoutMs: o.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs,
      ...(o.sleep ? { sleep: o.sleep } : {}),
      log: this.#log,
    });
    return Promise.resolve();
  }

  writeSecond(sample: SecondSample): void {
    if (!this.#queue || this.#closed) return;
    const time = Math.max(Math.round(sample.time), this.#lastTime + 1);
    const second: QueuedSecond = { series: [], samples: 0 };
    for (const family of runFamilies(sample, runLabels(sample, this.#options.labels))) {
      const counts = family.type === 'counter' || family.type === 'histogram';
      for (const s of family.samples) {
        const labels: Labels = [['__name__', s.name], ...s.labels];
        const key = labels.map(([k, v]) => `${k}=${v}`).join('\u0000');
        const samples = [{ value: s.value, timestampMs: time }];
        if (counts && !this.#seen.has(key)) {
          this.#seen.add(key);
          samples.unshift({ value: 0, timestampMs: Math.max(this.#startedAt, Math.min(this.#lastTime, time - 1)) });
        }
        second.series.push({ key, labels, samples });
        second.samples += samples.length;
      }
    }
    this.#lastTime = time;
    this.#queue.push(second);
  }

  /** Report intervals add nothing: every second has already been streamed. */
  async write(_row: ReportRow, _histograms: ReadonlyMap<string, Histogram>): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue?.close();
    if (this.#runId) this.#log(`run ${this.#runId}: ${writerStatusLine(this.#status)}`);
  }

  status(): WriterStatus {
    return { ...this.#status };
  }

  async #post(body: Uint8Array, stopping: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.#options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs);
    const response = await fetch(this.#options.url, { method: 'POST', headers: this.#headers, body, signal: AbortSignal.any([stopping, timeout]) });
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    const text = (await response.text().catch(() => '')).trim().split('\n')[0]!.slice(0, 200);
    const why = `HTTP ${response.status}${text ? `: ${text}` : ''}`;
    // Throttled or failing on its side: another try may do; any other refusal will be the same next time.
    if (response.status === 429 || response.status >= 500) throw new Error(why);
    throw new Refused(why);
  }
}

/** Queued seconds up to `max` samples (at least one second), as series with all their samples in time order. */
function takeSeconds(queue: QueuedSecond[], max: number): { request: RemoteWriteSeries[]; size: number } {
  const byKey = new Map<string, { labels: Labels; samples: Array<{ value: number; timestampMs: number }> }>();
  let size = 0;
  while (queue.length > 0 && (size === 0 || size + queue[0]!.samples <= max)) {
    const second = queue.shift()!;
    size += second.samples;
    for (const s of second.series) {
      const series = byKey.get(s.key);
      if (series) series.samples.push(...s.samples);
      else byKey.set(s.key, { labels: s.labels, samples: [...s.samples] });
    }
  }
  return { request: [...byKey.values()], size };
}

function describe(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'no answer within the request timeout';
  if (e?.cause?.code) return `${e.cause.code}${e.cause.message ? `: ${e.cause.message}` : ''}`;
  return (e?.message ?? String(error)).split('\n')[0]!.slice(0, 200);
}
