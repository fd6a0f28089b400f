/**
 * The ramp: which devices start and stop when, on which generator, for the whole
 * run, computed once before it begins. Pure functions, so the schedule can be
 * tested exhaustively and shown to the user before anything runs.
 *
 * The original lost devices when a step did not divide among generators and
 * drifted from the block shares; here every cohort holds exactly
 * DEVICES_PER_GENERATOR_STEP devices and block totals are apportioned once for
 * the whole run, then dealt out to cohorts without loss.
 */
import { arrivalStages, isArrivalBlock, splitEvenly, stagesDuration } from '../shared/arrival-rate.js';
import { DEVICES_PER_GENERATOR_STEP, type ResolvedPlan } from '../shared/plan.js';

/** Devices one ramp step adds across the cluster: one cohort of 10 per generator. */
export function rampStep(generatorCount: number): number {
  return DEVICES_PER_GENERATOR_STEP * generatorCount;
}

export interface EffectiveDevices {
  /** Devices the run will really have: `desired` rounded down to a multiple of `step`. */
  devices: number;
  step: number;
  /** Why `devices` differs from what was asked, for the user; null when it does not. */
  message: string | null;
}

/** Rounds the desired device count down to whole ramp steps, and says so. */
export function effectiveDevices(desired: number, generatorCount: number): EffectiveDevices {
  const step = rampStep(generatorCount);
  if (generatorCount < 1) {
    return { devices: 0, step, message: `no generator is connected, so none of the ${desired} desired devices can run` };
  }
  const devices = Math.floor(desired / step) * step;
  if (devices === desired) return { devices, step, message: null };
  const cluster = `${generatorCount} generator${generatorCount === 1 ? '' : 's'} × ${DEVICES_PER_GENERATOR_STEP} devices`;
  if (devices === 0) {
    return { devices, step, message: `${desired} desired devices is fewer than one ramp step of ${step} (${cluster}): no device would run` };
  }
  return { devices, step, message: `${desired} desired devices rounded down to ${devices}, a multiple of the ramp step of ${step} (${cluster})` };
}

/** Start `devices[i]` devices of block i on one generator. */
export interface StartAction {
  /** Seconds since the run started. */
  at: number;
  kind: 'start';
  /** Unique within the run. */
  cohortId: number;
  generatorId: string;
  /** Per block, in plan order; sums to DEVICES_PER_GENERATOR_STEP. */
  devices: number[];
  /** Device n of the cohort targets `addresses[(addressOffset + n) % addresses.length]`. */
  addressOffset: number;
}

export interface StopAction {
  at: number;
  kind: 'stop';
  cohortId: number;
  generatorId: string;
}

/**
 * One generator starts serving an arrival-rate block: its slot of the block's
 * iterations and its share of the pool (protocol.ts StartArrivals). The block's
 * schedule runs on the generator from there; it ends on its own.
 */
export interface ArrivalsAction {
  at: number;
  kind: 'arrivals';
  generatorId: string;
  block: number;
  slot: number;
  slots: number;
  maxDevices: number;
  addressOffset: number;
}

/** The run is over: every remaining device stops and the last interval is written. */
export interface EndAction {
  at: number;
  kind: 'end';
}

export type RampAction = StartAction | ArrivalsAction | StopAction | EndAction;

export interface Schedule {
  effective: EffectiveDevices;
  /** Ordered by `at`; at equal times, in the order they must be sent (starts, stops, end). */
  actions: RampAction[];
  /** Seconds from start to end. */
  duration: number;
}

/**
 * Plans the whole run on the given generators. Steps (one cohort per generator)
 * start at k·rampup/steps and stop last-first at rampup+sustain + j·rampdown/steps;
 * the end comes at rampup+sustain+rampdown. With no whole step, there are no
 * cohorts and only the end.
 */
export function planSchedule(plan: ResolvedPlan, generatorIds: readonly string[]): Schedule {
  // Only closed blocks share the plan's devices; a plan of arrival-rate blocks alone has none.
  const closed = plan.blocks.some((b) => !isArrivalBlock(b));
  const effective = closed ? effectiveDevices(plan.size, generatorIds.length) : { devices: 0, step: rampStep(generatorIds.length), message: null };
  const duration = runDuration(plan);
  const steps = effective.step > 0 ? effective.devices / effective.step : 0;
  const blockTotals = apportion(
    effective.devices,
    plan.blocks.map((b) => (isArrivalBlock(b) ? 0 : b.size)),
  );
  const remaining = [...blockTotals];
  const starts: StartAction[] = [];
  for (let k = 0; k < steps; k++) {
    const at = (k * plan.rampup) / steps;
    for (const generatorId of generatorIds) {
      const cohortId = starts.length;
      // Each cohort takes its proportional share of what is left: no share can
      // exceed what remains of its block (10 never exceeds the devices left), so
      // every cohort holds exactly 10 and the last one empties every block.
      const devices = apportion(DEVICES_PER_GENERATOR_STEP, remaining);
      devices.forEach((n, i) => (remaining[i]! -= n));
      const addressOffset = (cohortId * DEVICES_PER_GENERATOR_STEP) % plan.addresses.length;
      starts.push({ at, kind: 'start', cohortId, generatorId, devices, addressOffset });
    }
  }
  const rampdownStart = plan.rampup + plan.sustain;
  const stops: StopAction[] = [];
  for (let j = 0; j < steps; j++) {
    const at = rampdownStart + (j * plan.rampdown) / steps;
    const step = starts.slice((steps - 1 - j) * generatorIds.length, (steps - j) * generatorIds.length);
    for (const start of step.reverse()) stops.push({ at, kind: 'stop', cohortId: start.cohortId, generatorId: start.generatorId });
  }
  const arrivals = planArrivals(plan, generatorIds);
  const actions: RampAction[] = [...arrivals, ...starts, ...stops, { at: duration, kind: 'end' }];
  actions.sort((a, b) => a.at - b.at);
  return { effective, actions, duration };
}

/** Seconds a run lasts: the plan's ramp when any block follows it, and every block's own stages. */
export function runDuration(plan: Pick<ResolvedPlan, 'blocks' | 'rampup' | 'sustain' | 'rampdown'>): number {
  const ramp = plan.rampup + plan.sustain + plan.rampdown;
  const followsRamp = plan.blocks.some((b) => b.stages === undefined);
  return plan.blocks.reduce((max, b) => (b.stages === undefined ? max : Math.max(max, stagesDuration(b.stages))), followsRamp ? ramp : 0);
}

/**
 * Every arrival-rate block starts at 0 on as many generators as its pool allows
 * (one device each at least): iterations are dealt out by slot, the pool split
 * evenly, and each generator's pool continues the addresses where the previous
 * one's stopped, so devices spread over them as in a closed block.
 */
export function planArrivals(plan: ResolvedPlan, generatorIds: readonly string[]): ArrivalsAction[] {
  const actions: ArrivalsAction[] = [];
  plan.blocks.forEach((b, block) => {
    if (!isArrivalBlock(b) || generatorIds.length === 0) return;
    if (arrivalStages(b, plan).length === 0) return;
    const maxDevices = b.maxDevices ?? DEVICES_PER_GENERATOR_STEP;
    const slots = Math.min(generatorIds.length, maxDevices);
    const pools = splitEvenly(maxDevices, slots);
    let addressOffset = 0;
    for (let slot = 0; slot < slots; slot++) {
      actions.push({ at: 0, kind: 'arrivals', generatorId: generatorIds[slot]!, block, slot, slots, maxDevices: pools[slot]!, addressOffset });
      addressOffset = (addressOffset + pools[slot]!) % plan.addresses.length;
    }
  });
  return actions;
}

/**
 * Splits `total` whole units in proportion to whole-number `weights` by the
 * largest-remainder method: every share is its quota rounded down or up, and the
 * shares sum to `total` exactly. Ties go to the earlier weight. Integer
 * arithmetic, because a float quota a hair above a whole number would hand out
 * a unit that does not exist.
 */
export function apportion(total: number, weights: readonly number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  if (sum <= 0 || total <= 0) return weights.map(() => 0);
  const bigSum = BigInt(sum);
  const products = weights.map((w) => BigInt(total) * BigInt(w));
  const shares = products.map((p) => Number(p / bigSum));
  let left = total - shares.reduce((a, b) => a + b, 0);
  const byRemainder = products.map((p, i) => ({ i, r: p % bigSum })).sort((a, b) => (a.r === b.r ? a.i - b.i : a.r > b.r ? -1 : 1));
  for (const { i } of byRemainder) {
    if (left <= 0) break;
    shares[i]! += 1;
    left -= 1;
  }
  return shares;
}

/** Devices the schedule has running at `elapsed` seconds (the ramp's target, for live views). */
export function targetDevicesAt(schedule: Schedule, elapsed: number): number {
  let devices = 0;
  const sizes = new Map<number, number>();
  for (const action of schedule.actions) {
    if (action.at > elapsed) break;
    if (action.kind === 'start') {
      const n = action.devices.reduce((a, b) => a + b, 0);
      sizes.set(action.cohortId, n);
      devices += n;
    } else if (action.kind === 'stop') {
      devices -= sizes.get(action.cohortId) ?? 0;
    } else {
      return 0;
    }
  }
  return devices;
}

export type RampPhase = 'rampup' | 'sustain' | 'rampdown' | 'done';

/** The phase of the run at `elapsed` seconds; a phase of length 0 is skipped. */
export function phaseAt(plan: Pick<ResolvedPlan, 'rampup' | 'sustain' | 'rampdown'>, elapsed: number): RampPhase {
  if (elapsed < plan.rampup) return 'rampup';
  if (elapsed < plan.rampup + plan.sustain) return 'sustain';
  if (elapsed < plan.rampup + plan.sustain + plan.rampdown) return 'rampdown';
  return 'done';
}
