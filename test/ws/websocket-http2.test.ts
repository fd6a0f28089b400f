/**
 * WebSocket over HTTP/2 (RFC 8441) against Node's http2 server with
 * `enableConnectProtocol`, the `ws` package framing each extended-CONNECT
 * stream on the server side: h2c and TLS targets upgrade, exchange every
 * message type and see the server's close; a refusal carries its response; a
 * server that does not announce extended CONNECT keeps `ws_unsupported`.
 */
import test from 'ava';
import { createSecureServer, createServer, type Http2Server, type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { PoolDevice } from '../../ts/generator/pool-device.js';
import type { Target } from '../../ts/generator/protocols/device-connection.js';
import { ScriptSandbox } from '../../ts/generator/sandbox/script-sandbox.js';
import { RecordingSink } from '../support/recording-sink.js';
import { selfSignedCert } from '../support/tls-cert.js';
import { ASSERT_PRELUDE, runScript } from './script-run.js';

interface H2WsServer {
  target: Target;
  upgrades: number;
  messages: number;
  /** The :protocol and version each CONNECT carried. */
  connects: Array<{ protocol: unknown; version: unknown; origin: unknown }>;
}

async function h2WsServer(t: import('ava').ExecutionContext, options: { tls?: boolean; announce?: boolean } = {}): Promise<H2WsServer> {
  const state: H2WsServer = { target: undefined as unknown as Target, upgrades: 0, messages: 0, connects: [] };
  const settings = { enableConnectProtocol: options.announce ?? true };
  const server: Http2Server | Http2SecureServer = options.tls ? createSecureServer({ ...(await selfSignedCert()), settings, allowHTTP1: false }) : createServer({ settings });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    if (headers[':method'] !== 'CONNECT') {
      stream.respond({ ':status': 200, 'content-type': 'text/plain' });
      stream.end('plain h2');
      return;
    }
    state.connects.push({ protocol: headers[':protocol'], version: headers['sec-websocket-version'], origin: headers.origin });
    if (headers[':path'] === '/refuse') {
      stream.respond({ ':status': 403, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ error: 'no entry' }));
      return;
    }
    stream.respond({ ':status': 200 });
    state.upgrades++;
    // The ws package frames the stream as it would a socket (server side: unmasked out, masked in).
    const ws = new WebSocket(null as never, undefined, {});
    (ws as unknown as { setSocket(s: unknown, head: Buffer, o: object): void }).setSocket(stream, Buffer.alloc(0), { maxPayload: 1 << 20 });
    ws.on('error', () => {});
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      state.messages++;
      const text = data.toString();
      if (!isBinary && text === 'bye') return ws.close(4000, 'asked to');
      ws.send(data, { binary: isBinary });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as AddressInfo).port;
  state.target = { ip: '127.0.0.1', port, protocol: options.tls ? 'http2s' : 'http2', hostname: '127.0.0.1', verifyTls: false };
  return state;
}

const ROUND_TRIPS = `${ASSERT_PRELUDE}
same((await get('/')).body, 'plain h2', 'HTTP before the upgrade');
const up = await wsUpgrade('/chat', { origin: 'https://example.test' });
same(up.status, 200, 'extended CONNECT is answered 200');
same(up.body.length, 0, 'empty body');
await wsSendText('héllo');
same(await wsReceiveText(), 'héllo', 'text');
await wsSendBinary(new Uint8Array([0, 1, 2, 255]));
same(Array.from(await wsReceiveBinary()), [0, 1, 2, 255], 'binary');
await wsSendJson({ a: [1, 'two'] });
same(await wsReceiveJson(), { a: [1, 'two'] }, 'json');
let after;
try { await get('/'); } catch (e) { after = e.code; }
same(after, 'ws_upgraded', 'no HTTP after the upgrade');
await wsSendText('bye');
let closed;
try { await wsReceiveText(2000); } catch (e) { closed = e.code + ' ' + e.message; }
same(closed.startsWith('closed'), true, 'the server closed: ' + closed);
`;

for (const tls of [false, true]) {
  test(`${tls ? 'http2s' : 'http2'}: wsUpgrade opens an extended CONNECT stream and every message type round-trips`, async (t) => {
    const s = await h2WsServer(t, { tls });
    const { code, message, sink } = await runScript(ROUND_TRIPS, s.target);
    t.is(code, undefined, message);
    t.is(s.upgrades, 1);
    t.deepEqual(s.connects, [{ protocol: 'websocket', version: '13', origin: 'https://example.test' }]);
    t.is(s.messages, 4);
    t.is(sink.durationsOf('ws_upgrade').length, 1);
    t.is(sink.countOf('ws_sent_frames'), 4);
  });
}

test('http2: a refused extended CONNECT resolves with the refusing response', async (t) => {
  const s = await h2WsServer(t);
  const { code, message } = await runScript(
    `${ASSERT_PRELUDE}
    const r = await wsUpgrade('/refuse');
    same([r.status, r.body], [403, { error: 'no entry' }], 'the refusal');
    same((await get('/')).body, 'plain h2', 'the connection still serves HTTP');`,
    s.target,
  );
  t.is(code, undefined, message);
});

test('http2: a server that does not announce extended CONNECT keeps ws_unsupported', async (t) => {
  const s = await h2WsServer(t, { announce: false });
  const { code, message } = await runScript(`await get('/'); await wsUpgrade('/chat');`, s.target);
  t.is(code, 'ws_unsupported');
  t.regex(message, /RFC 8441/);
  t.is(s.connects.length, 0, 'no CONNECT was sent');
});

test('http2: an arrival-rate device opens a new connection for each iteration that upgrades, as it does on HTTP/1.1', async (t) => {
  const s = await h2WsServer(t);
  const sink = new RecordingSink();
  const sandbox = await ScriptSandbox.create({ source: `await wsUpgrade('/chat'); await wsSendText('x'); await wsReceiveText();`, params: {}, sink });
  let id = 0;
  const device = new PoolDevice(sandbox, s.target, sink, () => ++id);
  t.teardown(() => {
    device.stop();
    sandbox.dispose();
  });
  for (let i = 0; i < 3; i++) await device.iterate(performance.now());
  t.deepEqual(
    [...sink.counts.keys()].filter((key) => key.endsWith('_error')),
    [],
  );
  t.is(s.upgrades, 3);
  t.is(sink.countOf('conn'), 3);
});
