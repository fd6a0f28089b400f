import type { LiveSnapshot } from '../../ts/shared/live.js';

/** A mid-run snapshot with regular counters, errors, latencies and CPU. */
export function fakeSnapshot(overrides: Partial<LiveSnapshot> = {}): LiveSnapshot {
  return {
    runId: 'demo-20250101T120000Z',
    name: 'demo',
    state: 'sustain',
    elapsed: 12.4,
    remaining: 47.6,
    desiredDevices: 25,
    effectiveDevices: 20,
    targetDevices: 20,
    activeDevices: 19,
    generators: [{ id: 'local', activeDevices: 19, cpuPercent: 12.34, networkRxBytesPerSecond: 1_234_567, networkTxBytesPerSecond: 456_789 }],
    lostGenerators: [],
    counters: {
      response_count: { total: 12_345, perSecond: 1_234 },
      conn_count: { total: 20, perSecond: 0 },
      conn_refused_error_count: { total: 3, perSecond: 1 },
    },
    histograms: {
      headers_us: { count: 1234, mean: 512.3, min: 101, median: 450, p90: 800, p99: 1_204, p999: 3_400, max: 15_020 },
      cpu_percent: { count: 1, mean: 12.34, min: 12.34, median: 12.34, p90: 12.34, p99: 12.34, p999: 12.34, max: 12.34 },
    },
    ...overrides,
  };
}
