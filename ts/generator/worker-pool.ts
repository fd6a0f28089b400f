/**
 * The generator's worker threads, one per core unless told otherwise. Devices of
 * each cohort are dealt round-robin over the workers; once a second every worker's
 * metrics are collected and merged natively into one set.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { Histogram } from '../hdr/index.js';
import { HISTOGRAM_BOUNDS, TELEMETRY_HISTOGRAM_ENCODING } from '../shared/metrics.js';
import type { ResolvedPlan } from '../shared/plan.js';
import { splitEvenly } from '../shared/arrival-rate.js';
import type { DrainedMetrics } from './metric-buffer.js';
import type { Target } from './protocols/device-connection.js';
import type { DeviceSpec, FromWorker, StopOrder, ToWorker, WorkerStartData } from './worker-messages.js';
import { SETTINGS } from '../shared/settings.js';

/** Environment variable that sets how many worker threads a generator runs. */
export const WORKERS_ENV = SETTINGS.workers.env;

/** One worker per core: what a generator runs when its program was not told (see SETTINGS.workers). */
export function defaultWorkerCount(): number {
  return availableParallelism();
}

export interface Collected {
  runId: string | null;
  activeDevices: number;
  metrics: DrainedMetrics;
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

export class WorkerPool {
  private readonly workers: Worker[] = [];
  /** Each worker's stop-order port (stop-orders.ts). */
  private readonly stopOrders = new Map<Worker, MessagePort>();
  private readonly waiters = new Map<Worker, Array<(m: FromWorker) => void>>();
  private nextWorker = 0;
  private seq = 0;
  private closing = false;

  private constructor(readonly size: number) {}

  /** `workerUrl` replaces the worker module (tests); rejects when a worker fails to start. */
  static async start(size = defaultWorkerCount(), workerUrl: URL = WORKER_URL): Promise<WorkerPool> {
    const pool = new WorkerPool(size);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.spawn(workerUrl)));
    } catch (err) {
      pool.closing = true;
      await Promise.all(pool.workers.map((w) => w.terminate()));
      throw err;
    }
    return pool;
  }

  private spawn(url: URL): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(url, { workerData: { stopOrders: port2 } satisfies WorkerStartData, transferList: [port2] });
    this.workers.push(worker);
    this.stopOrders.set(worker, port1);
    this.waiters.set(worker, []);
    worker.on('message', (m: FromWorker) => this.waiters.get(worker)?.shift()?.(m));
    worker.on('error', (err) => console.error(`stressgrid: generator worker failed: ${err.stack ?? err}`));
    // A worker gone mid-run (a crash in native code, an out-of-memory) must not stall
    // every later collect: it leaves the pool, its devices are lost, the rest go on.
    worker.on('exit', (code) => this.drop(worker, code));
    const ready = this.next(worker);
    // A worker that dies before saying ready never will: fail the start instead of waiting forever.
    return new Promise((resolve, reject) => {
      const failed = (why: Error | number) => {
        const reason = typeof why === 'number' ? `it exited with code ${why}` : why.message;
        reject(new Error(`a generator worker failed to start: ${reason}`, { cause: why }));
      };
      worker.once('error', failed);
      worker.once('exit', failed);
      void ready.then(() => {
        worker.off('error', failed);
        worker.off('exit', failed);
        resolve();
      });
    });
  }

  private drop(worker: Worker, code: number): void {
    const at = this.workers.indexOf(worker);
    if (at < 0) return;
    this.workers.splice(at, 1);
    this.nextWorker = 0;
    const waiting = this.waiters.get(worker) ?? [];
    this.waiters.delete(worker);
    this.stopOrders.get(worker)?.close();
    this.stopOrders.delete(worker);
    if (!this.closing) console.error(`stressgrid: a generator worker exited (code ${code}); its devices are lost, ${this.workers.length} workers go on`);
    for (const w of waiting) w({ type: 'shut' });
  }

  /** The next reply of `worker` (workers answer in order). */
  private next(worker: Worker): Promise<FromWorker> {
    const waiting = this.waiters.get(worker);
    if (!waiting) return Promise.resolve({ type: 'shut' });
    return new Promise((resolve) => waiting.push(resolve));
  }

  private ask(worker: Worker, message: ToWorker): Promise<FromWorker> {
    const reply = this.next(worker);
    worker.postMessage(message);
    return reply;
  }

  /** Compiles the plan's scripts on every worker; resolves to a problem, or null when all are ready. */
  async prepare(runId: string, plan: ResolvedPlan): Promise<string | null> {
    const replies = await Promise.all(this.workers.map((w) => this.ask(w, { type: 'prepare', runId, plan })));
    for (const r of replies) if (r.type === 'prepared' && r.problem) return r.problem;
    return null;
  }

  start(runId: string, cohortId: number, devices: DeviceSpec[]): void {
    if (this.workers.length === 0) return;
    const shares: DeviceSpec[][] = this.workers.map(() => []);
    for (const d of devices) {
      shares[this.nextWorker]!.push(d);
      this.nextWorker = (this.nextWorker + 1) % this.workers.length;
    }
    this.workers.forEach((w, i) => {
      const share = shares[i]!;
      if (share.length > 0) w.postMessage({ type: 'start', runId, cohortId, devices: share } satisfies ToWorker);
    });
  }

  /**
   * Deals a generator's slot of an arrival-rate block out to as many workers as
   * its pool has devices: worker w takes slot `slot + slots·w` of `slots·W`, so the
   * workers' iterations interleave and together are exactly the generator's.
   */
  startArrivals(runId: string, block: number, slot: number, slots: number, targets: Target[], startedAt: number, from = 0): void {
    const workers = this.workers.slice(0, Math.min(this.workers.length, targets.length));
    if (workers.length === 0) return;
    const pools = splitEvenly(targets.length, workers.length);
    let first = 0;
    workers.forEach((w, i) => {
      const share = targets.slice(first, first + pools[i]!);
      first += pools[i]!;
      const message: ToWorker = { type: 'arrivals', runId, block, slot: slot + slots * i, slots: slots * workers.length, targets: share, startedAt, from };
      w.postMessage(message);
    });
  }

  /** Stops a cohort's devices, ahead of any start, collect or device work the workers have queued. */
  stop(runId: string, cohortId: number): void {
    this.order({ type: 'stop', runId, cohortId });
  }

  /** Stops every device of the run, ahead of other work, and forgets the run. */
  end(runId: string): void {
    this.order({ type: 'end', runId });
  }

  private order(order: StopOrder): void {
    for (const w of this.workers) this.stopOrders.get(w)?.postMessage(order);
  }

  /**
   * Every worker's metrics since the last collect, merged. `final` (after end()):
   * each worker answers once its stopped devices' requests in flight have their
   * answers (or the wait for them ran out), so nothing they measured is left behind.
   */
  async collect(final = false): Promise<Collected> {
    const seq = ++this.seq;
    const replies = await Promise.all(this.workers.map((w) => this.ask(w, final ? { type: 'collect', seq, final } : { type: 'collect', seq })));
    const counters: Record<string, number> = {};
    const merged = new Map<string, Histogram>();
    const single = new Map<string, Uint8Array>();
    let activeDevices = 0;
    let runId: string | null = null;
    for (const r of replies) {
      if (r.type !== 'collected') continue;
      activeDevices += r.activeDevices;
      runId ??= r.runId;
      for (const [name, n] of Object.entries(r.metrics.counters)) counters[name] = (counters[name] ?? 0) + n;
      for (const [name, bytes] of Object.entries(r.metrics.histograms)) {
        const first = single.get(name);
        if (first === undefined && !merged.has(name)) {
          single.set(name, bytes);
          continue;
        }
        let h = merged.get(name);
        if (!h) {
          h = new Histogram(HISTOGRAM_BOUNDS);
          h.addEncoded(first!);
          single.delete(name);
          merged.set(name, h);
        }
        h.addEncoded(bytes);
      }
    }
    const histograms: Record<string, Uint8Array> = Object.fromEntries(single);
    for (const [name, h] of merged) histograms[name] = h.encode(TELEMETRY_HISTOGRAM_ENCODING);
    return { runId, activeDevices, metrics: { counters, histograms } };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.workers.map(async (w) => {
        await Promise.race([this.ask(w, { type: 'shutdown' }), new Promise((r) => setTimeout(r, 2000))]);
        await w.terminate();
        this.stopOrders.get(w)?.close();
      }),
    );
  }
}
