/**
 * An arrival-rate plan through the management API, on two generators: the
 * website's check does not round devices it does not use, the run splits the
 * rate exactly, and its archive holds the corrected twins beside the latencies.
 */
import test from 'ava';
import type { PlanChecked, ReportEntry, RunStarted } from '../../ts/coordinator/api-messages.js';
import { json, postJson } from '../support/api-client.js';
import { startNginx } from '../support/nginx.js';
import { coordinatorFor } from '../api/coordinator-harness.js';
import { downloadArchive, total } from '../e2e/run-archive.js';
import { runHistogram } from './open-run.js';
import { until } from '../support/until.js';

test('POST /api/runs with "arrivalRate": 2 generators run exactly rate × sustain iterations, with _intended twins in the report', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const c = await coordinatorFor(t, { generators: 2 });
  const plan = {
    name: 'open-api',
    blocks: [{ script: "startTiming('page'); await get('/'); stopTiming('page');", arrivalRate: 50, maxDevices: 6 }],
    addresses: [{ host: '127.0.0.1', port: nginx.port, protocol: 'http' }],
    sustain: 3,
  };
  const checked = await json<PlanChecked>(await postJson(`${c.url}/api/plans/check`, plan));
  t.deepEqual(checked.problems, []);
  t.is(checked.effectiveMessage, null, 'a plan of arrival-rate blocks alone has no devices to round to the ramp step');

  const started = await json<RunStarted>(await postJson(`${c.url}/api/runs`, plan));
  let report: ReportEntry | undefined;
  await until(
    async () => {
      report = (await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`))).find((r) => r.runId === started.runId);
      return report !== undefined;
    },
    30_000,
    'the report',
  );
  const archive = await downloadArchive(`${c.url}${report!.url}`);
  t.is(total(archive, 'iteration_count') + total(archive, 'dropped_iteration_count'), 150);
  t.is(total(archive, 'response_count'), total(archive, 'iteration_count'));
  t.is((await nginx.waitForAccessLog(total(archive, 'iteration_count'))).length, total(archive, 'iteration_count'));
  for (const name of ['headers_us', 'headers_intended_us', 'page_us', 'page_intended_us', 'conn_intended_us', 'body_intended_us']) {
    t.true(archive.columns.includes(`${name}_p99`), name);
  }
  const page = runHistogram(archive, 'page_us');
  const pageIntended = runHistogram(archive, 'page_intended_us');
  t.is(pageIntended.totalCount, page.totalCount);
  t.true(pageIntended.valueAtPercentile(50) >= page.valueAtPercentile(50), 'measured from the due time, a twin is never shorter');
  t.is(archive.plan.blocks[0]!.maxDevices, 6);
  t.is(archive.summary.effectiveDevices, 0);
});
