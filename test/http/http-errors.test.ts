import test from 'ava';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { KEY } from '../../ts/shared/metrics.js';
import type { Protocol } from '../../ts/shared/plan.js';
import type { HttpRequest, Target } from '../../ts/generator/protocols/device-connection.js';
import { createHttpConnection } from '../../ts/generator/protocols/http-connection.js';
import { RecordingSink } from '../support/recording-sink.js';
import { startStalledListener } from '../support/stalled-listener.js';
import { onRequestHead, startTcpServer, type TcpServer } from '../support/tcp-server.js';
import { selfSignedCert } from '../support/tls-cert.js';
import { closedPort } from '../support/closed-port.js';
import { codeOf } from '../support/code-of.js';

const GET: HttpRequest = { method: 'GET', path: '/', headers: [] };
const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok';

function target(protocol: Protocol, port: number, extra: Partial<Target> = {}): Target {
  return { ip: '127.0.0.1', port, protocol, hostname: '127.0.0.1', verifyTls: false, ...extra };
}

async function using<T>(server: TcpServer, body: (server: TcpServer) => Promise<T>): Promise<T> {
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}

for (const protocol of ['http10', 'http', 'https', 'http2', 'http2s'] as const) {
  test(`${protocol}: a closed port is conn_refused, and no conn is counted`, async (t) => {
    const sink = new RecordingSink();
    const connection = createHttpConnection(target(protocol, await closedPort()), sink);
    t.is(await codeOf(connection.connect()), 'conn_refused');
    t.is(sink.countOf(KEY.conn), 0);
    connection.close();
  });

  test(`${protocol}: a listener whose accept queue is full makes connect conn_timedout`, async (t) => {
    const listener = await startStalledListener();
    try {
      const sink = new RecordingSink();
      const connection = createHttpConnection(target(protocol, listener.port), sink, { connectTimeoutMs: 300 });
      const started = Date.now();
      t.is(await codeOf(connection.connect()), 'conn_timedout');
      t.true(Date.now() - started >= 250);
      t.is(sink.countOf(KEY.conn), 0);
      connection.close();
    } finally {
      await listener.stop();
    }
  });
}

// Serial, with the reset well after the partial response: when the RST lands
// before the client has read, libuv reports the hang-up as EOF after a partial
// read, which is `closed`, not `conn_reset`. Run alone, the client reads first.
test.serial('http: a server that resets mid-response is conn_reset', async (t) => {
  await using(
    await startTcpServer((socket) =>
      onRequestHead(socket, () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial', () => setTimeout(() => socket.resetAndDestroy(), 100));
      }),
    ),
    async (server) => {
      const sink = new RecordingSink();
      const connection = createHttpConnection(target('http', server.port), sink);
      await connection.connect();
      t.is(await codeOf(connection.request(GET)), 'conn_reset');
      t.is(sink.durationsOf(KEY.headers).length, 1);
      t.is(sink.countOf(KEY.response), 0);
      connection.close();
    },
  );
});

for (const protocol of ['http10', 'http'] as const) {
  test(`${protocol}: a server that closes mid-body is closed`, async (t) => {
    await using(await startTcpServer((socket) => onRequestHead(socket, () => socket.end('HTTP/1.1 200 OK\r\nconnection: keep-alive\r\ncontent-length: 100\r\n\r\nonly ten b'))), async (server) => {
      const sink = new RecordingSink();
      const connection = createHttpConnection(target(protocol, server.port), sink);
      await connection.connect();
      const err = await t.throwsAsync(connection.request(GET));
      t.is((err as { code?: string }).code, 'closed');
      t.regex(err.message, /before the response body was complete/);
      // Headers arrived, the body did not: headers_us is recorded, the response is not.
      t.is(sink.durationsOf(KEY.headers).length, 1);
      t.is(sink.countOf(KEY.response), 0);
      connection.close();
    });
  });
}

test('http: a server that accepts and never answers is timeout, and the next request reconnects', async (t) => {
  let answer = false;
  await using(await startTcpServer((socket) => onRequestHead(socket, () => answer && socket.write(OK))), async (server) => {
    const sink = new RecordingSink();
    const connection = createHttpConnection(target('http', server.port), sink, { requestTimeoutMs: 200 });
    await connection.connect();
    const started = Date.now();
    t.is(await codeOf(connection.request(GET)), 'timeout');
    t.true(Date.now() - started >= 190);
    answer = true;
    t.is((await connection.request(GET)).status, 200);
    t.is(server.connections, 2);
    t.is(sink.countOf(KEY.conn), 2);
    connection.close();
  });
});

test('http2: a server that never answers is timeout', async (t) => {
  const server: Http2Server = createHttp2Server();
  server.on('stream', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const connection = createHttpConnection(target('http2', (server.address() as AddressInfo).port), new RecordingSink(), { requestTimeoutMs: 200 });
    await connection.connect();
    t.is(await codeOf(connection.request(GET)), 'timeout');
    connection.close();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('http: a malformed status line is protocol', async (t) => {
  await using(await startTcpServer((socket) => onRequestHead(socket, () => socket.write('ICY 200 OK\r\n\r\n'))), async (server) => {
    const connection = createHttpConnection(target('http', server.port), new RecordingSink());
    await connection.connect();
    t.is(await codeOf(connection.request(GET)), 'protocol');
    connection.close();
  });
});

test('http: close() while a request is in flight rejects it with closed', async (t) => {
  await using(await startTcpServer(() => {}), async (server) => {
    const connection = createHttpConnection(target('http', server.port), new RecordingSink());
    await connection.connect();
    const pending = connection.request(GET);
    setTimeout(() => connection.close(), 20);
    t.is(await codeOf(pending), 'closed');
  });
});

test('http: a header with CR/LF is bad_argument and nothing is sent', async (t) => {
  const heads: string[] = [];
  await using(await startTcpServer((socket) => onRequestHead(socket, (head) => heads.push(head))), async (server) => {
    const connection = createHttpConnection(target('http', server.port), new RecordingSink());
    await connection.connect();
    t.is(await codeOf(connection.request({ ...GET, headers: [['x-a', 'b\r\nx-injected: 1']] })), 'bad_argument');
    t.is(await codeOf(connection.request({ ...GET, path: '/a b' })), 'bad_argument');
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.deepEqual(heads, []);
    connection.close();
  });
});

test('http: an idle connection the server closed is reopened transparently and counted', async (t) => {
  await using(await startTcpServer((socket) => onRequestHead(socket, () => socket.write(OK, () => setTimeout(() => socket.end(), 20)))), async (server) => {
    const sink = new RecordingSink();
    const connection = createHttpConnection(target('http', server.port), sink);
    await connection.connect();
    t.is((await connection.request(GET)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    t.is((await connection.request(GET)).status, 200);
    t.is(server.connections, 2);
    t.is(sink.countOf(KEY.conn), 2);
    t.is(sink.durationsOf(KEY.conn).length, 2);
    connection.close();
  });
});

test('http: a reused connection closed just as a request leaves retries GET once, but not POST', async (t) => {
  // Each connection answers its first request and silently closes on the second,
  // the race a server's keep-alive timeout produces.
  await using(
    await startTcpServer((socket) => {
      let requests = 0;
      onRequestHead(socket, () => (++requests === 1 ? socket.write(OK) : socket.destroy()));
    }),
    async (server) => {
      const sink = new RecordingSink();
      const connection = createHttpConnection(target('http', server.port), sink);
      await connection.connect();
      await connection.request(GET);
      t.is((await connection.request(GET)).status, 200);
      t.is(server.connections, 2);
      t.is(await codeOf(connection.request({ method: 'POST', path: '/', headers: [] })), 'closed');
      t.is(server.connections, 2);
      connection.close();
    },
  );
});

test('http: chunked bodies split at every byte, trailers and 100 Continue are read', async (t) => {
  const response =
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Multi: a\r\nX-Multi: b\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nx-trailer: t\r\n\r\n';
  await using(
    await startTcpServer((socket) =>
      onRequestHead(socket, () => {
        socket.setNoDelay(true);
        const writeFrom = (i: number): void => {
          if (i < response.length) socket.write(response[i]!, 'latin1', () => setImmediate(writeFrom, i + 1));
        };
        writeFrom(0);
      }),
    ),
    async (server) => {
      const sink = new RecordingSink();
      const connection = createHttpConnection(target('http', server.port), sink);
      await connection.connect();
      const first = await connection.request(GET);
      t.is(first.status, 200);
      t.is(Buffer.from(first.body).toString(), 'hello world!');
      t.deepEqual(
        first.headers.filter(([name]) => name === 'x-multi'),
        [
          ['x-multi', 'a'],
          ['x-multi', 'b'],
        ],
      );
      t.is((await connection.request(GET)).status, 200);
      t.is(server.connections, 1);
      connection.close();
    },
  );
});

test('http10: a body without length is read until close, and the next request reconnects', async (t) => {
  const heads: string[] = [];
  await using(
    await startTcpServer((socket) =>
      onRequestHead(socket, (head) => {
        heads.push(head);
        socket.end('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end');
      }),
    ),
    async (server) => {
      const sink = new RecordingSink();
      const connection = createHttpConnection(target('http10', server.port, { hostname: 'localhost' }), sink);
      await connection.connect();
      for (let i = 0; i < 2; i++) t.is(Buffer.from((await connection.request(GET)).body).toString(), 'until the end');
      t.is(server.connections, 2);
      t.is(sink.countOf(KEY.conn), 2);
      t.regex(heads[0]!, /^GET \/ HTTP\/1\.0\r\n/);
      t.regex(heads[0]!, /\r\nhost: localhost:\d+\r\n/i);
      t.regex(heads[0]!, /\r\nconnection: keep-alive$/im);
      t.notRegex(heads[0]!, /transfer-encoding/i);
      connection.close();
    },
  );
});

test('https: SNI reaches a node:tls server: the host name, the override, none for an IP', async (t) => {
  const { key, cert } = await selfSignedCert();
  const seen: Array<string | false> = [];
  const server = createTlsServer({ key, cert }, (socket: TLSSocket) => {
    seen.push(socket.servername ?? false);
    onRequestHead(socket, () => socket.write(OK));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    for (const extra of [{ hostname: 'localhost' }, { hostname: 'localhost', serverName: 'api.example.test' }, { hostname: '127.0.0.1' }]) {
      const connection = createHttpConnection(target('https', port, extra), new RecordingSink());
      await connection.connect();
      t.is((await connection.request(GET)).status, 200);
      connection.close();
    }
    t.deepEqual(seen, ['localhost', 'api.example.test', false]);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});

test('http2s: a TLS server that negotiates no ALPN protocol is protocol', async (t) => {
  const { key, cert } = await selfSignedCert();
  const server = createTlsServer({ key, cert }, (socket) => socket.on('error', () => {}));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const connection = createHttpConnection(target('http2s', (server.address() as AddressInfo).port), new RecordingSink());
    t.is(await codeOf(connection.connect()), 'protocol');
    connection.close();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
