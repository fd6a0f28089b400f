/**
 * examples/websocket-echo.js through sgcli against the built-in demo target
 * (`--demo`): every echo comes back, the messages the devices sent are the
 * messages the report counts as received, and the ws_*_per_second columns are
 * the counts' growth over each interval.
 */
import test from 'ava';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { cell, readArchive, total } from '../e2e/run-archive.js';
import { ROOT, runSgcli, workspace } from '../e2e/sgcli-child.js';

test('websocket-echo.js against --demo: devices recycle, each echo arrives and is timed', async (t) => {
  const ws = await workspace(t);
  const run = await runSgcli([
    'run',
    'ws-demo',
    `${ROOT}examples/websocket-echo.js`,
    '--demo',
    '--size',
    '10',
    '--sustain',
    '3',
    '--report-interval',
    '1',
    '--script-params',
    JSON.stringify({ messages: 5, delayMs: 20 }),
    '--data-dir',
    ws.dataDir,
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

  // A rate is over its interval's real length (elapsed to the ms), so rate × length is what the count grew by in it.
  for (const key of ['ws_sent_frames', 'ws_received_frames', 'ws_sent_bytes', 'ws_received_bytes']) {
    t.true(archive.columns.includes(`${key}_per_second`), `${key}_per_second is a column`);
    let previous = { elapsed: 0, count: 0 };
    for (const row of archive.rows) {
      const count = cell(row, `${key}_count`) ?? previous.count;
      const rate = cell(row, `${key}_per_second`) ?? 0;
      const grown = count - previous.count;
      t.true(Math.abs(rate * (row.elapsed - previous.elapsed) - grown) <= 1 + grown / 100, `${key} at ${row.elapsed} s: ${rate}/s, grew by ${grown}`);
      previous = { elapsed: row.elapsed, count };
    }
  }
  // Ten devices, each sending at most once per 10 ms (a 20 ms delay less 50%); each message, "message 0" to "message 4", is 9 bytes.
  const rates = archive.rows.map((row) => cell(row, 'ws_sent_frames_per_second') ?? 0);
  t.true(Math.max(...rates) > 0 && Math.max(...rates) <= 10 * 100, `ws_sent_frames_per_second ${rates.join(', ')}`);
  for (const row of archive.rows) {
    const [bytes, frames] = [cell(row, 'ws_sent_bytes_per_second') ?? 0, cell(row, 'ws_sent_frames_per_second') ?? 0];
    t.true(Math.abs(bytes - 9 * frames) <= 1e-9 * bytes, `at ${row.elapsed} s: ${bytes} bytes/s for ${frames} messages/s`);
  }
});
