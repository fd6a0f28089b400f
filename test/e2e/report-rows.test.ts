/**
 * The report of a run from the compiled sgcli: one CSV row per interval and the
 * last, partial one; the latency histograms' statistics in every row; and one
 * histogram-log line per histogram per interval whose counts add up to the
 * run's counters.
 */
import test from 'ava';
import { startNginx } from '../support/nginx.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { HISTOGRAM_STATS } from '../../ts/shared/metrics.js';
import { RECYCLING_REQUESTS } from './device-scripts.js';
import { cell, readArchive, total } from './run-archive.js';
import { runSgcli, workspace } from './sgcli-child.js';

const LATENCIES = ['conn_us', 'headers_us', 'body_us'];
/** Timer slack between the report interval's timer and the row's clock on a loaded machine. */
const SLACK_S = 0.3;

for (const { interval, sustain, rows } of [
  { interval: 1, sustain: 3.5, rows: 4 },
  { interval: 2, sustain: 3, rows: 2 },
]) {
  test(`--report-interval ${interval} over ${sustain} s: ${rows} rows, the last one partial, each with its latency stats and hlog lines`, async (t) => {
    const nginx = await startNginx();
    t.teardown(() => nginx.stop());
    const ws = await workspace(t);
    const script = await ws.file('recycling.js', RECYCLING_REQUESTS);
    const run = await runSgcli([
      'run',
      'rows',
      script,
      '--target-hosts',
      '127.0.0.1',
      '--target-port',
      String(nginx.port),
      '--size',
      '10',
      '--sustain',
      String(sustain),
      '--report-interval',
      String(interval),
      '--data-dir',
      ws.dataDir,
    ]);
    t.is(run.code, EXIT.ok, run.stderr);
    const archive = await readArchive(run.archive!);
    t.deepEqual(archive.files, ['histograms.hlog', 'plan.json', 'report.html', 'results.csv', 'summary.json']);
    t.deepEqual(archive.columns.slice(0, 2), ['elapsed', 'time']);

    t.is(archive.rows.length, rows, `elapsed ${archive.rows.map((r) => r.elapsed).join(',')}`);
    archive.rows.forEach((row, i) => {
      if (i > 0) t.true(row.elapsed > archive.rows[i - 1]!.elapsed, 'elapsed increases');
      if (i < rows - 1) t.true(Math.abs(row.elapsed - (i + 1) * interval) < SLACK_S, `row ${i} at ${row.elapsed} s`);
      t.true(Number.isFinite(Date.parse(row.time)));
    });
    const last = archive.rows.at(-1)!;
    const beforeLast = archive.rows.at(-2)?.elapsed ?? 0;
    t.true(last.elapsed >= sustain - 0.05, `the last row covers the run's end: ${last.elapsed}`);
    t.true(last.elapsed - beforeLast < interval, `the last row is partial: ${beforeLast} → ${last.elapsed}`);

    // On a loaded machine the first devices may connect after the first interval has closed; every later one serves.
    const serving = archive.rows.filter((row, i) => i > 0 || (cell(row, 'response_per_second') ?? 0) > 0);
    t.true(serving.length >= rows - 1);
    for (const [i, row] of serving.entries()) {
      for (const histogram of LATENCIES) {
        const stats = Object.fromEntries(HISTOGRAM_STATS.map((s) => [s, cell(row, `${histogram}_${s}`)]));
        t.true(
          Object.values(stats).every((v) => v !== undefined && Number.isFinite(v)),
          `row ${i} ${histogram}: ${JSON.stringify(stats)}`,
        );
        t.true(stats.min! <= stats.median! && stats.median! <= stats.p99! && stats.p99! <= stats.max!, `row ${i} ${histogram} ordered`);
      }
    }

    // One hlog line per histogram of a row, in an interval ending where the row does (both rounded to the ms),
    // and no line outside the rows' intervals.
    let matched = 0;
    for (const row of archive.rows) {
      const histograms = archive.columns.filter((c) => c.endsWith('_mean') && cell(row, c) !== undefined).map((c) => c.slice(0, -'_mean'.length));
      const group = archive.hlog.filter((e) => Math.abs(e.start + e.length - row.elapsed) < 0.0025);
      t.deepEqual(group.map((e) => e.tag).sort(), histograms.sort(), `hlog lines ending at ${row.elapsed}`);
      for (const e of group) t.is(e.histogram.max, e.max);
      matched += group.length;
    }
    t.is(matched, archive.hlog.length);
    const hlogCount = (tag: string) => archive.hlog.filter((e) => e.tag === tag).reduce((sum, e) => sum + e.histogram.totalCount, 0);
    t.is(hlogCount('conn_us'), total(archive, 'conn_count'));
    t.is(hlogCount('headers_us'), total(archive, 'response_count'));
    t.is(hlogCount('body_us'), total(archive, 'response_count'));
    t.true(total(archive, 'response_count') > 0);
  });
}
