import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { Histogram } from '../../ts/hdr/index.js';
import { Aggregator } from '../../ts/coordinator/aggregator.js';
import { writeArchive } from '../../ts/coordinator/archive.js';
import { CsvWriter } from '../../ts/coordinator/csv-writer.js';
import { HlogWriter } from '../../ts/coordinator/hlog-writer.js';
import { REPORT_ERROR, ReportStore } from '../../ts/coordinator/report-store.js';
import { isValidRunId, newRunId, runIdTime } from '../../ts/coordinator/run-id.js';
import { buildSummary, type RunSummary } from '../../ts/coordinator/run-summary.js';
import { fanOut } from '../../ts/coordinator/writer.js';
import type { Telemetry } from '../../ts/shared/protocol.js';
import { testPlan } from './fixtures.js';
import { tempDir } from '../support/temp-dir.js';
import { csvRecords } from '../support/results-csv.js';

const run = promisify(execFile);
const T0 = Date.UTC(2026, 2, 14, 9, 26, 53);

const plan = testPlan({ name: 'Checkout flow', size: 25, sustain: 150 });

function telemetry(generatorId: string, second: number, runId: string): Telemetry {
  const h = new Histogram();
  h.recordMany([1000 + second, 2000, 3000]);
  return {
    type: 'telemetry',
    generatorId,
    runId,
    seq: second,
    at: T0 + second * 1000,
    intervalMs: 1000,
    activeDevices: 10,
    cpuPercent: 30 + (second % 7),
    networkRxBytes: 2048,
    networkTxBytes: 1024,
    counters: { response_count: 5, ...(second === 100 ? { timeout_error_count: 2 } : {}) },
    histograms: { headers_us: h.encode() },
  };
}

test('run ids are slugged, stamped, random, and strictly checked', (t) => {
  const id = newRunId('Checkout flow: EU / v2!', new Date(T0));
  t.regex(id, /^checkout-flow-eu-v2-20260314T092653Z-[0-9a-f]{4}$/);
  t.true(isValidRunId(id));
  t.is(runIdTime(id)!.getTime(), T0);
  t.regex(newRunId('???', new Date(T0)), /^run-20260314T092653Z-[0-9a-f]{4}$/);
  t.regex(newRunId('x'.repeat(100), new Date(T0)), /^x{40}-/);
  t.true(isValidRunId(newRunId('x'.repeat(100))));
  const ids = new Set(Array.from({ length: 50 }, () => newRunId('a', new Date(T0))));
  t.true(ids.size > 40, 'the random part tells runs of one second apart');
  for (const bad of ['../etc/passwd', 'a/../../b-20260314T092653Z-abcd', 'a-20260314T092653Z-abcd/..', 'A-20260314T092653Z-abcd', 'a-20260314T092653Z-abcd.tar.gz', '', 'a-2026-abcd', 7, null]) {
    t.false(isValidRunId(bad), String(bad));
  }
});

test('a whole run: aggregator → writers → archive that tar extracts, CSV with the partial last interval', async (t) => {
  const dataDir = await tempDir(t);
  const store = new ReportStore(join(dataDir, 'data'));
  const runId = newRunId(plan.name, new Date(T0));
  const dir = await store.startRun(runId, plan);
  t.is(dir, join(dataDir, 'data', runId));

  const aggregator = new Aggregator({ runId, startedAt: T0 });
  const errors: unknown[] = [];
  const writers = fanOut([new CsvWriter(), new HlogWriter()], (_, e) => errors.push(e));
  await writers.open({ runId, plan, startedAt: T0, dir });
  // 150 s with a 60 s report interval: two full intervals and a 30 s partial one.
  for (let second = 1; second <= 150; second++) {
    aggregator.ingest(telemetry('g1', second, runId), T0 + second * 1000);
    aggregator.ingest(telemetry('g2', second, runId), T0 + second * 1000);
    if (second % 60 === 0) {
      const { row, histograms } = aggregator.closeInterval(T0 + second * 1000);
      await writers.write(row, histograms);
    }
  }
  const last = aggregator.closeInterval(T0 + 150_000);
  await writers.write(last.row, last.histograms);
  await writers.close();
  t.deepEqual(errors, []);

  const summary = buildSummary({
    runId,
    plan,
    startedAt: T0,
    endedAt: T0 + 150_000,
    effectiveDevices: 20,
    generatorCount: 2,
    totals: aggregator.totals(),
    aborted: false,
  });
  const archive = await store.finishRun(runId, { files: writers.files(), summary });
  t.is(archive, join(dataDir, 'data', `${runId}.tar.gz`));
  t.deepEqual((await readdir(join(dataDir, 'data'))).sort(), [`${runId}.tar.gz`], 'the run folder is gone, no temp file is left');

  const listing = (await run('tar', ['-tzf', archive])).stdout.trim().split('\n').sort();
  t.deepEqual(listing, ['histograms.hlog', 'plan.json', 'results.csv', 'summary.json']);
  const out = join(dataDir, 'out');
  await mkdir(out);
  await run('tar', ['-xzf', archive, '-C', out]);

  t.deepEqual(JSON.parse(await readFile(join(out, 'plan.json'), 'utf8')), plan);
  const parsedSummary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as RunSummary;
  t.like(parsedSummary, {
    name: 'Checkout flow',
    runId,
    startedAt: '2026-03-14T09:26:53.000Z',
    endedAt: '2026-03-14T09:29:23.000Z',
    desiredDevices: 25,
    effectiveDevices: 20,
    generatorCount: 2,
    maxCpuPercent: 36,
    errors: { timeout_error_count: 4 },
    errorTotal: 4,
    aborted: false,
  });

  const [header, ...rows] = csvRecords(await readFile(join(out, 'results.csv'), 'utf8'));
  t.is(header![0], 'elapsed');
  t.is(header![1], 'time');
  for (const column of [
    'active_device_number',
    'generator_count',
    'cpu_percent_max',
    'network_rx_bytes_per_second',
    'response_count',
    'response_per_second',
    'timeout_error_count',
    'headers_us_p99',
    'headers_us_stddev',
  ]) {
    t.true(header!.includes(column), column);
  }
  const cell = (r: string[], column: string) => Number(r[header!.indexOf(column)]);
  t.deepEqual(
    rows.map((r) => cell(r, 'elapsed')),
    [60, 120, 150],
  );
  t.deepEqual(
    rows.map((r) => cell(r, 'response_count')),
    [600, 1200, 1500],
  );
  t.deepEqual(
    rows.map((r) => cell(r, 'response_per_second')),
    [10, 10, 10],
    'the partial interval rates over its 30 s',
  );
  t.deepEqual(
    rows.map((r) => cell(r, 'active_device_number')),
    [20, 20, 20],
  );
  t.deepEqual(
    rows.map((r) => cell(r, 'network_rx_bytes_per_second')),
    [4096, 4096, 4096],
  );
  t.deepEqual(
    rows.map((r) => r[header!.indexOf('timeout_error_count')]),
    ['', '4', '4'],
  );
  t.is(rows[2]![1], '2026-03-14T09:29:23.000Z');

  const hlog = await readFile(join(out, 'histograms.hlog'), 'utf8');
  t.is(hlog.split('\n').filter((l) => l.startsWith('Tag=headers_us,')).length, 3);
  t.true(hlog.includes('Tag=headers_us,120.000,30.000,'));
});

test('reports survive a new store on the same folder; list, path and delete', async (t) => {
  const dataDir = await tempDir(t);
  const first = new ReportStore(dataDir);
  const older = newRunId('alpha', new Date(T0));
  const newer = newRunId('beta', new Date(T0 + 3_600_000));
  for (const runId of [older, newer]) {
    const dir = await first.startRun(runId, plan);
    await writeFile(join(dir, 'results.csv'), 'elapsed,time\n');
    await first.finishRun(runId, {
      files: [join(dir, 'results.csv')],
      summary: buildSummary({
        runId,
        plan,
        startedAt: T0,
        endedAt: T0,
        effectiveDevices: 0,
        generatorCount: 0,
        totals: { counters: {}, maxCpuPercent: null, maxGeneratorCount: 0 },
        aborted: true,
        reason: 'stopped by the user',
      }),
    });
  }
  await writeFile(join(dataDir, 'notes.txt'), 'not a report');
  await writeFile(join(dataDir, `${newRunId('gamma')}.tar.gz.partial`), 'half');

  const restarted = new ReportStore(dataDir);
  const reports = await restarted.list();
  t.deepEqual(
    reports.map((r) => r.runId),
    [newer, older],
  );
  t.is(reports[0]!.fileName, `${newer}.tar.gz`);
  t.is(reports[1]!.startedAt, new Date(T0).toISOString());
  t.true(reports.every((r) => r.bytes > 0));
  t.is(await restarted.path(older), join(dataDir, `${older}.tar.gz`));
  t.is(await restarted.path(newRunId('never')), null);

  t.true(await restarted.delete(older));
  t.false(await restarted.delete(older));
  t.deepEqual(
    (await restarted.list()).map((r) => r.runId),
    [newer],
  );
  t.is(await restarted.path(older), null);
});

test('run ids from outside cannot reach out of the data directory', async (t) => {
  const dataDir = await tempDir(t);
  const store = new ReportStore(join(dataDir, 'data'));
  await writeFile(join(dataDir, 'secret-20260314T092653Z-abcd.tar.gz'), 'secret');
  for (const bad of ['../secret-20260314T092653Z-abcd', '..', '', 'x/../../etc']) {
    await t.throwsAsync(store.path(bad), { code: REPORT_ERROR.invalidRunId }, bad);
    await t.throwsAsync(store.delete(bad), { code: REPORT_ERROR.invalidRunId }, bad);
  }
  t.throws(() => store.runDir('../../tmp'), { code: REPORT_ERROR.invalidRunId });
  t.is(await readFile(join(dataDir, 'secret-20260314T092653Z-abcd.tar.gz'), 'utf8'), 'secret');
  t.deepEqual(await store.list(), [], 'a missing data directory lists nothing');
});

test('starting the same run twice is refused', async (t) => {
  const store = new ReportStore(await tempDir(t));
  const runId = newRunId('twice');
  await store.startRun(runId, plan);
  await t.throwsAsync(store.startRun(runId, plan), { code: REPORT_ERROR.runExists });
});

test('an archive that cannot be written leaves no partial file and no archive', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'r.tar.gz');
  await t.throwsAsync(writeArchive(target, dir, ['missing.csv']));
  t.deepEqual(await readdir(dir), []);
  await t.throwsAsync(writeArchive(target, join(dir, 'a'), ['../escape']), { message: /is not inside/ });
});
