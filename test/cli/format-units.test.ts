import test from 'ava';
import { formatBytesPerSecond, formatCount, formatDuration, formatSignificant, microsToMillis } from '../../ts/cli/format-units.js';

test('microseconds show as milliseconds with three significant digits, down to whole microseconds', (t) => {
  t.deepEqual([1, 6, 12.6, 450, 1_204, 15_020, 123_456, 60_000_000].map(microsToMillis), ['0.001', '0.006', '0.013', '0.450', '1.20', '15.0', '123', '60000']);
});

test('other values keep three significant digits without exponents', (t) => {
  t.deepEqual(
    [0, 0.000123, 0.5, 9.99, 12.34, 99.96, 1234.5].map((v) => formatSignificant(v)),
    ['0', '0.000123', '0.500', '9.99', '12.3', '100', '1235'],
  );
});

test('counts are grouped, byte rates get a decimal unit, durations read m:ss', (t) => {
  t.is(formatCount(1_234_567), '1,234,567');
  t.is(formatCount(2.5), '2.5');
  t.deepEqual([0, 999, 1_000, 1_234_567, 5e12].map(formatBytesPerSecond), ['0 B/s', '999 B/s', '1.00 kB/s', '1.23 MB/s', '5.00 TB/s']);
  t.deepEqual([0, 9.6, 61, 3_600, 3_725].map(formatDuration), ['0:00', '0:10', '1:01', '1:00:00', '1:02:05']);
});
