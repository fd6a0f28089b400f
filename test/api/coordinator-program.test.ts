/**
 * The stressgrid-coordinator program as systemd runs it, with a real
 * stressgrid-generator process connected over its WebSocket port; and its settings.
 * The process tests run one at a time: each is a few processes.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { GeneratorInfo, RunStarted, RunStatus } from '../../ts/coordinator/api-messages.js';
import { exposureWarning, resolveCoordinatorOptions } from '../../ts/coordinator/program-options.js';
import { startCoordinatorProgram } from '../support/coordinator-program.js';
import { startGeneratorProcess } from '../support/generator-process.js';
import { startNginx } from '../support/nginx.js';
import { killAllPrograms, startProgram } from '../support/program-process.js';
import { nginxPlan } from './coordinator-harness.js';
import { until } from '../support/until.js';
import { tempDir } from '../support/temp-dir.js';

test.after.always(() => killAllPrograms());

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test.serial(`${signal} mid-run aborts the run, writes its report and exits 0`, async (t) => {
    const nginx = await startNginx();
    t.teardown(() => nginx.stop());
    const dataDir = await tempDir(t, 'coordinator-program');
    const coordinator = startCoordinatorProgram({ dataDir });
    const { api, generators: generatorUrl } = await coordinator.listening();
    t.notRegex(coordinator.stderr(), /WARNING/, 'loopback without a token is not exposed');
    const generator = startGeneratorProcess({ url: generatorUrl, id: 'program-test' });
    await coordinator.waitFor(/generator program-test connected/);

    const started = await fetch(`${api}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(nginxPlan(nginx.port)) });
    t.is(started.status, 201);
    const { runId } = (await started.json()) as RunStarted;
    const generators = (await (await fetch(`${api}/api/generators`)).json()) as GeneratorInfo[];
    t.deepEqual(
      generators.map((g) => g.id),
      ['program-test'],
    );
    await until(async () => (await nginx.accessLogCount()) > 0, 15_000, 'devices of the run reaching nginx');
    t.is(((await (await fetch(`${api}/api/runs/current`)).json()) as RunStatus).state, 'active');

    coordinator.kill(signal);
    t.is(await coordinator.exited, 0, coordinator.stderr());
    t.regex(coordinator.stderr(), new RegExp(`${signal}: aborting run ${runId} and writing its report`));
    t.regex(coordinator.stderr(), /stressgrid coordinator: stopped$/m);
    t.true(existsSync(join(dataDir, `${runId}.tar.gz`)));
    generator.kill(signal);
    t.is(await generator.exited, 0, generator.stderr());
  });
}

test.serial('listening beyond loopback without a token, the program says so at start; with a token it does not', async (t) => {
  const open = startCoordinatorProgram({ dataDir: await tempDir(t, 'coordinator-program'), host: '0.0.0.0' });
  await open.listening();
  t.regex(open.stderr(), /stressgrid coordinator: WARNING: .*without STRESSGRID_TOKEN/);
  t.regex(open.stderr(), /website and API on http:\/\/0\.0\.0\.0:\d+/);
  const guarded = startCoordinatorProgram({ dataDir: await tempDir(t, 'coordinator-program'), host: '0.0.0.0', token: 's3cret' });
  await guarded.listening();
  t.notRegex(guarded.stderr(), /WARNING/);
  for (const p of [open, guarded]) {
    p.kill('SIGTERM');
    t.is(await p.exited, 0, p.stderr());
  }
});

test.serial("the program serves the package's website, with uPlot from its npm package, beside the API", async (t) => {
  const coordinator = startCoordinatorProgram({ dataDir: await tempDir(t, 'coordinator-program') });
  const { api } = await coordinator.listening();
  const index = await fetch(`${api}/`);
  t.is(index.status, 200);
  t.regex(await index.text(), /<title>Stressgrid<\/title>/);
  for (const path of ['/app.js', '/vendor/uplot/uPlot.esm.js', '/shared/plan.js']) t.is((await fetch(`${api}${path}`)).status, 200, path);
  coordinator.kill('SIGTERM');
  t.is(await coordinator.exited, 0, coordinator.stderr());
});

test.serial('bad settings exit 2 with every problem', async (t) => {
  const run = startProgram({ main: 'dist/ts/coordinator/main.js', name: 'the coordinator', args: ['--port', 'x', '--generator-port', '70000', '--report-interval', '0'], env: process.env });
  t.is(await run.exited, 2);
  t.regex(run.stderr(), /3 problems/);
  for (const option of ['--port', '--generator-port', '--report-interval']) t.regex(run.stderr(), new RegExp(`^  ${option}: `, 'm'));
});

test('settings: flags win over the environment, defaults as documented', (t) => {
  const defaults = resolveCoordinatorOptions({}, {});
  t.deepEqual(defaults, { ok: true, options: { port: 8000, generatorPort: 9696, host: '0.0.0.0', dataDir: './data', reportIntervalSeconds: 60, linkExpirySeconds: 604800, token: undefined } });
  const env = {
    STRESSGRID_PORT: '8080',
    STRESSGRID_GENERATOR_PORT: '9797',
    STRESSGRID_HOST: '127.0.0.1',
    STRESSGRID_DATA_DIR: '/var/lib/sg',
    REPORT_INTERVAL_SECONDS: '10',
    STRESSGRID_LINK_EXPIRY_SECONDS: '3600',
    STRESSGRID_TOKEN: 't',
  };
  t.deepEqual(resolveCoordinatorOptions({}, env), {
    ok: true,
    options: { port: 8080, generatorPort: 9797, host: '127.0.0.1', dataDir: '/var/lib/sg', reportIntervalSeconds: 10, linkExpirySeconds: 3600, token: 't' },
  });
  t.like(resolveCoordinatorOptions({ port: '0', host: '::1' }, env), { ok: true, options: { port: 0, host: '::1' } });
  const bad = resolveCoordinatorOptions({}, { STRESSGRID_PORT: 'http' });
  t.deepEqual(bad, { ok: false, problems: ['STRESSGRID_PORT (or --port): must be a port from 0 to 65535 (0: any free one), got "http"'] });
  t.like(resolveCoordinatorOptions({ linkExpiry: '60' }, env), { ok: true, options: { linkExpirySeconds: 60 } });
  t.deepEqual(resolveCoordinatorOptions({ linkExpiry: '-1' }, {}), {
    ok: false,
    problems: ['--link-expiry: must be a whole number of seconds from 1 to 315360000 (ten years), got "-1"'],
  });
});

test('the exposure warning: beyond loopback without a token only', (t) => {
  t.regex(exposureWarning({ host: '0.0.0.0', token: undefined })!, /without STRESSGRID_TOKEN/);
  t.regex(exposureWarning({ host: '10.0.0.5', token: undefined })!, /anyone who can reach/);
  t.is(exposureWarning({ host: '0.0.0.0', token: 'secret' }), null);
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) t.is(exposureWarning({ host, token: undefined }), null, host);
});
