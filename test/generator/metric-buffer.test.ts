/**
 * The worker's MetricBuffer: counters by full name, durations reaching the
 * native histogram one batch at a time, and a drain that hands over exactly
 * what was recorded since the last one.
 */
import test from 'ava';
import { Histogram } from '../../ts/hdr/index.js';
import { MetricBuffer } from '../../ts/generator/metric-buffer.js';

const decode = (bytes: Uint8Array | undefined): Histogram => {
  if (bytes === undefined) throw new Error('no such histogram in the drain');
  return Histogram.decode(bytes);
};

test('counters drain under their full names and start over', (t) => {
  const buffer = new MetricBuffer();
  buffer.count('response');
  buffer.count('response', 4);
  buffer.count('conn_refused_error');
  buffer.count('broken', Number.NaN);
  t.deepEqual(buffer.drain().counters, { response_count: 5, conn_refused_error_count: 1 });
  t.deepEqual(buffer.drain(), { counters: {}, histograms: {} });
});

test('durations drain as encoded histograms that decode to the recorded values', (t) => {
  const buffer = new MetricBuffer();
  for (let us = 1; us <= 2500; us++) buffer.duration('headers', us);
  buffer.duration('conn', 1500);
  buffer.duration('conn', 60_000);
  const drained = buffer.drain();
  t.deepEqual(Object.keys(drained.histograms).sort(), ['conn_us', 'headers_us']);

  const headers = decode(drained.histograms.headers_us);
  t.is(headers.totalCount, 2500);
  t.is(headers.min, 1);
  t.true(Math.abs(headers.max - 2500) <= 2, `max ${headers.max}`);
  t.true(Math.abs(headers.mean - 1250.5) < 2, `mean ${headers.mean}`);
  t.true(Math.abs(headers.valueAtPercentile(50) - 1250) <= 2);

  const conn = decode(drained.histograms.conn_us);
  t.is(conn.totalCount, 2);
  t.is(conn.min, 1500);
  t.true(Math.abs(conn.max - 60_000) <= 60);

  // Drained means gone: an interval never reports the previous one's values.
  for (let us = 1; us <= 3; us++) buffer.duration('headers', 10 * us);
  const next = buffer.drain();
  t.deepEqual(Object.keys(next.histograms), ['headers_us']);
  t.is(decode(next.histograms.headers_us).totalCount, 3);
  t.is(decode(next.histograms.headers_us).max, 30);
});

test('negative and non-finite durations are recorded as 0 rather than poisoning the batch', (t) => {
  const buffer = new MetricBuffer();
  buffer.duration('x', -5);
  buffer.duration('x', Number.NaN);
  buffer.duration('x', Number.POSITIVE_INFINITY);
  buffer.duration('x', 7);
  const x = decode(buffer.drain().histograms.x_us);
  t.is(x.totalCount, 4);
  t.is(x.min, 0);
  t.is(x.max, 7);
});

test('values cross into the native histogram one batch at a time, never one by one', (t) => {
  const proto = Histogram.prototype;
  // Taken off the prototype to be wrapped, and called below with .call(this).
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const { record, recordMany } = proto;
  const batches: number[] = [];
  let singles = 0;
  proto.recordMany = function (this: Histogram, values: Float64Array | readonly number[]) {
    batches.push(values.length);
    return recordMany.call(this, values);
  };
  proto.record = function (this: Histogram, value: number) {
    singles++;
    return record.call(this, value);
  };
  try {
    const buffer = new MetricBuffer();
    for (let i = 0; i < 2500; i++) buffer.duration('headers', i + 1);
    t.deepEqual(batches, [1024, 1024], 'full batches go as they fill');
    t.is(decode(buffer.drain().histograms.headers_us).totalCount, 2500);
    t.deepEqual(batches, [1024, 1024, 452], 'the rest goes at the drain');
    t.is(singles, 0);
  } finally {
    proto.recordMany = recordMany;
    proto.record = record;
  }
});
