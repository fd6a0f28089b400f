/**
 * How long the end of a run waits for every generator's final telemetry (the push
 * that follows `end_run`, sent once its devices are stopped and their requests in
 * flight answered). A generator with more devices takes longer to stop them, and a
 * saturated one longer still, so the bound grows with the devices of the busiest
 * generator: FINAL_TELEMETRY_BASE_MS plus FINAL_TELEMETRY_MS_PER_DEVICE for each.
 * Documented in the README ("The end of a run").
 */
import type { Schedule } from './ramp.js';

/** Covers a stopped device's wait for its last answer (STOP_ANSWER_LIMIT_MS, 5 s) and a push on a loaded machine. */
export const FINAL_TELEMETRY_BASE_MS = 10_000;
/** 15,000 devices on one generator: 10 + 15 = 25 s. */
export const FINAL_TELEMETRY_MS_PER_DEVICE = 1;

export function finalTelemetryBoundMs(devicesOnGenerator: number): number {
  return FINAL_TELEMETRY_BASE_MS + Math.max(0, devicesOnGenerator) * FINAL_TELEMETRY_MS_PER_DEVICE;
}

/** The most devices the schedule gives any one generator. */
export function devicesOnBusiestGenerator(schedule: Schedule): number {
  const perGenerator = new Map<string, number>();
  for (const action of schedule.actions) {
    if (action.kind !== 'start') continue;
    perGenerator.set(action.generatorId, (perGenerator.get(action.generatorId) ?? 0) + action.devices.reduce((a, b) => a + b, 0));
  }
  return Math.max(0, ...perGenerator.values());
}
