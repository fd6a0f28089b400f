/**
 * The stressgrid-coordinator program as systemd runs it, with a real
 * stressgrid-generator process connected over its WebSocket port; and its settings.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GeneratorInfo, RunStarted } from '../../ts/coordinator/api-messages.js';
import { exposureWarning, resolveCoordinatorOptions } from '../../ts/coordinator/program-options.js';
import { startNginx } from '../support/nginx.js';
import { nginxPlan } from './coordinator-harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function program(path: string, args: string[], env: Record<string, string | undefined> = {}) {
  const child = spawn(process.execPath, [join(root, path), ...args], { cwd: root, env: { ...process.env, STRESSGRID_TOKEN: undefined, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // 'close', not 'exit': only then has everything the process wrote been read.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(killer));
  return {
    child: child as ChildProcess,
    exited,
    stderr: () => stderr,
    async waitFor(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(stderr);
        if (match) return match;
        if (Date.now() > deadline) throw new Error(`no ${pattern} in ${timeoutMs} ms; stderr: ${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

test('SIGTERM mid-run aborts the run, writes its report and exits 0', async (t) => {
  const nginx = await startNginx();
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-coordinator-program-'));
  t.teardown(async () => {
    await nginx.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const coordinator = program('dist/ts/coordinator/main.js', ['--host', '127.0.0.1', '--port', '0', '--generator-port', '0', '--data-dir', dataDir]);
  t.teardown(() => void coordinator.child.kill('SIGKILL'));
  const [, api, generatorUrl] = await coordinator.waitFor(/website and API on (http:\/\/127\.0\.0\.1:\d+), generators on (ws:\/\/127\.0\.0\.1:\d+)/);
  t.notRegex(coordinator.stderr(), /WARNING/, 'loopback without a token is not exposed');
  const generator = program('dist/ts/generator/main.js', ['--coordinator-url', generatorUrl!, '--id', 'program-test', '--workers', '1']);
  t.teardown(() => void generator.child.kill('SIGKILL'));
  await coordinator.waitFor(/generator program-test connected/);

  const started = await fetch(`${api}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(nginxPlan(nginx.port)) });
  t.is(started.status, 201);
  const { runId } = (await started.json()) as RunStarted;
  const generators = (await (await fetch(`${api}/api/generators`)).json()) as GeneratorInfo[];
  t.deepEqual(generators.map((g) => g.id), ['program-test']);
  await new Promise((resolve) => setTimeout(resolve, 1500));

  coordinator.child.kill('SIGTERM');
  t.is(await coordinator.exited, 0, coordinator.stderr());
  t.regex(coordinator.stderr(), new RegExp(`aborting run ${runId}`));
  t.true(existsSync(join(dataDir, `${runId}.tar.gz`)));
  generator.child.kill('SIGTERM');
  t.is(await generator.exited, 0);
});

test('the program serves the package\'s website, with uPlot from its npm package, beside the API', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-coordinator-program-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const coordinator = program('dist/ts/coordinator/main.js', ['--host', '127.0.0.1', '--port', '0', '--generator-port', '0', '--data-dir', dataDir]);
  t.teardown(() => void coordinator.child.kill('SIGKILL'));
  const [, api] = await coordinator.waitFor(/website and API on (http:\/\/127\.0\.0\.1:\d+)/);
  const index = await fetch(`${api}/`);
  t.is(index.status, 200);
  t.regex(await index.text(), /<title>Stressgrid<\/title>/);
  for (const path of ['/app.js', '/vendor/uplot/uPlot.esm.js', '/shared/plan.js']) t.is((await fetch(`${api}${path}`)).status, 200, path);
  coordinator.child.kill('SIGTERM');
  t.is(await coordinator.exited, 0, coordinator.stderr());
});

test('bad settings exit 2 with every problem', async (t) => {
  const run = program('dist/ts/coordinator/main.js', ['--port', 'x', '--generator-port', '70000', '--report-interval', '0']);
  t.is(await run.exited, 2);
  t.regex(run.stderr(), /3 problems/);
  for (const option of ['--port', '--generator-port', '--report-interval']) t.regex(run.stderr(), new RegExp(`^  ${option}: `, 'm'));
});

test('settings: flags win over the environment, defaults as documented', (t) => {
  const defaults = resolveCoordinatorOptions({}, {});
  t.deepEqual(defaults, { ok: true, options: { port: 8000, generatorPort: 9696, host: '0.0.0.0', dataDir: './data', reportIntervalSeconds: 60, token: undefined } });
  const env = { STRESSGRID_PORT: '8080', STRESSGRID_GENERATOR_PORT: '9797', STRESSGRID_HOST: '127.0.0.1', STRESSGRID_DATA_DIR: '/var/lib/sg', REPORT_INTERVAL_SECONDS: '10', STRESSGRID_TOKEN: 't' };
  t.deepEqual(resolveCoordinatorOptions({}, env), { ok: true, options: { port: 8080, generatorPort: 9797, host: '127.0.0.1', dataDir: '/var/lib/sg', reportIntervalSeconds: 10, token: 't' } });
  t.like(resolveCoordinatorOptions({ port: '0', host: '::1' }, env), { ok: true, options: { port: 0, host: '::1' } });
  const bad = resolveCoordinatorOptions({}, { STRESSGRID_PORT: 'http' });
  t.deepEqual(bad, { ok: false, problems: ['STRESSGRID_PORT (or --port): must be a port from 0 to 65535 (0: any free one), got "http"'] });
});

test('the exposure warning: beyond loopback without a token only', (t) => {
  t.regex(exposureWarning({ host: '0.0.0.0', token: undefined })!, /without STRESSGRID_TOKEN/);
  t.regex(exposureWarning({ host: '10.0.0.5', token: undefined })!, /anyone who can reach/);
  t.is(exposureWarning({ host: '0.0.0.0', token: 'secret' }), null);
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) t.is(exposureWarning({ host, token: undefined }), null, host);
});
