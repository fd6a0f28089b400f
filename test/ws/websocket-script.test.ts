/**
 * The script's ws* functions against a real `ws` server on loopback, plain and
 * TLS: the upgrade on the device's own HTTP/1.1 connection, round trips of each
 * message type, fetch against receive, ping/pong, the server's close, the
 * bounded receive buffer, timeouts, and calls in the wrong order.
 */
import test from 'ava';
import { Device } from '../../ts/generator/device.js';
import { ScriptSandbox } from '../../ts/generator/sandbox/script-sandbox.js';
import { RecordingSink } from '../support/recording-sink.js';
import { startWsServer, type WsTestServer } from '../support/ws-server.js';
import { ASSERT_PRELUDE, runScript } from './script-run.js';
import { until } from '../support/until.js';

async function server(t: import('ava').ExecutionContext, options: Parameters<typeof startWsServer>[0] = {}): Promise<WsTestServer> {
  const s = await startWsServer(options);
  t.teardown(() => s.close());
  return s;
}

const ROUND_TRIPS = `${ASSERT_PRELUDE}
const up = await wsUpgrade('/echo', { 'x-device': 'one' });
same(up.status, 101, 'status');
same(up.headers.some(([n, v]) => n === 'upgrade' && v.toLowerCase() === 'websocket'), true, 'upgrade header');
await wsSendText('héllo');
same(await wsReceiveText(), 'héllo', 'text');
await wsSendBinary(new Uint8Array([0, 1, 2, 255]));
same(Array.from(await wsReceiveBinary()), [0, 1, 2, 255], 'binary');
await wsSendJson({ a: [1, 'two'], b: null });
same(await wsReceiveJson(), { a: [1, 'two'], b: null }, 'json');
const big = randomBytes(100000);
await wsSendBinary(big);
const digest = (bytes) => hex.encode(crypto.hash('sha256', bytes));
same(digest(await wsReceiveBinary(1000)), digest(big), 'big binary');
await wsSendText('as bytes');
same(text.decode(await wsReceiveBinary()), 'as bytes', 'text read as bytes');
`;

for (const tls of [false, true]) {
  test(`${tls ? 'https' : 'http'}: text, binary and JSON round trips, with their metrics`, async (t) => {
    const s = await server(t, { tls });
    const { sink, code, message } = await runScript(ROUND_TRIPS, s.target());
    t.is(code, undefined, message);
    t.is(s.upgrades, 1);
    t.is(s.messages, 5);
    t.is(sink.countOf('ws_sent_frames'), 5);
    t.is(sink.countOf('ws_received_frames'), 5);
    const bytes = Buffer.byteLength('héllo') + 4 + Buffer.byteLength(JSON.stringify({ a: [1, 'two'], b: null })) + 100000 + 8;
    t.is(sink.countOf('ws_sent_bytes'), bytes);
    t.is(sink.countOf('ws_received_bytes'), bytes);
    t.is(sink.durationsOf('ws_upgrade').length, 1);
    t.true(sink.durationsOf('ws_upgrade')[0]! > 0);
    // The upgrade is not an HTTP response.
    t.is(sink.countOf('response'), 0);
  });
}

test('http10 targets upgrade too (the upgrade request is HTTP/1.1)', async (t) => {
  const s = await server(t);
  const { code, message } = await runScript(`${ASSERT_PRELUDE}await wsUpgrade('/'); await wsSendText('x'); same(await wsReceiveText(), 'x', 'echo');`, s.target('http10'));
  t.is(code, undefined, message);
});

test('HTTP requests and then the upgrade share one connection; after it HTTP rejects with ws_upgraded', async (t) => {
  const s = await server(t);
  const { code, message } = await runScript(
    `${ASSERT_PRELUDE}
same((await get('/')).body.length, 5, 'plain body');
await wsUpgrade('/');
let code = 'none';
try { await get('/'); } catch (e) { code = e.code; }
same(code, 'ws_upgraded', 'get after upgrade');
try { await wsUpgrade('/'); } catch (e) { code = e.code + '2'; }
same(code, 'ws_upgraded2', 'second upgrade');
await wsSendText('still open');
same(await wsReceiveText(), 'still open', 'echo');`,
    s.target(),
  );
  t.is(code, undefined, message);
  t.is(s.connections, 1);
});

const BEFORE_ANY_SEND: Array<[title: string, calls: string, code: string]> = [
  [
    'ws functions before the upgrade reject (or throw, for fetch) with ws_not_upgraded',
    "() => wsSendText('x'), () => wsSendBinary('x'), () => wsSendJson(1), () => wsReceiveText(10), () => wsReceiveJson(), () => wsFetchText(), () => wsFetchBinary()",
    'ws_not_upgraded',
  ],
  [
    'bad arguments reject with bad_argument before anything is sent',
    "() => wsUpgrade(''), () => wsUpgrade('/', { 'bad name': 'x' }), () => wsSendText(new Uint8Array(1)), () => wsSendBinary(42), () => wsReceiveText(-1), () => wsSendJson(undefined)",
    'bad_argument',
  ],
];

for (const [title, calls, expected] of BEFORE_ANY_SEND) {
  test(title, async (t) => {
    const s = await server(t);
    const n = calls.split('() =>').length - 1;
    const { code, message } = await runScript(`${ASSERT_PRELUDE}same(await codesOf([${calls}]), Array(${n}).fill('${expected}'), 'codes');`, s.target());
    t.is(code, undefined, message);
    t.is(s.upgrades, 0);
  });
}

test('an upgrade the server refuses resolves with its answer, records no upgrade time, and leaves the ws functions refusing with ws_not_upgraded', async (t) => {
  const s = await server(t);
  const { code, message, sink } = await runScript(
    `${ASSERT_PRELUDE}
    const r = await wsUpgrade('/refuse');
    same(r.status, 401, 'status');
    let e;
    try { await wsSendText('hi'); } catch (err) { e = err; }
    same(e.code, 'ws_not_upgraded', 'ws functions before an upgrade');`,
    s.target(),
  );
  t.is(code, undefined, message);
  t.is(sink.durationsOf('ws_upgrade').length, 0);
});

test('wsUpgrade resolves with { status, headers, body }: a refusal with the refusing response, body and all, and an upgrade after it on the same connection', async (t) => {
  const s = await server(t);
  const { code, message } = await runScript(
    `${ASSERT_PRELUDE}
    const refused = await wsUpgrade('/refuse-me');
    same(refused.status, 401, 'status');
    same(typeof refused.body, 'string', 'a text body is a string');
    same(refused.body.includes('Unauthorized'), true, 'the body says why: ' + refused.body);
    same(refused.headers.some(([n]) => n === 'content-type'), true, 'headers');
    const ok = await wsUpgrade('/echo');
    same(ok.status, 101, 'status');
    same(ok.headers.some(([n, v]) => n === 'upgrade' && v.toLowerCase() === 'websocket'), true, 'headers');
    same(ok.body.length, 0, 'an empty body');
    await wsSendText('hi');
    same(await wsReceiveText(), 'hi', 'echo');`,
    s.target(),
  );
  t.is(code, undefined, message);
});

test('fetch returns buffered messages without waiting, null when none; receive waits', async (t) => {
  const s = await server(t, {
    onConnection: (ws) => {
      ws.on('message', () => {
        ws.send('a');
        ws.send(Buffer.from([7, 8]), { binary: true });
        ws.send('{"n":3}');
      });
    },
  });
  const { code, message } = await runScript(
    `${ASSERT_PRELUDE}
await wsUpgrade('/');
same(wsFetchText(), null, 'nothing yet');
await wsSendText('go');
same(await wsReceiveText(), 'a', 'received');
await delay(200);
same(Array.from(wsFetchBinary()), [7, 8], 'fetched binary');
same(wsFetchJson(), { n: 3 }, 'fetched json');
same(wsFetchText(), null, 'drained');`,
    s.target(),
  );
  t.is(code, undefined, message);
});

test('a fragmented message arrives whole; a non-JSON message rejects wsReceiveJson with protocol', async (t) => {
  const s = await server(t, {
    onConnection: (ws) => {
      ws.on('message', () => {
        ws.send('frag', { fin: false });
        ws.send('men', { fin: false });
        ws.send('ted', { fin: true });
        ws.send('not json');
      });
    },
  });
  const { code, message } = await runScript(
    `${ASSERT_PRELUDE}
await wsUpgrade('/');
await wsSendText('go');
same(await wsReceiveText(), 'fragmented', 'reassembled');
let code = 'none';
try { await wsReceiveJson(); } catch (e) { code = e.code; }
same(code, 'protocol', 'not json');`,
    s.target(),
  );
  t.is(code, undefined, message);
});

test('pings are answered with pongs carrying the same payload', async (t) => {
  const pongs: string[] = [];
  const s = await server(t, {
    onConnection: (ws) => {
      ws.on('pong', (data) => {
        pongs.push(data.toString());
        ws.send(`pong ${data.toString()}`);
      });
      ws.ping('p1');
    },
  });
  const { code, message } = await runScript(`${ASSERT_PRELUDE}await wsUpgrade('/'); same(await wsReceiveText(), 'pong p1', 'server saw the pong');`, s.target());
  t.is(code, undefined, message);
  t.deepEqual(pongs, ['p1']);
});

test("the server's close rejects a pending receive with closed, and later sends", async (t) => {
  const closes: number[] = [];
  const s = await server(t, {
    onConnection: (ws) => {
      ws.on('close', (code) => closes.push(code));
      ws.once('message', () => {
        ws.send('last words');
        ws.close(4000, 'bye');
      });
    },
  });
  const { code, message } = await runScript(
    `${ASSERT_PRELUDE}
await wsUpgrade('/');
const pending = wsReceiveText(2000).then(() => 'message', (e) => e.code);
const second = wsReceiveText(2000).then(() => 'message', (e) => e.code + ':' + e.message);
await wsSendText('close please');
same(await pending, 'message', 'first receive');
const why = await second;
if (!/^closed:.*4000 bye/.test(why)) throw new Error('second receive: ' + why);
let sendCode = 'none';
try { await wsSendText('too late'); } catch (e) { sendCode = e.code; }
same(sendCode, 'closed', 'send after close');
same(wsFetchText(), null, 'nothing buffered');`,
    s.target(),
  );
  t.is(code, undefined, message);
  // The device echoed the close code, completing the close handshake.
  await until(() => closes.length > 0, 3000);
  t.deepEqual(closes, [4000]);
});

test("messages that arrived before the server's close stay readable after it; then receives reject with closed", async (t) => {
  const s = await server(t, {
    onConnection: (ws) => {
      ws.once('message', () => {
        for (const text of ['first', 'second', 'third']) ws.send(text);
        ws.close(4000, 'bye');
      });
    },
  });
  const { sink, code, message } = await runScript(
    `${ASSERT_PRELUDE}
await wsUpgrade('/');
await wsSendText('close please');
// Nothing is received until the close is in: a send rejecting with closed says it is.
for (let probes = 0; ; probes++) {
  try { await wsSendText('probe'); } catch (e) { same(e.code, 'closed', 'send after the close'); break; }
  if (probes === 500) throw new Error('the server did not close');
  await delay(10);
}
same(wsFetchText(), 'first', 'fetched after the close');
same(await wsReceiveText(100), 'second', 'received after the close');
same(wsFetchText(), 'third', 'the last one');
same(wsFetchText(), null, 'nothing left');
const why = await wsReceiveText(2000).then(() => 'message', (e) => e.code + ':' + e.message);
if (!/^closed:.*4000 bye/.test(why)) throw new Error('receive once drained: ' + why);`,
    s.target(),
  );
  t.is(code, undefined, message);
  t.is(sink.countOf('ws_received_frames'), 3);
});

test('a full receive buffer drops and counts what does not fit (1024 messages kept)', async (t) => {
  const s = await server(t, {
    onConnection: (ws) => {
      ws.on('message', () => {
        for (let i = 0; i < 1030; i++) ws.send(String(i));
      });
    },
  });
  const { sink, code, message } = await runScript(
    `${ASSERT_PRELUDE}
await wsUpgrade('/');
await wsSendText('flood');
await delay(500);
let n = 0, last = null, m;
while ((m = wsFetchText()) !== null) { last = m; n++; }
same(n, 1024, 'kept');
same(last, '1023', 'oldest kept, newest dropped');`,
    s.target(),
  );
  t.is(code, undefined, message);
  t.is(sink.countOf('ws_received_frames'), 1030);
  t.is(sink.countOf('ws_receive_overflow'), 6);
});

test('a receive that times out rejects with timeout', async (t) => {
  const s = await server(t, { onConnection: () => {} });
  const started = performance.now();
  const { code, message } = await runScript(`await wsUpgrade('/'); await wsReceiveText(150);`, s.target());
  t.is(code, 'timeout');
  t.regex(message, /150 ms/);
  t.true(performance.now() - started >= 140);
});

test('a device whose receive times out is counted under timeout_error and recycled', async (t) => {
  const s = await server(t, { onConnection: () => {} });
  const sink = new RecordingSink();
  const sandbox = await ScriptSandbox.create({ source: `await wsUpgrade('/'); await wsReceiveText(50);`, params: {}, sink });
  let id = 0;
  const device = new Device(sandbox, s.target(), sink, () => ++id);
  t.teardown(() => {
    void device.stop();
    setTimeout(() => sandbox.dispose(), 50);
  });
  device.start();
  const deadline = performance.now() + 4000;
  while (s.upgrades < 2 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.true(sink.countOf('timeout_error') >= 1);
  t.is(s.upgrades, 2);
  t.is(s.connections, 2);
});

test('a device stopped while upgraded closes with the close handshake (1001), not a reset', async (t) => {
  const closes: number[] = [];
  const s = await server(t, { onConnection: (ws) => ws.on('close', (code) => closes.push(code)) });
  const sink = new RecordingSink();
  const sandbox = await ScriptSandbox.create({ source: `await wsUpgrade('/'); await wsSendText('hi'); await delay(60000);`, params: {}, sink });
  const device = new Device(sandbox, s.target(), sink, () => 1);
  t.teardown(() => sandbox.dispose());
  device.start();
  const deadline = performance.now() + 3000;
  while (s.messages < 1 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  void device.stop();
  while (closes.length < 1 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(closes, [1001]);
});

test('ws functions on a device without WebSocket (a TCP or UDP device) fail with wrong_protocol', async (t) => {
  const sink = new RecordingSink();
  const sandbox = await ScriptSandbox.create({
    source: `${ASSERT_PRELUDE}same(await codesOf([() => wsUpgrade('/'), () => wsSendText('x'), () => wsReceiveBinary(), () => wsFetchJson()]), Array(4).fill('wrong_protocol'), 'codes');`,
    params: {},
    sink,
  });
  t.teardown(() => sandbox.dispose());
  await t.notThrowsAsync(sandbox.run(1, {}));
});
