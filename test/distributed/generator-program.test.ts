/**
 * The stressgrid-generator program's settings and reconnection delays, and as a
 * real process: SIGTERM or SIGINT during a run stops the devices, sends the run's
 * last telemetry and exits 0; a coordinator of another protocol version is
 * refused; wss:// works through a TLS-terminating proxy. The process tests run
 * one at a time: each is a few processes.
 *
 * Needs the Debian package nginx.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { Backoff } from '../../ts/shared/backoff.js';
import { DEFAULT_COORDINATOR_URL, resolveGeneratorOptions } from '../../ts/generator/program-options.js';
import { validatePlan } from '../../ts/shared/plan-validation.js';
import { PROTOCOL_VERSION, type Telemetry } from '../../ts/shared/protocol.js';
import { startGeneratorProcess } from '../support/generator-process.js';
import { killAllPrograms } from '../support/program-process.js';
import { startNginx } from '../support/nginx.js';
import { selfSignedCert } from '../support/tls-cert.js';
import { startWsServer } from '../support/ws-server.js';
import { startCluster } from './cluster.js';
import { until } from '../support/until.js';

test('backoff doubles from 0.5 s to 30 s, spread by ±50%, and starts over after a success', (t) => {
  const middle = new Backoff({ random: () => 0.5 });
  t.deepEqual(
    Array.from({ length: 9 }, () => middle.next()),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000],
  );
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
  t.true(defaults.ok && defaults.options.coordinatorUrl === new URL(DEFAULT_COORDINATOR_URL).href && defaults.options.workers === undefined);
  t.is(defaults.ok && defaults.options.id, hostname(), 'the id defaults to the host name');
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

test.after.always(() => killAllPrograms());

test.serial('a coordinator of another protocol version is refused with a clear message: nothing it sends runs, and the generator backs off', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const checked = await validatePlan({
    name: 'other version',
    blocks: [{ script: 'for (;;) { await get("/"); await delay(20); }' }],
    addresses: [{ host: '127.0.0.1', port: nginx.port }],
    size: 10,
    sustain: 60,
  });
  if (!checked.ok) return t.fail(JSON.stringify(checked.problems));
  const other = PROTOCOL_VERSION + 1;
  const runId = 'other-version-20260101T000000Z-0001';
  const dials: number[] = [];
  // Speaks the next version and, as a careless peer would, sends a run at once.
  const fake = await startWsServer({
    onConnection: (ws) => {
      dials.push(Date.now());
      ws.once('message', () => {
        ws.send(JSON.stringify({ type: 'welcome', version: other }));
        ws.send(JSON.stringify({ type: 'prepare_run', runId, plan: checked.plan }));
        ws.send(JSON.stringify({ type: 'start_cohort', runId, cohortId: 0, devices: [10], addressOffset: 0 }));
      });
    },
  });
  t.teardown(() => fake.close());
  const generator = startGeneratorProcess({ url: `ws://127.0.0.1:${fake.port}`, id: 'old' });
  await generator.waitFor(new RegExp(`refused the coordinator: it speaks protocol version ${other}, this generator ${PROTOCOL_VERSION}: run the same Stressgrid version on both`));
  await generator.waitFor(/attempt 2 in [\d.]+ s/);
  await until(
    () => dials.length >= 3,
    10_000,
    () => `a third attempt; stderr:\n${generator.stderr()}`,
  );
  t.notRegex(generator.stderr(), /connected to/, 'a refused coordinator never counts as connected');
  t.true(dials[2]! - dials[1]! >= 500, `the second retry waited ${dials[2]! - dials[1]!} ms: the backoff grows (0.5-1.5 s), a refusal does not reset it`);
  t.is(await nginx.accessLogCount(), 0, 'no device of the refused coordinator ran');
  generator.kill('SIGTERM');
  t.is(await generator.exited, 0, generator.stderr());
});

/** A TLS-terminating proxy in front of a plain port, as a machine running the coordinator would put there. */
async function tlsRelay(port: number, cert: { key: string; cert: string }): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTlsServer({ key: cert.key, cert: cert.cert }, (front) => {
    const back = connect(port, '127.0.0.1');
    for (const s of [front, back]) {
      sockets.add(s);
      s.on('error', () => {
        front.destroy();
        back.destroy();
      });
      s.on('close', () => sockets.delete(s));
    }
    front.pipe(back).pipe(front);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

test.serial('wss:// through a TLS-terminating proxy: the generator verifies the certificate, joins and reports; an untrusted certificate is refused with the reason', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-wss-'));
  const c = await startCluster({ dataDir });
  const cert = await selfSignedCert();
  const relay = await tlsRelay(c.server.port, cert);
  t.teardown(async () => {
    await relay.close();
    await c.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const url = `wss://127.0.0.1:${relay.port}`;

  const untrusting = startGeneratorProcess({ url, id: 'untrusting' });
  // Node 24 adds its own hint (--use-system-ca) after the reason; the reason is what counts.
  await untrusting.waitFor(new RegExp(`could not connect to wss://127\\.0\\.0\\.1:${relay.port}/: self[- ]signed certificate[^\\n]*; attempt 1 in`));
  untrusting.kill('SIGTERM');
  t.is(await untrusting.exited, 0, untrusting.stderr());

  let pushed = false;
  c.coordinator.registry.listen({ telemetry: (g) => (pushed ||= g.id === 'tls') });
  const trusting = startGeneratorProcess({ url, id: 'tls', env: { NODE_EXTRA_CA_CERTS: cert.certPath } });
  await c.waitForGenerators(['tls']);
  await trusting.waitFor(new RegExp(`connected to wss://127\\.0\\.0\\.1:${relay.port}/`));
  await until(
    () => pushed,
    5000,
    () => 'telemetry through the proxy',
  );
  trusting.kill('SIGTERM');
  t.is(await trusting.exited, 0, trusting.stderr());
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test.serial(`${signal} mid-run: devices stop, the last telemetry reaches the coordinator, exit 0`, async (t) => {
    const nginx = await startNginx();
    const dataDir = await mkdtemp(join(tmpdir(), `sg-${signal.toLowerCase()}-`));
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
      name: signal.toLowerCase(),
      blocks: [{ script: 'for (;;) { await get("/"); await delay(20); }' }],
      addresses: [{ host: '127.0.0.1', port: nginx.port }],
      size: 20,
      sustain: 4,
    });
    if (!started.ok) return t.fail(JSON.stringify(started));
    await until(
      () => busy,
      5000,
      () => 'devices running on the generator that will leave',
    );
    leaving.kill(signal);
    t.is(await leaving.exited, 0, leaving.stderr());
    t.regex(leaving.stderr(), new RegExp(`${signal}: stopping devices and sending the last telemetry`));
    t.is(finals.length, 1, 'the final telemetry arrived before the socket closed');
    t.is(finals[0]!.runId, started.run.runId);
    t.is(finals[0]!.activeDevices, 0, 'its devices were stopped');
    const result = await started.run.done;
    t.is(result.outcome, 'done', result.reason);
  });
}
