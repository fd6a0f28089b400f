/**
 * The generator's own load, sampled once a second: CPU of the whole machine (a
 * generator shares its host with nothing it should ignore) and bytes through its
 * network interfaces, from /proc on Linux. Elsewhere it falls back to this
 * process's CPU time and reports no network bytes.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { SETTINGS } from '../shared/settings.js';

/** Environment variable naming the one interface to count (default: all of them). */
export const NETWORK_INTERFACE_ENV = SETTINGS.networkInterface.env;

export interface Utilisation {
  /** 0..100, over all cores, since the previous sample. */
  cpuPercent: number;
  networkRxBytes: number;
  networkTxBytes: number;
}

const MIN_CPU_SAMPLE_MS = 250;

interface CpuTimes {
  busy: number;
  total: number;
}

function readProc(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Machine CPU jiffies from /proc/stat's first line. */
export function parseProcStat(text: string): CpuTimes | null {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  return { busy: total - idle, total };
}

/** Received and sent bytes summed over interfaces (or the one named). */
export function parseNetDev(text: string, only?: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (only && name !== only) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/).map(Number);
    rx += f[0] || 0;
    tx += f[8] || 0;
  }
  return { rx, tx };
}

export class UtilisationSampler {
  private cpu: CpuTimes | null;
  private processCpu = process.cpuUsage();
  private processAt = performance.now();
  private net: { rx: number; tx: number } | null;
  private readonly iface: string | undefined;
  private lastCpuPercent = 0;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.iface = env[NETWORK_INTERFACE_ENV] || undefined;
    this.cpu = this.readCpu();
    this.net = this.readNet();
  }

  private readCpu(): CpuTimes | null {
    const text = readProc('/proc/stat');
    return text ? parseProcStat(text) : null;
  }

  private readNet(): { rx: number; tx: number } | null {
    const text = readProc('/proc/net/dev');
    return text ? parseNetDev(text, this.iface) : null;
  }

  /** Utilisation since the previous sample. */
  sample(): Utilisation {
    const net = this.readNet();
    const rx = net && this.net ? Math.max(0, net.rx - this.net.rx) : 0;
    const tx = net && this.net ? Math.max(0, net.tx - this.net.tx) : 0;
    this.net = net;
    // /proc/stat counts in 10 ms ticks: over a few ms (the push that ends a run) the
    // ratio is noise, so a sample that short repeats the previous figure.
    if (performance.now() - this.processAt < MIN_CPU_SAMPLE_MS) {
      return { cpuPercent: this.lastCpuPercent, networkRxBytes: rx, networkTxBytes: tx };
    }
    let cpuPercent: number;
    const cpu = this.readCpu();
    if (cpu && this.cpu && cpu.total > this.cpu.total) {
      cpuPercent = (100 * (cpu.busy - this.cpu.busy)) / (cpu.total - this.cpu.total);
    } else {
      const used = process.cpuUsage(this.processCpu);
      const elapsedUs = (performance.now() - this.processAt) * 1000;
      cpuPercent = elapsedUs > 0 ? (100 * (used.user + used.system)) / (elapsedUs * availableParallelism()) : 0;
    }
    this.cpu = cpu;
    this.processCpu = process.cpuUsage();
    this.processAt = performance.now();
    this.lastCpuPercent = Math.min(100, Math.max(0, cpuPercent));
    return { cpuPercent: this.lastCpuPercent, networkRxBytes: rx, networkTxBytes: tx };
  }
}
