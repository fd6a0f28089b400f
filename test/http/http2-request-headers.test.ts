import test from 'ava';
import { createServer as createHttp2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { HttpRequest } from '../../ts/generator/protocols/device-connection.js';
import { createHttpConnection } from '../../ts/generator/protocols/http-connection.js';
import { RecordingSink } from '../support/recording-sink.js';

/** Sends each request over one h2c connection and returns the raw header lists a node:http2 server saw, in order. */
async function headersSeen(requests: HttpRequest[]): Promise<string[][]> {
  const seen: string[][] = [];
  const server = createHttp2Server();
  server.on('stream', (stream: ServerHttp2Stream, _headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    seen.push(rawHeaders);
    stream.resume();
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const connection = createHttpConnection({ ip: '127.0.0.1', port, protocol: 'http2', hostname: 'example.test', verifyTls: false }, new RecordingSink());
  try {
    for (const request of requests) await connection.request(request);
    return seen;
  } finally {
    connection.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('http2: pseudo-headers first, names in lower case, a repeated header repeated, connection headers left out', async (t) => {
  const [raw] = await headersSeen([
    {
      method: 'GET',
      path: '/a?b=c',
      headers: [
        ['X-Tag', 'one'],
        ['Connection', 'keep-alive'],
        ['Accept', 'text/plain'],
        ['x-tag', 'two'],
        ['Transfer-Encoding', 'chunked'],
      ],
    },
  ]);
  const port = raw![raw!.indexOf(':authority') + 1]!.split(':')[1];
  t.deepEqual(raw!.slice(0, 8), [':method', 'GET', ':scheme', 'http', ':authority', `example.test:${port}`, ':path', '/a?b=c']);
  // Node before 22.17 takes a header object, which sends a repeated header's values side by side.
  const pairs = Array.from({ length: (raw!.length - 8) / 2 }, (_, i) => [raw![8 + 2 * i], raw![9 + 2 * i]]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  t.deepEqual(pairs, [
    ['accept', 'text/plain'],
    ['x-tag', 'one'],
    ['x-tag', 'two'],
  ]);
});

test('http2: Host becomes :authority (the last one given), and a body without content-length gets one', async (t) => {
  const body = new TextEncoder().encode('{"a":1}');
  const [withHost, withBody, withLength] = await headersSeen([
    {
      method: 'GET',
      path: '/',
      headers: [
        ['Host', 'first.test'],
        ['HOST', 'second.test:8080'],
      ],
    },
    { method: 'POST', path: '/p', headers: [['Content-Type', 'application/json']], body },
    { method: 'PUT', path: '/p', headers: [['Content-Length', String(body.length)]], body },
  ]);
  t.deepEqual(withHost, [':method', 'GET', ':scheme', 'http', ':authority', 'second.test:8080', ':path', '/']);
  t.deepEqual(withBody!.slice(6), [':path', '/p', 'content-type', 'application/json', 'content-length', String(body.length)]);
  t.deepEqual(withLength!.slice(6), [':path', '/p', 'content-length', String(body.length)]);
});
