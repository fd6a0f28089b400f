/**
 * The coordinator: its generators, at most one run at a time, and the reports on
 * disk. The management API, the generator port and the embedded mode all drive it
 * through these few methods.
 */
import type { LiveSnapshot } from '../shared/live.js';
import { PLAN_DEFAULTS, type PlanProblem } from '../shared/plan.js';
import { validatePlan } from '../shared/plan-validation.js';
import { isArrivalBlock } from '../shared/arrival-rate.js';
import type { CoordinatorSide } from '../shared/transport.js';
import { checkScript } from '../shared/script/check.js';
import { GeneratorRegistry } from './generator-registry.js';
import { effectiveDevices, rampStep, type EffectiveDevices } from './ramp.js';
import { DEFAULT_DATA_DIR, ReportStore } from './report-store.js';
import { recoverInterruptedRuns } from './run-recovery.js';
import { DEFAULT_REPORT_INTERVAL_SECONDS, Run, RunStartError, type RunResult } from './run.js';
import type { SecondSample, Writer } from './writer.js';

export interface CoordinatorOptions {
  dataDir?: string;
  reportIntervalSeconds?: number;
  extraWriters?: () => Writer[];
  log?: (line: string) => void;
}

export type StartOutcome =
  { ok: true; run: Run } | { ok: false; status: 400; problems: PlanProblem[] } | { ok: false; status: 400 | 409 | 503; message: string; code: 'run_active' | 'no_generators' | 'no_devices' };

/** What starting a plan now would meet, without starting it. */
export interface PlanCheck {
  problems: PlanProblem[];
  generators: number;
  /** The ramp for the plan's size with the generators connected now; null when the size is not a usable number. */
  effective: EffectiveDevices | null;
}

export interface RunObserver {
  onLive?(snapshot: LiveSnapshot): void;
  /** Every second, with the run's histograms so far: read them during the call. */
  onSecond?(sample: SecondSample): void;
  onNotice?(message: string): void;
}

export class Coordinator {
  readonly registry: GeneratorRegistry;
  readonly store: ReportStore;
  private current: Run | undefined;
  /** Set while a run is being started, so a second start cannot slip in before `current` is. */
  private starting = false;
  private readonly observers = new Set<RunObserver>();
  private readonly log: (line: string) => void;

  constructor(private readonly options: CoordinatorOptions = {}) {
    this.log = options.log ?? ((line) => console.error(line));
    this.registry = new GeneratorRegistry(this.log);
    this.store = new ReportStore(options.dataDir ?? DEFAULT_DATA_DIR);
  }

  /** Archives runs a previous coordinator left unfinished; call once at start-up. */
  async recover(): Promise<void> {
    await recoverInterruptedRuns(this.store);
  }

  attachGenerator(link: CoordinatorSide): void {
    this.registry.attach(link);
  }

  observe(observer: RunObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  get run(): Run | undefined {
    return this.current;
  }

  /** Validates the plan (scripts compiled, every problem listed) and starts it. */
  async start(input: unknown): Promise<StartOutcome> {
    const busy = (): StartOutcome | undefined =>
      this.current || this.starting ? { ok: false, status: 409, code: 'run_active', message: `run ${this.current?.runId ?? 'being started'} is still active: abort it first` } : undefined;
    const before = busy();
    if (before) return before;
    const checked = await validatePlan(input, { checkScript });
    if (!checked.ok) return { ok: false, status: 400, problems: checked.problems };
    const after = busy();
    if (after) return after;
    this.starting = true;
    let run: Run;
    try {
      run = await Run.start({
        plan: checked.plan,
        registry: this.registry,
        store: this.store,
        reportIntervalSeconds: this.options.reportIntervalSeconds ?? DEFAULT_REPORT_INTERVAL_SECONDS,
        extraWriters: this.options.extraWriters?.() ?? [],
        onLive: (s) => this.observers.forEach((o) => o.onLive?.(s)),
        onSecond: (s) => this.observers.forEach((o) => o.onSecond?.(s)),
        onNotice: (m) => this.observers.forEach((o) => o.onNotice?.(m)),
      });
    } catch (err) {
      if (err instanceof RunStartError) return { ok: false, status: err.code === 'no_generators' ? 503 : 400, code: err.code, message: err.message };
      throw err;
    } finally {
      this.starting = false;
    }
    this.current = run;
    void run.done.then((r: RunResult) => {
      if (this.current === run) this.current = undefined;
      this.log(`stressgrid coordinator: run ${r.runId} ${r.outcome}${r.reason ? ` (${r.reason})` : ''}; report ${r.archivePath ?? 'not written'}`);
    });
    return { ok: true, run };
  }

  /** Validates a plan the way start() would (scripts compiled, every problem listed), and rounds its size to the ramp. */
  async check(input: unknown): Promise<PlanCheck> {
    const checked = await validatePlan(input, { checkScript });
    const generators = this.registry.size;
    const size = checked.ok ? checked.plan.size : ((input as { size?: unknown } | null)?.size ?? PLAN_DEFAULTS.size);
    const usable = typeof size === 'number' && Number.isSafeInteger(size) && size >= 1;
    // Only closed blocks share the plan's devices: a plan of arrival-rate blocks alone has none to round.
    const closed = !checked.ok || checked.plan.blocks.some((b) => !isArrivalBlock(b));
    const effective = !usable ? null : closed ? effectiveDevices(size, generators) : { devices: 0, step: rampStep(generators), message: null };
    return { problems: checked.ok ? [] : checked.problems, generators, effective };
  }

  /** Aborts the active run, if any; resolves when its report is written. */
  async abort(reason?: string): Promise<RunResult | undefined> {
    return this.current?.abort(reason);
  }
}
