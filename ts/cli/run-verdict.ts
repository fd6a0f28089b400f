/**
 * Whether a run that went to its end was broken (exit code 1). Transport errors
 * (refused, reset, timeouts) are what a load test measures, so on their own they
 * do not break a run; a faulty script or a target that never answered does.
 */
import { DEVICE_ERROR } from '../shared/errors.js';
import type { LiveSnapshot } from '../shared/live.js';
import { counterName, errorKey, isErrorMetric, METRIC } from '../shared/metrics.js';

/** Error codes that mean the script itself is at fault, not the target. */
export const SCRIPT_FAULT_CODES: readonly string[] = [
  DEVICE_ERROR.script,
  DEVICE_ERROR.cpuLimit,
  DEVICE_ERROR.memoryLimit,
  DEVICE_ERROR.stackOverflow,
  DEVICE_ERROR.badArgument,
  DEVICE_ERROR.wrongProtocol,
  DEVICE_ERROR.wsNotUpgraded,
  DEVICE_ERROR.wsUpgraded,
  DEVICE_ERROR.wsUnsupported,
];

/** Counters that prove a device exchanged something with a target. */
const EXCHANGE_COUNTERS = [METRIC.responseCount, METRIC.sendCount, METRIC.receiveCount, METRIC.wsSentFramesCount, METRIC.wsReceivedFramesCount];

/**
 * The reasons a finished run counts as broken, empty when it is not:
 * the runner's own count of critical errors, any script fault, or no exchange at
 * all. `last` is the run's last live snapshot, whose counter totals span the run.
 */
export function criticalReasons(runnerCriticalErrors: number, last: LiveSnapshot | undefined): string[] {
  const reasons: string[] = [];
  if (runnerCriticalErrors > 0) reasons.push(`the runner counted ${runnerCriticalErrors} critical errors`);
  const total = (name: string): number => last?.counters[name]?.total ?? 0;
  const faults = SCRIPT_FAULT_CODES.map((code) => [code, total(counterName(errorKey(code)))] as const).filter(([, count]) => count > 0);
  if (faults.length > 0) reasons.push(`the script failed: ${faults.map(([code, count]) => `${count} ${code} errors`).join(', ')}`);
  if (EXCHANGE_COUNTERS.every((name) => total(name) === 0)) reasons.push('no device exchanged anything with the target');
  return reasons;
}

/** All device errors of the run, for the message that goes with exit code 1. */
export function deviceErrorTotal(last: LiveSnapshot | undefined): number {
  if (last === undefined) return 0;
  return Object.entries(last.counters).reduce((sum, [name, view]) => (isErrorMetric(name) && name.endsWith('_count') ? sum + view.total : sum), 0);
}
