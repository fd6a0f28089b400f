/**
 * Runs in a process pinned to one CPU (test/sandbox/cpu-limit.test.ts): measures
 * how much guest work takes `workMs` of this thread's CPU, then starts spinners
 * that inherit the pinning and share the CPU, and runs that work again beside
 * them, then a runaway loop. Prints one JSON line: each run's outcome, wall time
 * and this thread's CPU time.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ScriptSandbox } from '../../ts/generator/sandbox/script-sandbox.js';
import { RecordingSink } from '../support/recording-sink.js';

const [cpuMs, workMs, spinners] = process.argv.slice(2).map(Number) as [number, number, number];
// @types/node (^20) does not declare it yet; the Node lines we run on have it.
const threadCpuUsage = (process as unknown as { threadCpuUsage: () => NodeJS.CpuUsage }).threadCpuUsage.bind(process);
const threadMs = (): number => {
  const { user, system } = threadCpuUsage();
  return (user + system) / 1000;
};

async function timed(n: number): Promise<{ code: string; wallMs: number; cpuMs: number }> {
  const sb = await ScriptSandbox.create({
    source: `if (params.n < 0) for (;;) {} let x = 0; for (let i = 0; i < params.n; i++) x = (x * 31 + i) | 0; incCounter('done');`,
    params: { n },
    sink: new RecordingSink(),
    limits: { cpuMsPerTurn: cpuMs },
  });
  const wall = performance.now();
  const cpu = threadMs();
  let code = 'ok';
  await sb.run(1, {}).catch((e: { code?: string }) => (code = e.code ?? 'error'));
  const result = { code, wallMs: performance.now() - wall, cpuMs: threadMs() - cpu };
  sb.dispose();
  return result;
}

// Calibrate alone on the CPU: the loop's cost per iteration.
const probe = 500_000;
const alone = await timed(probe);
if (alone.code !== 'ok') throw new Error(`the probe itself was cut off: ${JSON.stringify(alone)}`);
const n = Math.round((probe * workMs) / alone.cpuMs);
// Once more from a run of about the right length (the engine is faster once warm).
const first = await timed(n);
const calibrated = await timed(Math.round((n * workMs) / first.cpuMs));
const work = Math.round((n * workMs) / first.cpuMs);
const spinning = Array.from({ length: spinners }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
// Until every spinner has run a while: on a busy machine a new process may take seconds to start spinning.
const spun = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
for (let waited = 0; waited < 20_000 && !spinning.every((child) => spun(child.pid!) >= 10); waited += 50) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const shared = await timed(work);
const runaway = await timed(-1);
for (const child of spinning) child.kill('SIGKILL');
console.log(JSON.stringify({ calibrated, shared, runaway }));
