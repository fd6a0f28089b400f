/**
 * One second of a run as Prometheus metric families: what the scrape endpoint
 * renders as text and the remote-write writer encodes as protobuf, so both say
 * the same thing under the same names (ts/shared/prometheus-names.ts).
 */
import { RUN_STATES } from '../shared/live.js';
import { MICROS_PER_SECOND, PROMETHEUS_BUCKETS_SECONDS, PROMETHEUS_LABEL as LABEL, PROMETHEUS_NAME as NAME, PROMETHEUS_QUANTILES, prometheusMetric } from '../shared/prometheus-names.js';
import type { SecondSample } from './writer.js';

export type Labels = ReadonlyArray<readonly [name: string, value: string]>;

export interface PrometheusSample {
  /** The sample's full name: `stressgrid_response_total`, `stressgrid_headers_seconds_bucket`. */
  name: string;
  labels: Labels;
  value: number;
  /** When the value was true, in wall-clock ms; absent: now (the scrape's time). */
  timestampMs?: number;
}

export interface PrometheusFamily {
  /** The family's name as OpenMetrics writes it: without `_total` for a counter. */
  name: string;
  /** A summary here holds only quantiles: exact ones of the last second. */
  type: 'counter' | 'gauge' | 'histogram' | 'summary';
  help: string;
  /** Set when the name ends in it (OpenMetrics's UNIT line). */
  unit?: 'seconds' | 'bytes';
  samples: PrometheusSample[];
}

/** The bucket bounds in HDR's unit (µs), built once. */
const BUCKETS_MICROS = Float64Array.from(PROMETHEUS_BUCKETS_SECONDS, (s) => s * MICROS_PER_SECOND);
const BUCKET_LABELS = PROMETHEUS_BUCKETS_SECONDS.map(String);

/** `run` and `run_id`, then the user's extra labels. */
export function runLabels(sample: SecondSample, extra: Labels = []): Labels {
  return [[LABEL.run, sample.snapshot.name], [LABEL.runId, sample.snapshot.runId], ...extra];
}

function unitOf(name: string): PrometheusFamily['unit'] {
  if (name.endsWith('_seconds')) return 'seconds';
  if (name.endsWith('_bytes')) return 'bytes';
  return undefined;
}

/** A counter family from its sample name (`stressgrid_response_total`). */
export function counter(total: string, help: string, samples: Array<[Labels, number]>): PrometheusFamily {
  const name = total.replace(/_total$/, '');
  const unit = unitOf(name);
  return { name, type: 'counter', help, ...(unit ? { unit } : {}), samples: samples.map(([labels, value]) => ({ name: total, labels, value })) };
}

export function gauge(name: string, help: string, samples: Array<[Labels, number]>): PrometheusFamily {
  const unit = unitOf(name);
  return { name, type: 'gauge', help, ...(unit ? { unit } : {}), samples: samples.map(([labels, value]) => ({ name, labels, value })) };
}

/** Every family of one second of a run, labelled with `base` (runLabels). */
export function runFamilies(sample: SecondSample, base: Labels): PrometheusFamily[] {
  const { snapshot } = sample;
  const families: PrometheusFamily[] = [];
  const one = (value: number): Array<[Labels, number]> => [[base, value]];

  families.push(
    gauge(NAME.activeDevices, 'Devices active on the generators over the last second.', one(snapshot.activeDevices)),
    gauge(NAME.desiredDevices, 'Devices the plan asks for.', one(snapshot.desiredDevices)),
    gauge(NAME.effectiveDevices, 'Devices the ramp runs at its peak (the plan size rounded down to the ramp step).', one(snapshot.effectiveDevices)),
    gauge(NAME.targetDevices, 'Devices the ramp wants running now.', one(snapshot.targetDevices)),
    gauge(NAME.generators, 'Generators reporting in the run.', one(snapshot.generators.length)),
    gauge(NAME.runElapsedSeconds, 'Seconds since the run started.', one(snapshot.elapsed)),
    gauge(NAME.runRemainingSeconds, 'Seconds until the ramp-down ends.', one(snapshot.remaining)),
    gauge(
      NAME.runState,
      "1 for the run's current state.",
      RUN_STATES.map((state) => [[...base, [LABEL.state, state]], state === snapshot.state ? 1 : 0]),
    ),
  );

  for (const name of Object.keys(snapshot.counters).sort()) {
    const metric = prometheusMetric(name);
    if (metric?.type !== 'counter') continue;
    families.push(counter(metric.name, `${name}: counted since the run started.`, one(snapshot.counters[name]!.total)));
  }

  for (const name of [...sample.runHistograms.keys()].sort()) {
    const metric = prometheusMetric(name);
    const h = sample.runHistograms.get(name)!;
    if (metric?.type !== 'histogram' || h.totalCount === 0) continue;
    const counts = h.countsAtOrBelow(BUCKETS_MICROS);
    const samples: PrometheusSample[] = counts.map((count, i) => ({ name: `${metric.name}_bucket`, labels: [...base, [LABEL.le, BUCKET_LABELS[i]!]], value: count }));
    samples.push(
      { name: `${metric.name}_bucket`, labels: [...base, [LABEL.le, '+Inf']], value: h.totalCount },
      { name: `${metric.name}_sum`, labels: base, value: (h.mean * h.totalCount) / MICROS_PER_SECOND },
      { name: `${metric.name}_count`, labels: base, value: h.totalCount },
    );
    families.push({ name: metric.name, type: 'histogram', help: `${name} since the run started, in seconds (buckets 2^(1/4) apart).`, unit: 'seconds', samples });
  }

  for (const name of Object.keys(snapshot.histograms).sort()) {
    const metric = prometheusMetric(name);
    const view = snapshot.histograms[name]!;
    if (metric?.type !== 'histogram') continue;
    families.push({
      name: metric.quantileName,
      type: 'summary',
      help: `${name} over the last second: exact quantiles of the merged histograms, in seconds.`,
      samples: PROMETHEUS_QUANTILES.map(([quantile, stat]) => ({ name: metric.quantileName, labels: [...base, [LABEL.quantile, quantile]], value: view[stat] / MICROS_PER_SECOND })),
    });
  }

  const byGenerator = (id: string): Labels => [...base, [LABEL.generator, id]];
  families.push(
    gauge(
      NAME.generatorActiveDevices,
      "Devices active on the generator over its last second (any run's).",
      snapshot.generators.map((g) => [byGenerator(g.id), g.activeDevices]),
    ),
    gauge(
      NAME.generatorCpuRatio,
      "The generator's CPU use over its last second, 0 to 1 (cpu_percent / 100).",
      snapshot.generators.map((g) => [byGenerator(g.id), g.cpuPercent / 100]),
    ),
  );
  const bytes = [...sample.generatorBytes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  families.push(
    counter(
      NAME.generatorNetworkReceiveBytes,
      'Bytes the generator received since the run started.',
      bytes.map(([id, b]) => [byGenerator(id), b.rx]),
    ),
    counter(
      NAME.generatorNetworkTransmitBytes,
      'Bytes the generator sent since the run started.',
      bytes.map(([id, b]) => [byGenerator(id), b.tx]),
    ),
  );

  const writers = snapshot.writers ?? [];
  if (writers.length > 0) {
    const byWriter = (writer: string): Labels => [...base, [LABEL.writer, writer]];
    families.push(
      counter(
        NAME.writerSent,
        'Samples or metric data a writer delivered.',
        writers.map((w) => [byWriter(w.writer), w.sent]),
      ),
      counter(
        NAME.writerFailed,
        'Samples or metric data a writer gave up on.',
        writers.map((w) => [byWriter(w.writer), w.failed]),
      ),
      counter(
        NAME.writerRetries,
        'Requests a writer sent again.',
        writers.map((w) => [byWriter(w.writer), w.retries]),
      ),
      gauge(
        NAME.writerPending,
        'Samples or metric data waiting to be sent.',
        writers.map((w) => [byWriter(w.writer), w.pending]),
      ),
    );
  }
  return families.filter((f) => f.samples.length > 0);
}
