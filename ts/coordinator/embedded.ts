/**
 * The default that needs no set-up: a coordinator and a generator in this process,
 * joined by an in-process link that carries the same protocol messages a socket
 * would. sgcli runs plans here unless it is given a coordinator.
 */
import { hostname } from 'node:os';
import type { LiveSnapshot } from '../shared/live.js';
import type { PlanProblem } from '../shared/plan.js';
import { inProcessLink } from '../shared/transport.js';
import { readSetting } from '../shared/settings.js';
import { Generator } from '../generator/generator.js';
import { Coordinator } from './coordinator.js';
import type { RunSummary } from './run-summary.js';
import type { Writer } from './writer.js';

export interface EmbeddedOptions {
  dataDir: string;
  reportIntervalSeconds: number;
  /** Worker threads of the embedded generator (default: one per core, or STRESSGRID_WORKERS). */
  workers?: number;
  signal: AbortSignal;
  onLive: (snapshot: LiveSnapshot) => void;
  onNotice: (message: string) => void;
  /** Writers beyond the report's own, fresh for the run (Prometheus remote write). */
  extraWriters?: () => Writer[];
}

export interface EmbeddedResult {
  outcome: 'done' | 'aborted' | 'failed';
  archivePath: string | null;
  problems?: PlanProblem[];
  criticalErrors: number;
  /** The run's summary.json (null when no report was written): the end-of-run summary and the thresholds' verdict. */
  summary?: RunSummary | null;
  /** Why the run was aborted or failed. */
  reason?: string;
}

export async function runEmbedded(plan: unknown, options: EmbeddedOptions): Promise<EmbeddedResult> {
  const log = (line: string) => options.onNotice(line.replace(/^stressgrid (coordinator|generator): /, ''));
  // The embedded generator reads the generator program's variables, checked the same way.
  const id = readSetting('generatorId', undefined, process.env);
  const workers = readSetting('workers', undefined, process.env);
  const bad = [id, workers].flatMap((read) => (read.ok ? [] : [{ path: read.from, message: read.message }]));
  if (bad.length > 0) return { outcome: 'failed', archivePath: null, problems: bad, criticalErrors: 0 };
  const coordinator = new Coordinator({ dataDir: options.dataDir, reportIntervalSeconds: options.reportIntervalSeconds, extraWriters: options.extraWriters, log: () => {} });
  await coordinator.recover();
  const generator = await Generator.start({ id: (id.ok && id.value) || hostname(), workers: options.workers ?? (workers.ok ? workers.value : undefined), log, logNotices: false });
  try {
    const joined = new Promise<void>((resolve) => {
      const stop = coordinator.registry.listen({ joined: () => (stop(), resolve()) });
    });
    const link = inProcessLink();
    coordinator.attachGenerator(link.coordinator);
    generator.connect(link.generator);
    await joined;

    const unobserve = coordinator.observe({ onLive: options.onLive, onNotice: options.onNotice });
    try {
      if (options.signal.aborted) return { outcome: 'aborted', archivePath: null, criticalErrors: 0 };
      const started = await coordinator.start(plan);
      if (!started.ok) {
        if ('problems' in started) return { outcome: 'failed', archivePath: null, problems: started.problems, criticalErrors: 0 };
        options.onNotice(started.message);
        return { outcome: 'failed', archivePath: null, criticalErrors: 1 };
      }
      const onAbort = () => void started.run.abort();
      options.signal.addEventListener('abort', onAbort, { once: true });
      // An abort while the plan was being checked and started came before the listener could hear it.
      if (options.signal.aborted) onAbort();
      const result = await started.run.done;
      options.signal.removeEventListener('abort', onAbort);
      if (result.reason && result.outcome === 'failed') options.onNotice(result.reason);
      return {
        outcome: result.outcome,
        archivePath: result.archivePath,
        criticalErrors: result.criticalErrors,
        summary: result.summary,
        ...(result.reason ? { reason: result.reason } : {}),
      };
    } finally {
      unobserve();
    }
  } finally {
    await generator.close();
  }
}
