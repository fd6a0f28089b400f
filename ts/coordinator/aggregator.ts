/**
 * Merges the generators' one-second telemetry into what the coordinator shows
 * every second (live) and what it writes every report interval (closeInterval).
 *
 * Generators push on their own clocks, so "the last second" is each live
 * generator's latest message, and the interval is everything received since the
 * previous closeInterval. Time-weighted means use the generators' own interval
 * lengths, which keeps them right when pushes jitter around a boundary.
 */
import { Histogram } from '../hdr/index.js';
import { BUSY_CPU_PERCENT, BUSY_SHARE_OF_RUN, type BusyGenerator } from '../shared/busy-generator.js';
import { networkPercent, type CounterView, type GeneratorView, type HistogramView } from '../shared/live.js';
import { HISTOGRAM_BOUNDS, METRIC, counterName, rateName } from '../shared/metrics.js';
import type { Telemetry } from '../shared/protocol.js';
import { histogramStats, histogramView } from './histogram-stats.js';
import type { ClosedInterval, MetricWindow, ReportRow } from './report-row.js';

export interface AggregatorOptions {
  /** Telemetry of any other run counts only towards utilisation. */
  runId: string;
  /** Wall-clock ms the run started at: `elapsed` counts from here and the first interval begins here. */
  startedAt: number;
  /** A generator silent for longer than this (ms) leaves the live views. Default 3000. */
  staleAfterMs?: number;
}

/** The live part of a LiveSnapshot. */
export interface LiveView {
  /** Every counter seen since start, by full name (`response_count`). */
  counters: Record<string, CounterView>;
  /**
   * Histograms of what was pushed since the previous live() (the last second, read
   * once a second), by full name (`conn_us`, `cpu_percent`); with nothing new, the
   * previous second again until it goes stale.
   */
  histograms: Record<string, HistogramView>;
  /** Devices of this run active on the live generators. */
  activeDevices: number;
  generators: GeneratorView[];
}

/** What a run's summary needs from the whole run. */
export interface RunTotals {
  /** Counter totals since start, by full name. */
  counters: Record<string, number>;
  /** Highest CPU sample of any generator during the run (percent); null before any telemetry. */
  maxCpuPercent: number | null;
  /** Most generators that reported within one interval. */
  maxGeneratorCount: number;
}

interface GeneratorState {
  receivedAt: number;
  /** Without its histograms: they are merged on arrival, and holding them would hold every generator's last frame. */
  latest: Omit<Telemetry, 'histograms'>;
}

interface Coverage {
  /** Σ activeDevices · intervalMs of this run's telemetry. */
  deviceMs: number;
  /** Σ intervalMs of all telemetry. */
  coveredMs: number;
}

const DEFAULT_STALE_AFTER_MS = 3000;

export class Aggregator {
  readonly runId: string;
  readonly startedAt: number;
  readonly #staleAfterMs: number;
  readonly #generators = new Map<string, GeneratorState>();
  readonly #totals = new Map<string, number>();
  #maxCpu: number | null = null;
  #maxGenerators = 0;
  #decodeFailures = 0;

  #intervalStart: number;
  #counters = new Map<string, number>();
  #histograms = new Map<string, Histogram>();
  /** This run's histograms pushed since the live view last turned the second over. */
  #second = new Map<string, Histogram>();
  /** Views of the last second turned over, shown until the next one has data. */
  #secondViews: Record<string, HistogramView> = {};
  #secondViewsAt = -Infinity;
  #cpu = newHistogram();
  /** Every histogram of the whole run, merged as it arrives: thresholds and the summary read percentiles off these. */
  #runHistograms = new Map<string, Histogram>();
  #runCpu = newHistogram();
  #rxBytes = 0;
  #txBytes = 0;
  #coverage = new Map<string, Coverage>();
  /** Network bytes by generator since the run started. */
  readonly #generatorBytes = new Map<string, { rx: number; tx: number }>();
  /** Per generator, ms of telemetry (since the run started) with CPU above BUSY_CPU_PERCENT. */
  readonly #busyMs = new Map<string, number>();

  constructor(options: AggregatorOptions) {
    this.runId = options.runId;
    this.startedAt = options.startedAt;
    this.#staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
    this.#intervalStart = options.startedAt;
  }

  /**
   * Takes one telemetry message. Never throws on what a generator sends:
   * undecodable histograms are skipped (see decodeFailures), non-finite numbers ignored.
   */
  ingest(telemetry: Telemetry, receivedAt: number = Date.now()): void {
    const ours = telemetry.runId === this.runId;
    const intervalMs = finiteOr(telemetry.intervalMs, 0) > 0 ? telemetry.intervalMs : 1000;
    const cpu = finiteOr(telemetry.cpuPercent, null);
    if (cpu !== null) {
      this.#cpu.record(Math.max(0, cpu));
      this.#runCpu.record(Math.max(0, cpu));
      this.#maxCpu = Math.max(this.#maxCpu ?? 0, cpu);
      if (cpu > BUSY_CPU_PERCENT) this.#busyMs.set(telemetry.generatorId, (this.#busyMs.get(telemetry.generatorId) ?? 0) + intervalMs);
    }
    const rx = Math.max(0, finiteOr(telemetry.networkRxBytes, 0));
    const tx = Math.max(0, finiteOr(telemetry.networkTxBytes, 0));
    this.#rxBytes += rx;
    this.#txBytes += tx;
    const bytes = this.#generatorBytes.get(telemetry.generatorId);
    if (bytes) {
      bytes.rx += rx;
      bytes.tx += tx;
    } else this.#generatorBytes.set(telemetry.generatorId, { rx, tx });
    const coverage = this.#coverage.get(telemetry.generatorId) ?? { deviceMs: 0, coveredMs: 0 };
    coverage.coveredMs += intervalMs;
    if (ours) coverage.deviceMs += Math.max(0, finiteOr(telemetry.activeDevices, 0)) * intervalMs;
    this.#coverage.set(telemetry.generatorId, coverage);
    this.#maxGenerators = Math.max(this.#maxGenerators, this.#coverage.size);

    if (ours) {
      for (const [name, increment] of Object.entries(telemetry.counters ?? {})) {
        if (!Number.isFinite(increment)) continue;
        this.#counters.set(name, (this.#counters.get(name) ?? 0) + increment);
        this.#totals.set(name, (this.#totals.get(name) ?? 0) + increment);
      }
      for (const [name, encoded] of Object.entries(telemetry.histograms ?? {})) {
        // Each push is decoded once, straight into the current second; the second
        // moves into the interval when the live view turns it over (or the interval
        // closes). Corrupt bytes add nothing.
        let second = this.#second.get(name);
        if (!second) this.#second.set(name, (second = newHistogram()));
        try {
          second.addEncoded(encoded);
        } catch {
          this.#decodeFailures += 1;
        }
      }
    }
    const { histograms: _merged, ...latest } = telemetry;
    this.#generators.set(telemetry.generatorId, { receivedAt, latest });
  }

  /** Forgets a generator for live views at once (its link closed); what it sent stays in the interval. */
  removeGenerator(generatorId: string): void {
    this.#generators.delete(generatorId);
  }

  /** Histograms received that could not be decoded (a generator bug or a corrupted message). */
  get decodeFailures(): number {
    return this.#decodeFailures;
  }

  /** The last second of the live generators, ready for a LiveSnapshot. */
  live(now: number = Date.now()): LiveView {
    const counters: Record<string, CounterView> = {};
    for (const [name, total] of this.#totals) counters[name] = { total, perSecond: 0 };
    const cpu = newHistogram();
    const generators: GeneratorView[] = [];
    let activeDevices = 0;

    for (const [id, state] of this.#generators) {
      if (now - state.receivedAt > this.#staleAfterMs) {
        this.#generators.delete(id);
        continue;
      }
      const t = state.latest;
      const seconds = (t.intervalMs > 0 ? t.intervalMs : 1000) / 1000;
      const ours = t.runId === this.runId;
      const devices = ours ? Math.max(0, finiteOr(t.activeDevices, 0)) : 0;
      activeDevices += devices;
      const rx = finiteOr(t.networkRxBytes, 0) / seconds;
      const tx = finiteOr(t.networkTxBytes, 0) / seconds;
      generators.push({
        id,
        activeDevices: finiteOr(t.activeDevices, 0),
        cpuPercent: finiteOr(t.cpuPercent, 0),
        networkRxBytesPerSecond: rx,
        networkTxBytesPerSecond: tx,
        networkInterfaces: t.networkInterfaces ?? [],
        networkPercent: networkPercent(rx, tx, t.networkLinkBitsPerSecond),
      });
      if (Number.isFinite(t.cpuPercent)) cpu.record(Math.max(0, t.cpuPercent));
      if (!ours) continue;
      for (const [name, increment] of Object.entries(t.counters ?? {})) {
        const view = counters[name];
        if (view && Number.isFinite(increment)) view.perSecond += increment / seconds;
      }
    }

    if (this.#second.size > 0) {
      const views: Record<string, HistogramView> = {};
      for (const [name, h] of [...this.#second].sort(([a], [b]) => (a < b ? -1 : 1))) {
        if (h.totalCount > 0) views[name] = histogramView(h);
      }
      this.#secondViews = views;
      this.#secondViewsAt = now;
      this.#settleSecond();
    } else if (now - this.#secondViewsAt > this.#staleAfterMs) {
      this.#secondViews = {};
    }
    const histograms: Record<string, HistogramView> = { ...this.#secondViews };
    if (cpu.totalCount > 0) histograms[METRIC.cpuPercent] = histogramView(cpu);
    generators.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { counters, histograms, activeDevices, generators };
  }

  /**
   * Ends the current interval at `now` and starts the next. The row's rates are
   * over the interval's real length, so a short last interval reads right.
   */
  closeInterval(now: number = Date.now()): ClosedInterval {
    this.#settleSecond();
    const seconds = Math.max(0, now - this.#intervalStart) / 1000;
    const perSecond = (amount: number) => (seconds > 0 ? amount / seconds : 0);
    const metrics: Record<string, number> = {};

    let devices = 0;
    for (const { deviceMs, coveredMs } of this.#coverage.values()) {
      // A generator that joined mid-interval covered less than the interval: it ran
      // nothing before, so divide by the interval. One whose pushes straddle the
      // boundary covered more: divide by what it covered.
      devices += deviceMs / Math.max(coveredMs, seconds * 1000);
    }
    metrics[METRIC.activeDeviceNumber] = devices;
    metrics[METRIC.generatorCount] = this.#coverage.size;
    if (this.#cpu.totalCount > 0) addStats(metrics, METRIC.cpuPercent, this.#cpu);
    metrics[rateName(METRIC.networkRxBytes)] = perSecond(this.#rxBytes);
    metrics[rateName(METRIC.networkTxBytes)] = perSecond(this.#txBytes);

    for (const name of [...this.#totals.keys()].sort()) {
      const key = name.endsWith('_count') ? name.slice(0, -'_count'.length) : name;
      metrics[counterName(key)] = this.#totals.get(name)!;
      metrics[rateName(key)] = perSecond(this.#counters.get(name) ?? 0);
    }
    const histograms = new Map<string, Histogram>();
    for (const name of [...this.#histograms.keys()].sort()) {
      const h = this.#histograms.get(name)!;
      if (h.totalCount === 0) continue;
      addStats(metrics, name, h);
      histograms.set(name, h);
    }
    if (this.#cpu.totalCount > 0) histograms.set(METRIC.cpuPercent, this.#cpu);

    const increments = Object.fromEntries(this.#counters);
    const row: ReportRow = {
      elapsed: roundMs((now - this.startedAt) / 1000),
      time: new Date(now).toISOString(),
      intervalSeconds: roundMs(seconds),
      metrics,
    };
    this.#intervalStart = now;
    this.#counters = new Map();
    this.#histograms = new Map();
    this.#cpu = newHistogram();
    this.#rxBytes = 0;
    this.#txBytes = 0;
    this.#coverage = new Map();
    return { row, histograms, counters: increments, seconds };
  }

  /** The interval still open: its histograms so far (this second included), its counter increments and its length until `now`. */
  currentInterval(now: number = Date.now()): MetricWindow {
    this.#settleSecond();
    const histograms = new Map(this.#histograms);
    if (this.#cpu.totalCount > 0) histograms.set(METRIC.cpuPercent, this.#cpu);
    return { histograms, counters: Object.fromEntries(this.#counters), seconds: Math.max(0, now - this.#intervalStart) / 1000 };
  }

  /** The whole run so far: every histogram merged since the start, counter totals, seconds since the start. */
  wholeRun(now: number = Date.now()): MetricWindow {
    this.#settleSecond();
    const histograms = new Map(this.#runHistograms);
    if (this.#runCpu.totalCount > 0) histograms.set(METRIC.cpuPercent, this.#runCpu);
    return { histograms, counters: Object.fromEntries(this.#totals), seconds: Math.max(0, now - this.startedAt) / 1000 };
  }

  /** Moves the current second's histograms into the interval's. */
  #settleSecond(): void {
    for (const [name, h] of this.#second) {
      let merged = this.#histograms.get(name);
      if (!merged) this.#histograms.set(name, (merged = newHistogram()));
      merged.add(h);
      let run = this.#runHistograms.get(name);
      if (!run) this.#runHistograms.set(name, (run = newHistogram()));
      run.add(h);
    }
    this.#second = new Map();
  }

  /**
   * Generators whose CPU stayed above BUSY_CPU_PERCENT for more than
   * BUSY_SHARE_OF_RUN of the run up to `now`, by id.
   */
  busyGenerators(now: number = Date.now()): BusyGenerator[] {
    const runMs = Math.max(0, now - this.startedAt);
    const busy: BusyGenerator[] = [];
    for (const [id, ms] of this.#busyMs) {
      if (runMs === 0 || ms <= BUSY_SHARE_OF_RUN * runMs) continue;
      busy.push({ id, busySeconds: roundMs(ms / 1000), percentOfRun: Math.min(100, Math.round((ms / runMs) * 1000) / 10) });
    }
    return busy.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Totals of the whole run so far, for its summary. */
  totals(): RunTotals {
    return { counters: Object.fromEntries(this.#totals), maxCpuPercent: this.#maxCpu, maxGeneratorCount: this.#maxGenerators };
  }

  /** The run's histograms up to the last second the live view turned over; they keep growing. */
  runHistograms(): ReadonlyMap<string, Histogram> {
    return this.#runHistograms;
  }

  /** Network bytes each generator reported since the run started (any run's traffic: it is the machine's). */
  generatorBytes(): ReadonlyMap<string, { rx: number; tx: number }> {
    return this.#generatorBytes;
  }
}

function addStats(metrics: Record<string, number>, name: string, h: Histogram): void {
  for (const [stat, value] of Object.entries(histogramStats(h))) metrics[`${name}_${stat}`] = value;
}

function newHistogram(): Histogram {
  return new Histogram(HISTOGRAM_BOUNDS);
}

function finiteOr<T>(value: unknown, fallback: T): number | T {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function roundMs(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}
