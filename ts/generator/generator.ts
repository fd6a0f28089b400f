/**
 * A generator: speaks the protocol to a coordinator over a Link and runs the
 * devices it is given on its worker threads, pushing telemetry every second.
 * The same class serves the embedded mode (in-process link) and the generator
 * program (WebSocket link).
 */
import { DeviceError } from '../shared/errors.js';
import type { ResolvedPlan } from '../shared/plan.js';
import { PROTOCOL_VERSION, type CoordinatorMessage, type StartArrivals, type StartCohort, type Telemetry } from '../shared/protocol.js';
import type { GeneratorSide } from '../shared/transport.js';
import { openFileLimit } from '../netio/open-file-limit.js';
import { OpenFileWatch } from './open-file-watch.js';
import type { Target } from './protocols/device-connection.js';
import { resolveTargets } from './protocols/resolve-targets.js';
import { isLoopbackAddress, UtilisationSampler } from './utilisation.js';
import type { DeviceSpec } from './worker-messages.js';
import { WorkerPool, defaultWorkerCount } from './worker-pool.js';

export const TELEMETRY_INTERVAL_MS = 1000;
/** How far the coordinator's clock may seem from ours (message time included) for an arrival-rate block to start on it. */
export const MAX_CLOCK_SKEW_MS = 1000;

export interface GeneratorOptions {
  id: string;
  workers?: number;
  telemetryIntervalMs?: number;
  log?: (line: string) => void;
  /** The process's open-file limit (default: read through the netio addon; null: unknown). */
  openFileLimit?: number | null;
  /** Whether notices sent to the coordinator are logged here too (default true; the embedded mode shows the coordinator's). */
  logNotices?: boolean;
}

interface PreparedRun {
  runId: string;
  plan: ResolvedPlan;
  /** Targets of each plan address (a host name may resolve to several). */
  targets: Target[][];
  /** Devices placed so far on each address, to spread them over its IPs. */
  placed: number[];
}

export class Generator {
  private link: GeneratorSide | undefined;
  private run: PreparedRun | undefined;
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** Pushes go one after the other, so a run's final telemetry is the last of it to leave. */
  private pushing: Promise<void> = Promise.resolve();
  /** The run that ended and whose final telemetry has not left yet: what is collected meanwhile is still its. */
  private ending: string | undefined;
  private seq = 0;
  private lastPush = performance.now();
  private readonly sampler = new UtilisationSampler();
  private readonly log: (line: string) => void;
  private readonly openFiles: OpenFileWatch;

  private constructor(
    readonly id: string,
    private readonly pool: WorkerPool,
    private readonly intervalMs: number,
    log: ((line: string) => void) | undefined,
    fileLimit: number | null,
    private readonly logNotices: boolean,
  ) {
    this.log = log ?? ((line) => console.error(line));
    this.openFiles = new OpenFileWatch(fileLimit);
  }

  static async start(options: GeneratorOptions): Promise<Generator> {
    const pool = await WorkerPool.start(options.workers ?? defaultWorkerCount());
    const known = openFileLimit();
    const fileLimit = options.openFileLimit !== undefined ? options.openFileLimit : known.ok ? known.limit.soft : null;
    return new Generator(options.id, pool, options.telemetryIntervalMs ?? TELEMETRY_INTERVAL_MS, options.log, fileLimit, options.logNotices ?? true);
  }

  get workers(): number {
    return this.pool.size;
  }

  /**
   * Serves one coordinator link until it closes. The coordinator's first message
   * must be a welcome of our protocol version (then `events.welcomed` is called);
   * anything else closes the link, and nothing it sent is acted on.
   */
  connect(link: GeneratorSide, events: { welcomed?(): void } = {}): void {
    this.link = link;
    let welcomed = false;
    link.onMessage((m) => {
      // In arrival order: a cohort must not start before its run is prepared.
      this.queue = this.queue
        .then(() => {
          // Messages that arrived before the link closed are dropped with it.
          if (this.link !== link) return;
          if (welcomed) return this.handle(m);
          const refusal = this.refusal(m);
          if (refusal) return link.close(refusal);
          welcomed = true;
          events.welcomed?.();
        })
        .catch((err) => this.log(`stressgrid generator: ${(err as Error).stack ?? err}`));
    });
    link.onClose(() => {
      if (this.link !== link) return;
      this.link = undefined;
      clearInterval(this.timer);
      this.timer = undefined;
      // Devices do not outlive their coordinator.
      this.endRun();
    });
    link.send({ type: 'hello', version: PROTOCOL_VERSION, generatorId: this.id, workers: this.pool.size });
    this.lastPush = performance.now();
    this.timer = setInterval(() => void this.push(), this.intervalMs);
  }

  /** Why a message ends the link (any first message but a welcome of our version; a refusal or another version's welcome later); undefined if it does not. */
  private refusal(m: CoordinatorMessage): string | undefined {
    if (m.type === 'welcome' && m.version === PROTOCOL_VERSION) return undefined;
    if (m.type === 'welcome') {
      this.log(`stressgrid generator: refused the coordinator: it speaks protocol version ${m.version}, this generator ${PROTOCOL_VERSION}: run the same Stressgrid version on both`);
      return 'protocol version mismatch';
    }
    if (m.type === 'refused') {
      this.log(`stressgrid generator: refused by the coordinator: ${m.reason}`);
      return m.reason;
    }
    return 'the first message must be welcome';
  }

  private async handle(m: CoordinatorMessage): Promise<void> {
    switch (m.type) {
      case 'welcome':
      case 'refused': {
        const refusal = this.refusal(m);
        if (refusal) this.link?.close(refusal);
        return;
      }
      case 'prepare_run':
        return this.prepare(m.runId, m.plan);
      case 'start_cohort':
        return this.startCohort(m);
      case 'start_arrivals':
        return this.startArrivals(m);
      case 'stop_cohort':
        if (this.run?.runId !== m.runId) return;
        this.pool.stop(m.runId, m.cohortId);
        this.openFiles.cohortStopped(m.runId, m.cohortId);
        return;
      case 'end_run':
        // Another run's devices are not this run's to stop or report.
        if (this.run !== undefined && this.run.runId !== m.runId) return;
        // Without the run (its prepare failed, or it came back after the run's start) there is nothing to stop,
        // but the coordinator still hears that nothing more will come.
        if (this.run !== undefined) {
          this.ending = m.runId;
          this.endRun();
        }
        // What the stopped devices measured since the last push, their last answers
        // included, marked as the run's last: the coordinator waits for it.
        return this.push(m.runId, true);
    }
  }

  private problem(runId: string, message: string): void {
    this.link?.send({ type: 'run_problem', generatorId: this.id, runId, message });
  }

  /** Logged here and shown with the run's notices; the run goes on. */
  private notice(runId: string, message: string | undefined): void {
    if (message === undefined) return;
    if (this.logNotices) this.log(`stressgrid generator: ${message}`);
    this.link?.send({ type: 'generator_notice', generatorId: this.id, runId, message });
  }

  private async prepare(runId: string, plan: ResolvedPlan): Promise<void> {
    this.endRun();
    let targets: Target[][];
    try {
      targets = await Promise.all(plan.addresses.map((a) => resolveTargets([a])));
    } catch (err) {
      return this.problem(runId, err instanceof DeviceError ? `${err.code}: ${err.message}` : String(err));
    }
    const problem = await this.pool.prepare(runId, plan);
    if (problem) return this.problem(runId, problem);
    this.run = { runId, plan, targets, placed: targets.map(() => 0) };
    // Loopback carries the load only when a target is on it.
    this.sampler.countLoopback(targets.some((ips) => ips.some((target) => isLoopbackAddress(target.ip))));
    this.link?.send({ type: 'run_ready', generatorId: this.id, runId });
  }

  private startCohort(m: StartCohort): void {
    const run = this.run;
    if (!run || run.runId !== m.runId) return;
    const specs: DeviceSpec[] = [];
    let n = 0;
    m.devices.forEach((count, block) => {
      for (let i = 0; i < count; i++, n++) specs.push({ block, target: this.place(run, m.addressOffset + n) });
    });
    this.pool.start(m.runId, m.cohortId, specs);
    this.notice(m.runId, this.openFiles.cohortStarted(m.runId, m.cohortId, specs.length));
  }

  private startArrivals(m: StartArrivals): void {
    const run = this.run;
    if (!run || run.runId !== m.runId || run.plan.blocks[m.block] === undefined) return;
    const targets: Target[] = [];
    for (let n = 0; n < m.maxDevices; n++) targets.push(this.place(run, m.addressOffset + n));
    // The run's clock, in this process's performance timeline; a clock too far from the coordinator's is not
    // trusted: the block then counts from the message, sent `from` seconds into the block (0 at its start).
    const from = m.from ?? 0;
    const sinceStart = Date.now() - m.startedAt;
    const startedAt = performance.timeOrigin + performance.now() - (Math.abs(sinceStart - from * 1000) <= MAX_CLOCK_SKEW_MS ? sinceStart : from * 1000);
    this.pool.startArrivals(m.runId, m.block, m.slot, m.slots, targets, startedAt, from);
  }

  /** The target of the device that takes address `n` (mod the addresses), spread over the address's IPs. */
  private place(run: PreparedRun, n: number): Target {
    const a = n % run.targets.length;
    const ips = run.targets[a]!;
    return ips[run.placed[a]!++ % ips.length]!;
  }

  private endRun(): void {
    if (!this.run) return;
    this.pool.end(this.run.runId);
    this.run = undefined;
  }

  /**
   * Collects one interval from the workers and sends it, after any push still on
   * its way. `final` (the run `endedRunId` has ended): waits for its stopped
   * devices' last answers and marks the push as the run's last.
   */
  push(endedRunId?: string, final = false): Promise<void> {
    const next = this.pushing.then(() => this.pushNow(endedRunId, final));
    this.pushing = next.catch(() => {});
    return next;
  }

  private async pushNow(endedRunId: string | undefined, final: boolean): Promise<void> {
    const collected = await this.pool.collect(final);
    const now = performance.now();
    const intervalMs = now - this.lastPush;
    this.lastPush = now;
    const u = this.sampler.sample();
    const telemetry: Telemetry = {
      type: 'telemetry',
      generatorId: this.id,
      runId: endedRunId ?? this.run?.runId ?? this.ending ?? collected.runId,
      seq: ++this.seq,
      at: Date.now(),
      intervalMs,
      activeDevices: collected.activeDevices,
      cpuPercent: u.cpuPercent,
      networkRxBytes: u.networkRxBytes,
      networkTxBytes: u.networkTxBytes,
      networkInterfaces: u.networkInterfaces,
      ...(u.networkLinkBitsPerSecond !== null ? { networkLinkBitsPerSecond: u.networkLinkBitsPerSecond } : {}),
      counters: collected.metrics.counters,
      histograms: collected.metrics.histograms,
      ...(final ? { final } : {}),
    };
    if (final && this.ending === endedRunId) this.ending = undefined;
    this.link?.send(telemetry);
    if (telemetry.runId !== null) this.notice(telemetry.runId, this.openFiles.countersSeen(telemetry.runId, telemetry.counters));
  }

  /** Stops every device, sends the last telemetry, closes the link and the workers. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.queue;
    const runId = this.run?.runId;
    this.ending = runId;
    this.endRun();
    if (this.link) await this.push(runId, runId !== undefined);
    this.link?.close('generator shutting down');
    await this.pool.close();
  }
}
