/**
 * A generator worker thread: one QuickJS runtime per script of the current run,
 * the devices placed on this thread, and their metrics. Everything arrives and
 * leaves as worker messages, at most one exchange per device command or second.
 * Stop orders come on a port of their own and are served before other work
 * (stop-orders.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { MetricBuffer } from './metric-buffer.js';
import { Device, STOP_ANSWER_LIMIT_MS } from './device.js';
import { ArrivalBlock, GRACEFUL_STOP_MS } from './arrival-block.js';
import { arrivalStages } from '../shared/arrival-rate.js';
import type { ResolvedPlan } from '../shared/plan.js';
import { sandboxLimits, ScriptSandbox } from './sandbox/script-sandbox.js';
import { recordSocketBytes } from './protocols/socket-transport.js';
import { listenForStopOrders, serveStopOrders } from './stop-orders.js';
import type { FromWorker, StopOrder, ToWorker, WorkerStartData } from './worker-messages.js';

interface RunOnWorker {
  runId: string;
  plan: ResolvedPlan;
  sandboxes: ScriptSandbox[];
  cohorts: Map<number, Device[]>;
  arrivals: ArrivalBlock[];
  /** Cohorts whose stop overtook their start: they never start. */
  stoppedEarly: Set<number>;
}

export class WorkerRuntime {
  private run: RunOnWorker | undefined;
  private metrics = new MetricBuffer();
  private nextDeviceId = 1;
  /** Stopped devices still waiting for the answer to a request they sent. */
  private readonly answering = new Set<Promise<void>>();

  constructor(private readonly post: (message: FromWorker) => void) {}

  async handle(message: ToWorker | StopOrder): Promise<void> {
    switch (message.type) {
      case 'prepare':
        return this.prepare(message.runId, message.plan);
      case 'start': {
        const run = this.current(message.runId);
        if (!run || run.stoppedEarly.has(message.cohortId)) return;
        const devices = message.devices.map((spec) => new Device(run.sandboxes[spec.block]!, spec.target, this.metrics, () => this.nextDeviceId++));
        const cohort = run.cohorts.get(message.cohortId) ?? [];
        cohort.push(...devices);
        run.cohorts.set(message.cohortId, cohort);
        for (const d of devices) d.start();
        return;
      }
      case 'arrivals': {
        const run = this.current(message.runId);
        const block = run?.plan.blocks[message.block];
        if (!run || !block || message.targets.length === 0) return;
        const arrivals = new ArrivalBlock({
          sandbox: run.sandboxes[message.block]!,
          stages: arrivalStages(block, run.plan),
          pattern: block.arrival ?? 'uniform',
          slot: { slot: message.slot, slots: message.slots },
          targets: message.targets,
          sink: this.metrics,
          nextId: () => this.nextDeviceId++,
          startedAt: message.startedAt - performance.timeOrigin,
          from: message.from,
        });
        run.arrivals.push(arrivals);
        arrivals.start();
        return;
      }
      case 'stop':
      case 'end':
        this.serve(message);
        return;
      case 'collect':
        return this.collect(message.seq, message.final === true);
      case 'shutdown':
        this.endRun();
        this.post({ type: 'shut' });
        return;
    }
  }

  /** A stop order; synchronous, so it can be served in the middle of other work. */
  serve(order: StopOrder): void {
    const run = this.current(order.runId);
    if (!run) return;
    if (order.type === 'end') {
      this.endRun(GRACEFUL_STOP_MS);
      return;
    }
    const cohort = run.cohorts.get(order.cohortId);
    if (!cohort) {
      run.stoppedEarly.add(order.cohortId);
      return;
    }
    this.stopDevices(cohort);
    run.cohorts.delete(order.cohortId);
  }

  private current(runId: string): RunOnWorker | undefined {
    return this.run?.runId === runId ? this.run : undefined;
  }

  private async prepare(runId: string, plan: ResolvedPlan): Promise<void> {
    this.endRun();
    const sandboxes: ScriptSandbox[] = [];
    try {
      for (const block of plan.blocks) {
        sandboxes.push(await ScriptSandbox.create({ source: block.script, params: block.params, sink: this.metrics, limits: sandboxLimits(block.limits) }));
      }
    } catch (err) {
      for (const s of sandboxes) s.dispose();
      this.post({ type: 'prepared', runId, problem: (err as Error).message });
      return;
    }
    this.run = { runId, plan, sandboxes, cohorts: new Map(), arrivals: [], stoppedEarly: new Set() };
    this.post({ type: 'prepared', runId, problem: null });
  }

  private stopDevices(devices: Device[]): void {
    for (const d of devices) this.awaitAnswer(d.stop());
  }

  /** Remembers something stopped that is still finishing: the run's final collect waits for it. */
  private awaitAnswer(closing: Promise<void> | undefined): void {
    if (closing === undefined) return;
    this.answering.add(closing);
    void closing.finally(() => this.answering.delete(closing));
  }

  private endRun(graceMs = 0): void {
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    for (const cohort of run.cohorts.values()) this.stopDevices(cohort);
    // Iterations of arrival-rate blocks in flight get their graceful stop; the final collect waits for them too.
    const finishing = run.arrivals.map((block) => block.finish(graceMs));
    for (const f of finishing) this.awaitAnswer(f);
    // Stopped devices may still have a microtask or a closing socket in flight; the
    // runtimes go once those have settled (and the arrival blocks' last iterations ended).
    void Promise.allSettled(finishing).then(() =>
      setTimeout(() => {
        for (const s of run.sandboxes) s.dispose();
      }, 50),
    );
  }

  private async collect(seq: number, final: boolean): Promise<void> {
    // The run's last collect carries what its stopped devices' last answers measured.
    if (final && this.answering.size > 0) {
      const limitMs = Math.max(STOP_ANSWER_LIMIT_MS, GRACEFUL_STOP_MS) + 500;
      await Promise.race([Promise.allSettled([...this.answering]), new Promise((resolve) => setTimeout(resolve, limitMs))]);
    }
    let active = 0;
    if (this.run) for (const cohort of this.run.cohorts.values()) for (const d of cohort) if (d.active) active++;
    if (this.run) for (const block of this.run.arrivals) active += block.busy;
    recordSocketBytes(this.metrics);
    // Encoded histograms are a few hundred bytes each: copying them is cheaper than
    // arranging transfers of natively allocated buffers.
    this.post({ type: 'collected', seq, runId: this.run?.runId ?? null, activeDevices: active, metrics: this.metrics.drain() });
  }
}

if (parentPort) {
  const port = parentPort;
  const runtime = new WorkerRuntime((message) => port.postMessage(message));
  const { stopOrders } = (workerData ?? {}) as Partial<WorkerStartData>;
  if (stopOrders) listenForStopOrders<StopOrder>(stopOrders, (order) => runtime.serve(order));
  // Messages are handled in arrival order: a start must not overtake its prepare.
  // Stop orders sent before a message are served before it.
  let queue = Promise.resolve();
  port.on('message', (message: ToWorker) => {
    queue = queue
      .then(() => {
        serveStopOrders();
        return runtime.handle(message);
      })
      .catch((err) => {
        console.error(`stressgrid worker: ${(err as Error).stack ?? err}`);
      });
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}
