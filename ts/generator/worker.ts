/**
 * A generator worker thread: one QuickJS runtime per script of the current run,
 * the devices placed on this thread, and their metrics. Everything arrives and
 * leaves as worker messages, at most one exchange per device command or second.
 */
import { parentPort } from 'node:worker_threads';
import { MetricBuffer } from './metric-buffer.js';
import { Device } from './device.js';
import { ArrivalBlock, GRACEFUL_STOP_MS } from './arrival-block.js';
import { arrivalStages } from '../shared/arrival-rate.js';
import type { ResolvedPlan } from '../shared/plan.js';
import { sandboxLimits, ScriptSandbox } from './sandbox/script-sandbox.js';
import { recordSocketBytes } from './protocols/socket-transport.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

interface RunOnWorker {
  runId: string;
  plan: ResolvedPlan;
  sandboxes: ScriptSandbox[];
  cohorts: Map<number, Device[]>;
  arrivals: ArrivalBlock[];
}

export class WorkerRuntime {
  private run: RunOnWorker | undefined;
  private metrics = new MetricBuffer();
  private nextDeviceId = 1;

  constructor(private readonly post: (message: FromWorker) => void) {}

  async handle(message: ToWorker): Promise<void> {
    switch (message.type) {
      case 'prepare':
        return this.prepare(message.runId, message.plan);
      case 'start': {
        const run = this.current(message.runId);
        if (!run) return;
        const devices = message.devices.map(
          (spec) => new Device(run.sandboxes[spec.block], spec.target, this.metrics, () => this.nextDeviceId++),
        );
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
        });
        run.arrivals.push(arrivals);
        arrivals.start();
        return;
      }
      case 'stop': {
        const run = this.current(message.runId);
        const cohort = run?.cohorts.get(message.cohortId);
        if (!run || !cohort) return;
        for (const d of cohort) d.stop();
        run.cohorts.delete(message.cohortId);
        return;
      }
      case 'end':
        // Iterations in flight get their graceful stop; the collect queued behind this waits for them.
        if (this.current(message.runId)) await this.endRun(GRACEFUL_STOP_MS);
        return;
      case 'collect':
        return this.collect(message.seq);
      case 'shutdown':
        this.endRun();
        this.post({ type: 'shut' });
        return;
    }
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
    this.run = { runId, plan, sandboxes, cohorts: new Map(), arrivals: [] };
    this.post({ type: 'prepared', runId, problem: null });
  }

  private async endRun(graceMs = 0): Promise<void> {
    const run = this.run;
    if (!run) return;
    this.run = undefined;
    for (const cohort of run.cohorts.values()) for (const d of cohort) d.stop();
    await Promise.all(run.arrivals.map((block) => block.finish(graceMs)));
    // Stopped devices may still have a microtask or a closing socket in flight; the
    // runtimes go once those have settled.
    setTimeout(() => {
      for (const s of run.sandboxes) s.dispose();
    }, 50);
  }

  private collect(seq: number): void {
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
  // Messages are handled in arrival order: a start must not overtake its prepare.
  let queue = Promise.resolve();
  port.on('message', (message: ToWorker) => {
    queue = queue.then(() => runtime.handle(message)).catch((err) => {
      console.error(`stressgrid worker: ${(err as Error).stack ?? err}`);
    });
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}
