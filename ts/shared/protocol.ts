/**
 * Every message between the coordinator and its generators, defined once.
 * Bump PROTOCOL_VERSION on any change a peer of the previous version would misread.
 */
import type { ResolvedPlan } from './plan.js';

/**
 * 2: telemetry travels in binary frames (telemetry-frame.ts) with plain V2 histograms.
 * 3: generators tell the run what the user should know (`generator_notice`).
 * 4: arrival-rate blocks (`start_arrivals`, the open-model fields of a plan's blocks).
 */
export const PROTOCOL_VERSION = 4;

// ---- generator → coordinator ----

/** First message on every link. */
export interface Hello {
  type: 'hello';
  version: number;
  generatorId: string;
  /** Worker threads the generator runs devices on. */
  workers: number;
}

/**
 * One second of a generator's measurements. Counters are increments over the
 * interval; histograms are the interval's values in the HdrHistogram V2 encoding,
 * plain (not deflated) because the coordinator merges every one of them every
 * second and inflate was two thirds of that work; the compressed form is accepted
 * too. On a socket this message is a binary frame (telemetry-frame.ts), every
 * other message a JSON text frame.
 */
export interface Telemetry {
  type: 'telemetry';
  generatorId: string;
  /** Run the devices belong to; null when idle (utilisation only). */
  runId: string | null;
  seq: number;
  /** Wall-clock ms at the end of the interval. */
  at: number;
  intervalMs: number;
  activeDevices: number;
  /** Generator CPU use over the interval, percent of all its cores (0..100). */
  cpuPercent: number;
  networkRxBytes: number;
  networkTxBytes: number;
  /** The interfaces counted in the network bytes (every one but loopback, unless a target is on loopback). */
  networkInterfaces?: string[];
  /** Their link speed summed, bits per second, where the kernel knows it. */
  networkLinkBitsPerSecond?: number;
  /** Full metric names (`response_count`, `conn_refused_error_count`) → increment. */
  counters: Record<string, number>;
  /** Full metric names (`conn_us`, `login_us`) → V2-encoded histogram. */
  histograms: Record<string, Uint8Array>;
  /** Set on the push that follows `end_run`: the run's devices are stopped and this is all they measured. */
  final?: boolean;
}

/** A run could not start or go on on this generator (unresolvable host, script refused). */
export interface RunProblem {
  type: 'run_problem';
  generatorId: string;
  runId: string;
  message: string;
}

/** The run's scripts are compiled and its targets resolved on this generator: it can take cohorts. */
export interface RunReady {
  type: 'run_ready';
  generatorId: string;
  runId: string;
}

/** Something about this generator the run's user should know (it is shown beside the run's other notices); the run goes on. */
export interface GeneratorNotice {
  type: 'generator_notice';
  generatorId: string;
  runId: string;
  message: string;
}

export type GeneratorMessage = Hello | Telemetry | RunProblem | RunReady | GeneratorNotice;

// ---- coordinator → generator ----

export interface Welcome {
  type: 'welcome';
  version: number;
}

/** Refusal of a peer (version mismatch, bad token); the link closes after it. */
export interface Refused {
  type: 'refused';
  reason: string;
}

/** Everything the devices of a run need, sent once before its first cohort. */
export interface PrepareRun {
  type: 'prepare_run';
  runId: string;
  plan: ResolvedPlan;
}

/**
 * Start a group of devices. `devices[i]` devices run `plan.blocks[i]`; device n of
 * the cohort (counted over blocks in order) targets
 * `plan.addresses[(addressOffset + n) % addresses.length]`.
 */
export interface StartCohort {
  type: 'start_cohort';
  runId: string;
  cohortId: number;
  devices: number[];
  addressOffset: number;
}

/**
 * Start serving an arrival-rate block (`plan.blocks[block]`) from now on: this
 * generator runs iterations k ≡ slot (mod slots) of the block's schedule
 * (shared/arrival-rate.ts) with a pool of up to `maxDevices` devices; pool device
 * n targets `plan.addresses[(addressOffset + n) % addresses.length]`. The block
 * ends on its own when its schedule does, or with the run.
 */
export interface StartArrivals {
  type: 'start_arrivals';
  runId: string;
  block: number;
  slot: number;
  slots: number;
  maxDevices: number;
  addressOffset: number;
  /**
   * When the run's clock started (the coordinator's Date.now()): the block's
   * schedule counts from there, so that the time the message took does not shift
   * it; a generator whose clock is far off counts from the message instead.
   */
  startedAt: number;
  /**
   * For a generator that rejoined a run under way: the seconds since the block
   * started (on the run's clock, when the coordinator sent this) before which its
   * iterations are not this generator's to run; they were due while it was away.
   * Absent: from the block's start.
   */
  from?: number;
}

/** Stop every device of a cohort wherever it is. */
export interface StopCohort {
  type: 'stop_cohort';
  runId: string;
  cohortId: number;
}

/** Stop every device of the run and forget it. */
export interface EndRun {
  type: 'end_run';
  runId: string;
}

export type CoordinatorMessage = Welcome | Refused | PrepareRun | StartCohort | StartArrivals | StopCohort | EndRun;
