/**
 * What an open-model user reads live, from the compiled sgcli against a real
 * nginx: each second the iterations due (the stages' rate then), those started,
 * the pool and the drops, and no device target or effective devices, which a
 * plan of arrival-rate blocks alone does not have.
 */
import test from 'ava';
import { startNginx } from '../support/nginx.js';
import { num, runSgcli, workspace } from '../e2e/sgcli-child.js';
import { ONE_GET } from './open-run.js';

test('sgcli run --arrival-rate: each live line says the iterations due, started and dropped and the pool, never effective devices; the end says what was started', async (t) => {
  const ws = await workspace(t);
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const run = await runSgcli([
    'run',
    'open-live',
    await ws.file('get.js', ONE_GET),
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(nginx.port),
    '--arrival-rate',
    '40',
    '--max-devices',
    '4',
    '--rampup',
    '2',
    '--sustain',
    '4',
    '--rampdown',
    '0',
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, 0, run.stderr);
  const lines = run.live.filter((l) => l.state !== 'preparing');
  t.true(lines.length >= 5, `${lines.length} live lines`);
  for (const line of lines) {
    t.is(line.pool, '4', 'the pool');
    t.true('due_per_second' in line, 'the rate due');
    t.false('effective' in line || 'target' in line, 'no closed devices to show');
  }
  const ramping = lines.filter((l) => l.state === 'rampup' && num(l, 't') >= 1);
  for (const line of ramping) t.true(num(line, 'due_per_second') > 0 && num(line, 'due_per_second') < 40, `due ${line.due_per_second} while ramping up`);
  const sustained = lines.filter((l) => l.state === 'sustain');
  t.true(sustained.length >= 2, `${sustained.length} lines in sustain`);
  for (const line of sustained) t.is(line.due_per_second, '40');
  // Started keeps up with due on a target that answers at once (a loaded machine's second may straddle two).
  t.true(
    sustained.some((l) => Math.abs(num(l, 'iteration_per_second') - 40) <= 8),
    sustained.map((l) => l.iteration_per_second).join(', '),
  );
  t.true(
    sustained.every((l) => num(l, 'active') <= 4),
    'never more devices than the pool',
  );
  t.is(lines.at(-1)!.dropped_iteration_count ?? '0', '0', 'nothing dropped');
  t.is(lines.filter((l) => l.state === 'done').at(-1)?.due_per_second, '0', 'nothing is due once the run is over');
  // The end of the run: 20 iterations a second on average over the 2 s ramp, then 40 a second for 4 s.
  t.regex(run.stderr, /^ {2}iterations 200 started \([\d.]+\/s\), 0 dropped, \d+ late$/m);
  t.notRegex(run.stderr, /devices 0 \(desired/, 'no closed devices to speak of');
});
