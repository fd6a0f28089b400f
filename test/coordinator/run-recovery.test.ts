import { execFile } from 'node:child_process';
import { appendFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import hdr from 'hdr-histogram-js';
import { Histogram } from '../../ts/hdr/index.js';
import { CsvWriter, RESULTS_CSV } from '../../ts/coordinator/csv-writer.js';
import { HlogWriter } from '../../ts/coordinator/hlog-writer.js';
import { ReportStore } from '../../ts/coordinator/report-store.js';
import { newRunId } from '../../ts/coordinator/run-id.js';
import { recoverInterruptedRuns } from '../../ts/coordinator/run-recovery.js';
import type { RunSummary } from '../../ts/coordinator/run-summary.js';
import { fanOut } from '../../ts/coordinator/writer.js';
import { testPlan } from './fixtures.js';
import { tempDir } from '../support/temp-dir.js';
import { csvRecords } from '../support/results-csv.js';

const run = promisify(execFile);
const T0 = Date.UTC(2026, 4, 1, 8);

test('a run the coordinator died during becomes an aborted archive with every interval written so far', async (t) => {
  const dataDir = await tempDir(t);
  const plan = testPlan({ name: 'crashed', size: 100, sustain: 600 });
  const runId = newRunId(plan.name, new Date(T0));
  const store = new ReportStore(dataDir);
  const dir = await store.startRun(runId, plan);
  const writers = fanOut([new CsvWriter(), new HlogWriter()], (_, e) => t.fail(String(e)));
  await writers.open({ runId, plan, startedAt: T0, dir });
  for (const elapsed of [60, 120]) {
    const h = new Histogram();
    h.recordMany([elapsed, 2 * elapsed]);
    await writers.write(
      {
        elapsed,
        time: new Date(T0 + elapsed * 1000).toISOString(),
        intervalSeconds: 60,
        metrics: { generator_count: 2, cpu_percent_max: elapsed / 2, response_count: elapsed * 10, response_per_second: 10, closed_error_count: elapsed / 60 },
      },
      new Map([['conn_us', h]]),
    );
  }
  await writers.close();
  // What a process killed mid-run leaves: no CSV yet, half-written last lines.
  await rm(join(dir, RESULTS_CSV));
  await appendFile(join(dir, 'results.jsonl'), '{"elapsed":180,"ti');
  await appendFile(join(dir, 'histograms.hlog'), 'Tag=conn_us,120.000,60.0');
  // A folder whose run never wrote its plan, and one whose archive was already complete.
  const empty = newRunId('empty', new Date(T0));
  await mkdir(join(dataDir, empty));
  const done = newRunId('done', new Date(T0));
  await mkdir(join(dataDir, done));
  await writeFile(join(dataDir, `${done}.tar.gz`), 'archive');

  const recovered = await recoverInterruptedRuns(new ReportStore(dataDir));
  t.deepEqual(
    recovered.map((r) => [r.runId, r.archive]).sort(),
    [
      [runId, join(dataDir, `${runId}.tar.gz`)],
      [done, join(dataDir, `${done}.tar.gz`)],
      [empty, null],
    ].sort(),
  );
  t.deepEqual((await readdir(dataDir)).sort(), [`${done}.tar.gz`, `${runId}.tar.gz`].sort());

  const out = join(dataDir, 'out');
  await mkdir(out);
  await run('tar', ['-xzf', join(dataDir, `${runId}.tar.gz`), '-C', out]);
  t.deepEqual((await readdir(out)).sort(), ['histograms.hlog', 'plan.json', 'results.csv', 'summary.json']);
  const csv = csvRecords(await readFile(join(out, 'results.csv'), 'utf8'));
  t.is(csv.length, 3);
  t.deepEqual(csv[0]!.slice(0, 4), ['elapsed', 'time', 'generator_count', 'cpu_percent_max']);
  t.is(csv[2]![0], '120');
  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as RunSummary;
  t.like(summary, {
    runId,
    name: 'crashed',
    aborted: true,
    desiredDevices: 100,
    effectiveDevices: null,
    generatorCount: 2,
    maxCpuPercent: 60,
    errors: { closed_error_count: 2 },
    errorTotal: 2,
    endedAt: new Date(T0 + 120_000).toISOString(),
  });
  const reader = new hdr.HistogramLogReader(await readFile(join(out, 'histograms.hlog'), 'utf8'));
  const counts: number[] = [];
  for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) counts.push(h.totalCount);
  t.deepEqual(counts, [2, 2]);
});

test('nothing to recover in a fresh data directory', async (t) => {
  t.deepEqual(await recoverInterruptedRuns(new ReportStore(join(await tempDir(t), 'missing'))), []);
});
