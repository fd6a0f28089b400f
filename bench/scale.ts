/**
 * Counting every response at scale on one machine, run the way the README's
 * "100,000 devices on one machine" says: nginx with N workers on one port of
 * 127.0.0.1 .. 127.0.0.N, the stressgrid-coordinator program, N
 * stressgrid-generator programs (a process's open files are capped, so devices
 * are spread over processes), and `sgcli run ... --coordinator`. Each device:
 *
 *   for (;;) { await get('/'); await delay(THINK, 0.5); }
 *
 * Prints the peak of active devices sgcli showed, the report's response count
 * against nginx's access log (the peer: what the target says it served; the ratio
 * must be 1 exactly), and the generators' CPU time and peak RSS per device.
 * Exits 1 when the counts differ or not every device was active at the peak.
 *
 *   npm run bench:scale -- [--devices 10000] [--generators 4] [--think-ms 10000]
 *     [--rampup 30] [--sustain 30] [--rampdown 10] [--workers 1]
 *
 * The issue's target: --devices 100030 --generators 7 --think-ms 10000 --rampup 90
 * --sustain 60 --rampdown 10.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { runAtScale } from '../test/support/scale-run.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string', default: '10000' },
    generators: { type: 'string', default: '4' },
    'think-ms': { type: 'string', default: '10000' },
    rampup: { type: 'string', default: '30' },
    sustain: { type: 'string', default: '30' },
    rampdown: { type: 'string', default: '10' },
    workers: { type: 'string', default: '1' },
  },
});
const number = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`bench:scale: --${name} must be a number, got ${values[name]}`);
    process.exit(2);
  }
  return n;
};

const options = {
  devices: number('devices'),
  generators: number('generators'),
  thinkMs: number('think-ms'),
  rampup: number('rampup'),
  sustain: number('sustain'),
  rampdown: number('rampdown'),
  workersPerGenerator: number('workers'),
};
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const t0 = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}`);
log(`bench:scale ${JSON.stringify(options)}; load average before: ${load()}`);

const result = await runAtScale({ ...options, name: 'bench-scale', log });
const rss = result.generators.reduce((sum, g) => sum + g.peakRssBytes, 0);
const cpu = result.generators.reduce((sum, g) => sum + g.cpuSeconds, 0);
const devices = result.effectiveDevices;
const f = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

console.log('');
console.log(`load average after: ${load()}`);
console.log(`sgcli exit code:              ${result.exitCode}`);
console.log(`run wall time:                ${f(result.wallSeconds, 1)} s`);
console.log(`devices effective:            ${f(devices)}`);
console.log(`peak active devices:          ${f(result.peakActive)}  (${f((result.peakActive / Math.max(1, devices)) * 100, 2)} % of effective)`);
console.log(`responses in results.csv:     ${f(result.csvResponses)}`);
console.log(`responses in nginx's log:     ${f(result.nginxResponses)}`);
console.log(`csv / nginx:                  ${(result.csvResponses / Math.max(1, result.nginxResponses)).toFixed(6)}  (difference ${f(result.nginxResponses - result.csvResponses)})`);
console.log(`generator CPU:                ${f(cpu, 1)} s in all, ${f((cpu * 1e6) / Math.max(1, result.csvResponses), 1)} µs per response`);
console.log(`generator peak RSS:           ${f(rss / 2 ** 20)} MiB in all, ${f(rss / 1024 / Math.max(1, devices), 1)} KiB per device`);
console.log(`nginx CPU:                    ${f(result.nginxCpuSeconds, 1)} s (${f((result.nginxCpuSeconds * 1e6) / Math.max(1, result.nginxResponses), 1)} µs per response)`);
for (const g of result.generators) {
  console.log(`  ${g.id}: CPU ${f(g.cpuSeconds, 1)} s, peak RSS ${f(g.peakRssBytes / 2 ** 20)} MiB`);
}
const s = result.archive.summary;
console.log(
  `summary: busyGenerators ${JSON.stringify(s.busyGenerators)}, telemetryMissing ${JSON.stringify(s.telemetryMissing)}, maxCpuPercent ${s.maxCpuPercent}, errors ${JSON.stringify(s.errors)}`,
);
const ok = result.csvResponses === result.nginxResponses && result.peakActive === devices && result.exitCode === 0;
console.log(ok ? 'OK: every device active at the peak, every response nginx logged is in the report' : 'NOT OK');
process.exit(ok ? 0 : 1);
