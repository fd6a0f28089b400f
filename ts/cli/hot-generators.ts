/**
 * Remembers, over a run's live snapshots, each generator's highest CPU and
 * network share, so sgcli can end a run by naming the generators that ran above
 * 80 % (as the website marks them): their numbers may show the generator's
 * limit rather than the target's.
 */
import { HOT_PERCENT, hotReasons, type LiveSnapshot } from '../shared/live.js';

export class HotGenerators {
  private readonly peaks = new Map<string, { cpuPercent: number; networkPercent: number | null }>();

  see(snapshot: LiveSnapshot): void {
    for (const g of snapshot.generators) {
      const peak = this.peaks.get(g.id) ?? { cpuPercent: 0, networkPercent: null };
      peak.cpuPercent = Math.max(peak.cpuPercent, g.cpuPercent);
      if (g.networkPercent !== undefined && g.networkPercent !== null) peak.networkPercent = Math.max(peak.networkPercent ?? 0, g.networkPercent);
      this.peaks.set(g.id, peak);
    }
  }

  /** One line per generator that went above HOT_PERCENT, with its peaks. */
  lines(): string[] {
    const lines: string[] = [];
    for (const [id, peak] of this.peaks) {
      const reasons = hotReasons(peak);
      if (reasons.length === 0) continue;
      lines.push(`generator ${id} ran above ${HOT_PERCENT}% (peak ${reasons.join(', ')}): it may have limited the load; add generators or give each fewer devices`);
    }
    return lines;
  }
}
