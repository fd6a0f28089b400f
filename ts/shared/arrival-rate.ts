/**
 * The open model's arithmetic, shared by the coordinator (how long a run lasts,
 * how a block's iterations and pool are split over generators) and the
 * generators (when each of their iterations is due). Pure functions.
 *
 * A block's rate r(t) is piecewise linear: each stage moves it from where the
 * previous one ended (0 at first) to the stage's `rate` over its `duration`; a
 * stage of duration 0 sets the rate at once. N(t), the iterations due by t, is
 * the integral of r. Iteration k (k = 0, 1, 2, ...) is due when N(t) = k, so a
 * constant rate R over T seconds schedules exactly R·T iterations, evenly spaced.
 * The iterations are dealt out by k modulo the number of slots (one slot per
 * generator worker taking part), which splits the rate exactly: no iteration is
 * lost to rounding and the slots' schedules interleave.
 */
import { DEVICES_PER_GENERATOR_STEP, type ArrivalPattern, type Block, type Plan, type Stage } from './plan.js';

/** A block with `arrivalRate` or `stages` is an arrival-rate block; one with neither is closed. */
export const isArrivalBlock = (block: Pick<Block, 'arrivalRate' | 'stages'>): boolean => block.arrivalRate !== undefined || block.stages !== undefined;

/** The stages a block follows: its own, or `arrivalRate` over the plan's ramp-up, sustain and ramp-down. */
export function arrivalStages(block: Pick<Block, 'arrivalRate' | 'stages'>, ramp: Pick<Plan, 'rampup' | 'sustain' | 'rampdown'>): Stage[] {
  if (block.stages !== undefined) return block.stages;
  const rate = block.arrivalRate ?? 0;
  return [
    { rate, duration: ramp.rampup },
    { rate, duration: ramp.sustain },
    { rate: 0, duration: ramp.rampdown },
  ];
}

/** The highest rate a block reaches. */
export const peakRate = (stages: readonly Stage[]): number => stages.reduce((max, s) => Math.max(max, s.rate), 0);

/** Seconds the stages last. */
export const stagesDuration = (stages: readonly Stage[]): number => stages.reduce((sum, s) => sum + s.duration, 0);

/**
 * The pool an arrival-rate block gets without `maxDevices`: enough devices for
 * iterations that last 100 ms at the block's peak rate, and at least one ramp
 * step's worth (10). A pool far larger than needed would hide a stalled target
 * from the uncorrected latency too, since every device would be waiting on it.
 */
export function defaultMaxDevices(stages: readonly Stage[]): number {
  return Math.max(DEVICES_PER_GENERATOR_STEP, Math.ceil(peakRate(stages) / 10));
}

/** Splits `total` into `parts` whole shares that differ by at most one, the larger first. */
export function splitEvenly(total: number, parts: number): number[] {
  const base = Math.floor(total / parts);
  const extra = total - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

interface Segment {
  /** Seconds since the block started. */
  start: number;
  duration: number;
  /** Iterations due before the segment. */
  count: number;
  /** Rate at its start, and its change per second. */
  rate: number;
  slope: number;
}

/** N(t) of a block's stages, and its inverse. */
export class ArrivalCurve {
  private readonly segments: Segment[] = [];
  /** Seconds from the block's start to its end. */
  readonly duration: number;
  /** Iterations due over the whole block: N(duration). */
  readonly total: number;
  private cursor = 0;

  constructor(stages: readonly Stage[]) {
    let start = 0;
    let count = 0;
    let rate = 0;
    for (const stage of stages) {
      if (stage.duration > 0) {
        const slope = (stage.rate - rate) / stage.duration;
        this.segments.push({ start, duration: stage.duration, count, rate, slope });
        count += ((rate + stage.rate) / 2) * stage.duration;
        start += stage.duration;
      }
      rate = stage.rate;
    }
    this.duration = start;
    this.total = count;
  }

  /** Iterations due by `t` seconds: N(t). */
  countAt(t: number): number {
    if (t <= 0) return 0;
    for (const s of this.segments) {
      if (t < s.start + s.duration) {
        const tau = t - s.start;
        return s.count + s.rate * tau + (s.slope * tau * tau) / 2;
      }
    }
    return this.total;
  }

  /** The rate at `t` seconds, r(t): iterations per second due then (0 before the block and after its end). */
  rateAt(t: number): number {
    if (t < 0) return 0;
    for (const s of this.segments) if (t < s.start + s.duration) return s.rate + s.slope * (t - s.start);
    return 0;
  }

  /**
   * The first time (seconds since the block's start) at which N reaches `n`; Infinity
   * when it never does within the block. Calls with growing `n` cost O(1) each.
   */
  timeOf(n: number): number {
    if (!(n < this.total)) return Infinity;
    if (this.cursor >= this.segments.length || this.segments[this.cursor]!.count > n) this.cursor = 0;
    while (this.cursor < this.segments.length - 1) {
      const s = this.segments[this.cursor]!;
      const end = s.count + (s.rate + (s.slope * s.duration) / 2) * s.duration;
      if (n < end) break;
      this.cursor++;
    }
    const s = this.segments[this.cursor]!;
    const delta = n - s.count;
    if (delta <= 0) return s.start;
    // τ solving rate·τ + slope·τ²/2 = delta, in the form that stays exact when slope is 0 or negative.
    const root = Math.sqrt(Math.max(0, s.rate * s.rate + 2 * s.slope * delta));
    const tau = (2 * delta) / (s.rate + root);
    return s.start + Math.min(tau, s.duration);
  }
}

/** Where one generator worker's share of a block's iterations comes from. */
export interface ArrivalSlot {
  /** This worker's slot, 0 ≤ slot < slots: it runs iterations k ≡ slot (mod slots). */
  slot: number;
  slots: number;
}

/**
 * The due times (seconds since the block started) of one slot's iterations, in
 * order. `uniform`: iterations k ≡ slot (mod slots) of the curve. `poisson`: a
 * Poisson process of rate r(t)/slots (time-rescaled exponential gaps), so that
 * the slots together make a Poisson process of rate r(t); the count is then random.
 */
export class SlotSchedule {
  private readonly curve: ArrivalCurve;
  private next_: number;

  constructor(
    stages: readonly Stage[],
    private readonly slot: ArrivalSlot,
    private readonly pattern: ArrivalPattern = 'uniform',
    private readonly random: () => number = Math.random,
  ) {
    this.curve = new ArrivalCurve(stages);
    this.next_ = pattern === 'poisson' ? this.gap() : slot.slot;
  }

  get duration(): number {
    return this.curve.duration;
  }

  /** How many iterations this slot is due over the whole block (uniform spacing). */
  get scheduledTotal(): number {
    const { slot, slots } = this.slot;
    return Math.max(0, Math.ceil((this.curve.total - slot) / slots));
  }

  /** The due time of the next iteration, and moves past it; Infinity once the block has no more. */
  take(): number {
    const t = this.curve.timeOf(this.next_);
    if (t === Infinity) return t;
    this.next_ += this.pattern === 'poisson' ? this.gap() : this.slot.slots;
    return t;
  }

  /** The due time of the next iteration without moving past it. */
  peek(): number {
    return this.curve.timeOf(this.next_);
  }

  private gap(): number {
    return -Math.log(1 - this.random()) * this.slot.slots;
  }
}
