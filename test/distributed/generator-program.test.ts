/**
 * The stressgrid-generator program's settings and reconnection delays, and its
 * shutdown as a real process: SIGTERM during a run stops the devices, sends the
 * run's last telemetry and exits 0.
 *
 * Needs the Debian package nginx.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Backoff } from '../../ts/generator/backoff.js';
import { DEFAULT_COORDINATOR_URL, resolveGeneratorOptions } from '../../ts/generator/program-options.js';
import type { Telemetry } from '../../ts/shared/protocol.js';
import { killAllGeneratorProcesses, startGeneratorProcess } from '../support/generator-process.js';
import { startNginx } from '../support/nginx.js';
import { startCluster, until } from './cluster.js';

test('backoff doubles from 0.5 s to 30 s, spread by ±50%, and starts over after a success', (t) => {
  const middle = new Backoff({ random: () => 0.5 });
  t.deepEqual(Array.from({ length: 9 }, () => middle.next()), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  middle.reset();
  t.is(middle.next(), 500);
  t.deepEqual([new Backoff({ random: () => 0 }).next(), new Backoff({ random: () => 0.999999 }).next()], [250, 750]);
  const late = new Backoff({ random: () => 0.5 });
  for (let i = 0; i < 2000; i++) late.next();
  t.is(late.next(), 30000, 'no overflow after many attempts');
});

test('settings come from the environment, flags win, every problem is listed', (t) => {
  const env = { COORDINATOR_URL: 'wss://coord.example:9696', GENERATOR_ID: 'gen-7', STRESSGRID_WORKERS: '3', STRESSGRID_TOKEN: 'tok' };
  t.deepEqual(resolveGeneratorOptions({}, env), { ok: true, options: { coordinatorUrl: 'wss://coord.example:9696/', id: 'gen-7', workers: 3, token: 'tok' } });
  t.deepEqual(resolveGeneratorOptions({ coordinatorUrl: 'ws://10.0.0.1:9696', id: 'flag', workers: '2', token: 'x' }, env), {
    ok: true,
    options: { coordinatorUrl: 'ws://10.0.0.1:9696/', id: 'flag', workers: 2, token: 'x' },
  });
  const defaults = resolveGeneratorOptions({}, {});
  t.true(defaults.ok && defaults.options.coordinatorUrl === new URL(DEFAULT_COORDINATOR_URL).href && defaults.options.id !== '' && defaults.options.workers === undefined);
  t.deepEqual(resolveGeneratorOptions({ workers: '0' }, { COORDINATOR_URL: 'http://coord:9696', GENERATOR_ID: 'a\tb' }), {
    ok: false,
    problems: [
      'COORDINATOR_URL (or --coordinator-url): must be a ws:// or wss:// URL, got "http://coord:9696"',
      'GENERATOR_ID (or --id): must be 1 to 256 printable characters, got "a\\tb"',
      '--workers: must be a whole number from 1 to 4096, got "0"',
    ],
  });
  t.false(resolveGeneratorOptions({ coordinatorUrl: 'not a url' }, {}).ok);
});

test.after.always(() => killAllGeneratorProcesses());

test('SIGTERM mid-run: devices stop, the last telemetry reaches the coordinator, exit 0', async (t) => {
  const nginx = await startNginx();
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-sigterm-'));
  const c = await startCluster({ dataDir });
  t.teardown(async () => {
    await c.close();
    await nginx.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const stays = startGeneratorProcess({ url: c.url, id: 'stays' });
  const leaving = startGeneratorProcess({ url: c.url, id: 'leaving' });
  await c.waitForGenerators([stays.id, leaving.id]);
  const finals: Telemetry[] = [];
  let busy = false;
  c.coordinator.registry.listen({
    telemetry: (g, m) => {
      if (g.id !== 'leaving') return;
      if (m.activeDevices > 0) busy = true;
      if (m.final) finals.push(m);
    },
  });

  const started = await c.coordinator.start({
    name: 'sigterm',
    blocks: [{ script: 'for (;;) { await get("/"); await delay(20); }' }],
    addresses: [{ host: '127.0.0.1', port: nginx.port }],
    size: 20,
    sustain: 4,
  });
  if (!started.ok) return t.fail(JSON.stringify(started));
  await until(() => busy, 5000, () => 'devices running on the generator that will leave');
  leaving.kill('SIGTERM');
  t.is(await leaving.exited, 0, leaving.stderr());
  t.regex(leaving.stderr(), /SIGTERM: stopping devices and sending the last telemetry/);
  t.is(finals.length, 1, 'the final telemetry arrived before the socket closed');
  t.is(finals[0]!.runId, started.run.runId);
  t.is(finals[0]!.activeDevices, 0, 'its devices were stopped');
  const result = await started.run.done;
  t.is(result.outcome, 'done', result.reason);
});
