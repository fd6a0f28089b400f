/**
 * Failures provoked for real and followed through the whole pipeline (device,
 * worker, generator, coordinator, report, sgcli's exit code): a closed port, a
 * TCP peer that never answers, a host that does not resolve, a script that
 * throws, a runaway loop beside a healthy block, and a script that does not compile.
 */
import test from 'ava';
import { readdir } from 'node:fs/promises';
import { startNginx } from '../support/nginx.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { readArchive, total } from './run-archive.js';
import { runSgcli, workspace } from './sgcli-child.js';
import { closedPort } from '../support/closed-port.js';
import { startTcpServer } from '../support/tcp-server.js';
import { NETIO_ENV, NETIO_ENV_VALUES } from '../../ts/generator/protocols/socket-transport.js';

test('a closed port: conn_refused counted, each device retrying about once a second', async (t) => {
  const ws = await workspace(t);
  const script = await ws.file('get.js', 'await get("/");\n');
  const devices = 10;
  const seconds = 3;
  const run = await runSgcli([
    'run',
    'refused',
    script,
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(await closedPort()),
    '--size',
    String(devices),
    '--sustain',
    String(seconds),
    '--report-interval',
    '1',
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, EXIT.criticalErrors, run.stderr);
  t.regex(run.stderr, /no device exchanged anything/);
  const archive = await readArchive(run.archive!);
  const refused = total(archive, 'conn_refused_error_count');
  // One try at once, then one a second: devices × seconds, give or take a try per device.
  t.true(refused >= devices * (seconds - 1) && refused <= devices * (seconds + 1), `${refused} refusals`);
  t.is(archive.summary.errors.conn_refused_error_count, refused);
  t.is(total(archive, 'response_count'), 0);
  t.false(archive.summary.aborted);
});

for (const engine of NETIO_ENV_VALUES) {
  test(`${NETIO_ENV}=${engine}: a TCP peer that never answers: timeout counted, each device recycled on a new connection after 1 s`, async (t) => {
    const silent = await startTcpServer(() => {});
    t.teardown(() => silent.close());
    const ws = await workspace(t);
    const script = await ws.file('silent.js', "await send('anyone?');\nawait recv(200);\n");
    const devices = 10;
    const seconds = 3;
    const run = await runSgcli(
      [
        'run',
        'silent',
        script,
        '--target-hosts',
        '127.0.0.1',
        '--target-port',
        String(silent.port),
        '--target-protocol',
        'tcp',
        '--size',
        String(devices),
        '--sustain',
        String(seconds),
        '--report-interval',
        '1',
        '--data-dir',
        ws.dataDir,
      ],
      { [NETIO_ENV]: engine },
    );
    // Timeouts are what a load test measures: they do not fail the run.
    t.is(run.code, EXIT.ok, run.stderr);
    const archive = await readArchive(run.archive!);
    const timeouts = total(archive, 'timeout_error_count');
    t.deepEqual(archive.summary.errors, { timeout_error_count: timeouts });
    // A run of 200 ms and a second's pause: two or three per device, never one per 200 ms.
    t.true(timeouts >= devices * (seconds - 1) && timeouts <= devices * (seconds + 1), `${timeouts} timeouts`);
    t.log(`${timeouts} timeouts, ${silent.connections} connections`);
    t.is(total(archive, 'receive_count'), 0);
    // Every run after a timeout connected again; a device stopped mid-run may not have timed out yet.
    t.true(silent.connections >= timeouts && silent.connections <= timeouts + devices, `${silent.connections} connections, ${timeouts} timeouts`);
    t.is(total(archive, 'conn_count'), silent.connections);
    t.is(total(archive, 'send_count'), silent.connections);
  });
}

test('a host that does not resolve fails the run at once, naming the host, with exit code 5', async (t) => {
  const ws = await workspace(t);
  const script = await ws.file('get.js', 'await get("/");\n');
  const run = await runSgcli(['run', 'nxdomain', script, '--target-hosts', 'does-not-exist.invalid', '--sustain', '30', '--report-interval', '1', '--data-dir', ws.dataDir]);
  t.is(run.code, EXIT.runFailed, run.stderr);
  t.regex(run.stderr, /nx_domain: host does-not-exist\.invalid does not resolve/);
  t.regex(run.stderr, /sgcli: the run failed/);
  const archive = await readArchive(run.archive!);
  t.true(archive.summary.aborted);
  t.regex(archive.summary.reason ?? '', /does-not-exist\.invalid/);
  // Regression: the run waited out the final-telemetry timeout for a generator that never prepared it.
  const ranMs = Date.parse(archive.summary.endedAt) - Date.parse(archive.summary.startedAt);
  t.true(ranMs < 1500, `the failed run lasted ${ranMs} ms`);
});

test('a script that throws: script_error counted once per device run, every response before it counted', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  const script = await ws.file('throws.js', 'await get("/");\nthrow new Error("boom");\n');
  const devices = 10;
  const run = await runSgcli([
    'run',
    'throws',
    script,
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(nginx.port),
    '--size',
    String(devices),
    '--sustain',
    '3',
    '--report-interval',
    '1',
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, EXIT.criticalErrors, run.stderr);
  t.regex(run.stderr, /the script failed: \d+ script errors/);
  const archive = await readArchive(run.archive!);
  const errors = total(archive, 'script_error_count');
  const responses = total(archive, 'response_count');
  // The request completes before the throw, so nothing is in flight between recycles.
  t.is(await nginx.accessLogCount(), responses);
  t.true(errors >= responses - devices && errors <= responses, `${errors} script errors, ${responses} responses`);
  t.true(errors >= devices * 2 && errors <= devices * 4, `${errors} script errors: recycled after 1 s, not at once`);
});

test('while(true){} in one block is cut off as cpu_limit while the other block keeps serving requests', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  const plan = await ws.file('plan.json', {
    blocks: [
      { script: 'while (true) {}\n', size: 1 },
      { script: 'for (;;) {\n  await get("/");\n  await delay(20);\n}\n', size: 4 },
    ],
  });
  const run = await runSgcli([
    'run',
    'runaway',
    '--plan',
    plan,
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(nginx.port),
    '--size',
    '10',
    '--sustain',
    '3',
    '--report-interval',
    '1',
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, EXIT.criticalErrors, run.stderr);
  t.regex(run.stderr, /cpu_limit errors/);
  const archive = await readArchive(run.archive!);
  t.true(total(archive, 'cpu_limit_error_count') >= 2, `${total(archive, 'cpu_limit_error_count')} cpu_limit errors`);
  t.is(total(archive, 'script_error_count'), 0);
  // Requests went on after the runaway devices were first cut off: they stalled nobody for good.
  const firstCut = archive.rows.findIndex((row) => (row.cpu_limit_error_count as number) > 0);
  const servedBefore = (archive.rows[firstCut]!.response_count as number | undefined) ?? 0;
  t.true(total(archive, 'response_count') > servedBefore + 20, `${servedBefore} responses by the first cut, ${total(archive, 'response_count')} in all`);
  t.true((await nginx.accessLogCount()) >= total(archive, 'response_count'));
});

test('a script with a syntax error is refused before anything runs: file:line:column, exit code 3, no archive', async (t) => {
  const ws = await workspace(t);
  const script = await ws.file('broken.js', 'await get("/");\nconst x = ;\n');
  const run = await runSgcli(['run', 'broken', script, '--target-hosts', '127.0.0.1', '--sustain', '1', '--data-dir', ws.dataDir]);
  t.is(run.code, EXIT.scriptCompile, run.stderr);
  t.is(run.stdout, '');
  t.regex(run.stderr, new RegExp(`^  ${script.replaceAll('.', '\\.')}:2:\\d+: SyntaxError: `, 'm'));
  t.deepEqual(run.live, []);
  t.deepEqual(await readdir(ws.dataDir).catch(() => []), []);
});
