import test from 'ava';
import { KEY } from '../../ts/shared/metrics.js';
import type { Protocol } from '../../ts/shared/plan.js';
import type { HttpConnection, HttpRequest, Target } from '../../ts/generator/protocols/device-connection.js';
import { createHttpConnection } from '../../ts/generator/protocols/http-connection.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { RecordingSink } from '../support/recording-sink.js';

let nginx: NginxServer;

test.before(async () => {
  nginx = await startNginx({ tls: true, http2: true });
});

test.after.always(async () => {
  await nginx?.stop();
});

/** Which nginx port serves each protocol, and what nginx logs for it. */
const PROTOCOLS: Array<{ protocol: Protocol; port: () => number; seen: string; scheme: string }> = [
  { protocol: 'http10', port: () => nginx.port, seen: 'HTTP/1.0', scheme: 'http' },
  { protocol: 'http', port: () => nginx.port, seen: 'HTTP/1.1', scheme: 'http' },
  { protocol: 'http10s', port: () => nginx.tlsPort!, seen: 'HTTP/1.0', scheme: 'https' },
  { protocol: 'https', port: () => nginx.tlsPort!, seen: 'HTTP/1.1', scheme: 'https' },
  { protocol: 'http2', port: () => nginx.h2Port!, seen: 'HTTP/2.0', scheme: 'http' },
  { protocol: 'http2s', port: () => nginx.tlsPort!, seen: 'HTTP/2.0', scheme: 'https' },
];

const get = (path: string, headers: Array<[string, string]> = []): HttpRequest => ({ method: 'GET', path, headers });

function target(protocol: Protocol, port: number, extra: Partial<Target> = {}): Target {
  return { ip: '127.0.0.1', port, protocol, hostname: '127.0.0.1', verifyTls: false, ...extra };
}

/** Runs `use` on a connected connection and closes it, so a failing assertion leaves no socket open. */
async function withConnection<T>(t: Target, sink: RecordingSink, use: (c: HttpConnection) => Promise<T>): Promise<T> {
  const connection = createHttpConnection(t, sink);
  try {
    await connection.connect();
    return await use(connection);
  } finally {
    connection.close();
  }
}

/** The log lines nginx wrote for requests to `uri` (each test uses its own uri, so tests can share nginx). */
const linesFor = (uri: string, count: number) => nginx.waitForAccessLog(count, uri);

for (const { protocol, port, seen, scheme } of PROTOCOLS) {
  test(`${protocol}: 200 with the body, and nginx sees ${seen} over ${scheme}`, async (t) => {
    const sink = new RecordingSink();
    const uri = `/?case=${protocol}-basic`;
    const response = await withConnection(target(protocol, port()), sink, (c) => c.request(get(uri)));
    t.is(response.status, 200);
    t.is(Buffer.from(response.body).toString(), nginx.body);
    t.true(response.headers.every(([name]) => name === name.toLowerCase()));
    t.true(response.headers.some(([name, value]) => name === 'content-type' && value === 'text/plain'));
    const [line] = await linesFor(uri, 1);
    t.is(line?.protocol, seen);
    t.is(line?.scheme, scheme);
  });

  test(`${protocol}: 100 requests go over one kept-alive connection, with metrics per request`, async (t) => {
    const sink = new RecordingSink();
    const uri = `/?case=${protocol}-keepalive`;
    await withConnection(target(protocol, port()), sink, async (c) => {
      for (let i = 0; i < 100; i++) t.is((await c.request(get(uri))).status, 200);
    });
    const lines = await linesFor(uri, 100);
    t.is(lines.length, 100);
    t.is(new Set(lines.map((line) => line.connection)).size, 1);
    t.deepEqual(
      lines.map((line) => line.connectionRequests).sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    t.is(sink.countOf(KEY.conn), 1);
    t.is(sink.durationsOf(KEY.conn).length, 1);
    t.true(sink.durationsOf(KEY.conn)[0]! > 0);
    t.is(sink.countOf(KEY.response), 100);
    t.is(sink.durationsOf(KEY.headers).length, 100);
    t.is(sink.durationsOf(KEY.body).length, 100);
    t.true(sink.durationsOf(KEY.headers).every((us) => Number.isInteger(us) && us >= 0));
  });

  test(`${protocol}: a 1 MiB body arrives intact, then HEAD, POST and GET share the connection`, async (t) => {
    const sink = new RecordingSink();
    await withConnection(target(protocol, port()), sink, async (c) => {
      const large = await c.request(get('/large'));
      t.is(large.status, 200);
      t.true(Buffer.from(large.body).equals(nginx.largeBody));
      const head = await c.request({ method: 'HEAD', path: '/large', headers: [] });
      t.is(head.status, 200);
      t.is(head.body.length, 0);
      t.true(head.headers.some(([name, value]) => name === 'content-length' && value === String(nginx.largeBody.length)));
      const post = await c.request({ method: 'POST', path: `/?case=${protocol}-post`, headers: [['content-type', 'application/json']], body: new TextEncoder().encode('{"a":1}') });
      t.is(post.status, 200);
      const after = await c.request(get(`/?case=${protocol}-after-post`));
      t.is(Buffer.from(after.body).toString(), nginx.body);
    });
    t.is(sink.countOf(KEY.conn), 1);
    t.is(sink.countOf(KEY.response), 4);
  });

  test(`${protocol}: the Host header is the target's hostname and port unless the request gives one`, async (t) => {
    const sink = new RecordingSink();
    const uri = `/?case=${protocol}-host`;
    const own = `/?case=${protocol}-own-host`;
    await withConnection(target(protocol, port(), { hostname: 'localhost' }), sink, async (c) => {
      await c.request(get(uri));
      await c.request(get(own, [['Host', 'example.test']]));
    });
    t.is((await linesFor(uri, 1))[0]?.host, `localhost:${port()}`);
    t.is((await linesFor(own, 1))[0]?.host, 'example.test');
  });
}

for (const protocol of ['https', 'http10s', 'http2s'] as const) {
  test(`${protocol}: SNI is the host name, or the plan's serverName, and never an IP`, async (t) => {
    const sink = new RecordingSink();
    const cases: Array<[Partial<Target>, string | undefined]> = [
      [{ hostname: 'localhost' }, 'localhost'],
      [{ hostname: 'localhost', serverName: 'sni.example.test' }, 'sni.example.test'],
      [{ hostname: '127.0.0.1' }, undefined],
    ];
    for (const [i, [extra, expected]] of cases.entries()) {
      const uri = `/?case=${protocol}-sni-${i}`;
      await withConnection(target(protocol, nginx.tlsPort!, extra), sink, (c) => c.request(get(uri)));
      t.is((await linesFor(uri, 1))[0]?.sni, expected);
    }
  });

  test(`${protocol}: verifyTls rejects nginx's self-signed certificate with code tls`, async (t) => {
    const sink = new RecordingSink();
    const connection = createHttpConnection(target(protocol, nginx.tlsPort!, { hostname: 'localhost', verifyTls: true }), sink);
    const err = await t.throwsAsync(connection.connect());
    t.is((err as { code?: string }).code, 'tls');
    t.regex(err.message, /self.signed/i);
    t.is(sink.countOf(KEY.conn), 0);
    connection.close();
  });
}

test('requests after close() reject with closed and open nothing', async (t) => {
  const sink = new RecordingSink();
  const connection = createHttpConnection(target('http', nginx.port), sink);
  await connection.connect();
  connection.close();
  const err = await t.throwsAsync(connection.request(get('/')));
  t.is((err as { code?: string }).code, 'closed');
  t.is(sink.countOf(KEY.conn), 1);
});
