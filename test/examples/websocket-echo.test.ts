/**
 * examples/websocket-echo.js through sgcli against the built-in demo target
 * (`--demo`): every echo comes back, and the messages the devices sent are the
 * messages the report counts as received.
 */
import test from 'ava';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { readArchive, total } from '../e2e/run-archive.js';
import { ROOT, runSgcli, workspace } from '../e2e/sgcli-child.js';

test('websocket-echo.js against --demo: devices recycle, each echo arrives and is timed', async (t) => {
  const ws = await workspace(t);
  const run = await runSgcli([
    'run', 'ws-demo', `${ROOT}examples/websocket-echo.js`, '--demo',
    '--size', '10', '--sustain', '3', '--report-interval', '1',
    '--script-params', JSON.stringify({ messages: 5, delayMs: 20 }), '--data-dir', ws.dataDir,
  ]);
  t.is(run.code, EXIT.ok, run.stderr);
  const archive = await readArchive(run.archive!);
  t.deepEqual(archive.summary.errors, {});
  const sent = total(archive, 'ws_sent_frames_count');
  t.true(sent > 10 * 5, `${sent} messages sent: devices recycled`);
  // A device stopped at the end may have sent a message whose echo it never read, or read one it did not time.
  const received = total(archive, 'ws_received_frames_count');
  t.true(received <= sent && sent - received <= 10, `${sent} sent, ${received} received`);
  t.is(total(archive, 'wrong_echo_count'), 0);
  const timed = archive.hlog.filter((e) => e.tag === 'echo_us').reduce((sum, e) => sum + e.histogram.totalCount, 0);
  t.true(timed <= received && received - timed <= 10, `${received} echoes received, ${timed} timed`);
  t.is(archive.hlog.filter((e) => e.tag === 'ws_upgrade_us').reduce((sum, e) => sum + e.histogram.totalCount, 0) > 10, true);
});
