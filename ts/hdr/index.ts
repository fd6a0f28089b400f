/**
 * HDR histograms backed by Rust (crates/hdr-native, the HdrHistogram project's
 * own crate). Record in batches: one `recordMany` of a Float64Array crosses into
 * native code once for the whole array.
 */
import { HDR_ERROR, HistogramError, rethrow } from './errors.js';
import { NativeHistogram, recordValue, recordValues, type HistogramHandle, type NativeHistogram as Native } from './native.js';

export { HDR_ERROR, HistogramError } from './errors.js';

export interface HistogramOptions {
  /** Lowest discernible value, at least 1 (default 1). */
  lowest?: number;
  /** Highest trackable value; larger values are clamped to it and counted in `clampedCount` (default 60,000,000: 60 s in µs). */
  highest?: number;
  /** Significant decimal digits kept, 1 to 5 (default 3). */
  significantDigits?: number;
}

const DEFAULTS = { lowest: 1, highest: 60_000_000, significantDigits: 3 };

function checkNumber(name: string, v: unknown): number {
  if (typeof v !== 'number') throw new HistogramError(HDR_ERROR.argument, `${name} must be a number (got ${typeof v})`);
  return v;
}

/** Set only while decode() constructs a wrapper around a native histogram it already has. */
let adopting: Native | null = null;

export class Histogram {
  readonly #n: Native;
  readonly #h: HistogramHandle;

  constructor(options: HistogramOptions = {}) {
    if (adopting) {
      this.#n = adopting;
      this.#h = adopting.handle();
      return;
    }
    if (options === null || typeof options !== 'object') {
      throw new HistogramError(HDR_ERROR.argument, 'options must be an object');
    }
    const o = { ...DEFAULTS, ...options };
    try {
      this.#n = new NativeHistogram(checkNumber('lowest', o.lowest), checkNumber('highest', o.highest), checkNumber('significantDigits', o.significantDigits));
    } catch (err) {
      rethrow(err);
    }
    this.#h = this.#n.handle();
  }

  /** Records one value, rounded to a whole unit. */
  record(value: number): void {
    try {
      recordValue(this.#h, value);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Records `count` occurrences of one value. */
  recordWithCount(value: number, count: number): void {
    checkNumber('value', value);
    checkNumber('count', count);
    try {
      this.#n.recordWithCount(value, count);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Records every value of the batch in one native call, or none if one is invalid. */
  recordMany(values: Float64Array | readonly number[]): void {
    let batch: Float64Array;
    if (values instanceof Float64Array) {
      batch = values;
    } else if (Array.isArray(values)) {
      batch = new Float64Array(values.length);
      for (let i = 0; i < values.length; i++) batch[i] = checkNumber(`values[${i}]`, values[i]);
    } else {
      throw new HistogramError(HDR_ERROR.argument, 'values must be a Float64Array or an array of numbers');
    }
    try {
      recordValues(this.#h, batch);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Adds every count of `other` into this histogram. */
  add(other: Histogram): void {
    if (!(other instanceof Histogram)) throw new HistogramError(HDR_ERROR.argument, 'add() takes a Histogram');
    this.#n.add(other.#n);
  }

  /**
   * Adds an encoded histogram (what `encode()` or another HdrHistogram library wrote)
   * without building it first: the cheap way to merge telemetry. Adds nothing if the
   * bytes are corrupt.
   */
  addEncoded(bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new HistogramError(HDR_ERROR.argument, 'addEncoded() takes a Uint8Array');
    try {
      this.#n.addEncoded(bytes);
    } catch (err) {
      rethrow(err);
    }
  }

  reset(): void {
    this.#n.reset();
  }

  /** The value at or below which `percentile` (0..100) percent of the values fall. */
  valueAtPercentile(percentile: number): number {
    checkNumber('percentile', percentile);
    try {
      return this.#n.valueAtPercentile(percentile);
    } catch (err) {
      rethrow(err);
    }
  }

  /** Many percentiles in one native call. */
  valuesAtPercentiles(percentiles: Float64Array | readonly number[]): number[] {
    const batch = percentiles instanceof Float64Array ? percentiles : Float64Array.from(percentiles);
    try {
      return this.#n.valuesAtPercentiles(batch);
    } catch (err) {
      rethrow(err);
    }
  }

  /**
   * How many values are at or below each limit (ascending), in one native call:
   * cumulative counts, exact to the histogram's precision (a Prometheus histogram's buckets).
   */
  countsAtOrBelow(limits: Float64Array | readonly number[]): number[] {
    return this.#n.countsAtOrBelow(limits instanceof Float64Array ? limits : Float64Array.from(limits));
  }

  get mean(): number {
    return this.#n.mean;
  }
  get stddev(): number {
    return this.#n.stddev;
  }
  /** Lowest recorded value (0 when empty). */
  get min(): number {
    return this.#n.min;
  }
  /** Highest recorded value (0 when empty). */
  get max(): number {
    return this.#n.max;
  }
  get totalCount(): number {
    return this.#n.totalCount;
  }
  /** Values recorded above `highest` and clamped to it. Not part of the encoding. */
  get clampedCount(): number {
    return this.#n.clampedCount;
  }
  get lowest(): number {
    return this.#n.lowest;
  }
  get highest(): number {
    return this.#n.highest;
  }
  get significantDigits(): number {
    return this.#n.significantDigits;
  }

  /**
   * The V2 encoding (what HdrHistogram's Java, C, Rust and JS libraries exchange):
   * compressed by default, the smallest; `{ compressed: false }` gives the plain V2
   * form, about twice the bytes but merged by addEncoded() about three times faster
   * (no inflate), which is what telemetry pushed every second wants.
   */
  encode(options: { compressed?: boolean } = {}): Uint8Array {
    return options.compressed === false ? this.#n.encodePlain() : this.#n.encode();
  }

  /** Decodes the V2 encoding (compressed or not). */
  static decode(bytes: Uint8Array): Histogram {
    if (!(bytes instanceof Uint8Array)) throw new HistogramError(HDR_ERROR.argument, 'decode() takes a Uint8Array');
    let native: Native;
    try {
      native = NativeHistogram.decode(bytes);
    } catch (err) {
      rethrow(err);
    }
    adopting = native;
    try {
      return new Histogram();
    } finally {
      adopting = null;
    }
  }
}
