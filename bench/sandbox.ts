/**
 * Sandbox benchmark: how the mailbox batches host crossings, host-operation
 * throughput per CPU-second, and the memory a waiting device costs.
 * Run with `node --expose-gc dist/bench/sandbox.js` (after `npx tsc -p tsconfig.json`).
 */
import type { MetricSink } from '../ts/generator/metric-sink.js';
import type { HttpResponse } from '../ts/generator/protocols/device-connection.js';
import { ScriptSandbox } from '../ts/generator/sandbox/script-sandbox.js';

const sink: MetricSink = { count() {}, duration() {} };
const response: HttpResponse = { status: 200, headers: [['content-type', 'application/json']], body: Buffer.from('{"ok":true}') };
const fakeHttp = { http: () => Promise.resolve(response) };

async function throughput(label: string, source: string, devices: number, opsPerDevice: number): Promise<void> {
  const sb = await ScriptSandbox.create({ source, params: { n: opsPerDevice }, sink });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: devices }, (_, i) => sb.run(i, fakeHttp)));
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const s = sb.stats;
  sb.dispose();
  console.log(
    `${label}: ${devices} devices × ${opsPerDevice} ops = ${s.operations} ops in ${wall.toFixed(0)} ms wall, ` +
      `${cpuSeconds.toFixed(2)} CPU-s → ${Math.round(s.operations / cpuSeconds)} ops/CPU-s (${((cpuSeconds * 1e6) / s.operations).toFixed(1)} µs CPU/op); ` +
      `${s.turns} turns, ${(s.guestCalls / s.turns).toFixed(2)} host→guest calls/turn, ${(s.operations / s.turns).toFixed(0)} ops/turn, ` +
      `${s.hostCalls} guest→host calls`,
  );
}

async function waitingMemory(devices: number): Promise<void> {
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const sb = await ScriptSandbox.create({ source: 'await delay(3_600_000);', params: {}, sink });
  const guestBefore = sb.guestMemoryBytes();
  for (let i = 0; i < devices; i++) void sb.run(i, {});
  while (sb.stats.operations < devices) await new Promise((resolve) => setTimeout(resolve, 5));
  global.gc?.();
  const guest = sb.guestMemoryBytes() - guestBefore;
  const rss = process.memoryUsage().rss - rssBefore;
  console.log(
    `${devices} devices waiting in delay: QuickJS ${(guest / devices).toFixed(0)} B/device (${(guest / 2 ** 20).toFixed(1)} MiB), ` +
      `process RSS +${(rss / devices).toFixed(0)} B/device (${(rss / 2 ** 20).toFixed(1)} MiB, includes the sandbox itself)`,
  );
  for (let i = 0; i < devices; i++) sb.stop(i);
  sb.dispose();
}

if (global.gc === undefined) console.log('(run with node --expose-gc dist/bench/sandbox.js for a steady RSS figure)');
await throughput('delay(0)', 'for (let i = 0; i < params.n; i++) await delay(0);', 1000, 50);
await throughput('fake http get', 'for (let i = 0; i < params.n; i++) await get("/");', 1000, 50);
await throughput('fake http get + timing', 'for (let i = 0; i < params.n; i++) { startTiming("r"); await get("/"); stopTiming("r"); incCounter("n"); }', 1000, 50);
await waitingMemory(10_000);
