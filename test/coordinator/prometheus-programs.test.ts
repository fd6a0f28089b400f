/**
 * Prometheus as a user sets it up: the stressgrid-coordinator program with
 * --prometheus-remote-write and a stressgrid-generator process, sgcli with the
 * same flag, both pushing into a real Prometheus; bad settings refused with
 * every problem.
 */
import test from 'ava';
import type { RunEnded, RunStarted } from '../../ts/coordinator/api-messages.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { EXIT_USAGE } from '../../ts/shared/program-settings.js';
import { nginxPlan } from '../api/coordinator-harness.js';
import { runSgcli, workspace } from '../e2e/sgcli-child.js';
import { startCoordinatorProgram } from '../support/coordinator-program.js';
import { startGeneratorProcess } from '../support/generator-process.js';
import { startNginx } from '../support/nginx.js';
import { startPrometheus } from '../support/prometheus.js';
import { killAllPrograms } from '../support/program-process.js';
import { until } from '../support/until.js';
import { tempDir } from '../support/temp-dir.js';

test.after.always(() => killAllPrograms());

const script = 'for (let i = 0; i < 30; i++) { await get("/"); await delay(50); }\nawait delay(600000);';

test.serial('stressgrid-coordinator --prometheus-remote-write: a run with a generator process lands in Prometheus with its labels', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const prometheus = await startPrometheus({ remoteWriteReceiver: true });
  t.teardown(() => prometheus.stop());
  const coordinator = startCoordinatorProgram({
    dataDir: await tempDir(t, 'prometheus-program'),
    args: ['--prometheus-remote-write', prometheus.remoteWriteUrl, '--prometheus-remote-write-labels', 'env=ci,team=load'],
  });
  const { api, generators } = await coordinator.listening();
  t.regex(coordinator.stderr(), new RegExp(`Prometheus remote write on, to ${prometheus.remoteWriteUrl}, labels env=ci,team=load`));
  startGeneratorProcess({ url: generators, id: 'pushing-generator' });
  await coordinator.waitFor(/generator pushing-generator connected/);

  const started = await fetch(`${api}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(nginxPlan(nginx.port, { name: 'program', sustain: 4, blocks: [{ script }] })),
  });
  t.is(started.status, 201);
  const { runId } = (await started.json()) as RunStarted;
  let ended: RunEnded | undefined;
  await until(
    async () => {
      const status = (await (await fetch(`${api}/api/runs/${runId}`)).json()) as { state: string; result?: RunEnded };
      ended = status.result;
      return status.state === 'ended';
    },
    30_000,
    'the run to end',
  );
  const writer = ended!.summary!.writers!.find((w) => w.writer === 'prometheus')!;
  t.like(writer, { failed: 0, pending: 0 });
  t.true(writer.sent > 0);

  const logged = (await nginx.waitForAccessLog(300)).length;
  t.is(logged, 300);
  const total = await prometheus.query(`stressgrid_response_total{run="program",run_id="${runId}",env="ci",team="load"}`);
  t.is(total.length, 1);
  t.is(Number(total[0]!.value[1]), logged);
  const cpu = await prometheus.query(`max_over_time(stressgrid_generator_cpu_ratio{run_id="${runId}",generator="pushing-generator"}[1h])`);
  t.is(cpu.length, 1);
  t.regex(coordinator.stderr(), new RegExp(`run ${runId}: prometheus: \\d+ samples sent, none failed`));
});

test.serial('sgcli run --prometheus-remote-write: the embedded run lands in Prometheus', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const prometheus = await startPrometheus({ remoteWriteReceiver: true });
  t.teardown(() => prometheus.stop());
  const ws = await workspace(t);
  const file = await ws.file('script.js', script);
  const run = await runSgcli(
    ['run', 'from-sgcli', file, '--target-hosts', '127.0.0.1', '--target-port', String(nginx.port), '--sustain', '4', '--data-dir', ws.dataDir, '--prometheus-remote-write', prometheus.remoteWriteUrl],
    { PROMETHEUS_REMOTE_WRITE_LABELS: 'env=laptop' },
  );
  t.is(run.code, EXIT.ok, run.stderr);
  t.regex(run.stderr, /prometheus: \d+ samples sent, none failed/);
  const logged = (await nginx.waitForAccessLog(300)).length;
  const total = await prometheus.query('stressgrid_response_total{run="from-sgcli",env="laptop"}');
  t.is(total.length, 1);
  t.is(Number(total[0]!.value[1]), logged);
});

test.serial('bad Prometheus settings: the coordinator and sgcli refuse to start, naming every problem', async (t) => {
  const coordinator = startCoordinatorProgram({
    dataDir: await tempDir(t, 'prometheus-program'),
    args: ['--prometheus-remote-write', 'ftp://prometheus/write', '--prometheus-remote-write-labels', 'run_id=x,=y'],
    env: { PROMETHEUS_REMOTE_WRITE_BEARER_TOKEN: 't', PROMETHEUS_REMOTE_WRITE_USERNAME: 'u' },
  });
  t.is(await coordinator.exited, EXIT_USAGE);
  const stderr = coordinator.stderr();
  t.regex(stderr, /--prometheus-remote-write: must be an http:\/\/ or https:\/\/ URL, got ftp:/);
  t.regex(stderr, /--prometheus-remote-write-labels: run_id is a label Stressgrid or Prometheus sets itself/);
  t.regex(stderr, /--prometheus-remote-write-labels: "=y" is not name=value/);
  t.regex(stderr, /PROMETHEUS_REMOTE_WRITE_BEARER_TOKEN: give it or a user name and password for basic auth, not both/);

  const ws = await workspace(t);
  const file = await ws.file('script.js', 'await get("/");');
  const run = await runSgcli(['run', 'bad', file, '--prometheus-remote-write', 'not a url'], { PROMETHEUS_REMOTE_WRITE_LABELS: 'le=1' });
  t.is(run.code, EXIT.usage);
  t.regex(run.stderr, /--prometheus-remote-write: must be an http:\/\/ or https:\/\/ URL like http:\/\/prometheus:9090\/api\/v1\/write, got "not a url"/);
  t.regex(run.stderr, /PROMETHEUS_REMOTE_WRITE_LABELS \(or --prometheus-remote-write-labels\): le is a label Stressgrid or Prometheus sets itself/);
});
