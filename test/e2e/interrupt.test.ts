/**
 * Ctrl-C in the middle of a run against nginx: the run stops, its report of
 * what ran is still archived and announced, and sgcli exits 4.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { startNginx } from '../support/nginx.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { RECYCLING_REQUESTS } from './device-scripts.js';
import { readArchive, total } from './run-archive.js';
import { startSgcli, workspace } from './sgcli-child.js';

test('SIGINT mid-run aborts it: archive written and printed last on stdout, exit code 4, summary says aborted', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  const script = await ws.file('recycling.js', RECYCLING_REQUESTS);
  const sgcli = startSgcli([
    'run',
    'interrupted',
    script,
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(nginx.port),
    '--size',
    '10',
    '--sustain',
    '60',
    '--report-interval',
    '1',
    '--data-dir',
    ws.dataDir,
  ]);
  t.teardown(() => void sgcli.child.kill('SIGKILL'));
  await sgcli.waitForStderr(/response_count=[1-9]/, 30_000);
  const signalledAt = performance.now();
  sgcli.child.kill('SIGINT');
  const run = await sgcli.finished;
  const exitMs = performance.now() - signalledAt;

  t.is(run.code, EXIT.aborted, run.stderr);
  t.regex(run.stderr, /aborting: stopping devices and writing the report/);
  t.regex(run.stderr, /sgcli: the run was aborted/);
  t.true(exitMs < 5000, `exited ${Math.round(exitMs)} ms after SIGINT`);
  t.regex(run.archive!, new RegExp(`^${ws.dataDir}/interrupted-[^/]+\\.tar\\.gz$`));
  t.true(existsSync(run.archive!));

  const archive = await readArchive(run.archive!);
  t.true(archive.summary.aborted);
  t.is(archive.summary.reason, 'aborted by the user');
  t.true(archive.rows.length >= 1);
  t.true(total(archive, 'response_count') > 0);
  t.true(archive.rows.at(-1)!.elapsed < 30, 'the report ends where the run was stopped, not at the planned 60 s');
  // Devices stopped mid-request may have been answered without counting it, never the other way round.
  const logged = await nginx.accessLogCount();
  t.true(logged >= total(archive, 'response_count') && logged <= total(archive, 'response_count') + 10, `nginx ${logged}`);
});
