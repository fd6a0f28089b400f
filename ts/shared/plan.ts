/**
 * The plan: one JSON shape for the API, the website's advanced mode and sgcli.
 * Field names, defaults and allowed values are defined here once; validation
 * lives in plan-validation.ts.
 */

import type { ThresholdsInput } from './thresholds.js';

export const PROTOCOLS = ['http10', 'http10s', 'http', 'https', 'http2', 'http2s', 'tcp', 'udp'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Protocols carried over TLS. */
export const TLS_PROTOCOLS: ReadonlySet<Protocol> = new Set(['http10s', 'https', 'http2s']);
/** Protocols whose devices speak HTTP (and so may upgrade to WebSocket). */
export const HTTP_PROTOCOLS: ReadonlySet<Protocol> = new Set(['http10', 'http10s', 'http', 'https', 'http2', 'http2s']);

export interface Block {
  /** JavaScript: the body of an async function run by each device. */
  script: string;
  /** JSON value in scope as `params`. */
  params?: Record<string, unknown>;
  /** Relative share of the plan's devices this block gets (default 1); closed blocks only. */
  size?: number;
  /** What one device of this block may use before it alone is stopped (defaults: BLOCK_LIMIT_DEFAULTS). */
  limits?: BlockLimits;
  /**
   * Open model: iterations (runs of the script body) started per second, whatever
   * the latency of earlier ones; ramps 0 → rate over `rampup`, holds over
   * `sustain`, falls to 0 over `rampdown`. A block with `arrivalRate` or `stages`
   * is an arrival-rate block (arrival-rate.ts); one with neither is closed.
   */
  arrivalRate?: number;
  /** Instead of `arrivalRate` and the plan's ramp: the rate moves linearly from where the last stage ended (0 at first) to `rate` over `duration` seconds. */
  stages?: Stage[];
  /** The pool of devices that serve an arrival-rate block's iterations (default: see defaultMaxDevices). */
  maxDevices?: number;
  /** How an arrival-rate block spaces its iterations: evenly (default) or as a Poisson process of the same rate. */
  arrival?: ArrivalPattern;
}

/**
 * Per-device limits of a block's script. A device that passes one ends with
 * the error named beside it; the devices beside it are not touched.
 */
export interface BlockLimits {
  /** Memory the device's own objects may hold, in MiB (`memory_limit`). */
  memoryMb?: number;
  /** CPU time one uninterrupted run of the device's code may take, in ms (`cpu_limit`). */
  cpuMs?: number;
  /** Guest stack, in KiB; deeper recursion fails (`stack_overflow`). */
  stackKb?: number;
}

export const BLOCK_LIMIT_DEFAULTS: Readonly<Required<BlockLimits>> = Object.freeze({ memoryMb: 16, cpuMs: 200, stackKb: 256 });

/** Allowed values of each limit, inclusive; whole numbers. */
export const BLOCK_LIMIT_RANGES: Readonly<Record<keyof BlockLimits, { min: number; max: number }>> = Object.freeze({
  memoryMb: { min: 1, max: 1024 },
  cpuMs: { min: 10, max: 60_000 },
  stackKb: { min: 64, max: 1024 },
});

/** One stage of an arrival-rate block. */
export interface Stage {
  /** Iterations per second reached at the end of the stage. */
  rate: number;
  /** Seconds. */
  duration: number;
}

export const ARRIVAL_PATTERNS = ['uniform', 'poisson'] as const;
export type ArrivalPattern = (typeof ARRIVAL_PATTERNS)[number];

export interface Address {
  host: string;
  /** Default 80 (443 for TLS protocols). */
  port?: number;
  /** Default "http". */
  protocol?: Protocol;
  /** Verify the server's TLS certificate (default false, as load targets often use self-signed ones). */
  verifyTls?: boolean;
  /** TLS server name to send; defaults to `host` when it is a name. */
  serverName?: string;
}

export interface Plan {
  name: string;
  blocks: Block[];
  addresses: Address[];
  /** Desired number of devices; rounded down to a multiple of the ramp step. */
  size: number;
  /** Seconds. */
  rampup: number;
  sustain: number;
  rampdown: number;
  /** Pass/fail goals on metrics, evaluated on the coordinator (thresholds.ts). */
  thresholds?: ThresholdsInput;
}

/** A plan with every default filled in, as the runner uses it. */
export interface ResolvedPlan extends Plan {
  blocks: ResolvedBlock[];
  addresses: Array<Required<Omit<Address, 'serverName'>> & { serverName?: string }>;
}

/**
 * A block with its defaults filled in. A closed block carries exactly the fields
 * it always had; an arrival-rate block also has `maxDevices` and `arrival`, and
 * `arrivalRate` or `stages` as given.
 */
export type ResolvedBlock = Required<Pick<Block, 'script' | 'params' | 'size'>> & { limits: Required<BlockLimits> } & Pick<Block, 'arrivalRate' | 'stages'> &
  Partial<Required<Pick<Block, 'maxDevices' | 'arrival'>>>;

/** One thing wrong with a plan: where (`blocks[0].script`) and what. */
export interface PlanProblem {
  path: string;
  message: string;
  /** For a script that does not compile: where, 1-based, so an editor can mark the line. */
  line?: number;
  column?: number;
}

/** Devices each generator adds per ramp step. */
export const DEVICES_PER_GENERATOR_STEP = 10;

export const PLAN_DEFAULTS = Object.freeze({
  port: 80,
  tlsPort: 443,
  protocol: 'http',
  size: DEVICES_PER_GENERATOR_STEP,
  blockSize: 1,
  rampup: 0,
  sustain: 60,
  rampdown: 0,
  arrival: 'uniform',
});
