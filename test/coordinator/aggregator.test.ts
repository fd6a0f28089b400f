import test from 'ava';
import { Histogram } from '../../ts/hdr/index.js';
import { Aggregator } from '../../ts/coordinator/aggregator.js';
import { HISTOGRAM_STATS } from '../../ts/shared/metrics.js';
import type { Telemetry } from '../../ts/shared/protocol.js';

const RUN = 'checkout-20260101T000000Z-abcd';
const T0 = Date.UTC(2026, 0, 1);

/** Alternates the two V2 forms: the aggregator merges both. */
let form = 0;
function encoded(values: number[]): Uint8Array {
  const h = new Histogram();
  h.recordMany(values);
  return h.encode({ compressed: form++ % 2 === 0 });
}

function telemetry(overrides: Partial<Telemetry> = {}): Telemetry {
  return {
    type: 'telemetry',
    generatorId: 'g1',
    runId: RUN,
    seq: 0,
    at: T0,
    intervalMs: 1000,
    activeDevices: 10,
    cpuPercent: 50,
    networkRxBytes: 1000,
    networkTxBytes: 500,
    counters: {},
    histograms: {},
    ...overrides,
  };
}

test('counters: totals since start and per-second over each interval', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  for (let s = 1; s <= 10; s++) {
    agg.ingest(telemetry({ generatorId: 'g1', counters: { response_count: 100, conn_refused_error_count: 1 } }), T0 + s * 1000);
    agg.ingest(telemetry({ generatorId: 'g2', counters: { response_count: 50 } }), T0 + s * 1000);
  }
  const first = agg.closeInterval(T0 + 10_000).row;
  t.is(first.elapsed, 10);
  t.is(first.intervalSeconds, 10);
  t.is(first.time, '2026-01-01T00:00:10.000Z');
  t.is(first.metrics.response_count, 1500);
  t.is(first.metrics.response_per_second, 150);
  t.is(first.metrics.conn_refused_error_count, 10);
  t.is(first.metrics.conn_refused_error_per_second, 1);

  for (let s = 11; s <= 15; s++) agg.ingest(telemetry({ generatorId: 'g1', counters: { response_count: 20 } }), T0 + s * 1000);
  const second = agg.closeInterval(T0 + 20_000).row;
  t.is(second.metrics.response_count, 1600);
  t.is(second.metrics.response_per_second, 10);
  t.is(second.metrics.conn_refused_error_count, 10, 'a counter silent in an interval still has its total');
  t.is(second.metrics.conn_refused_error_per_second, 0);
});

test('the last, partial interval reports rates over its real length', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  agg.closeInterval(T0 + 60_000);
  agg.ingest(telemetry({ counters: { send_count: 30 } }), T0 + 61_000);
  const last = agg.closeInterval(T0 + 63_000).row;
  t.is(last.elapsed, 63);
  t.is(last.intervalSeconds, 3);
  t.is(last.metrics.send_count, 30);
  t.is(last.metrics.send_per_second, 10);
});

test('histograms are merged across generators and messages, with all 12 stats', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  const all: number[] = [];
  for (let s = 0; s < 5; s++) {
    for (const g of ['g1', 'g2', 'g3']) {
      const values = Array.from({ length: 200 }, (_, i) => 100 + ((i * 37 + s * 11) % 900) + (g === 'g3' ? 5000 : 0));
      all.push(...values);
      agg.ingest(telemetry({ generatorId: g, histograms: { headers_us: encoded(values) } }), T0 + s * 1000);
    }
  }
  const { row, histograms } = agg.closeInterval(T0 + 5000);
  const expected = new Histogram();
  expected.recordMany(all);
  t.is(histograms.get('headers_us')!.totalCount, all.length);
  for (const stat of HISTOGRAM_STATS) t.true(`headers_us_${stat}` in row.metrics, stat);
  t.is(row.metrics.headers_us_max, expected.max);
  t.is(row.metrics.headers_us_min, expected.min);
  t.is(row.metrics.headers_us_median, expected.valueAtPercentile(50));
  t.is(row.metrics.headers_us_p999, expected.valueAtPercentile(99.9));
  t.true(Math.abs(row.metrics.headers_us_mean! - expected.mean) < 1e-6);
  t.true(Math.abs(row.metrics.headers_us_stddev! - expected.stddev) < 1e-6);

  const next = agg.closeInterval(T0 + 6000);
  t.false('headers_us_mean' in next.row.metrics, 'an empty interval has no stats for the histogram');
  t.false(next.histograms.has('headers_us'));
});

test('utilisation: mean active devices of the sum, generator count, network rates, cpu histogram', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  for (let s = 1; s <= 10; s++) {
    agg.ingest(telemetry({ generatorId: 'g1', activeDevices: s <= 5 ? 10 : 20, cpuPercent: 40, networkRxBytes: 1000, networkTxBytes: 100 }), T0 + s * 1000);
    // g2 joins halfway: it ran nothing for the first half of the interval.
    if (s > 5) agg.ingest(telemetry({ generatorId: 'g2', activeDevices: 30, cpuPercent: 80, networkRxBytes: 3000, networkTxBytes: 300 }), T0 + s * 1000);
  }
  const { row, histograms } = agg.closeInterval(T0 + 10_000);
  t.is(row.metrics.active_device_number, 15 + 15);
  t.is(row.metrics.generator_count, 2);
  t.is(row.metrics.network_rx_bytes_per_second, (10 * 1000 + 5 * 3000) / 10);
  t.is(row.metrics.network_tx_bytes_per_second, (10 * 100 + 5 * 300) / 10);
  t.is(histograms.get('cpu_percent')!.totalCount, 15);
  t.is(row.metrics.cpu_percent_min, 40);
  t.is(row.metrics.cpu_percent_max, 80);
  t.is(row.metrics.cpu_percent_median, 40);
  t.true(Math.abs(row.metrics.cpu_percent_mean! - (10 * 40 + 5 * 80) / 15) < 1e-9);
  t.deepEqual(agg.totals().maxCpuPercent, 80);
  t.is(agg.totals().maxGeneratorCount, 2);
});

test('generator_count is a gauge: each interval counts the generators that reported in it', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  const counts: number[] = [];
  for (let interval = 1; interval <= 3; interval++) {
    for (let s = 1; s <= 10; s++) {
      const at = T0 + ((interval - 1) * 10 + s) * 1000;
      for (const g of ['g1', 'g2', 'g3']) agg.ingest(telemetry({ generatorId: g, counters: { response_count: 1 } }), at);
    }
    const { metrics } = agg.closeInterval(T0 + interval * 10_000).row;
    counts.push(metrics.generator_count!);
    t.is(metrics.response_count, interval * 30, 'while counters run on from the start');
  }
  t.deepEqual(counts, [3, 3, 3]);
});

test('pushes that straddle an interval boundary do not inflate active devices', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  // 11 one-second messages land inside a 10 s interval because of jitter.
  for (let s = 0; s <= 10; s++) agg.ingest(telemetry({ activeDevices: 100 }), T0 + s * 1000);
  t.is(agg.closeInterval(T0 + 10_000).row.metrics.active_device_number, 100);
});

test('telemetry of another run counts only towards utilisation', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  agg.ingest(telemetry({ generatorId: 'g1', counters: { response_count: 5 }, histograms: { conn_us: encoded([10]) } }), T0 + 1000);
  agg.ingest(telemetry({ generatorId: 'g2', runId: 'other-run', activeDevices: 99, counters: { response_count: 1000 }, histograms: { conn_us: encoded([99999]) } }), T0 + 1000);
  agg.ingest(telemetry({ generatorId: 'g3', runId: null, activeDevices: 0, cpuPercent: 2 }), T0 + 1000);
  const live = agg.live(T0 + 1500);
  t.is(live.counters.response_count!.total, 5);
  t.is(live.counters.response_count!.perSecond, 5);
  t.is(live.histograms.conn_us!.count, 1);
  t.is(live.histograms.conn_us!.max, 10);
  t.is(live.activeDevices, 10);
  t.deepEqual(
    live.generators.map((g) => [g.id, g.activeDevices]),
    [
      ['g1', 10],
      ['g2', 99],
      ['g3', 0],
    ],
  );
  const row = agg.closeInterval(T0 + 1000).row;
  t.is(row.metrics.response_count, 5);
  t.is(row.metrics.conn_us_max, 10);
  t.is(row.metrics.generator_count, 3);
  t.is(row.metrics.active_device_number, 10);
  t.is(row.metrics.cpu_percent_min, 2);
});

test('live: the last second of each generator, totals since start', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  agg.ingest(telemetry({ generatorId: 'g1', counters: { response_count: 100 }, histograms: { headers_us: encoded([100, 200]) } }), T0 + 1000);
  // The live view turns the second over each time it is read: histograms show what came since.
  t.is(agg.live(T0 + 1100).histograms.headers_us!.count, 2);
  agg.ingest(telemetry({ generatorId: 'g1', counters: { response_count: 300 }, histograms: { headers_us: encoded([1000]) } }), T0 + 2000);
  agg.ingest(
    telemetry({
      generatorId: 'g2',
      intervalMs: 500,
      counters: { response_count: 50 },
      histograms: { headers_us: encoded([2000]) },
      networkRxBytes: 400,
      networkInterfaces: ['eth0'],
      networkLinkBitsPerSecond: 10_000,
    }),
    T0 + 2000,
  );
  const live = agg.live(T0 + 2100);
  t.deepEqual(live.counters.response_count, { total: 450, perSecond: 300 + 100 });
  t.is(live.histograms.headers_us!.count, 2);
  t.is(live.histograms.headers_us!.min, 1000);
  t.is(live.histograms.headers_us!.max, 2000);
  t.is(live.histograms.cpu_percent!.count, 2);
  t.is(live.activeDevices, 20);
  // tx 1000 B/s = 8000 bit/s of a 10,000 bit/s link: the busier direction is 80 % of it.
  t.deepEqual(live.generators[1], { id: 'g2', activeDevices: 10, cpuPercent: 50, networkRxBytesPerSecond: 800, networkTxBytesPerSecond: 1000, networkInterfaces: ['eth0'], networkPercent: 80 });
  t.deepEqual(live.generators[0]!.networkPercent, null, 'no link speed, no share');
  // Read again with nothing new: the same second is shown, and the interval got every value once.
  t.is(agg.live(T0 + 2500).histograms.headers_us!.count, 2);
  t.is(agg.closeInterval(T0 + 3000).histograms.get('headers_us')!.totalCount, 4);
});

test('generators that disappear leave the live views', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0, staleAfterMs: 3000 });
  agg.ingest(telemetry({ generatorId: 'g1', counters: { response_count: 10 } }), T0 + 1000);
  agg.ingest(telemetry({ generatorId: 'g2', counters: { response_count: 10 } }), T0 + 1000);
  agg.ingest(telemetry({ generatorId: 'g3' }), T0 + 1000);
  agg.removeGenerator('g3');
  t.deepEqual(
    agg.live(T0 + 2000).generators.map((g) => g.id),
    ['g1', 'g2'],
  );
  agg.ingest(telemetry({ generatorId: 'g2', counters: { response_count: 10 } }), T0 + 4000);
  const later = agg.live(T0 + 4500);
  t.deepEqual(
    later.generators.map((g) => g.id),
    ['g2'],
  );
  t.is(later.activeDevices, 10);
  t.deepEqual(later.counters.response_count, { total: 30, perSecond: 10 });
});

test('undecodable histograms and non-finite numbers are skipped, not thrown', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  agg.ingest(
    telemetry({
      cpuPercent: Number.NaN,
      counters: { response_count: Number.POSITIVE_INFINITY, send_count: 2 },
      histograms: { conn_us: new TextEncoder().encode('not a histogram at all'), body_us: encoded([5]) },
    }),
    T0 + 1000,
  );
  t.is(agg.decodeFailures, 1);
  const row = agg.closeInterval(T0 + 1000).row;
  t.is(row.metrics.send_count, 2);
  t.false('response_count' in row.metrics);
  t.false('conn_us_mean' in row.metrics);
  t.is(row.metrics.body_us_max, 5);
  t.false('cpu_percent_mean' in row.metrics);
});

test('an interval of length 0 gives rates of 0, not NaN', (t) => {
  const agg = new Aggregator({ runId: RUN, startedAt: T0 });
  agg.ingest(telemetry({ counters: { response_count: 3 } }), T0);
  const row = agg.closeInterval(T0).row;
  t.is(row.metrics.response_per_second, 0);
  t.true(Object.values(row.metrics).every(Number.isFinite));
});
