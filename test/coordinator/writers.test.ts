import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import hdr from 'hdr-histogram-js';
import { Histogram } from '../../ts/hdr/index.js';
import { CsvWriter, RESULTS_CSV, RESULTS_JOURNAL, readJournal, resultsCsv } from '../../ts/coordinator/csv-writer.js';
import { HISTOGRAM_LOG, HlogWriter } from '../../ts/coordinator/hlog-writer.js';
import { compareColumns, type ReportRow } from '../../ts/coordinator/report-row.js';
import { fanOut, writesFiles, type RunInfo, type Writer } from '../../ts/coordinator/writer.js';
import { testPlan } from './fixtures.js';
import { tempDir } from '../support/temp-dir.js';
import { csvRecords } from '../support/results-csv.js';

const T0 = Date.UTC(2026, 0, 1, 12);
const plan = testPlan({ name: 'writers', sustain: 125 });

async function runInfo(t: { teardown: (fn: () => Promise<void>) => void }): Promise<RunInfo> {
  return { runId: 'writers-20260101T120000Z-0a1b', plan, startedAt: T0, dir: await tempDir(t) };
}

const row = (elapsed: number, intervalSeconds: number, metrics: Record<string, number>): ReportRow => ({
  elapsed,
  time: new Date(T0 + elapsed * 1000).toISOString(),
  intervalSeconds,
  metrics,
});

test('columns sort utilisation first, then counters, errors, histograms', (t) => {
  const columns = [
    'login_us_max',
    'response_per_second',
    'zz_count',
    'conn_refused_error_count',
    'cpu_percent_mean',
    'active_device_number',
    'response_count',
    'login_us_mean',
    'conn_us_p99',
    'network_tx_bytes_per_second',
  ];
  t.deepEqual(columns.sort(compareColumns), [
    'active_device_number',
    'cpu_percent_mean',
    'network_tx_bytes_per_second',
    'response_count',
    'response_per_second',
    'zz_count',
    'conn_refused_error_count',
    'conn_us_p99',
    'login_us_mean',
    'login_us_max',
  ]);
});

test('CSV: header of every metric seen, one row per interval, elapsed first, gaps empty', async (t) => {
  const run = await runInfo(t);
  const writer = new CsvWriter();
  await writer.open(run);
  await writer.write(row(60, 60, { active_device_number: 10, response_count: 600, response_per_second: 10 }));
  await writer.write(row(120, 60, { active_device_number: 10, response_count: 1200, response_per_second: 10, timeout_error_count: 3, timeout_error_per_second: 0.05 }));
  // The journal has every row before close, so a crash loses nothing written so far.
  t.is((await readJournal(join(run.dir, RESULTS_JOURNAL))).length, 2);
  await writer.write(row(125, 5, { active_device_number: 0, response_count: 1210, response_per_second: 2 }));
  await writer.close();
  t.deepEqual(writer.files(), [join(run.dir, RESULTS_CSV)]);

  const lines = csvRecords(await readFile(join(run.dir, RESULTS_CSV), 'utf8'));
  t.deepEqual(lines[0], ['elapsed', 'time', 'active_device_number', 'response_count', 'response_per_second', 'timeout_error_count', 'timeout_error_per_second']);
  t.deepEqual(lines.slice(1), [
    ['60', '2026-01-01T12:01:00.000Z', '10', '600', '10', '', ''],
    ['120', '2026-01-01T12:02:00.000Z', '10', '1200', '10', '3', '0.05'],
    ['125', '2026-01-01T12:02:05.000Z', '0', '1210', '2', '', ''],
  ]);
  t.deepEqual(await readJournal(join(run.dir, RESULTS_JOURNAL)), [
    row(60, 60, { active_device_number: 10, response_count: 600, response_per_second: 10 }),
    row(120, 60, { active_device_number: 10, response_count: 1200, response_per_second: 10, timeout_error_count: 3, timeout_error_per_second: 0.05 }),
    row(125, 5, { active_device_number: 0, response_count: 1210, response_per_second: 2 }),
  ]);
});

test('CSV of a run with no interval still has its header', (t) => {
  t.is(resultsCsv([]), 'elapsed,time\n');
});

test('a torn last journal line is dropped', async (t) => {
  const run = await runInfo(t);
  const path = join(run.dir, RESULTS_JOURNAL);
  await writeFile(path, `${JSON.stringify(row(60, 60, { a_count: 1 }))}\n{"elapsed":12`);
  t.deepEqual(await readJournal(path), [row(60, 60, { a_count: 1 })]);
});

test("hlog: HdrHistogram's own log reader reads back every interval, tag, count and percentile", async (t) => {
  const run = await runInfo(t);
  const writer = new HlogWriter();
  await writer.open(run);
  const written: Array<{ tag: string; start: number; length: number; h: Histogram; values: number[] }> = [];
  const intervals: Array<[elapsed: number, length: number]> = [
    [60, 60],
    [120, 60],
    [125, 5],
  ];
  for (const [n, [elapsed, length]] of intervals.entries()) {
    const histograms = new Map<string, Histogram>();
    for (const [tag, scale] of [
      ['conn_us', 1],
      ['headers_us', 7],
      ['cpu_percent', 0],
    ] as const) {
      const values = scale === 0 ? [20 + n, 40, 90] : Array.from({ length: 1000 + n * 17 }, (_, i) => scale * (50 + ((i * 7919) % 20_000)));
      const h = new Histogram();
      h.recordMany(values);
      histograms.set(tag, h);
      written.push({ tag, start: elapsed - length, length, h, values });
    }
    await writer.write(row(elapsed, length, {}), histograms);
  }
  await writer.close();
  t.deepEqual(writer.files(), [join(run.dir, HISTOGRAM_LOG)]);

  const text = await readFile(join(run.dir, HISTOGRAM_LOG), 'utf8');
  t.true(text.includes('#[StartTime: 1767268800.000 (seconds since epoch), 2026-01-01T12:00:00.000Z]'));
  t.true(text.includes('#[BaseTime: 1767268800.000 (seconds since epoch)]'));
  t.true(text.includes('"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'));
  t.deepEqual(hdr.listTags(text).sort(), ['conn_us', 'cpu_percent', 'headers_us']);

  const reader = new hdr.HistogramLogReader(text);
  const read: hdr.Histogram[] = [];
  for (let h = reader.nextIntervalHistogram(); h !== null; h = reader.nextIntervalHistogram()) read.push(h);
  const byWriteOrder = [...written].sort((a, b) => a.start - b.start || (a.tag < b.tag ? -1 : 1));
  t.is(read.length, byWriteOrder.length);
  read.forEach((h, i) => {
    const w = byWriteOrder[i]!;
    t.is(h.tag, w.tag);
    t.is(h.startTimeStampMsec, T0 + w.start * 1000);
    t.is(h.endTimeStampMsec, T0 + (w.start + w.length) * 1000);
    t.is(h.totalCount, w.h.totalCount);
    t.is(h.maxValue, w.h.max);
    t.is(h.minNonZeroValue, w.h.min);
    // Percentile rounding differs between HdrHistogram ports, so compare with the
    // JS port's own reading of the same values: equal means the log lost nothing.
    const same = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
    for (const v of w.values) same.recordValue(v);
    for (const p of [1, 25, 50, 90, 99, 99.9, 100]) t.is(h.getValueAtPercentile(p), same.getValueAtPercentile(p), `${w.tag} p${p}`);
    t.is(h.mean, same.mean);
  });
});

test('fanOut reaches every writer even when one fails (rejecting or throwing), and gathers files', async (t) => {
  const calls: string[] = [];
  /** A writer method that records `name` and resolves. */
  const record = (name: string) => () => {
    calls.push(name);
    return Promise.resolve();
  };
  const failing: Writer = {
    open: record('failing.open'),
    write: () => Promise.reject(new Error('unreachable')),
    close: () => {
      // A writer that throws instead of rejecting fails the same way, and costs the others nothing.
      calls.push('failing.close');
      throw new Error('thrown');
    },
  };
  const fileWriter = {
    open: record('file.open'),
    write: record('file.write'),
    close: record('file.close'),
    files: () => ['/x/results.csv'],
  };
  const errors: unknown[] = [];
  const all = fanOut([failing, fileWriter], (w, e) => errors.push([w === failing, (e as Error).message]));
  await all.open({ runId: 'r', plan, startedAt: T0, dir: '/x' });
  await all.write(row(1, 1, {}), new Map());
  await all.close();
  t.deepEqual(calls.sort(), ['failing.close', 'failing.open', 'file.close', 'file.open', 'file.write']);
  t.deepEqual(errors, [
    [true, 'unreachable'],
    [true, 'thrown'],
  ]);
  t.deepEqual(all.files(), ['/x/results.csv']);
  t.true(writesFiles(fileWriter));
  t.false(writesFiles(failing));
});
