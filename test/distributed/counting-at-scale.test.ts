/**
 * Counting under saturation, with the real programs the way a user runs them at
 * scale (test/support/scale-run.ts: nginx on several loopback addresses, the
 * stressgrid-coordinator program, several stressgrid-generator processes, sgcli
 * with --coordinator): thousands of devices with a short think time keep the
 * machine's CPU at its limit, and still every response nginx logged is in the
 * report; a generator paused past the end is named with what is missing; and the
 * ramp-down keeps its schedule. Each test is well under a minute.
 *
 * Needs Linux and the Debian package nginx.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSchedule, type Schedule } from '../../ts/coordinator/ramp.js';
import { BUSY_CPU_PERCENT } from '../../ts/shared/busy-generator.js';
import { validatePlan } from '../../ts/shared/plan-validation.js';
import { DEVICES_PER_GENERATOR_STEP } from '../../ts/shared/plan.js';
import type { Telemetry } from '../../ts/shared/protocol.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { readArchive, total } from '../e2e/run-archive.js';
import { startGeneratorProcess } from '../support/generator-process.js';
import { startLoopbackNginx } from '../support/loopback-nginx.js';
import { killAllPrograms } from '../support/program-process.js';
import { runAtScale } from '../support/scale-run.js';
import { startCluster } from './cluster.js';
import { until } from '../support/until.js';

test.after.always(() => killAllPrograms());

test.serial('a saturating run on three generator processes: every device active at the peak, the CSV counts exactly what nginx logged, the busy generators are flagged', async (t) => {
  const result = await runAtScale({ devices: 2400, generators: 3, thinkMs: 10, rampup: 3, sustain: 5, rampdown: 3, reportIntervalSeconds: 5 });
  t.is(result.exitCode, EXIT.ok, result.sgcliStderr.slice(-3000));
  t.is(result.effectiveDevices, 2400);
  t.is(result.peakActive, 2400, 'every device was active at the peak');
  t.true(result.nginxResponses > 2400, `nginx answered ${result.nginxResponses} requests`);
  t.is(result.csvResponses, result.nginxResponses, 'results.csv counts every response nginx logged, no more');
  const summary = result.archive.summary;
  t.deepEqual(summary.telemetryMissing, []);
  t.true((summary.maxCpuPercent ?? 0) > BUSY_CPU_PERCENT, `the CPU was at its limit: max ${summary.maxCpuPercent} %`);
  t.true((summary.busyGenerators ?? []).length > 0, 'a saturated generator is flagged busy in summary.json');
  for (const busy of summary.busyGenerators ?? []) t.true(busy.percentOfRun > 10, JSON.stringify(busy));
  t.regex(result.sgcliStderr, /busy=gen-\d/, 'and in the live lines');
  t.regex(result.sgcliStderr, /sgcli: generator CPU above 90 % for more than 10 % of the run: gen-\d \(\d+ % of the run\)/, "and in sgcli's last lines");
});

test.serial('a generator paused with SIGSTOP past the end: the run ends at the bound, summary.json names it with its devices and last push, sgcli says so and exits 1', async (t) => {
  const result = await runAtScale({
    devices: 200,
    generators: 2,
    thinkMs: 50,
    rampup: 1,
    sustain: 5,
    rampdown: 0,
    reportIntervalSeconds: 2,
    during: async ({ generators, sgcliStderr }) => {
      // Half a second before the end, so it sends its last pushes with its devices running, then nothing.
      await until(
        () => /t=5 .*state=sustain/.test(sgcliStderr()) || / state=done /.test(sgcliStderr()),
        30_000,
        () => 'the run near its end',
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      generators[1]!.kill('SIGSTOP');
    },
  });
  t.is(result.exitCode, EXIT.criticalErrors, result.sgcliStderr.slice(-3000));
  const missing = result.archive.summary.telemetryMissing ?? [];
  t.is(missing.length, 1, JSON.stringify(missing));
  t.like(missing[0], { generator: 'gen-2', devices: 100 });
  t.regex(missing[0]!.lastTelemetryAt ?? '', /^\d{4}-\d\d-\d\dT/);
  t.regex(result.sgcliStderr, /notice: generator gen-2 (sent no final telemetry within [\d.]+ s|left the run): what its 100 devices measured after its last push at \S+ is missing from the report/);
  t.true(result.csvResponses < result.nginxResponses, `the report lacks what the paused generator's devices did: ${result.csvResponses} of ${result.nginxResponses}`);
});

/** Devices the schedule gives `generatorId` at `elapsed` seconds. */
function targetOf(schedule: Schedule, generatorId: string, elapsed: number): number {
  let devices = 0;
  for (const action of schedule.actions) {
    if (action.at > elapsed || action.kind === 'end') break;
    if (action.generatorId !== generatorId) continue;
    devices += action.kind === 'start' ? DEVICES_PER_GENERATOR_STEP : -DEVICES_PER_GENERATOR_STEP;
  }
  return devices;
}

test.serial('ramp-down under saturation: at every push of the ramp-down, each generator has its target within one step', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-rampdown-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const nginx = await startLoopbackNginx({ workers: 2, addresses: 2 });
  t.teardown(() => nginx.stop());
  const c = await startCluster({ dataDir });
  t.teardown(() => c.close());
  const processes = ['gen-1', 'gen-2'].map((id) => startGeneratorProcess({ url: c.url, id }));
  await c.waitForGenerators(processes.map((p) => p.id));
  const pushes: Telemetry[] = [];
  c.coordinator.registry.listen({ telemetry: (_g, telemetry) => pushes.push(telemetry) });

  // 10 steps of 20 devices; the ramp-down removes one a second. Each device asks again 1 ms after an answer: the CPU is at its limit.
  const plan = {
    name: 'rampdown',
    blocks: [{ script: "for (;;) { await get('/'); await delay(1); }" }],
    addresses: nginx.hosts.map((host) => ({ host, port: nginx.port })),
    size: 200,
    rampup: 2,
    sustain: 2,
    rampdown: 10,
  };
  const checked = await validatePlan(plan);
  if (!checked.ok) return t.fail(JSON.stringify(checked.problems));
  const schedule = planSchedule(
    checked.plan,
    c.coordinator.registry.list().map((g) => g.id),
  );
  const started = await c.coordinator.start(plan);
  if (!started.ok) return t.fail(JSON.stringify(started));
  const result = await started.run.done;
  t.is(result.outcome, 'done', result.reason);
  t.is(result.criticalErrors, 0, c.notices.join('\n'));

  const begin = plan.rampup + plan.sustain;
  const ramp = pushes
    .filter((p) => p.runId === started.run.runId && !p.final)
    .map((p) => ({ id: p.generatorId, elapsed: (p.at - started.run.startedAt) / 1000, active: p.activeDevices }))
    .filter((p) => p.elapsed >= begin && p.elapsed < begin + plan.rampdown);
  t.true(ramp.length >= 2 * (plan.rampdown - 2), `a push a second from each generator: ${ramp.length}`);
  const off = ramp.map((p) => ({ ...p, target: targetOf(schedule, p.id, p.elapsed) })).filter((p) => Math.abs(p.active - p.target) > DEVICES_PER_GENERATOR_STEP);
  t.deepEqual(off, [], 'no push more than one step (10 devices per generator) from its target');
  const busiest = Math.max(...pushes.map((p) => p.cpuPercent));
  t.log(`the busiest push: ${busiest.toFixed(1)} % CPU`);
  t.true(busiest > BUSY_CPU_PERCENT, `the machine was saturated (the busiest push: ${busiest.toFixed(1)} % CPU)`);
  const served = await nginx.settledAccessLogCount(500);
  t.is(total(await readArchive(result.archivePath!), 'response_count'), served, 'and every response is counted');
});
