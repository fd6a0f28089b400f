/**
 * Delays between attempts (a generator reconnecting, a writer resending): exponential, capped, with jitter so that
 * a fleet of generators cut off together (a coordinator restart) does not knock
 * on the new coordinator all in the same instant.
 */

export interface BackoffOptions {
  /** First delay before jitter (default 500 ms). */
  initialMs?: number;
  /** Largest delay before jitter (default 30 s). */
  maxMs?: number;
  /** Each delay is spread uniformly over ±jitter of itself (default 0.5). */
  jitter?: number;
  /** Uniform in [0, 1); for tests. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.jitter = options.jitter ?? 0.5;
    this.random = options.random ?? Math.random;
  }

  /** Attempts since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt. */
  next(): number {
    // Capped before doubling further, so the exponent cannot overflow to Infinity.
    const base = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(this.attempt, 52));
    this.attempt++;
    return Math.round(base * (1 + this.jitter * (2 * this.random() - 1)));
  }

  /** After a connection that worked: the next failure starts from the first delay again. */
  reset(): void {
    this.attempt = 0;
  }
}
