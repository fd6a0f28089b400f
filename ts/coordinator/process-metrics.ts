/**
 * The coordinator's own process metrics under the names every Prometheus client
 * library uses (`process_cpu_seconds_total`, `process_resident_memory_bytes`, …),
 * so the standard process dashboards work on it too. Read at scrape time.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { counter, gauge, type PrometheusFamily } from './prometheus-series.js';

const START_TIME_SECONDS = (Date.now() - performance.now()) / 1000;

/** Open files now, from /proc (Linux); null elsewhere. */
function openFds(): number | null {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return null;
  }
}

/** The soft open-files limit, from /proc (Linux); null elsewhere or unlimited. */
function maxFds(): number | null {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return line ? Number(line[1]) : null;
  } catch {
    return null;
  }
}

/** Virtual memory size in bytes, from /proc (Linux); null elsewhere. */
function virtualMemoryBytes(): number | null {
  try {
    const pages = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[0]);
    return Number.isFinite(pages) ? pages * 4096 : null;
  } catch {
    return null;
  }
}

export function processFamilies(): PrometheusFamily[] {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  const families = [
    counter('process_cpu_user_seconds_total', 'User CPU time spent in seconds.', [[[], cpu.user / 1e6]]),
    counter('process_cpu_system_seconds_total', 'System CPU time spent in seconds.', [[[], cpu.system / 1e6]]),
    counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', [[[], (cpu.user + cpu.system) / 1e6]]),
    gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', [[[], Math.round(START_TIME_SECONDS)]]),
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', [[[], memory.rss]]),
    gauge('process_heap_bytes', 'Process heap size in bytes.', [[[], memory.heapTotal]]),
    gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', [[[], memory.heapUsed]]),
  ];
  const optional: Array<[string, string, number | null]> = [
    ['process_virtual_memory_bytes', 'Virtual memory size in bytes.', virtualMemoryBytes()],
    ['process_open_fds', 'Number of open file descriptors.', openFds()],
    ['process_max_fds', 'Maximum number of open file descriptors.', maxFds()],
  ];
  for (const [name, help, value] of optional) if (value !== null) families.push(gauge(name, help, [[[], value]]));
  return families;
}
