/**
 * The WebSocket link against a real ws server on loopback: what passes, and how a
 * peer that sends garbage, too much, or stops reading loses its connection.
 */
import test from 'ava';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { Histogram } from '../../ts/hdr/index.js';
import { parseGeneratorFrame } from '../../ts/shared/protocol-validation.js';
import { serializeGeneratorMessage } from '../../ts/shared/telemetry-frame.js';
import { PROTOCOL_VERSION, type CoordinatorMessage, type GeneratorMessage, type Telemetry } from '../../ts/shared/protocol.js';
import { closeFrameReason, wsLink, type WsLink, type WsLinkOptions } from '../../ts/shared/ws-link.js';

interface Pair {
  /** The server end, as a coordinator would hold it. */
  link: WsLink<CoordinatorMessage, GeneratorMessage>;
  /** A raw client playing the peer. */
  client: WebSocket;
  received: GeneratorMessage[];
  invalid: string[];
  /** The reason the link gave its close handlers. */
  closed: Promise<string>;
  /** Code and reason of the close frame the client got. */
  clientClosed: Promise<{ code: number; reason: string }>;
}

const servers: WebSocketServer[] = [];
test.after.always(() => {
  for (const s of servers) {
    for (const c of s.clients) c.terminate();
    s.close();
  }
});

async function pair(options: WsLinkOptions & { maxPayload?: number } = {}): Promise<Pair> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: options.maxPayload });
  servers.push(server);
  await new Promise((resolve) => server.once('listening', resolve));
  const accepted = new Promise<WebSocket>((resolve) => server.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const clientClosed = new Promise<{ code: number; reason: string }>((resolve) => client.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  client.on('error', () => {});
  await new Promise((resolve) => client.once('open', resolve));
  const received: GeneratorMessage[] = [];
  const invalid: string[] = [];
  const link = wsLink<CoordinatorMessage, GeneratorMessage>(await accepted, parseGeneratorFrame, { ...options, onInvalid: (r) => invalid.push(r) });
  link.onMessage((m) => received.push(m));
  const closed = new Promise<string>((resolve) => link.onClose(resolve));
  return { link, client, received, invalid, closed, clientClosed };
}

const hello: GeneratorMessage = { type: 'hello', version: PROTOCOL_VERSION, generatorId: 'g1', workers: 2 };

test('checked messages flow both ways as JSON text frames', async (t) => {
  const p = await pair();
  const got = new Promise<string>((resolve) => p.client.once('message', (data: Buffer) => resolve(data.toString())));
  p.client.send(JSON.stringify(hello));
  p.link.send({ type: 'welcome', version: PROTOCOL_VERSION });
  t.deepEqual(JSON.parse(await got), { type: 'welcome', version: PROTOCOL_VERSION });
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(p.received, [hello]);
  p.link.close('done here');
  t.is(await p.closed, 'done here');
  t.deepEqual(await p.clientClosed, { code: 1000, reason: 'done here' });
  await p.link.ended;
});

test('a message that fails the check closes that connection with the reason (1008)', async (t) => {
  const p = await pair();
  p.client.send(JSON.stringify({ ...hello, generatorId: '' }));
  const { code, reason } = await p.clientClosed;
  t.is(code, 1008);
  t.is(reason, 'invalid message: generatorId must not be empty');
  t.deepEqual(p.invalid, ['invalid message: generatorId must not be empty']);
  t.is(await p.closed, 'invalid message: generatorId must not be empty');
  t.deepEqual(p.received, []);
});

test('garbage that is not JSON closes the connection', async (t) => {
  const p = await pair();
  p.client.send('\u0000garbage{{{');
  t.is((await p.clientClosed).code, 1008);
  t.regex(await p.closed, /^invalid message: not JSON/);
});

test('a binary frame that is no telemetry frame closes the connection (1008)', async (t) => {
  const p = await pair();
  p.client.send(Buffer.from(JSON.stringify(hello)), { binary: true });
  t.deepEqual(await p.clientClosed, { code: 1008, reason: 'invalid message: binary frame shorter than its header length says' });
  t.deepEqual(p.received, []);
});

test('telemetry arrives from its binary frame with its histogram bytes', async (t) => {
  const p = await pair();
  const h = new Histogram();
  h.recordMany([100, 2000, 30_000]);
  const telemetry: Telemetry = {
    type: 'telemetry',
    generatorId: 'g1',
    runId: null,
    seq: 1,
    at: 1,
    intervalMs: 1000,
    activeDevices: 0,
    cpuPercent: 1,
    networkRxBytes: 0,
    networkTxBytes: 0,
    counters: { response_count: 3 },
    histograms: { conn_us: h.encode({ compressed: false }), body_us: h.encode() },
  };
  p.client.send(serializeGeneratorMessage(telemetry));
  p.client.send(serializeGeneratorMessage(hello));
  while (p.received.length < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(p.received, [telemetry, hello]);
});

test('a message over the size bound closes the connection (1009) and is logged', async (t) => {
  const p = await pair({ maxPayload: 1024, maxMessageBytes: 1024 });
  p.client.send(JSON.stringify({ ...hello, generatorId: 'x'.repeat(2000) }));
  t.is((await p.clientClosed).code, 1009);
  t.deepEqual(p.invalid, ['message over the limit of 1024 bytes']);
  t.is(await p.closed, 'message over the limit of 1024 bytes');
});

test('the link enforces its own size bound when the socket has none', async (t) => {
  const p = await pair({ maxMessageBytes: 100 });
  p.client.send(JSON.stringify({ ...hello, generatorId: 'x'.repeat(200) }));
  t.is((await p.clientClosed).code, 1009);
  t.regex(p.invalid[0]!, /^message of \d+ bytes is over the limit of 100$/);
});

test('a peer that stops reading is dropped once the send buffer passes its bound', async (t) => {
  const p = await pair({ maxBufferedBytes: 1024 * 1024 });
  (p.client as unknown as { _socket: import('node:net').Socket })._socket.pause();
  const big: CoordinatorMessage = { type: 'refused', reason: 'x'.repeat(4000) };
  let sent = 0;
  let reason: string | undefined;
  void p.closed.then((r) => (reason = r));
  // The kernel's socket buffers take a few MiB first; 64 MiB is far past them.
  while (reason === undefined && sent < 16_000) {
    for (let i = 0; i < 100; i++) p.link.send(big);
    sent += 100;
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.regex(reason ?? 'not closed', /^the peer does not keep up: \d+ bytes wait to be sent$/);
  t.is(p.invalid.length, 1);
  await p.link.ended;
});

test('a peer that answers no ping is dropped after two heartbeats', async (t) => {
  const p = await pair({ heartbeatMs: 100 });
  (p.client as unknown as { _socket: import('node:net').Socket })._socket.pause();
  const started = Date.now();
  t.is(await p.closed, 'no answer from the peer in 0.2 s');
  t.true(Date.now() - started < 1000);
});

test('a live peer keeps the link through many heartbeats', async (t) => {
  const p = await pair({ heartbeatMs: 50 });
  await new Promise((resolve) => setTimeout(resolve, 400));
  p.link.send({ type: 'welcome', version: PROTOCOL_VERSION });
  t.deepEqual(p.invalid, []);
  p.link.close();
  t.is(await p.closed, 'closed');
});

test('the peer closing is reported with its code and reason; sends after close are dropped', async (t) => {
  const p = await pair();
  p.client.close(4000, 'generator shutting down');
  t.is(await p.closed, 'closed by the peer (4000: generator shutting down)');
  t.notThrows(() => p.link.send({ type: 'welcome', version: PROTOCOL_VERSION }));
  const late: string[] = [];
  p.link.onClose((r) => late.push(r));
  t.deepEqual(late, ['closed by the peer (4000: generator shutting down)'], 'a handler added after the close still hears why');
});

test('close reasons are cut to the 123 bytes a close frame carries, never inside a character', (t) => {
  t.is(closeFrameReason('short'), 'short');
  const cut = closeFrameReason('é'.repeat(100));
  t.true(Buffer.byteLength(cut) <= 123);
  t.true(cut.endsWith('…'));
  t.false(cut.includes('\ufffd'));
  const emoji = closeFrameReason('😀'.repeat(40));
  t.true(Buffer.byteLength(emoji) <= 123);
  t.is(Buffer.from(emoji).toString(), emoji, 'valid UTF-8 round trip');
});
