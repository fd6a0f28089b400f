/**
 * Pushes every second of a run to a Prometheus remote-write receiver
 * (Prometheus with --web.enable-remote-write-receiver, Mimir, Thanos, Grafana
 * Cloud, VictoriaMetrics), in the background: writeSecond() only converts the
 * second to samples and queues them, so a slow or unreachable receiver never
 * holds up the run or the other writers. Requests go one at a time and in
 * order (receivers refuse a series' samples out of order), each carrying the
 * seconds queued so far up to a size limit; failures are retried with capped
 * exponential backoff; the queue is bounded (the oldest second is dropped when
 * full); what is given up on is counted, logged and shown in the status.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Histogram } from '../hdr/index.js';
import type { WriterStatus } from '../shared/live.js';
import { Backoff, type BackoffOptions } from '../generator/backoff.js';
import { REMOTE_WRITE_HEADERS, encodeWriteRequest, type RemoteWriteSeries } from './prometheus-remote-write.js';
import { runFamilies, runLabels, type Labels } from './prometheus-series.js';
import type { ReportRow } from './report-row.js';
import { writerStatusLine } from './run-summary.js';
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
const timer = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal });

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
  readonly #queue: QueuedSecond[] = [];
  #pump: Promise<void> | null = null;
  readonly #stopping = new AbortController();
  #open = false;
  #closed = false;
  #failing = false;
  #status: WriterStatus = { writer: PROMETHEUS_WRITER, sent: 0, failed: 0, retries: 0, pending: 0 };

  constructor(options: PrometheusWriterOptions) {
    this.#options = options;
    this.#log = options.log ?? (() => {});
    this.#headers = { ...REMOTE_WRITE_HEADERS, 'user-agent': 'stressgrid' };
    if (options.bearerToken) this.#headers.authorization = `Bearer ${options.bearerToken}`;
    else if (options.basicAuth) this.#headers.authorization = `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString('base64')}`;
  }

  async open(run: RunInfo): Promise<void> {
    this.#runId = run.runId;
    this.#startedAt = run.startedAt;
    this.#lastTime = run.startedAt;
    this.#open = true;
  }

  writeSecond(sample: SecondSample): void {
    if (!this.#open || this.#closed) return;
    const time = Math.max(Math.round(sample.time), this.#lastTime + 1);
    const second: QueuedSecond = { series: [], samples: 0 };
    for (const family of runFamilies(sample, runLabels(sample, this.#options.labels))) {
      const counts = family.type !== 'gauge';
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
    this.#enqueue(second);
    this.#pump ??= this.#drain();
  }

  /** Report intervals add nothing: every second has already been streamed. */
  async write(_row: ReportRow, _histograms: ReadonlyMap<string, Histogram>): Promise<void> {}

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pump) {
      const timeout = this.#options.drainTimeoutMs ?? DEFAULTS.drainTimeoutMs;
      const drained = await Promise.race([this.#pump.then(() => true), sleep(timeout, false, { ref: false })]);
      if (!drained) {
        const unsent = this.#status.pending;
        this.#stopping.abort();
        await this.#pump;
        this.#log(`Prometheus: ${unsent} samples still unsent ${timeout / 1000} s after the run ended were given up on`);
      }
    }
    this.#giveUp(this.#queue.splice(0).reduce((n, s) => n + s.samples, 0), this.#status.lastError ?? 'the run ended before they could be sent');
    if (this.#runId) this.#log(`run ${this.#runId}: ${writerStatusLine(this.#status)}`);
  }

  status(): WriterStatus {
    return { ...this.#status };
  }

  #enqueue(second: QueuedSecond): void {
    this.#queue.push(second);
    this.#status.pending += second.samples;
    const max = this.#options.maxPendingSamples ?? DEFAULTS.maxPendingSamples;
    while (this.#status.pending > max && this.#queue.length > 1) {
      const dropped = this.#queue.shift()!;
      this.#giveUp(dropped.samples, 'the queue was full (the receiver is slower than the run)');
      this.#log(`Prometheus: queue full, dropped the oldest second's ${dropped.samples} samples`);
    }
  }

  /** Sends what is queued, oldest first, until nothing is left or close() gives up. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#stopping.signal.aborted) await this.#send(this.#take());
    } finally {
      this.#pump = null;
    }
  }

  /** Queued seconds up to the request size, as series with all their samples in time order. */
  #take(): { series: RemoteWriteSeries[]; samples: number } {
    const max = this.#options.maxSamplesPerRequest ?? DEFAULTS.maxSamplesPerRequest;
    const byKey = new Map<string, { labels: Labels; samples: Array<{ value: number; timestampMs: number }> }>();
    let samples = 0;
    while (this.#queue.length > 0 && (samples === 0 || samples + this.#queue[0]!.samples <= max)) {
      const second = this.#queue.shift()!;
      samples += second.samples;
      for (const s of second.series) {
        const series = byKey.get(s.key);
        if (series) series.samples.push(...s.samples);
        else byKey.set(s.key, { labels: s.labels, samples: [...s.samples] });
      }
    }
    return { series: [...byKey.values()], samples };
  }

  async #send(batch: { series: RemoteWriteSeries[]; samples: number }): Promise<void> {
    const body = encodeWriteRequest(batch.series);
    const backoff = new Backoff({ ...DEFAULT_BACKOFF, ...this.#options.backoff });
    const attempts = this.#options.maxAttempts ?? DEFAULTS.maxAttempts;
    const signal = this.#stopping.signal;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#post(body, signal);
        this.#status.sent += batch.samples;
        this.#status.pending -= batch.samples;
        if (this.#failing) this.#log(`Prometheus: sending again after ${this.#status.lastError}`);
        this.#failing = false;
        return;
      } catch (error) {
        if (signal.aborted) return this.#giveUp(batch.samples, this.#status.lastError ?? 'the run ended before they could be sent');
        const why = describe(error);
        this.#status.lastError = why;
        if (error instanceof Refused || attempt >= attempts) {
          this.#log(`Prometheus: gave up on ${batch.samples} samples after ${attempt} ${attempt === 1 ? 'try' : 'tries'}: ${why}`);
          this.#failing = true;
          return this.#giveUp(batch.samples, why);
        }
        const delay = backoff.next();
        if (!this.#failing) this.#log(`Prometheus: ${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
        this.#failing = true;
        this.#status.retries++;
        try {
          await (this.#options.sleep ?? timer)(delay, signal);
        } catch {
          return this.#giveUp(batch.samples, why);
        }
      }
    }
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

  #giveUp(samples: number, why: string): void {
    if (samples === 0) return;
    this.#status.failed += samples;
    this.#status.pending -= samples;
    this.#status.lastError = why;
  }
}

function describe(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'no answer within the request timeout';
  if (e?.cause?.code) return `${e.cause.code}${e.cause.message ? `: ${e.cause.message}` : ''}`;
  return (e?.message ?? String(error)).split('\n')[0]!.slice(0, 200);
}
