/**
 * The open model end to end, as a user runs it with sgcli against a real nginx
 * on loopback (and a slow node:http target for pool exhaustion): a stalled
 * target shows in the `_intended` twins and not in the uncorrected latencies,
 * and an exhausted pool counts what it drops. The rate accuracy tests are in
 * rate-accuracy.test.ts. These runs are long, so they run one at a time.
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNginx } from '../support/nginx.js';
import { total } from '../e2e/run-archive.js';
import { runSgcli, startSgcli, workspace } from '../e2e/sgcli-child.js';
import { ONE_GET, archiveOf, runHistogram } from './open-run.js';

test.serial(
  'a target that freezes for 2 s: the corrected p99 shows it, the uncorrected one does not, and the corrected count is every scheduled iteration; closed devices miss the stall',
  async (t) => {
    const ws = await workspace(t);
    const stalled = async (args: string[]) => {
      const nginx = await startNginx();
      t.teardown(() => nginx.stop());
      const run = startSgcli([
        'run',
        'stall',
        await ws.file('get.js', args.includes('--size') ? `${ONE_GET} await delay(18);` : ONE_GET),
        '--target-hosts',
        '127.0.0.1',
        '--target-port',
        String(nginx.port),
        '--sustain',
        '20',
        '--report-interval',
        '5',
        '--data-dir',
        ws.dataDir,
        ...args,
      ]);
      await run.waitForStderr(/^t=8 /m, 30_000);
      await nginx.freeze(2000);
      const finished = await run.finished;
      t.is(
        finished.code,
        0,
        finished.stderr
          .split('\n')
          .filter((l) => !l.startsWith('t='))
          .join('\n'),
      );
      return archiveOf(finished);
    };

    const open = await stalled(['--arrival-rate', '500', '--max-devices', '20']);
    const corrected = runHistogram(open, 'headers_intended_us');
    const uncorrected = runHistogram(open, 'headers_us');
    t.is(corrected.totalCount, 500 * 20, 'one corrected latency per scheduled iteration');
    t.is(total(open, 'iteration_count'), 500 * 20);
    t.is(total(open, 'dropped_iteration_count'), 0);
    t.true(corrected.valueAtPercentile(99) >= 1_000_000, `corrected p99 ${corrected.valueAtPercentile(99)} µs`);
    // Near 1 ms on a quiet machine (only the 20 requests caught in the freeze wait for it); a
    // machine loaded 10 times over its cores added up to 120 ms.
    t.true(uncorrected.valueAtPercentile(99) < 250_000, `uncorrected p99 ${uncorrected.valueAtPercentile(99)} µs`);
    t.true(uncorrected.valueAtPercentile(50) < 20_000, `uncorrected median ${uncorrected.valueAtPercentile(50)} µs`);
    t.true(total(open, 'late_iteration_count') >= 500, 'the iterations due during the freeze waited for a device');
    for (const column of ['headers_intended_us_p99', 'body_intended_us_p99', 'conn_intended_us_p99', 'iteration_lateness_us_p99']) t.true(open.columns.includes(column), column);

    // Ten closed devices at about the same rate: each waits out the freeze once, so
    // nothing records what users arriving during it would have seen.
    const closed = await stalled(['--size', '10']);
    const closedLatency = runHistogram(closed, 'headers_us');
    t.true(closedLatency.valueAtPercentile(99) < 250_000, `closed p99 ${closedLatency.valueAtPercentile(99)} µs hides the stall`);
    t.true(closedLatency.max >= 1_500_000, 'one request per device waited it out');
    t.false(
      closed.columns.some((c) => c.includes('_intended_')),
      'closed blocks have no twins',
    );
  },
);

test.serial('pool exhaustion: dropped_iteration_count is the scheduled iterations minus the ones the server saw', async (t) => {
  let seen = 0;
  const server: Server = createServer((_req, res) => {
    seen++;
    setTimeout(() => res.end('slow'), 100);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const ws = await workspace(t);
  // 5 devices × 10 iterations per second each at most: half of 100/s.
  const run = await runSgcli([
    'run',
    'exhausted',
    await ws.file('get.js', ONE_GET),
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String((server.address() as AddressInfo).port),
    '--arrival-rate',
    '100',
    '--max-devices',
    '5',
    '--sustain',
    '6',
    '--report-interval',
    '2',
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, 0, run.stderr);
  const archive = await archiveOf(run);
  const dropped = total(archive, 'dropped_iteration_count');
  t.is(dropped, 600 - seen, `${dropped} dropped, ${seen} seen`);
  t.is(total(archive, 'iteration_count'), seen);
  t.true(dropped > 200 && dropped < 400, `about half dropped: ${dropped}`);
  t.true(total(archive, 'late_iteration_count') > 0);
  // The waits show in the corrected latency: the last iterations waited seconds.
  t.true(runHistogram(archive, 'headers_intended_us').max > 1_000_000);
});
