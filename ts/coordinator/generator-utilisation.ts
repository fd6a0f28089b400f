/**
 * Each connected generator's last reported utilisation, for GET /api/generators.
 * Generators report every second whether or not a run is active, so this is
 * current between runs too.
 */
import type { GeneratorRegistry } from './generator-registry.js';
import type { GeneratorInfo, GeneratorUtilisation } from './api-messages.js';
import { networkPercent } from '../shared/live.js';

export class GeneratorUtilisationTracker {
  private readonly last = new Map<string, GeneratorUtilisation>();
  readonly stop: () => void;

  constructor(private readonly registry: GeneratorRegistry) {
    this.stop = registry.listen({
      telemetry: (g, t) => {
        const perSecond = (bytes: number): number => (t.intervalMs > 0 ? (bytes * 1000) / t.intervalMs : 0);
        const rx = perSecond(t.networkRxBytes);
        const tx = perSecond(t.networkTxBytes);
        this.last.set(g.id, {
          at: new Date(t.at).toISOString(),
          activeDevices: t.activeDevices,
          cpuPercent: t.cpuPercent,
          networkRxBytesPerSecond: rx,
          networkTxBytesPerSecond: tx,
          networkInterfaces: t.networkInterfaces ?? [],
          networkPercent: networkPercent(rx, tx, t.networkLinkBitsPerSecond),
        });
      },
      left: (g) => {
        // A replaced link leaves while the same id stays connected through the new one.
        if (!this.registry.list().some((c) => c.id === g.id)) this.last.delete(g.id);
      },
    });
  }

  list(): GeneratorInfo[] {
    return this.registry
      .list()
      .map((g) => ({ id: g.id, workers: g.workers, connectedAt: new Date(g.connectedAt).toISOString(), utilisation: this.last.get(g.id) ?? null }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}
