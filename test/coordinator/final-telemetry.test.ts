/**
 * The end of a run waits for every generator's final telemetry (the push that
 * follows end_run once its devices are stopped), however long it takes within a
 * bound that grows with the devices a generator holds; a generator that misses
 * it is named, live and in summary.json, with what is missing. Generators here
 * are scripted (test/support/scripted-generator.ts): they run no devices, so a
 * test can hold their final telemetry back.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coordinator } from '../../ts/coordinator/coordinator.js';
import { devicesOnBusiestGenerator, FINAL_TELEMETRY_BASE_MS, finalTelemetryBoundMs } from '../../ts/coordinator/final-telemetry.js';
import { planSchedule } from '../../ts/coordinator/ramp.js';
import type { Writer } from '../../ts/coordinator/writer.js';
import { validatePlan } from '../../ts/shared/plan-validation.js';
import { readArchive, total } from '../e2e/run-archive.js';
import { attachScriptedGenerator, type ScriptedEnd } from '../support/scripted-generator.js';

const COOL = { cpuPercent: 20, networkRxBytesPerSecond: 0, networkTxBytesPerSecond: 0 };
const plan = { name: 'finals', blocks: [{ script: "await get('/');" }], addresses: [{ host: '127.0.0.1', port: 80 }], size: 20, rampup: 0, sustain: 1, rampdown: 0 };

async function runWith(t: import('ava').ExecutionContext, ends: Record<string, ScriptedEnd>, extraWriters?: () => Writer[]) {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-finals-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const coordinator = new Coordinator({ dataDir, reportIntervalSeconds: 1, log: () => {}, ...(extraWriters ? { extraWriters } : {}) });
  const notices: string[] = [];
  coordinator.observe({ onNotice: (m) => notices.push(m) });
  const generators = Object.entries(ends).map(([id, end]) => attachScriptedGenerator(coordinator, id, COOL, end));
  t.teardown(() => generators.forEach((g) => g.close()));
  const started = await coordinator.start(plan);
  if (!started.ok) throw new Error(JSON.stringify(started));
  const result = await started.run.done;
  const endedAt = Date.now();
  const archive = await readArchive(result.archivePath!);
  return { result, archive, notices, startedAt: started.run.startedAt, endedAt };
}

test('the bound follows the run size: the base plus a millisecond per device of the busiest generator', async (t) => {
  const checked = await validatePlan({ ...plan, size: 3000, rampup: 10 });
  if (!checked.ok) return t.fail();
  const schedule = planSchedule(checked.plan, ['a', 'b', 'c']);
  t.is(devicesOnBusiestGenerator(schedule), 1000);
  t.is(finalTelemetryBoundMs(1000), FINAL_TELEMETRY_BASE_MS + 1000);
  t.is(finalTelemetryBoundMs(100_000 / 7), FINAL_TELEMETRY_BASE_MS + 100_000 / 7);
});

test('a final telemetry that takes 4 s (beyond what a fixed wait allowed) is waited for and merged into the report', async (t) => {
  const { result, archive, startedAt, endedAt } = await runWith(t, {
    prompt: { finalCounters: { response_count: 5 } },
    slow: { finalDelayMs: 4000, finalCounters: { response_count: 7 } },
  });
  t.is(result.outcome, 'done');
  t.is(result.criticalErrors, 0);
  t.true(endedAt - startedAt >= 1000 + 4000, `the run ended ${endedAt - startedAt} ms after its start`);
  t.is(total(archive, 'response_count'), 12, 'both final pushes are in the last row');
  t.deepEqual(archive.summary.telemetryMissing, []);
});

test('a generator whose final telemetry never comes: the run ends at the bound, names it live and in summary.json with its devices and last push', async (t) => {
  const { result, archive, notices, startedAt, endedAt } = await runWith(t, {
    prompt: { finalCounters: { response_count: 5 } },
    paused: { finalDelayMs: Infinity, finalCounters: { response_count: 7 } },
  });
  const boundMs = finalTelemetryBoundMs(10);
  t.true(endedAt - startedAt >= 1000 + boundMs - 100, `waited the bound: the run ended ${endedAt - startedAt} ms after its start`);
  t.true(endedAt - startedAt < 1000 + boundMs + 5000, `and not much longer: ${endedAt - startedAt} ms`);
  t.is(result.outcome, 'done');
  t.true(result.criticalErrors >= 1, 'an incomplete report is a critical error');
  t.is(total(archive, 'response_count'), 5, 'what came is in the report');
  const [missing, ...more] = archive.summary.telemetryMissing ?? [];
  t.deepEqual(more, []);
  t.like(missing, { generator: 'paused', devices: 10, left: false, waitedSeconds: boundMs / 1000 });
  t.regex(missing!.lastTelemetryAt ?? '', /^\d{4}-\d\d-\d\dT/);
  t.true(
    notices.some(
      (n) => n === `generator paused sent no final telemetry within ${boundMs / 1000} s: what its 10 devices measured after its last push at ${missing!.lastTelemetryAt} is missing from the report`,
    ),
    notices.join('\n'),
  );
});

test('a final telemetry that comes after the bound, while the last row is being written, is refused: results.csv and summary.json agree, and its generator is named', async (t) => {
  const boundMs = finalTelemetryBoundMs(10);
  const runStart = Date.now();
  // A writer that takes 2 s over the last row only (written at the bound, long after the 1 s run's interval rows).
  const slowLastRow = (): Writer => ({
    open: async () => {},
    write: async () => {
      if (Date.now() - runStart > 1000 + boundMs / 2) await new Promise((resolve) => setTimeout(resolve, 2000));
    },
    close: async () => {},
  });
  const { result, archive } = await runWith(
    t,
    {
      prompt: { finalCounters: { response_count: 5 } },
      late: { finalDelayMs: boundMs + 500, finalCounters: { response_count: 7 } },
    },
    () => [slowLastRow()],
  );
  t.is(total(archive, 'response_count'), 5, 'results.csv');
  t.is(archive.summary.counters?.response_count, 5, 'summary.json counts what results.csv counts');
  t.like(archive.summary.telemetryMissing?.[0], { generator: 'late', left: false, waitedSeconds: boundMs / 1000 });
  t.true(result.criticalErrors >= 1);
});
