/**
 * What GET /metrics serves: the coordinator's process metrics, the generators
 * connected, and the latest second of the current run (or of the last run,
 * until the next starts, so a scrape after the end still gets its final totals).
 */
import { PROMETHEUS_NAME } from '../shared/prometheus-names.js';
import type { GeneratorRegistry } from './generator-registry.js';
import { processFamilies } from './process-metrics.js';
import { gauge, runFamilies, runLabels, type PrometheusFamily } from './prometheus-series.js';
import type { SecondSample } from './writer.js';

export class PrometheusScrape {
  #run: PrometheusFamily[] = [];

  constructor(private readonly registry: GeneratorRegistry) {}

  /** Takes a run's second; converted at once, since its histograms keep growing. */
  update(sample: SecondSample): void {
    this.#run = runFamilies(sample, runLabels(sample));
  }

  families(): PrometheusFamily[] {
    return [gauge(PROMETHEUS_NAME.generatorsConnected, 'Generators connected to the coordinator.', [[[], this.registry.size]]), ...this.#run, ...processFamilies()];
  }
}
