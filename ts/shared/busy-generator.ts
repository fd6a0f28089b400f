/**
 * A generator too busy to measure honestly: its CPU stayed above BUSY_CPU_PERCENT
 * for more than BUSY_SHARE_OF_RUN of the run. Its devices still ran and its counts
 * hold (the run is valid), but a starved generator reads responses late, so the
 * latencies it measured are suspect. Beside the 80 % highlight of a single sample,
 * this says how long the generator stayed saturated. The coordinator decides it
 * (aggregator.ts); the live view, sgcli and summary.json show it.
 */

export const BUSY_CPU_PERCENT = 90;
/** 10 % of the run's time so far. */
export const BUSY_SHARE_OF_RUN = 0.1;

export interface BusyGenerator {
  id: string;
  /** Seconds of its telemetry with CPU above BUSY_CPU_PERCENT. */
  busySeconds: number;
  /** The same as a percentage of the run so far (0..100). */
  percentOfRun: number;
}

/** What the live view, sgcli and the log say about busy generators; empty when there are none. */
export function busyGeneratorsLine(busy: readonly BusyGenerator[]): string {
  if (busy.length === 0) return '';
  const list = busy.map((g) => `${g.id} (${Math.round(g.percentOfRun)} % of the run)`).join(', ');
  return `generator CPU above ${BUSY_CPU_PERCENT} % for more than ${BUSY_SHARE_OF_RUN * 100} % of the run: ${list}; the run is valid, but the latencies these generators measured are suspect`;
}
