/**
 * What Prometheus costs the coordinator each second: turning one second of a
 * run into metric families and (a) the text exposition a scrape gets, (b) a
 * remote-write request body (protobuf + snappy), against the peer the
 * coordinator already pays every second: the live snapshot as JSON for the
 * live stream. A run with 20 latency histograms (a few thousand values each),
 * 30 counters and as many generators as asked.
 *
 *   node dist/bench/prometheus.js [--generators 1,100,1000] [--seconds 3]
 */
import { parseArgs } from 'node:util';
import { Histogram } from '../ts/hdr/index.js';
import { renderExposition } from '../ts/coordinator/prometheus-exposition.js';
import { encodeWriteRequest } from '../ts/coordinator/prometheus-remote-write.js';
import { runFamilies, runLabels } from '../ts/coordinator/prometheus-series.js';
import type { SecondSample } from '../ts/coordinator/writer.js';
import type { LiveSnapshot } from '../ts/shared/live.js';
import { HISTOGRAM_BOUNDS } from '../ts/shared/metrics.js';

const { values } = parseArgs({ options: { generators: { type: 'string', default: '1,100,1000' }, seconds: { type: 'string', default: '3' } } });

function second(generators: number): SecondSample {
  const runHistograms = new Map<string, Histogram>();
  const histograms: LiveSnapshot['histograms'] = {};
  for (let i = 0; i < 20; i++) {
    const h = new Histogram(HISTOGRAM_BOUNDS);
    h.recordMany(Float64Array.from({ length: 5000 }, () => 50 + Math.random() ** 3 * 200_000));
    runHistograms.set(`metric${i}_us`, h);
    histograms[`metric${i}_us`] = { count: 5000, mean: 1, min: 1, median: 1, p90: 2, p99: 3, p999: 4, max: 5 };
  }
  const counters = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`counter${i}_count`, { total: i * 1000, perSecond: i }]));
  const ids = Array.from({ length: generators }, (_, i) => `generator-${i}`);
  const snapshot: LiveSnapshot = {
    runId: 'bench-20260101T000000Z-abcd',
    name: 'bench',
    state: 'sustain',
    elapsed: 10,
    remaining: 50,
    desiredDevices: 1000,
    effectiveDevices: 1000,
    targetDevices: 1000,
    activeDevices: 1000,
    generators: ids.map((id) => ({ id, activeDevices: 10, cpuPercent: 40, networkRxBytesPerSecond: 1e6, networkTxBytesPerSecond: 1e6 })),
    lostGenerators: [],
    counters,
    histograms,
  };
  return { time: Date.now(), snapshot, runHistograms, generatorBytes: new Map(ids.map((id) => [id, { rx: 1e9, tx: 1e9 }])) };
}

/** CPU µs per call of `work`, over `seconds` of wall time. */
function cpuPerCall(work: () => unknown, seconds: number): number {
  for (let i = 0; i < 20; i++) work();
  const start = process.cpuUsage();
  const until = performance.now() + seconds * 1000;
  let calls = 0;
  while (performance.now() < until) {
    work();
    calls++;
  }
  const used = process.cpuUsage(start);
  return (used.user + used.system) / calls;
}

const seconds = Number(values.seconds);
console.log('generators  live JSON (µs)  scrape text (µs)  ratio  remote write (µs)  ratio  series');
for (const generators of values.generators.split(',').map(Number)) {
  const s = second(generators);
  const peer = cpuPerCall(() => JSON.stringify(s.snapshot), seconds);
  const scrape = cpuPerCall(() => renderExposition(runFamilies(s, runLabels(s)), true), seconds);
  const families = runFamilies(s, runLabels(s));
  const series = families.reduce((n, f) => n + f.samples.length, 0);
  const push = cpuPerCall(() => {
    const fs = runFamilies(s, runLabels(s));
    return encodeWriteRequest(fs.flatMap((f) => f.samples.map((x) => ({ labels: [['__name__', x.name] as const, ...x.labels], samples: [{ value: x.value, timestampMs: s.time }] }))));
  }, seconds);
  console.log(
    `${String(generators).padStart(10)}  ${peer.toFixed(0).padStart(14)}  ${scrape.toFixed(0).padStart(16)}  ${(scrape / peer).toFixed(1).padStart(5)}  ${push.toFixed(0).padStart(17)}  ${(push / peer).toFixed(1).padStart(5)}  ${series}`,
  );
}
