/**
 * The generator's own load, sampled once a second: CPU of the whole machine (a
 * generator shares its host with nothing it should ignore) and bytes through the
 * network interfaces that carry the load, from /proc on Linux. Those are every
 * interface but loopback, and loopback too while a run has a target on it (so a
 * test against 127.0.0.1 is not reported as idle, nor loopback's copies of real
 * traffic counted twice otherwise); STRESSGRID_NETWORK_INTERFACE names one
 * instead. Where /sys/class/net/<name>/speed gives the link speed, the sample
 * also carries it, so the load shows as a share of the link. Elsewhere it falls
 * back to this process's CPU time and reports no network bytes.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { SETTINGS } from '../shared/settings.js';

/** Environment variable naming the one interface to count (default: all of them). */
export const NETWORK_INTERFACE_ENV = SETTINGS.networkInterface.env;

export interface Utilisation {
  /** 0..100, over all cores, since the previous sample. */
  cpuPercent: number;
  networkRxBytes: number;
  networkTxBytes: number;
  /** The interfaces counted in the bytes. */
  networkInterfaces: string[];
  /** Sum of the counted interfaces' link speeds, in bits per second; null when none is known (loopback, virtual links). */
  networkLinkBitsPerSecond: number | null;
}

/** The loopback interface (Linux names it so). */
export const LOOPBACK_INTERFACE = 'lo';

/** Whether an address is this machine's own (127.0.0.0/8, ::1). */
export function isLoopbackAddress(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return ip === '::1' || ip === '0:0:0:0:0:0:0:1' || ip.startsWith('::ffff:127.');
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

/** Received and sent bytes summed over the interfaces `counted` picks (default: all). */
export function parseNetDev(text: string, counted: (name: string) => boolean = () => true): { rx: number; tx: number; names: string[] } {
  let rx = 0;
  let tx = 0;
  const names: string[] = [];
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (!counted(name)) continue;
    names.push(name);
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    rx += f[0] || 0;
    tx += f[8] || 0;
  }
  return { rx, tx, names };
}

/** An interface's link speed in bits per second from /sys/class/net (Mb/s there), or null when it has none. */
export function linkBitsPerSecond(name: string, read: (path: string) => string | null = readProc): number | null {
  if (!/^[\w.:@-]+$/.test(name)) return null;
  const megabits = Number((read(`/sys/class/net/${name}/speed`) ?? '').trim());
  return Number.isFinite(megabits) && megabits > 0 ? megabits * 1e6 : null;
}

export class UtilisationSampler {
  private cpu: CpuTimes | null;
  private processCpu = process.cpuUsage();
  private processAt = performance.now();
  private net: { rx: number; tx: number; names: string[] } | null;
  private readonly iface: string | undefined;
  private loopback = false;
  private lastCpuPercent = 0;
  private speeds = new Map<string, number | null>();

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.iface = env[NETWORK_INTERFACE_ENV] || undefined;
    this.cpu = this.readCpu();
    this.net = this.readNet();
  }

  /** Counts loopback too while the run has a target on it (or not, when it has none). */
  countLoopback(on: boolean): void {
    if (on === this.loopback) return;
    this.loopback = on;
    this.net = this.readNet();
  }

  private counted = (name: string): boolean => (this.iface ? name === this.iface : this.loopback || name !== LOOPBACK_INTERFACE);

  private linkSpeed(names: readonly string[]): number | null {
    let total = 0;
    for (const name of names) {
      if (!this.speeds.has(name)) this.speeds.set(name, linkBitsPerSecond(name));
      total += this.speeds.get(name) ?? 0;
    }
    return total > 0 ? total : null;
  }

  private readCpu(): CpuTimes | null {
    const text = readProc('/proc/stat');
    return text ? parseProcStat(text) : null;
  }

  private readNet(): { rx: number; tx: number; names: string[] } | null {
    const text = readProc('/proc/net/dev');
    return text ? parseNetDev(text, this.counted) : null;
  }

  /** Utilisation since the previous sample. */
  sample(): Utilisation {
    const net = this.readNet();
    const rx = net && this.net ? Math.max(0, net.rx - this.net.rx) : 0;
    const tx = net && this.net ? Math.max(0, net.tx - this.net.tx) : 0;
    this.net = net;
    const names = net?.names ?? [];
    const network = { networkRxBytes: rx, networkTxBytes: tx, networkInterfaces: names, networkLinkBitsPerSecond: this.linkSpeed(names) };
    // /proc/stat counts in 10 ms ticks: over a few ms (the push that ends a run) the
    // ratio is noise, so a sample that short repeats the previous figure.
    if (performance.now() - this.processAt < MIN_CPU_SAMPLE_MS) {
      return { cpuPercent: this.lastCpuPercent, ...network };
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
    return { cpuPercent: this.lastCpuPercent, ...network };
  }
}
