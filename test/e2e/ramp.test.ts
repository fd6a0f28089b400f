/**
 * The ramp as a user sees it from sgcli: active devices climb in steps of ten
 * over the ramp-up, fall the same way over the ramp-down, and a desired size
 * that is not a whole number of steps is rounded down with a notice.
 */
import test from 'ava';
import { startNginx } from '../support/nginx.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { IDLE } from './device-scripts.js';
import { cell, readArchive, total } from './run-archive.js';
import { num, runSgcli, workspace } from './sgcli-child.js';

test('--size 40 --rampup 4 on one generator: active devices rise by tens to 40, and the ramp-down takes them away', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  const script = await ws.file('idle.js', IDLE);
  const run = await runSgcli([
    'run',
    'ramp',
    script,
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(nginx.port),
    '--size',
    '40',
    '--rampup',
    '4',
    '--sustain',
    '1',
    '--rampdown',
    '2',
    '--report-interval',
    '1',
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, EXIT.criticalErrors, 'idle devices exchange nothing, which sgcli reports');
  t.regex(run.stderr, /no device exchanged anything/);
  t.true(run.live.length >= 6, run.stderr);
  t.true(run.live.every((l) => l.effective === '40'));
  const all = run.live.map((l) => num(l, 'active'));
  t.true(
    all.every((n) => n % 10 === 0 && n >= 0 && n <= 40),
    `active values ${all.join(',')}`,
  );

  // Live values come from one-second pushes, which a loaded machine may delay past a step or two; but
  // they never run ahead of the schedule's target, never fall while ramping up, and pass through a step.
  const rampingUp = run.live.filter((l) => l.state === 'rampup' || l.state === 'sustain');
  const up = rampingUp.map((l) => num(l, 'active'));
  t.true(
    rampingUp.every((l) => num(l, 'active') <= num(l, 'target')),
    `ramp-up ${up.join(',')}`,
  );
  t.true(
    up.every((n, i) => i === 0 || n >= up[i - 1]!),
    `ramp-up ${up.join(',')}`,
  );
  t.true(
    up.some((n) => n > 0 && n < 40),
    `ramp-up ${up.join(',')} should pass through an intermediate step`,
  );
  t.is(Math.max(...up), 40);

  const rampingDown = run.live.filter((l) => l.state === 'rampdown' || l.state === 'done');
  const down = rampingDown.map((l) => num(l, 'active'));
  t.true(
    rampingDown.every((l) => num(l, 'active') >= num(l, 'target')),
    `ramp-down ${down.join(',')}`,
  );
  t.true(
    down.every((n, i) => i === 0 || n <= down[i - 1]!),
    `ramp-down ${down.join(',')}`,
  );
  t.true(
    down.some((n) => n > 0 && n < 40),
    `ramp-down ${down.join(',')} should pass through an intermediate step`,
  );
  t.is(down.at(-1), 0);

  const archive = await readArchive(run.archive!);
  const averages = archive.rows.map((r) => cell(r, 'active_device_number')!);
  t.true(averages[0]! < 30, `first interval ${averages.join(',')}`);
  t.true(
    averages.some((n) => n > 30 && n <= 40),
    `an interval near the full 40: ${averages.join(',')}`,
  );
  t.is(archive.summary.effectiveDevices, 40);
});

test('a desired 25 devices rounds down to 20 with a notice on stderr', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  const script = await ws.file('idle.js', IDLE);
  const run = await runSgcli([
    'run',
    'round',
    script,
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(nginx.port),
    '--size',
    '25',
    '--sustain',
    '2',
    '--report-interval',
    '1',
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, EXIT.criticalErrors, run.stderr);
  t.regex(run.stderr, /^notice: 25 desired devices rounded down to 20, a multiple of the ramp step of 10\b/m);
  t.true(run.live.every((l) => l.effective === '20'));
  t.is(Math.max(...run.live.map((l) => num(l, 'active'))), 20);
  const archive = await readArchive(run.archive!);
  t.is(archive.summary.desiredDevices, 25);
  t.is(archive.summary.effectiveDevices, 20);
  // Idle devices never end, so none opened a second connection.
  t.true(total(archive, 'conn_count') <= 20, `${total(archive, 'conn_count')} connections`);
});
