import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { KEY } from '../../ts/shared/metrics.js';
import type { Protocol } from '../../ts/shared/plan.js';
import { createHttpConnection } from '../../ts/generator/protocols/http-connection.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { RecordingSink } from '../support/recording-sink.js';

let nginx: NginxServer;

test.before(async () => {
  nginx = await startNginx({ tls: true, http2: true, keepaliveTimeoutMs: 100 });
});

test.after.always(async () => {
  await nginx?.stop();
});

const CASES: Array<[Protocol, () => number]> = [
  ['http10', () => nginx.port],
  ['http', () => nginx.port],
  ['https', () => nginx.tlsPort!],
  ['http2', () => nginx.h2Port!],
  ['http2s', () => nginx.tlsPort!],
];

for (const [protocol, port] of CASES) {
  test(`${protocol}: after nginx's keep-alive timeout closes the idle connection, the next request reconnects`, async (t) => {
    const sink = new RecordingSink();
    const uri = `/?case=${protocol}-idle`;
    const connection = createHttpConnection({ ip: '127.0.0.1', port: port(), protocol, hostname: 'localhost', verifyTls: false }, sink);
    try {
      await connection.connect();
      t.is((await connection.request({ method: 'GET', path: uri, headers: [] })).status, 200);
      await sleep(400);
      t.is((await connection.request({ method: 'GET', path: uri, headers: [] })).status, 200);
    } finally {
      connection.close();
    }
    const lines = await nginx.waitForAccessLog(2, uri);
    t.is(new Set(lines.map((line) => line.connection)).size, 2);
    t.is(sink.countOf(KEY.conn), 2);
    t.is(sink.durationsOf(KEY.conn).length, 2);
    t.is(sink.countOf(KEY.response), 2);
  });
}
