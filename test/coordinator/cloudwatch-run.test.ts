import test from 'ava';
import type { RunResult } from '../../ts/coordinator/run.js';
import type { LiveSnapshot } from '../../ts/shared/live.js';
import { coordinatorFor } from '../api/coordinator-harness.js';
import { startCloudWatchEndpoint } from '../support/cloudwatch-endpoint.js';
import { closedPort } from '../support/closed-port.js';
import { localCloudWatchWriter } from '../support/cloudwatch-test-writer.js';
import { readResultsCsv } from '../support/report-archive.js';
import { startTcpServer } from '../support/tcp-server.js';

/** Devices that hold a connection to a silent server and count ticks: the run's results are the counter. */
const tickPlan = (targetPort: number) => ({
  name: 'cloudwatch-run',
  blocks: [{ script: 'for (;;) { incCounter("tick"); await delay(100); }' }],
  addresses: [{ host: '127.0.0.1', port: targetPort, protocol: 'http' }],
  size: 10,
  rampup: 0,
  sustain: 2,
  rampdown: 0,
});

async function runWith(t: Parameters<typeof coordinatorFor>[0], endpoint: string): Promise<{ result: RunResult; snapshots: LiveSnapshot[]; notices: string[] }> {
  const c = await coordinatorFor(t, {
    reportIntervalSeconds: 1,
    extraWriters: () => [localCloudWatchWriter(endpoint, { maxAttempts: 2 })],
  });
  const snapshots: LiveSnapshot[] = [];
  const notices: string[] = [];
  c.coordinator.observe({ onLive: (s) => snapshots.push(s), onNotice: (m) => notices.push(m) });
  const target = await startTcpServer(() => {});
  t.teardown(() => target.close());
  const started = await c.coordinator.start(tickPlan(target.port));
  if (!started.ok) throw new Error(JSON.stringify(started));
  return { result: await started.run.done, snapshots, notices };
}

test('a run sends its intervals to CloudWatch and its summary links to them', async (t) => {
  const cw = await startCloudWatchEndpoint();
  t.teardown(() => cw.close());
  const { result, snapshots, notices } = await runWith(t, cw.url);
  t.is(result.outcome, 'done');
  t.is(result.criticalErrors, 0);
  const status = result.summary!.writers![0]!;
  t.like(status, { writer: 'cloudwatch', failed: 0, pending: 0 });
  t.is(status.sent, cw.accepted().length);
  t.true(status.link!.includes(result.runId));
  t.true(
    snapshots.some((s) => s.writers?.[0]?.writer === 'cloudwatch'),
    'the live snapshot shows the writer',
  );
  t.true(notices.some((n) => n.startsWith('cloudwatch: ') && n.includes(status.link!)));
  // Every tick the CSV counted reached CloudWatch, interval by interval.
  const rows = await readResultsCsv(result.archivePath!);
  const sent = cw.accepted().filter((d) => d.MetricName === 'tick_count');
  // On a loaded machine the first one-second interval may end before the first tick: its row has no tick_count to send.
  t.is(sent.length, rows.filter((row) => (row.tick_count ?? '') !== '').length);
  t.true(sent.length >= rows.length - 1);
  t.is(
    sent.reduce((n, d) => n + d.Value!, 0),
    Number(rows.at(-1)!.tick_count),
  );
  t.true(Number(rows.at(-1)!.tick_count) > 0);
});

test('CloudWatch out of reach: the run completes with its full report, the failures are counted and shown', async (t) => {
  const { result, notices } = await runWith(t, `http://127.0.0.1:${await closedPort()}`);
  t.is(result.outcome, 'done');
  t.is(result.criticalErrors, 0, 'a lost CloudWatch does not make the load test broken');
  const rows = await readResultsCsv(result.archivePath!);
  t.true(rows.length >= 2);
  t.true(Number(rows.at(-1)!.tick_count) > 0);
  const status = result.summary!.writers![0]!;
  t.like(status, { writer: 'cloudwatch', sent: 0, pending: 0 });
  t.true(status.failed > 0);
  t.regex(status.lastError!, /ECONNREFUSED/);
  t.true(notices.some((n) => new RegExp(`^cloudwatch: 0 metric data sent, ${status.failed} failed`).test(n)));
});
