/**
 * How the terminal writes numbers: microseconds as milliseconds with three
 * significant digits, bytes per second with a unit, durations as m:ss.
 */

/** `1234567` → `1,234,567`; fractions under 10 keep one decimal. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) < 10 && !Number.isInteger(value)) return value.toFixed(1);
  return Math.round(value).toLocaleString('en-US');
}

/**
 * Three significant digits without exponent notation (0.0123, 1.23, 12.3, 123,
 * 1234), but never more than `maxDecimals` decimals.
 */
export function formatSignificant(value: number, maxDecimals = 6): string {
  if (!Number.isFinite(value)) return String(value);
  // Rounded first, so 99.96 becomes 100 rather than 100.0.
  const rounded = Number(value.toPrecision(3));
  const magnitude = Math.abs(rounded);
  if (magnitude >= 100 || magnitude === 0) return Math.round(value).toString();
  const decimals = magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 2 - Math.floor(Math.log10(magnitude));
  return value.toFixed(Math.min(decimals, maxDecimals));
}

/**
 * A `_us` value shown in milliseconds: 450 → `0.450`, 12_345 → `12.3`. Histograms
 * hold whole microseconds, so three decimals of a millisecond is all there is.
 */
export const microsToMillis = (micros: number): string => formatSignificant(micros / 1000, 3);

export const formatPercent = (percent: number): string => `${percent.toFixed(1)}%`;

const BYTE_UNITS = ['B/s', 'kB/s', 'MB/s', 'GB/s', 'TB/s'];

/** Decimal units, as network rates are quoted: 1_500_000 → `1.50 MB/s`. */
export function formatBytesPerSecond(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? Math.round(value) : formatSignificant(value)} ${BYTE_UNITS[unit]}`;
}

/** Seconds as `m:ss`, or `h:mm:ss` from an hour on. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
