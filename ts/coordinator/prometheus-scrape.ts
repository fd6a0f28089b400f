/**
 * What GET /metrics serves: the coordinator's process metrics, the generators
 * connected, and the latest second of the current run (or of the last run,
 * until the next starts, so a scrape after the end still gets its final totals).
 */
import { PROMETHEUS_NAME } from '../shared/prometheus-names.js';
import type { GeneratorRegistry } from './generator-registry.js';
import { processFamilies } from './process-metrics.js';
import { gauge, runFamilies, runLabels, type PrometheusFamily, type PrometheusSample } from './prometheus-series.js';
import type { SecondSample } from './writer.js';

export class PrometheusScrape {
  #run: PrometheusFamily[] = [];
  #runId = '';
  /** Wall-clock ms the run's clock started. */
  #startedAt = 0;
  /** Counting series (counters, histogram buckets, sums and counts) of the run already served. */
  readonly #served = new Set<string>();

  constructor(private readonly registry: GeneratorRegistry) {}

  /** Takes a run's second; converted at once, since its histograms keep growing. */
  update(sample: SecondSample): void {
    if (sample.snapshot.runId !== this.#runId) {
      this.#runId = sample.snapshot.runId;
      this.#startedAt = Math.round(sample.time - sample.snapshot.elapsed * 1000);
      this.#served.clear();
    }
    this.#run = runFamilies(sample, runLabels(sample));
  }

  families(): PrometheusFamily[] {
    return [
      gauge(PROMETHEUS_NAME.generatorsConnected, 'Generators connected to the coordinator.', [[[], this.registry.size]]),
      ...this.#run.map((family) => this.#fromZero(family)),
      ...processFamilies(),
    ];
  }

  /**
   * A counting series appears when the run first counts something, by which
   * time it is far from 0, and Prometheus's increase() cannot tell what came
   * before its first sample. So the first scrape that meets a series gets 0 at
   * the run's start (an explicit timestamp), and every later scrape its value:
   * increase() over the run then counts all of it, as remote write's zero does.
   */
  #fromZero(family: PrometheusFamily): PrometheusFamily {
    if (family.type !== 'counter' && family.type !== 'histogram') return family;
    let samples: PrometheusSample[] | undefined;
    family.samples.forEach((sample, i) => {
      const key = `${sample.name}{${sample.labels.map(([k, v]) => `${k}=${v}`).join('\u0000')}}`;
      if (this.#served.has(key)) return;
      this.#served.add(key);
      samples ??= [...family.samples];
      samples[i] = { ...sample, value: 0, timestampMs: this.#startedAt };
    });
    return samples === undefined ? family : { ...family, samples };
  }
}
