/**
 * One run of a plan: sends each cohort's start and stop to its generator when the
 * ramp schedule says, feeds their telemetry to the aggregator, shows live values
 * every second, writes a report row every interval (and the last, partial one),
 * and archives the report before announcing it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { networkPercent, type ArrivalsView, type LiveSnapshot, type RunState, type WriterStatus } from '../shared/live.js';
import { ArrivalCurve, arrivalStages, isArrivalBlock } from '../shared/arrival-rate.js';
import type { ResolvedPlan } from '../shared/plan.js';
import type { Telemetry } from '../shared/protocol.js';
import { unrecordedThresholdMetrics } from '../shared/threshold-metrics.js';
import { readThresholds, thresholdAbortReason, type ThresholdResult } from '../shared/thresholds.js';
import { Aggregator } from './aggregator.js';
import { CsvWriter, RESULTS_CSV } from './csv-writer.js';
import type { ConnectedGenerator, GeneratorRegistry } from './generator-registry.js';
import { HISTOGRAM_LOG, HlogWriter } from './hlog-writer.js';
import { buildHtmlReport, REPORT_HTML } from './html-report.js';
import { phaseAt, planSchedule, targetDevicesAt, type RampAction, type Schedule } from './ramp.js';
import type { ReportStore } from './report-store.js';
import { newRunId } from './run-id.js';
import { buildSummary, missingTelemetryLine, writerStatusLine, type MissingTelemetry, type RunSummary } from './run-summary.js';
import { devicesOnBusiestGenerator, finalTelemetryBoundMs } from './final-telemetry.js';
import { ThresholdEvaluator } from './threshold-evaluator.js';
import { fanOut, type SecondSample, type Writer, type WriterSet } from './writer.js';
import { SETTINGS } from '../shared/settings.js';

/** Default report interval (REPORT_INTERVAL_SECONDS). */
export const DEFAULT_REPORT_INTERVAL_SECONDS = SETTINGS.reportInterval.fallback;
const LIVE_INTERVAL_MS = 1000;
/** How long generators may take to compile the scripts and resolve the targets of a run. */
const PREPARE_TIMEOUT_MS = 60_000;

export type RunOutcome = 'done' | 'aborted' | 'failed';

export interface RunResult {
  runId: string;
  outcome: RunOutcome;
  /** The archive on disk; null only when not even the report could be written. */
  archivePath: string | null;
  summary: RunSummary | null;
  reason?: string;
  /** Problems of the runner itself: generator failures, undecodable telemetry, writer errors. */
  criticalErrors: number;
}

export interface RunOptions {
  plan: ResolvedPlan;
  registry: GeneratorRegistry;
  store: ReportStore;
  reportIntervalSeconds?: number;
  /** Writers beyond the CSV and histogram log (CloudWatch). */
  extraWriters?: Writer[];
  onLive?: (snapshot: LiveSnapshot) => void;
  /** Every second, with the run's histograms so far (the /metrics endpoint). */
  onSecond?: (sample: SecondSample) => void;
  onNotice?: (message: string) => void;
}

/** Why a run could not start. */
export class RunStartError extends Error {
  constructor(
    readonly code: 'no_generators' | 'no_devices',
    message: string,
  ) {
    super(message);
    this.name = 'RunStartError';
  }
}

export class Run {
  readonly done: Promise<RunResult>;
  private resolveDone!: (r: RunResult) => void;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The live view's once-a-second tick; kept through the end of the run, so the streamed seconds have no gap while the generators finish. */
  private liveTimer: NodeJS.Timeout | undefined;
  private readonly finals = new Set<string>();
  /** Generators of the schedule that rejoined the run under way and are preparing it again. */
  private readonly rejoining = new Set<string>();
  /** Generators of the schedule that left during the run, in order; cleared when one rejoins. */
  private readonly lost: string[] = [];
  private readonly everLost = new Set<string>();
  /** Each generator's last telemetry of this run: when it was pushed and how many devices it had running. */
  private readonly lastPush = new Map<string, { at: number; activeDevices: number }>();
  private finalWaiter: (() => void) | undefined;
  private state: RunState = 'preparing';
  private finishing = false;
  private criticalErrors = 0;
  private unlisten: () => void = () => {};
  private readonly writer: WriterSet;

  /** Every generator the ramp was planned over. */
  private readonly scheduled: ReadonlySet<string>;
  /** Generators that have compiled the run's scripts and resolved its targets. */
  private readonly ready = new Set<string>();
  private aggregator: Aggregator;
  private startedAt_: number;
  private writerOpen: Promise<void> | undefined;
  /** Null when the plan has no thresholds. */
  private readonly thresholds: ThresholdEvaluator | null;
  /** True from the writers' open to their close: the seconds streaming writers get. */
  private streaming = false;
  /** The arrival-rate blocks' schedules and pools, for the live view; null when every block is closed. */
  private readonly arrivalBlocks: { curves: ArrivalCurve[]; maxDevices: number } | null;

  private constructor(
    readonly runId: string,
    private readonly options: RunOptions,
    private readonly schedule: Schedule,
    private readonly generators: Map<string, ConnectedGenerator>,
    private readonly dir: string,
    startedAt: number,
  ) {
    this.startedAt_ = startedAt;
    this.aggregator = new Aggregator({ runId, startedAt });
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.scheduled = new Set(generators.keys());
    const thresholds = readThresholds(options.plan.thresholds).thresholds;
    this.thresholds = thresholds.length > 0 ? new ThresholdEvaluator(thresholds) : null;
    const open = options.plan.blocks.filter((b) => isArrivalBlock(b));
    const pools = schedule.actions.reduce((sum, a) => sum + (a.kind === 'arrivals' ? a.maxDevices : 0), 0);
    this.arrivalBlocks = open.length > 0 ? { curves: open.map((b) => new ArrivalCurve(arrivalStages(b, options.plan))), maxDevices: pools } : null;
    this.writer = fanOut([new CsvWriter(), new HlogWriter(), ...(options.extraWriters ?? [])], (_w, err) => {
      this.criticalErrors++;
      this.notice(`a report writer failed: ${(err as Error).message ?? err}`);
    });
  }

  /** Plans the ramp over the generators connected now and starts it. */
  static async start(options: RunOptions): Promise<Run> {
    const generators = options.registry.list();
    if (generators.length === 0) throw new RunStartError('no_generators', 'no generator is connected to the coordinator');
    const schedule = planSchedule(
      options.plan,
      generators.map((g) => g.id),
    );
    if (schedule.effective.message) options.onNotice?.(schedule.effective.message);
    const arrivals = schedule.actions.some((a) => a.kind === 'arrivals');
    if (schedule.effective.devices === 0 && !arrivals) throw new RunStartError('no_devices', schedule.effective.message ?? 'the plan asks for no devices');
    const runId = newRunId(options.plan.name);
    const dir = await options.store.startRun(runId, options.plan);
    const startedAt = Date.now();
    const run = new Run(runId, options, schedule, new Map(generators.map((g) => [g.id, g])), dir, startedAt);
    run.begin();
    return run;
  }

  /** When the ramp's clock started: once every generator was ready (until then, when the run was created). */
  get startedAt(): number {
    return this.startedAt_;
  }

  private notice(message: string): void {
    this.options.onNotice?.(message);
  }

  /** Asks every generator to prepare the run; the ramp starts once all are ready. */
  private begin(): void {
    const { plan, registry } = this.options;
    if (this.thresholds) {
      const scripts = plan.blocks.map((b) => b.script);
      for (const name of unrecordedThresholdMetrics(readThresholds(plan.thresholds).thresholds, scripts)) {
        this.notice(
          `threshold on "${name}": nothing in this plan records it (no built-in metric, and no script names that key in startTiming, stopTiming, stopStartTiming or incCounter), so it will fail for want of data`,
        );
      }
    }
    this.unlisten = registry.listen({
      telemetry: (g, t) => this.onTelemetry(g, t),
      ready: (g, r) => {
        if (r.runId !== this.runId || this.finishing) return;
        this.ready.add(g.id);
        if (this.state === 'preparing' && [...this.scheduled].every((id) => this.ready.has(id))) this.startClock();
        else if (this.rejoining.delete(g.id)) this.resumeArrivals(g);
      },
      notice: (g, n) => {
        if (n.runId === this.runId) this.notice(`generator ${g.id}: ${n.message}`);
      },
      problem: (g, p) => {
        if (p.runId !== this.runId) return;
        // A generator that could not prepare the run holds none of its devices: no final telemetry will come.
        this.finals.add(g.id);
        this.criticalErrors++;
        void this.finish('failed', `generator ${g.id}: ${p.message}`);
      },
      left: (g, reason) => {
        if (this.generators.get(g.id) !== g) return;
        this.generators.delete(g.id);
        this.aggregator.removeGenerator(g.id);
        this.criticalErrors++;
        this.lost.push(g.id);
        this.everLost.add(g.id);
        this.notice(`generator ${g.id} left the run (${reason}); its running devices are lost, its later steps wait for it to reconnect`);
        if (this.allFinal()) this.finalWaiter?.();
      },
      joined: (g) => {
        // Only a generator of this run's schedule rejoins it; newcomers wait for the next run.
        if (!this.scheduled.has(g.id) || this.finishing) return;
        this.generators.set(g.id, g);
        const at = this.lost.indexOf(g.id);
        if (at >= 0) this.lost.splice(at, 1);
        if (this.state !== 'preparing') this.rejoining.add(g.id);
        g.link.send({ type: 'prepare_run', runId: this.runId, plan });
        this.notice(`generator ${g.id} rejoined the run; it takes its steps from the next one on, and its share of the arrival rates once it is ready`);
      },
    });
    for (const g of this.generators.values()) g.link.send({ type: 'prepare_run', runId: this.runId, plan });
    this.timers.push(
      setTimeout(() => {
        const late = [...this.scheduled].filter((id) => !this.ready.has(id));
        void this.finish('failed', `generator ${late.join(', ')} did not prepare the run within ${PREPARE_TIMEOUT_MS / 1000} s`);
      }, PREPARE_TIMEOUT_MS),
    );
    this.liveTimer = setInterval(() => this.emitLive(), LIVE_INTERVAL_MS);
  }

  /**
   * Starts the ramp's clock: every generator has compiled the scripts, so the first
   * cohorts start on time and the first interval is not spent compiling.
   */
  private startClock(): void {
    for (const t of this.timers.splice(0)) clearTimeout(t);
    clearInterval(this.liveTimer);
    this.startedAt_ = Date.now();
    this.aggregator = new Aggregator({ runId: this.runId, startedAt: this.startedAt_ });
    this.writerOpen = this.writer.open({ runId: this.runId, plan: this.options.plan, startedAt: this.startedAt_, dir: this.dir });
    void this.writerOpen.then(() => (this.streaming = true));
    for (const action of this.schedule.actions) {
      const delay = Math.max(0, this.startedAt_ + action.at * 1000 - Date.now());
      this.timers.push(setTimeout(() => this.perform(action), delay));
    }
    this.state = 'rampup';
    // The live tick restarts with the clock, so each streamed second closes a whole second of the run.
    this.liveTimer = setInterval(() => this.emitLive(), LIVE_INTERVAL_MS);
    this.timers.push(setInterval(() => void this.writeInterval(), (this.options.reportIntervalSeconds ?? DEFAULT_REPORT_INTERVAL_SECONDS) * 1000));
  }

  private perform(action: RampAction): void {
    if (this.finishing) return;
    if (action.kind === 'end') {
      void this.finish('done');
      return;
    }
    const g = this.generators.get(action.generatorId);
    if (!g) return;
    if (action.kind === 'start') {
      g.link.send({ type: 'start_cohort', runId: this.runId, cohortId: action.cohortId, devices: action.devices, addressOffset: action.addressOffset });
    } else if (action.kind === 'arrivals') {
      const { block, slot, slots, maxDevices, addressOffset } = action;
      g.link.send({ type: 'start_arrivals', runId: this.runId, block, slot, slots, maxDevices, addressOffset, startedAt: this.startedAt_ + action.at * 1000 });
    } else {
      g.link.send({ type: 'stop_cohort', runId: this.runId, cohortId: action.cohortId });
    }
  }

  /**
   * A generator that rejoined the run under way and prepared it again takes back
   * its slot of every arrival-rate block still running, from now on: the rate is
   * split as planned again. Iterations that fell due while it was away are not run.
   */
  private resumeArrivals(g: ConnectedGenerator): void {
    if (this.finishing) return;
    const elapsed = this.elapsed();
    for (const action of this.schedule.actions) {
      if (action.kind !== 'arrivals' || action.generatorId !== g.id || action.at > elapsed) continue;
      const { block, slot, slots, maxDevices, addressOffset } = action;
      const from = elapsed - action.at;
      const stages = arrivalStages(this.options.plan.blocks[block]!, this.options.plan);
      if (from >= new ArrivalCurve(stages).duration) continue;
      g.link.send({ type: 'start_arrivals', runId: this.runId, block, slot, slots, maxDevices, addressOffset, startedAt: this.startedAt_ + action.at * 1000, from });
      this.notice(`generator ${g.id} runs its share of arrival-rate block ${block} again from ${from.toFixed(1)} s into it; the iterations due to it while it was away were not run`);
    }
  }

  private onTelemetry(g: ConnectedGenerator, t: Telemetry): void {
    this.aggregator.ingest(t);
    if (t.runId !== this.runId) return;
    this.noteNetwork(g.id, t);
    const before = this.lastPush.get(g.id);
    // The final push comes after the devices stopped: it reports none running, which is not what its last interval lost.
    if (!t.final || before === undefined) this.lastPush.set(g.id, { at: t.at, activeDevices: t.activeDevices });
    if (t.final) {
      this.finals.add(g.id);
      if (this.allFinal()) this.finalWaiter?.();
    }
  }

  /** What the summary says of each generator's network: the interfaces counted and the peak share of their link. */
  private readonly networks: NonNullable<RunSummary['networks']> = {};

  private noteNetwork(id: string, t: Telemetry): void {
    const seconds = (t.intervalMs > 0 ? t.intervalMs : 1000) / 1000;
    const share = networkPercent(t.networkRxBytes / seconds, t.networkTxBytes / seconds, t.networkLinkBitsPerSecond);
    const seen = (this.networks[id] ??= { interfaces: [], maxLinkPercent: null });
    if (t.networkInterfaces) seen.interfaces = t.networkInterfaces;
    if (share !== null && Number.isFinite(share)) seen.maxLinkPercent = Math.max(seen.maxLinkPercent ?? 0, Math.round(share * 10) / 10);
  }

  /**
   * Every generator still in the run has sent its final telemetry. One that never
   * got ready ran no device (cohorts start once all are ready), so nothing of it is awaited.
   */
  private allFinal(): boolean {
    for (const id of this.generators.keys()) if (this.ready.has(id) && !this.finals.has(id)) return false;
    return true;
  }

  /**
   * The generators of the run whose final telemetry has not come: those still
   * connected that missed the bound, and those that left during the run after
   * running devices. For each, what is known of what is missing.
   */
  private missingFinals(boundMs: number): MissingTelemetry[] {
    const missing: MissingTelemetry[] = [];
    for (const id of this.scheduled) {
      if (this.finals.has(id) || !this.ready.has(id)) continue;
      const left = !this.generators.has(id);
      const last = this.lastPush.get(id);
      // A generator that left before it ran anything lost nothing.
      if (left && last === undefined) continue;
      missing.push({
        generator: id,
        devices: last?.activeDevices ?? 0,
        lastTelemetryAt: last === undefined ? null : new Date(last.at).toISOString(),
        left,
        waitedSeconds: boundMs / 1000,
      });
    }
    return missing;
  }

  private elapsed(now = Date.now()): number {
    return (now - this.startedAt) / 1000;
  }

  /** What the CLI, the API stream and the website show. */
  snapshot(now = Date.now()): LiveSnapshot {
    const live = this.aggregator.live(now);
    const preparing = this.state === 'preparing';
    const elapsed = preparing ? 0 : this.elapsed(now);
    return {
      runId: this.runId,
      name: this.options.plan.name,
      state: this.finishing ? this.state : this.state === 'preparing' ? 'preparing' : this.phase(elapsed),
      elapsed,
      remaining: Math.max(0, this.schedule.duration - elapsed),
      desiredDevices: this.options.plan.size,
      effectiveDevices: this.schedule.effective.devices,
      targetDevices: this.finishing || preparing ? 0 : targetDevicesAt(this.schedule, elapsed),
      activeDevices: live.activeDevices,
      ...this.arrivalsView(preparing, elapsed),
      generators: live.generators,
      lostGenerators: [...this.lost],
      busyGenerators: this.aggregator.busyGenerators(preparing ? this.startedAt : now),
      counters: live.counters,
      histograms: live.histograms,
      ...this.writerStatuses(),
      ...(this.thresholds ? { thresholds: this.thresholdResults(preparing, now) } : {}),
    };
  }

  /** The rate the arrival-rate blocks are due to run at this second, and their pools; nothing for a plan of closed blocks. */
  private arrivalsView(preparing: boolean, elapsed: number): { arrivals?: ArrivalsView } {
    if (this.arrivalBlocks === null) return {};
    const due = this.finishing || preparing ? 0 : this.arrivalBlocks.curves.reduce((sum, curve) => sum + curve.rateAt(elapsed), 0);
    return { arrivals: { intendedPerSecond: due, maxDevices: this.arrivalBlocks.maxDevices } };
  }

  /** The thresholds so far: the whole run and the open interval merged over every generator. */
  private thresholdResults(preparing: boolean, now: number): ThresholdResult[] {
    const evaluator = this.thresholds!;
    if (preparing) return evaluator.evaluate({ histograms: new Map(), counters: {}, seconds: 0 }, null).map((r) => ({ ...r, ok: null, value: null }));
    return evaluator.evaluate(this.aggregator.wholeRun(now), this.finishing ? null : this.aggregator.currentInterval(now));
  }

  /** The ramp's phase; a run that lasts longer than the plan's ramp (a block's own stages) is sustaining until its end. */
  private phase(elapsed: number): RunState {
    const phase = phaseAt(this.options.plan, elapsed);
    return phase === 'done' && elapsed < this.schedule.duration ? 'sustain' : phase;
  }

  /** The statuses of writers that send elsewhere (CloudWatch), when there are any. */
  private writerStatuses(): { writers?: WriterStatus[] } {
    const writers = this.writer.statuses();
    return writers.length > 0 ? { writers } : {};
  }

  private emitLive(): void {
    let snapshot: LiveSnapshot;
    try {
      snapshot = this.snapshot();
      this.options.onLive?.(snapshot);
      const sample: SecondSample = { time: Date.now(), snapshot, runHistograms: this.aggregator.runHistograms(), generatorBytes: this.aggregator.generatorBytes() };
      if (this.streaming) this.writer.writeSecond(sample);
      this.options.onSecond?.(sample);
    } catch (err) {
      this.notice(`live view failed: ${(err as Error).message}`);
      return;
    }
    // Checked on every live tick, once a second, so a threshold stops the run within a second of its grace period.
    if (this.thresholds && snapshot.thresholds && !this.finishing && this.state !== 'preparing') {
      const failing = this.thresholds.abortingThreshold(snapshot.thresholds, snapshot.elapsed);
      if (failing) {
        const reason = thresholdAbortReason(failing);
        this.notice(`stopping the run: ${reason}`);
        void this.finish('aborted', reason);
      }
    }
  }

  private async writeInterval(last = false): Promise<void> {
    await this.writerOpen;
    const closed = this.aggregator.closeInterval();
    // Telemetry after the last row would reach summary.json's totals but not
    // results.csv: from here it is refused, and its generator named as missing.
    if (last) this.unlisten();
    this.thresholds?.closeInterval(closed);
    await this.writer.write(closed.row, closed.histograms);
  }

  /** Stops the run now; the report is still written. */
  abort(reason = 'aborted by the user'): Promise<RunResult> {
    void this.finish('aborted', reason);
    return this.done;
  }

  /** report.html in the run's folder, for the archive; a failure is told and costs only the report. */
  private async writeHtmlReport(summary: RunSummary): Promise<string | null> {
    const path = join(this.dir, REPORT_HTML);
    try {
      const read = (name: string) => readFile(join(this.dir, name), 'utf8').catch(() => null);
      const html = await buildHtmlReport({ summary, plan: this.options.plan, csv: await read(RESULTS_CSV), hlog: await read(HISTOGRAM_LOG) });
      await writeFile(path, html);
      return path;
    } catch (err) {
      this.notice(`the HTML report could not be written: ${(err as Error).message}`);
      return null;
    }
  }

  private async finish(outcome: RunOutcome, reason?: string): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    this.state = outcome === 'done' ? 'done' : outcome;
    for (const t of this.timers) clearTimeout(t);
    // Every generator stops its devices and sends what they measured, their last
    // answers included; the report waits for all of it, up to a bound that grows
    // with the devices a generator has to stop.
    const boundMs = finalTelemetryBoundMs(devicesOnBusiestGenerator(this.schedule));
    let bound: NodeJS.Timeout | undefined;
    const finals = new Promise<void>((resolve) => {
      this.finalWaiter = resolve;
      bound = setTimeout(resolve, boundMs);
    });
    for (const g of this.generators.values()) g.link.send({ type: 'end_run', runId: this.runId });
    // The live view (and the writers that stream each second) go on while the
    // generators finish, on the same tick: a new one would leave up to two seconds
    // between the last second streamed before the end and the first after it.
    if (!this.allFinal()) await finals;
    clearTimeout(bound);
    clearInterval(this.liveTimer);
    const endedAt = Date.now();
    let archivePath: string | null = null;
    let summary: RunSummary | null = null;
    try {
      // A run that ended before its clock started still leaves a (header-only) report.
      this.writerOpen ??= this.writer.open({ runId: this.runId, plan: this.options.plan, startedAt: this.startedAt_, dir: this.dir });
      // Telemetry that comes until the last row is closed still goes into it.
      await this.writeInterval(true);
      const missing = this.missingFinals(boundMs);
      this.criticalErrors += missing.filter((m) => !m.left).length;
      for (const m of missing) this.notice(missingTelemetryLine(m));
      this.emitLive();
      this.streaming = false;
      await this.writer.close();
      for (const status of this.writer.statuses()) this.notice(writerStatusLine(status));
      this.criticalErrors += this.aggregator.decodeFailures;
      const wholeRun = this.aggregator.wholeRun(endedAt);
      summary = buildSummary({
        runId: this.runId,
        plan: this.options.plan,
        startedAt: this.startedAt,
        endedAt,
        effectiveDevices: this.schedule.effective.devices,
        generatorCount: this.aggregator.totals().maxGeneratorCount,
        totals: this.aggregator.totals(),
        aborted: outcome !== 'done',
        ...(reason ? { reason } : {}),
        generatorsLost: [...this.everLost],
        networks: this.networks,
        telemetryMissing: missing,
        busyGenerators: this.aggregator.busyGenerators(endedAt),
        ...this.writerStatuses(),
        wholeRun,
        ...(this.thresholds ? { thresholds: this.thresholds.evaluate(wholeRun, null, true) } : {}),
      });
      const report = await this.writeHtmlReport(summary);
      archivePath = await this.options.store.finishRun(this.runId, { files: [...this.writer.files(), ...(report ? [report] : [])], summary });
    } catch (err) {
      this.unlisten();
      this.emitLive();
      this.criticalErrors++;
      this.notice(`the report could not be written: ${(err as Error).message}`);
    }
    this.resolveDone({ runId: this.runId, outcome, archivePath, summary, criticalErrors: this.criticalErrors, ...(reason ? { reason } : {}) });
  }
}
