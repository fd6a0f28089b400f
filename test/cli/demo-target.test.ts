import test from 'ava';
import { get } from 'node:http';
import { connect } from 'node:net';
import { demoUrl, MAX_DELAY_MS, startDemoTarget, type DemoTarget } from '../../ts/cli/demo-target.js';

async function withTarget(run: (target: DemoTarget, base: string) => void | Promise<void>): Promise<void> {
  const target = await startDemoTarget();
  try {
    await run(target, demoUrl(target));
  } finally {
    await target.close();
  }
}

test('listens on loopback on a port chosen by the OS', async (t) => {
  await withTarget((target) => {
    t.is(target.host, '127.0.0.1');
    t.true(target.port > 0);
    t.is(target.protocol, 'http');
  });
});

test('listens on IPv6 loopback when told, and its URL brackets the address', async (t) => {
  const target = await startDemoTarget({ host: '::1' });
  try {
    t.is(demoUrl(target), `http://[::1]:${target.port}`);
    t.is((await fetch(`${demoUrl(target)}/`)).status, 200);
  } finally {
    await target.close();
  }
});

test('GET / answers small text, GET /json a JSON document', async (t) => {
  await withTarget(async (_target, base) => {
    const text = await fetch(`${base}/`);
    t.is(text.status, 200);
    t.regex(text.headers.get('content-type')!, /^text\/plain/);
    t.regex(await text.text(), /Stressgrid demo target/);

    const json = await fetch(`${base}/json`);
    t.is(json.status, 200);
    t.is(json.headers.get('content-type'), 'application/json');
    const document = (await json.json()) as { items: unknown[] };
    t.true(Array.isArray(document.items) && document.items.length > 0);
  });
});

test('POST /echo sends the body back with its content type', async (t) => {
  await withTarget(async (_target, base) => {
    const body = JSON.stringify({ hello: 'world', n: [1, 2, 3] });
    const response = await fetch(`${base}/echo`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    t.is(response.status, 200);
    t.is(response.headers.get('content-type'), 'application/json');
    t.is(await response.text(), body);

    const bytes = new Uint8Array([0, 255, 10, 13, 128]);
    const binary = await fetch(`${base}/echo`, { method: 'POST', body: bytes });
    t.deepEqual(new Uint8Array(await binary.arrayBuffer()), bytes);
  });
});

test('GET /delay?ms=N answers after N ms and refuses bad values', async (t) => {
  await withTarget(async (_target, base) => {
    const started = performance.now();
    const response = await fetch(`${base}/delay?ms=150`);
    const waited = performance.now() - started;
    t.is(response.status, 200);
    t.is(await response.text(), 'delayed 150 ms\n');
    t.true(waited >= 145, `answered after ${waited} ms`);

    for (const bad of ['-1', 'abc', String(MAX_DELAY_MS + 1)]) {
      const refused = await fetch(`${base}/delay?ms=${bad}`);
      t.is(refused.status, 400, bad);
      await refused.text();
    }
  });
});

test('unknown paths get 404 and wrong methods 405 with Allow', async (t) => {
  await withTarget(async (_target, base) => {
    const missing = await fetch(`${base}/nope`);
    t.is(missing.status, 404);
    await missing.text();
    const wrong = await fetch(`${base}/echo`);
    t.is(wrong.status, 405);
    t.is(wrong.headers.get('allow'), 'POST');
    await wrong.text();
    const head = await fetch(`${base}/json`, { method: 'HEAD' });
    t.is(head.status, 200);
    t.is(await head.text(), '');
  });
});

test('counts the requests it served', async (t) => {
  await withTarget(async (target, base) => {
    t.is(target.served, 0);
    for (let i = 0; i < 5; i++) await (await fetch(`${base}/`)).text();
    await (await fetch(`${base}/missing`)).text();
    t.is(target.served, 6);
  });
});

test('keeps a connection alive across requests', async (t) => {
  await withTarget(async (target) => {
    const socket = connect(target.port, target.host);
    let received = '';
    socket.setEncoding('utf8');
    const twoResponses = new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: string) => {
        received += chunk;
        if (received.split('HTTP/1.1 200 OK').length === 3 && received.endsWith('demo target\n')) resolve();
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(received)}`)));
    });
    socket.write('GET / HTTP/1.1\r\nHost: demo\r\n\r\n');
    socket.write('GET / HTTP/1.1\r\nHost: demo\r\n\r\n');
    await twoResponses;
    t.regex(received, /connection: keep-alive/i);
    t.is(target.served, 2);
    socket.destroy();
  });
});

test('close ends a /delay wait that is still pending', async (t) => {
  const target = await startDemoTarget();
  // A connection of its own (no shared pool), known to be open before the close.
  const request = get({ host: target.host, port: target.port, path: `/delay?ms=${MAX_DELAY_MS}`, agent: false });
  const pending = new Promise<string>((resolve) => {
    request.on('response', () => resolve('answered'));
    request.on('error', (error: NodeJS.ErrnoException) => resolve(`cut: ${error.code}`));
  });
  await new Promise((resolve) => request.on('socket', (socket) => socket.once('connect', resolve)));
  await new Promise((resolve) => setTimeout(resolve, 50));
  const started = performance.now();
  await target.close();
  t.regex(await pending, /^cut: /);
  t.true(performance.now() - started < 2000);
});

test('/ws is a WebSocket echo: text and binary messages come back as they went', async (t) => {
  const { WebSocket } = await import('ws');
  await withTarget(async (target) => {
    const socket = new WebSocket(`ws://127.0.0.1:${target.port}/ws`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const replies: Array<[string, boolean]> = [];
    const done = new Promise<void>((resolve) =>
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        replies.push([data.toString('hex'), isBinary]);
        if (replies.length === 2) resolve();
      }),
    );
    socket.send('hello');
    socket.send(Buffer.from([1, 2, 3]));
    await done;
    socket.close();
    t.deepEqual(replies, [
      [Buffer.from('hello').toString('hex'), false],
      ['010203', true],
    ]);
  });
});
