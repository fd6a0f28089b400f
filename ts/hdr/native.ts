/**
 * Loads the hdr-native addon: a prebuild matching this platform when the
 * package carries one, else the one `npm install` built with cargo.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Opaque handle of a histogram for the raw recording functions. */
export type HistogramHandle = { readonly __brand: 'HistogramHandle' };

export interface NativeHistogram {
  handle(): HistogramHandle;
  record(value: number): void;
  recordWithCount(value: number, count: number): void;
  recordMany(values: Float64Array): void;
  add(other: NativeHistogram): void;
  addEncoded(bytes: Uint8Array): void;
  reset(): void;
  valueAtPercentile(percentile: number): number;
  valuesAtPercentiles(percentiles: Float64Array): number[];
  countsAtOrBelow(limits: Float64Array): number[];
  readonly mean: number;
  readonly stddev: number;
  readonly min: number;
  readonly max: number;
  readonly totalCount: number;
  readonly clampedCount: number;
  readonly lowest: number;
  readonly highest: number;
  readonly significantDigits: number;
  encode(): Uint8Array;
  encodePlain(): Uint8Array;
}

export interface NativeHistogramClass {
  new (lowest: number, highest: number, significantDigits: number): NativeHistogram;
  decode(bytes: Uint8Array): NativeHistogram;
}

const require = createRequire(import.meta.url);
/** dist/ts/hdr/native.js → package root. */
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const addonDir = join(packageRoot, 'crates', 'hdr-native');

export interface NativeAddon {
  NativeHistogram: NativeHistogramClass;
  /** One value; the hot path that skips napi-rs's per-call bookkeeping. */
  recordValue: (handle: HistogramHandle, value: number) => void;
  /** A batch in one call. */
  recordValues: (handle: HistogramHandle, values: Float64Array) => void;
}

function load(): NativeAddon {
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    return nodeGypBuild(addonDir);
  } catch (err) {
    const why = (err as Error).message.split('\n')[0];
    throw new Error(`stressgrid: the native HDR histogram addon is missing or broken (${why}); run \`npm run build:native\` (needs cargo) or reinstall stressgrid`, { cause: err });
  }
}

export const { NativeHistogram, recordValue, recordValues } = load();
