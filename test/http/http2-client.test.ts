/**
 * The device's own HTTP/2 client against node:http2's server (nghttp2, an
 * independent implementation): what the server does that nginx's answers to a
 * small GET never exercise. Header compression with the dynamic table, padded
 * frames, bodies beyond every flow-control window both ways, header blocks
 * split over CONTINUATION frames, trailers, informational responses, PING,
 * GOAWAY and RST_STREAM.
 */
import test from 'ava';
import { constants, createServer as createHttp2Server, type Http2Server, type ServerOptions, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { KEY } from '../../ts/shared/metrics.js';
import type { HttpConnection, HttpRequest } from '../../ts/generator/protocols/device-connection.js';
import { createHttpConnection } from '../../ts/generator/protocols/http-connection.js';
import { codeOf } from '../support/code-of.js';
import { RecordingSink } from '../support/recording-sink.js';
import { startTcpServer } from '../support/tcp-server.js';

type Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, body: Buffer, requestNumber: number) => void;

interface Served {
  connection: HttpConnection;
  sink: RecordingSink;
  server: Http2Server;
  /** TCP connections the server accepted. */
  sessions: () => number;
}

/** A node:http2 server whose `handler` answers each request once its body is read, and a device connection to it. */
async function serve(t: { teardown(fn: () => unknown): void }, handler: Handler, options: ServerOptions = {}): Promise<Served> {
  const server = createHttp2Server(options);
  const sessions = new Set<ServerHttp2Session>();
  let requests = 0;
  server.on('session', (session: ServerHttp2Session) => sessions.add(session));
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const parts: Buffer[] = [];
    const number = requests++;
    // A stream the test resets raises its code here on the server's side too.
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => parts.push(chunk));
    stream.on('end', () => handler(stream, headers, Buffer.concat(parts), number));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const sink = new RecordingSink();
  const connection = createHttpConnection({ ip: '127.0.0.1', port, protocol: 'http2', hostname: '127.0.0.1', verifyTls: false }, sink, { requestTimeoutMs: 5000 });
  t.teardown(async () => {
    connection.close();
    // A session the server sent GOAWAY on would keep close() waiting.
    for (const session of sessions) session.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { connection, sink, server, sessions: () => sessions.size };
}

const GET: HttpRequest = { method: 'GET', path: '/', headers: [] };

test('response headers repeated over 30 requests (the server indexes them) arrive as sent, every time', async (t) => {
  const { connection, sessions } = await serve(t, (stream, _headers, _body, n) => {
    stream.respond({
      ':status': 200,
      'content-type': 'text/plain',
      'x-request': String(n),
      'x-same': 'the same value every time',
      'x-latin1': 'caf\u00e9',
      'set-cookie': ['a=1; Path=/', `b=${n}; HttpOnly`],
      'x-long': 'z'.repeat(n * 40),
    });
    stream.end(`answer ${n}`);
  });
  for (let n = 0; n < 30; n++) {
    const response = await connection.request(GET);
    t.is(response.status, 200);
    t.is(Buffer.from(response.body).toString(), `answer ${n}`);
    const headers = response.headers.filter(([name]) => name !== 'date');
    t.deepEqual(headers, [
      ['content-type', 'text/plain'],
      ['x-request', String(n)],
      ['x-same', 'the same value every time'],
      ['x-latin1', 'caf\u00e9'],
      ['set-cookie', 'a=1; Path=/'],
      ['set-cookie', `b=${n}; HttpOnly`],
      ['x-long', 'z'.repeat(n * 40)],
    ]);
  }
  t.is(sessions(), 1);
});

test('padded frames: headers and body come out of their padding', async (t) => {
  const { connection } = await serve(
    t,
    (stream) => {
      stream.respond({ ':status': 201, 'x-padded': 'yes' });
      stream.write('first ');
      stream.end('second');
    },
    { paddingStrategy: constants.PADDING_STRATEGY_MAX },
  );
  for (let i = 0; i < 3; i++) {
    const response = await connection.request(GET);
    t.is(response.status, 201);
    t.deepEqual(
      response.headers.filter(([name]) => name === 'x-padded'),
      [['x-padded', 'yes']],
    );
    t.is(Buffer.from(response.body).toString(), 'first second');
  }
});

test('bodies beyond every flow-control window: 8 MB down, 3 MB up, whole and in order', async (t) => {
  const down = Buffer.alloc(8 << 20);
  for (let i = 0; i < down.length; i += 4) down.writeUInt32BE(i, i);
  const up = Buffer.alloc(3 << 20);
  for (let i = 0; i < up.length; i++) up[i] = (i * 7) & 0xff;
  let received: Buffer | undefined;
  const { connection, sink } = await serve(t, (stream, headers, body) => {
    if (headers[':method'] === 'POST') {
      received = body;
      stream.respond({ ':status': 200 });
      stream.end(String(body.length));
    } else {
      stream.respond({ ':status': 200 });
      stream.end(down);
    }
  });
  for (let i = 0; i < 2; i++) {
    const response = await connection.request(GET);
    t.true(Buffer.from(response.body).equals(down));
  }
  const posted = await connection.request({ method: 'POST', path: '/upload', headers: [['content-type', 'application/octet-stream']], body: up });
  t.is(Buffer.from(posted.body).toString(), String(up.length));
  t.true(received!.equals(up));
  t.is(sink.countOf(KEY.response), 3);
});

test('header blocks over 16 KB go out and come in split into CONTINUATION frames', async (t) => {
  const big = 'h'.repeat(40_000);
  let seen: string | undefined;
  const { connection } = await serve(
    t,
    (stream, headers) => {
      seen = headers['x-big'] as string;
      stream.respond({ ':status': 200, 'x-big-back': big });
      stream.end('ok');
    },
    { maxHeaderListPairs: 200, settings: { maxHeaderListSize: 1 << 20 }, maxSendHeaderBlockLength: 1 << 20 },
  );
  const response = await connection.request({ method: 'GET', path: '/', headers: [['x-big', big]] });
  t.is(seen, big);
  t.deepEqual(
    response.headers.filter(([name]) => name === 'x-big-back'),
    [['x-big-back', big]],
  );
});

test('trailers end the response; an informational response before it is passed over', async (t) => {
  const { connection, sink } = await serve(t, (stream, headers) => {
    if (headers[':path'] === '/early') stream.additionalHeaders({ ':status': 103, link: '</style.css>; rel=preload' });
    stream.respond({ ':status': 200 }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-checksum': 'abc' }));
    stream.end('with trailers');
  });
  const trailed = await connection.request(GET);
  t.is(trailed.status, 200);
  t.is(Buffer.from(trailed.body).toString(), 'with trailers');
  const early = await connection.request({ method: 'GET', path: '/early', headers: [] });
  t.is(early.status, 200);
  t.is(Buffer.from(early.body).toString(), 'with trailers');
  t.is(sink.countOf(KEY.response), 2);
});

test("the server's PING is answered, and GOAWAY sends the next request over a new connection", async (t) => {
  let pinged: Promise<boolean> | undefined;
  const { connection, sessions } = await serve(t, (stream, _headers, _body, n) => {
    stream.respond({ ':status': 200 });
    stream.end(`n${n}`);
    if (n === 0) {
      const session = stream.session!;
      pinged = new Promise((resolve) => session.ping((err) => resolve(err === null)));
    }
    if (n === 1) stream.session!.goaway();
  });
  t.is(Buffer.from((await connection.request(GET)).body).toString(), 'n0');
  t.true(await pinged!);
  t.is(Buffer.from((await connection.request(GET)).body).toString(), 'n1');
  t.is(Buffer.from((await connection.request(GET)).body).toString(), 'n2');
  t.is(sessions(), 2);
});

test('RST_STREAM: REFUSED_STREAM on a reused connection goes again on a new one; another code is protocol', async (t) => {
  const { connection, sink, sessions } = await serve(t, (stream, headers, _body, n) => {
    if (n === 1) return void stream.close(constants.NGHTTP2_REFUSED_STREAM);
    if (headers[':path'] === '/broken') return void stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    stream.respond({ ':status': 200 });
    stream.end(`n${n}`);
  });
  t.is(Buffer.from((await connection.request(GET)).body).toString(), 'n0');
  t.is(Buffer.from((await connection.request(GET)).body).toString(), 'n2');
  t.is(sessions(), 2);
  t.is(await codeOf(connection.request({ method: 'GET', path: '/broken', headers: [] })), 'protocol');
  // The connection goes on after a stream error.
  t.is((await connection.request(GET)).status, 200);
  t.is(sink.countOf(KEY.response), 3);
});

test('a server that breaks the protocol is protocol, and the next request starts over', async (t) => {
  // A hand-written server: the first connection answers with a header block naming an entry its
  // dynamic table never had (a COMPRESSION_ERROR), the second answers properly.
  const frame = (type: number, flags: number, payload: Buffer) => Buffer.concat([Buffer.from([0, 0, payload.length, type, flags, 0, 0, 0, 1]), payload]);
  const settings = Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]);
  const server = await startTcpServer((socket) => {
    const broken = server.connections === 1;
    let seen = 0;
    socket.on('data', (chunk: Buffer) => {
      const before = seen;
      seen += chunk.length;
      // The preface (24), our SETTINGS (21), WINDOW_UPDATE (13) and a HEADERS frame's head (9).
      if (before >= 67 || seen < 67) return;
      if (broken) socket.write(Buffer.concat([settings, frame(0x1, 0x4, Buffer.from([0xbe]))]));
      else socket.write(Buffer.concat([settings, frame(0x1, 0x4, Buffer.from([0x88])), frame(0x0, 0x1, Buffer.from('fine'))]));
    });
  });
  t.teardown(() => server.close());
  const connection = createHttpConnection({ ip: '127.0.0.1', port: server.port, protocol: 'http2', hostname: '127.0.0.1', verifyTls: false }, new RecordingSink());
  t.teardown(() => connection.close());
  const err = await t.throwsAsync(connection.request(GET));
  t.is((err as { code?: string }).code, 'protocol');
  t.regex(err.message, /index 62/);
  t.is(Buffer.from((await connection.request(GET)).body).toString(), 'fine');
  t.is(server.connections, 2);
});
