/**
 * Thresholds as a CI job uses them: the compiled sgcli against a real target,
 * its exit code, the summary on stderr, --summary-json and the archive.
 */
import test from 'ava';
import { readFile, stat } from 'node:fs/promises';
import { EXIT } from '../../ts/cli/exit-codes.js';
import type { SummaryJson } from '../../ts/cli/end-summary.js';
import { startNginx } from '../support/nginx.js';
import { readArchive } from '../e2e/run-archive.js';
import { runSgcli, workspace } from '../e2e/sgcli-child.js';

const SCRIPT = 'await get(params.path)';

test('a threshold that holds exits 0; the same threshold against a slow target exits 99 with the archive written and the summary saying why', async (t) => {
  const ws = await workspace(t);
  const script = await ws.file('script.js', SCRIPT);
  const common = ['--demo', '--sustain', '3', '--size', '10', '--report-interval', '1', '--data-dir', ws.dataDir, '--threshold', 'headers_us: p50 < 1s', '--threshold', 'error_rate: < 0.01'];

  const fast = await runSgcli(['run', 'fast', script, ...common, '--script-params', '{"path":"/"}', '--summary-json', `${ws.dir}/fast.json`]);
  t.is(fast.code, EXIT.ok, fast.stderr);
  t.regex(fast.stderr, /thresholds: all 2 passed/);

  const slow = await runSgcli(['run', 'slow', script, ...common, '--script-params', '{"path":"/delay?ms=1500"}', '--summary-json', `${ws.dir}/slow.json`]);
  t.is(slow.code, EXIT.thresholdsFailed, slow.stderr);
  t.is(EXIT.thresholdsFailed, 99);
  t.regex(slow.stderr, /thresholds: 1 of 2 FAILED\n +FAIL +headers_us: p50 < 1s +measured [\d.]+ ms\n +pass +error_rate: < 0\.01/);
  t.regex(slow.stderr, /sgcli: thresholds failed: headers_us: p50 < 1s\n/);
  t.true((await stat(slow.archive!)).isFile(), 'the archive is written and is the last line of stdout');
  const archive = await readArchive(slow.archive!);
  const [p50] = archive.summary.thresholds!;
  t.like(p50, { metric: 'headers_us', expression: 'p50 < 1s', ok: false });
  t.true(p50!.value! >= 1_500_000, `p50 ${p50!.value} µs against a 1.5 s delay`);
  t.is(p50!.value, archive.summary.histograms!.headers_us!.p50, 'the threshold reads the same merged histogram as the summary');
  const json = JSON.parse(await readFile(`${ws.dir}/slow.json`, 'utf8')) as SummaryJson;
  t.is(json.archive, slow.archive!);
  t.false(json.thresholdsPassed);
  t.deepEqual(json.thresholds, archive.summary.thresholds);
});

test('an abortOnFail threshold stops the run within one second after its grace period and says which', async (t) => {
  const ws = await workspace(t);
  const plan = await ws.file('plan.json', {
    blocks: [{ script: SCRIPT, params: { path: '/delay?ms=20' } }],
    thresholds: { headers_us: [{ threshold: 'p99 < 5ms', abortOnFail: true, gracePeriod: 2 }], error_rate: ['< 0.5'] },
  });
  const run = await runSgcli(['run', 'abort', '--plan', plan, '--demo', '--sustain', '60', '--report-interval', '1', '--data-dir', ws.dataDir]);
  t.is(run.code, EXIT.thresholdsFailed, run.stderr);
  t.regex(run.stderr, /stopping the run: threshold headers_us: p99 < 5ms failed \(measured [\d.]+ ms\) and has abortOnFail/);
  t.regex(run.stderr, /FAIL +headers_us: p99 < 5ms +measured [\d.]+ ms +\(stopped the run at [\d.]+ s\)/);
  const archive = await readArchive(run.archive!);
  const aborting = archive.summary.thresholds!.find((r) => r.aborted)!;
  t.is(aborting.metric, 'headers_us');
  t.true(aborting.abortedAt! >= 2 && aborting.abortedAt! <= 3, `stopped at ${aborting.abortedAt} s, grace 2 s`);
  t.true(archive.summary.aborted);
  t.regex(archive.summary.reason!, /threshold headers_us: p99 < 5ms failed/);
  t.true(archive.summary.durationSeconds! < 10, `the 60 s run lasted ${archive.summary.durationSeconds} s`);
});

test('against nginx, the summary’s request count equals the access log’s', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  // Exactly 20 requests a device, then idle past the run's end: none is in flight when the devices stop.
  const script = await ws.file('script.js', 'for (let i = 0; i < 20; i++) { await get("/"); await delay(10); }\nawait delay(600000);');
  const run = await runSgcli([
    'run',
    'count',
    script,
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(nginx.port),
    '--sustain',
    '4',
    '--report-interval',
    '1',
    '--data-dir',
    ws.dataDir,
    '--summary-json',
    `${ws.dir}/summary.json`,
  ]);
  t.is(run.code, EXIT.ok, run.stderr);
  const summary = JSON.parse(await readFile(`${ws.dir}/summary.json`, 'utf8')) as SummaryJson;
  const requests = summary.counters!.response_count!;
  t.is(requests, 10 * 20);
  const logged = await nginx.waitForAccessLog(requests);
  t.is(requests, logged.length);
  t.is(await nginx.accessLogCount(), requests);
  t.regex(run.stderr, new RegExp(`requests ${requests.toLocaleString('en-US')} \\(`));
  t.regex(run.stderr, /latency \(ms\) +count +p50 +p90 +p99 +p99\.9 +max\n(.*\n)* +headers_us +[\d,]+/);
});
