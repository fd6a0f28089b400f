/**
 * A Device's life against a real node:http server on loopback: a body that
 * returns is recycled at once on a new connection, one that fails is counted
 * under its code and recycled after a second, and stop() ends it wherever it is.
 */
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Device, limitPauseMs, RECYCLE_AFTER_ERROR_MS } from '../../ts/generator/device.js';
import type { Target } from '../../ts/generator/protocols/device-connection.js';
import { ScriptSandbox } from '../../ts/generator/sandbox/script-sandbox.js';
import { RecordingSink } from '../support/recording-sink.js';
import { until } from '../support/until.js';

interface Loopback {
  server: Server;
  target: Target;
  /** performance.now() of each accepted connection. */
  connections: number[];
  sockets: Socket[];
  requests: number;
}

async function loopback(t: import('ava').ExecutionContext): Promise<Loopback> {
  const state: Loopback = { server: createServer(), target: undefined!, connections: [], sockets: [], requests: 0 };
  state.server.on('connection', (socket: Socket) => {
    state.connections.push(performance.now());
    state.sockets.push(socket);
  });
  state.server.on('request', (_req, res) => {
    state.requests++;
    res.end('ok');
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  const { port } = state.server.address() as AddressInfo;
  state.target = { ip: '127.0.0.1', port, protocol: 'http', hostname: '127.0.0.1', verifyTls: false };
  t.teardown(() => new Promise<void>((resolve) => (state.server.closeAllConnections(), state.server.close(() => resolve()))));
  return state;
}

async function device(t: import('ava').ExecutionContext, source: string, target: Target): Promise<{ device: Device; sink: RecordingSink }> {
  const sink = new RecordingSink();
  const sandbox = await ScriptSandbox.create({ source, params: {}, sink });
  let id = 0;
  const d = new Device(sandbox, target, sink, () => ++id);
  t.teardown(() => {
    void d.stop();
    // Stopped devices settle on the next turns; the runtime goes after them.
    setTimeout(() => sandbox.dispose(), 50);
  });
  return { device: d, sink };
}

test('a body that returns is recycled at once, each run on a new connection', async (t) => {
  const server = await loopback(t);
  const { device: d, sink } = await device(t, 'await get("/");', server.target);
  d.start();
  await until(() => server.connections.length >= 6);
  void d.stop();
  t.is(d.state, 'stopped');
  await sleep(50);
  // One request per connection: nothing reused a closed device's connection.
  t.true(Math.abs(server.requests - server.connections.length) <= 1, `${server.requests} requests on ${server.connections.length} connections`);
  const gaps = server.connections.slice(1).map((at, i) => at - server.connections[i]!);
  t.true(Math.max(...gaps) < RECYCLE_AFTER_ERROR_MS / 2, `gaps ${gaps.map(Math.round).join(',')} ms`);
  t.true(sink.countOf('response') >= 5);
  t.deepEqual(
    [...sink.counts.keys()].filter((k) => k.endsWith('_error')),
    [],
  );
});

test('a body that throws counts script_error and starts over after one second', async (t) => {
  const server = await loopback(t);
  const { device: d, sink } = await device(t, 'await get("/");\nthrow new Error("boom");', server.target);
  d.start();
  await until(() => sink.countOf('script_error') === 1);
  t.is(d.state, 'backoff');
  t.false(d.active);
  await until(() => server.connections.length === 2, RECYCLE_AFTER_ERROR_MS + 1500);
  const gap = server.connections[1]! - server.connections[0]!;
  t.true(gap >= RECYCLE_AFTER_ERROR_MS - 20 && gap < RECYCLE_AFTER_ERROR_MS + 500, `recycled after ${Math.round(gap)} ms`);
  await until(() => sink.countOf('script_error') === 2);
  t.is(sink.countOf('response'), 2);
  t.is(server.requests, 2);
});

test('stop() during the pause after a failure ends the device: no new connection', async (t) => {
  const server = await loopback(t);
  const { device: d, sink } = await device(t, 'await get("/");\nthrow new Error("boom");', server.target);
  d.start();
  await until(() => sink.countOf('script_error') === 1);
  void d.stop();
  await sleep(RECYCLE_AFTER_ERROR_MS + 200);
  t.is(server.connections.length, 1);
  t.is(d.state, 'stopped');
  t.is(sink.countOf('script_error'), 1);
});

test('a refused connection counts conn_refused and waits out the pause, inactive', async (t) => {
  const server = await loopback(t);
  const target = server.target;
  await new Promise<void>((resolve) => (server.server.closeAllConnections(), server.server.close(() => resolve())));
  const { device: d, sink } = await device(t, 'await get("/");', target);
  d.start();
  await until(() => sink.countOf('conn_refused_error') === 1);
  t.is(d.state, 'backoff');
  t.false(d.active);
  await sleep(RECYCLE_AFTER_ERROR_MS / 2);
  t.is(sink.countOf('conn_refused_error'), 1, 'no retry before the pause is over');
});

test('stop() while the script waits closes its connection at once', async (t) => {
  const server = await loopback(t);
  const { device: d, sink } = await device(t, 'await get("/");\nawait delay(60000);', server.target);
  d.start();
  await until(() => sink.countOf('response') === 1);
  t.is(d.state, 'running');
  t.true(d.active);
  const closed = new Promise<void>((resolve) => server.sockets[0]!.once('close', () => resolve()));
  void d.stop();
  await Promise.race([closed, sleep(1000).then(() => Promise.reject(new Error('the connection stayed open')))]);
  t.is(d.state, 'stopped');
  t.false(d.active);
  t.is(server.connections.length, 1);
});

test('after limit errors in a row the pause doubles from 1 s up to 30 s', (t) => {
  t.deepEqual([1, 2, 3, 4, 5, 6, 7, 40].map(limitPauseMs), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
});
