/**
 * The generator port against hostile and mistaken peers, while a real generator
 * (in this process, over a real socket) runs a plan: each bad connection is
 * closed and logged, and the good generator's run completes untouched.
 *
 * Needs the Debian package nginx.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { Coordinator } from '../../ts/coordinator/coordinator.js';
import { startGeneratorServer, type GeneratorServer } from '../../ts/coordinator/generator-server.js';
import { Backoff } from '../../ts/shared/backoff.js';
import { CoordinatorConnection } from '../../ts/generator/coordinator-connection.js';
import { Generator } from '../../ts/generator/generator.js';
import { PROTOCOL_VERSION, type Telemetry } from '../../ts/shared/protocol.js';
import { encodeTelemetryFrame } from '../../ts/shared/telemetry-frame.js';
import type { GeneratorSide } from '../../ts/shared/transport.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { readResultsCsv } from '../support/report-archive.js';
import { until } from '../support/until.js';

const cleanups: Array<() => unknown> = [];
test.after.always(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface Port {
  coordinator: Coordinator;
  server: GeneratorServer;
  url: string;
  log: string[];
}

async function port(options: { token?: string; maxMessageBytes?: number; helloTimeoutMs?: number } = {}): Promise<Port> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-generator-port-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const log: string[] = [];
  const coordinator = new Coordinator({ dataDir, reportIntervalSeconds: 1, log: (line) => log.push(line) });
  const server = await startGeneratorServer({ coordinator, host: '127.0.0.1', port: 0, log: (line) => log.push(line), ...options });
  cleanups.push(async () => {
    await coordinator.abort();
    await server.close();
  });
  return { coordinator, server, url: `ws://127.0.0.1:${server.port}`, log };
}

/** A raw client; resolves how it ended: refused upgrade (status) or closed socket (code, reason, messages seen). */
function hostile(url: string, act: (socket: WebSocket) => void, headers: Record<string, string> = {}) {
  const socket = new WebSocket(url, { headers });
  const received: unknown[] = [];
  socket.on('message', (data: Buffer) => received.push(JSON.parse(data.toString())));
  socket.on('open', () => act(socket));
  return new Promise<{ status?: number; code?: number; reason?: string; received: unknown[] }>((resolve) => {
    socket.once('unexpected-response', (req, res) => {
      resolve({ status: res.statusCode, received });
      req.destroy();
    });
    socket.on('error', () => {});
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString(), received }));
  });
}

const helloText = (id: string, version = PROTOCOL_VERSION) => JSON.stringify({ type: 'hello', version, generatorId: id, workers: 1 });

test('hostile peers lose their own connection, logged; the good generator’s run completes', async (t) => {
  const nginx: NginxServer = await startNginx();
  cleanups.push(() => nginx.stop());
  const p = await port({ maxMessageBytes: 64 * 1024, helloTimeoutMs: 300 });
  const generator = await Generator.start({ id: 'good', workers: 1, log: () => {} });
  const connection = CoordinatorConnection.start({ url: p.url, generator, log: () => {} });
  cleanups.push(async () => {
    connection.stop();
    await generator.close();
  });
  await until(
    () => p.coordinator.registry.size === 1,
    10_000,
    () => 'the good generator',
  );

  const started = await p.coordinator.start({
    name: 'under attack',
    blocks: [{ script: 'for (;;) { await get("/"); await delay(20); }' }],
    addresses: [{ host: '127.0.0.1', port: nginx.port }],
    size: 10,
    sustain: 2,
  });
  if (!started.ok) return t.fail(JSON.stringify(started));

  const garbage = await hostile(p.url, (s) => s.send('\u0000\u00ff garbage {{'));
  t.is(garbage.code, 1008);
  t.regex(garbage.reason!, /^invalid message: not JSON/);

  const binary = await hostile(p.url, (s) => s.send(Buffer.from(helloText('bin')), { binary: true }));
  t.is(binary.code, 1008);

  const oversized = await hostile(p.url, (s) => s.send(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, generatorId: 'big', workers: 1, pad: 'x'.repeat(100 * 1024) })));
  t.is(oversized.code, 1009);

  const fuzzed = await hostile(p.url, (s) => {
    s.send(helloText('fuzzed'));
    const fuzzedTelemetry = {
      type: 'telemetry',
      generatorId: 'fuzzed',
      runId: started.run.runId,
      seq: 1,
      at: Date.now(),
      intervalMs: 1000,
      activeDevices: 1e30,
      cpuPercent: 'lots',
      networkRxBytes: 0,
      networkTxBytes: 0,
      counters: { response_count: 1e9 },
      histograms: {},
    };
    s.send(encodeTelemetryFrame(fuzzedTelemetry as unknown as Telemetry));
  });
  t.is(fuzzed.code, 1008);
  t.regex(fuzzed.reason!, /^invalid message: (activeDevices|cpuPercent)/);

  const otherVersion = await hostile(p.url, (s) => s.send(helloText('future', PROTOCOL_VERSION + 1)));
  t.is(otherVersion.code, 1000);
  t.like(otherVersion.received[0], { type: 'refused' });
  t.regex((otherVersion.received[0] as { reason: string }).reason, new RegExp(`protocol version ${PROTOCOL_VERSION}, the generator ${PROTOCOL_VERSION + 1}`));

  const silent = await hostile(p.url, () => {});
  t.deepEqual(silent, { code: 1000, reason: 'no hello within 300 ms', received: [] });

  const wrongFirst = await hostile(p.url, (s) => s.send(JSON.stringify({ type: 'run_problem', generatorId: 'x', runId: started.run.runId, message: 'boo' })));
  t.is(wrongFirst.reason, 'the first message must be hello');

  const result = await started.run.done;
  t.is(result.outcome, 'done', result.reason);
  t.is(result.criticalErrors, 0, 'nothing the hostile peers sent counted against the run');
  t.deepEqual(
    p.coordinator.registry.list().map((g) => g.id),
    ['good'],
  );
  const rows = await readResultsCsv(result.archivePath!);
  t.true(Number(rows.at(-1)!.response_count) > 0);

  const log = p.log.join('\n');
  t.regex(log, /generator good connected from 127\.0\.0\.1:\d+ \(1 workers\)/);
  t.regex(log, /closed the connection of a generator from 127\.0\.0\.1:\d+: invalid message: not JSON/);
  t.regex(log, /closed the connection of a generator from .*: invalid message: binary frame shorter than its header length says/);
  t.regex(log, /closed the connection of a generator from .*: message over the limit of 65536 bytes/);
  t.regex(log, /closed the connection of generator fuzzed from .*: invalid message/);
  t.regex(log, new RegExp(`refused generator future from .*: it speaks protocol version ${PROTOCOL_VERSION + 1}, this coordinator ${PROTOCOL_VERSION}`));
  t.regex(log, /closed the connection of a generator from .*: no hello within 300 ms/);
  t.regex(log, /closed the connection of a generator from .*: the first message must be hello/);
});

test('with a token, an upgrade without it is refused 401 and logged; only the header admits, never ?token=', async (t) => {
  const p = await port({ token: 's3cret' });
  t.deepEqual(await hostile(p.url, () => {}), { status: 401, received: [] });
  t.deepEqual(await hostile(p.url, () => {}, { authorization: 'Bearer wrong' }), { status: 401, received: [] });
  t.deepEqual(await hostile(`${p.url}/?token=s3cre`, () => {}), { status: 401, received: [] });
  t.regex(p.log.join('\n'), /refused a generator connection from 127\.0\.0\.1:\d+: missing or wrong token/);

  const welcome = { type: 'welcome', version: PROTOCOL_VERSION };
  const sayHello = (id: string) => (s: WebSocket) => {
    s.send(helloText(id));
    s.once('message', () => s.close());
  };
  t.deepEqual((await hostile(p.url, sayHello('by-header'), { authorization: 'Bearer s3cret' })).received, [welcome]);
  t.deepEqual(await hostile(`${p.url}/?token=s3cret`, sayHello('by-query')), { status: 401, received: [] }, 'the right token in the URL is refused');
  t.regex(p.log.join('\n'), /refused a generator connection from 127\.0\.0\.1:\d+: a token in the URL \(\?token=\) is not accepted: generators send STRESSGRID_TOKEN as Authorization: Bearer/);
});

test('the generator side: a wrong token is logged clearly and retried; the right one connects and counts as success', async (t) => {
  const p = await port({ token: 's3cret' });
  const lines: string[] = [];
  const links: GeneratorSide[] = [];
  // Stands in for the Generator, which tells the connection when the coordinator welcomed it.
  const fake = {
    connect: (link: GeneratorSide, events: { welcomed(): void }) => {
      links.push(link);
      link.onMessage((m) => m.type === 'welcome' && events.welcomed());
    },
  };
  const wrong = CoordinatorConnection.start({ url: p.url, token: 'nope', generator: fake, log: (l) => lines.push(l), backoff: new Backoff({ initialMs: 50, random: () => 0.5 }) });
  cleanups.push(() => wrong.stop());
  await until(
    () => lines.length >= 2,
    5000,
    () => `two attempts; log: ${lines.join('\n')}`,
  );
  wrong.stop();
  t.deepEqual(lines.slice(0, 2), [
    `stressgrid generator: the coordinator at ${p.url} refused the token (401): set the same STRESSGRID_TOKEN on both sides; attempt 1 in 0.1 s`,
    `stressgrid generator: the coordinator at ${p.url} refused the token (401): set the same STRESSGRID_TOKEN on both sides; attempt 2 in 0.1 s`,
  ]);
  t.deepEqual(links, []);

  const right = CoordinatorConnection.start({ url: p.url, token: 's3cret', generator: fake, log: (l) => lines.push(l) });
  cleanups.push(async () => {
    right.stop();
    links[0]?.close();
    await right.ended();
  });
  await until(
    () => links.length === 1,
    5000,
    () => 'a link',
  );
  const messages: unknown[] = [];
  links[0]!.onMessage((m) => messages.push(m));
  links[0]!.send({ type: 'hello', version: PROTOCOL_VERSION, generatorId: 'fake', workers: 1 });
  await until(
    () => messages.length === 1,
    5000,
    () => 'a welcome',
  );
  t.deepEqual(messages, [{ type: 'welcome', version: PROTOCOL_VERSION }]);
  await until(
    () => lines.at(-1)!.endsWith(`connected to ${p.url}`),
    5000,
    () => lines.join('\n'),
  );
});

test('plain HTTP on the generator port gets 426 and where to go instead', async (t) => {
  const p = await port();
  const response = await fetch(`http://127.0.0.1:${p.server.port}/`);
  t.is(response.status, 426);
  t.regex(await response.text(), /generators connect here over WebSocket/);
});
