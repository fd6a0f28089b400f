/**
 * Where devices go, end to end: several addresses take devices round-robin (a
 * host name spread over every IP it resolves to), and blocks get their exact
 * shares of the devices.
 */
import test from 'ava';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startNginx } from '../support/nginx.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { FIXED_REQUESTS } from './device-scripts.js';
import { readArchive, total } from './run-archive.js';
import { runSgcli, workspace } from './sgcli-child.js';

const REQUESTS = 3;
const RUN = ['--sustain', '4', '--report-interval', '1'];

test('two nginx servers as two addresses get half the devices each, round-robin', async (t) => {
  const [a, b] = await Promise.all([startNginx(), startNginx()]);
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  const ws = await workspace(t);
  const plan = await ws.file('plan.json', {
    addresses: [
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ],
  });
  const script = await ws.file('fixed.js', FIXED_REQUESTS);
  const run = await runSgcli(['run', 'two-servers', script, '--plan', plan, '--size', '20', ...RUN, '--script-params', JSON.stringify({ requests: REQUESTS }), '--data-dir', ws.dataDir]);
  t.is(run.code, EXIT.ok, run.stderr);
  const archive = await readArchive(run.archive!);
  const [logA, logB] = await Promise.all([a.accessLogLines(), b.accessLogLines()]);

  t.is(logA.length + logB.length, total(archive, 'response_count'));
  t.is(total(archive, 'device_count'), 20);
  for (const log of [logA, logB]) {
    t.is(new Set(log.map((l) => l.connection)).size, 10, 'devices per server');
    t.is(log.length, 10 * REQUESTS);
  }
});

interface Seen {
  /** The Host header's name part: which plan address the device was given. */
  host: string;
  /** The server IP the device connected to, IPv4-mapped addresses unwrapped. */
  ip: string;
  socket: unknown;
}

test('127.0.0.1 and localhost as two addresses: half the devices each, localhost spread over every IP it resolves to', async (t) => {
  const seen: Seen[] = [];
  // Dual-stack, since localhost may resolve to ::1 as well as 127.0.0.1.
  const server = createServer((req: IncomingMessage, res) => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    seen.push({ host, ip: (req.socket.localAddress ?? '').replace(/^::ffff:/, ''), socket: req.socket });
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  t.teardown(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))));
  const port = (server.address() as AddressInfo).port;
  const localhostIps = [...new Set((await lookup('localhost', { all: true, verbatim: true })).map((e) => e.address))];

  const ws = await workspace(t);
  const script = await ws.file('fixed.js', FIXED_REQUESTS);
  const run = await runSgcli([
    'run',
    'localhost',
    script,
    '--target-hosts',
    '127.0.0.1,localhost',
    '--target-port',
    String(port),
    '--size',
    '20',
    ...RUN,
    '--script-params',
    JSON.stringify({ requests: REQUESTS }),
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, EXIT.ok, run.stderr);
  const archive = await readArchive(run.archive!);

  t.is(seen.length, total(archive, 'response_count'));
  const devicesOf = (filter: (s: Seen) => boolean) => new Set(seen.filter(filter).map((s) => s.socket)).size;
  t.is(
    devicesOf((s) => s.host === '127.0.0.1'),
    10,
  );
  t.is(
    devicesOf((s) => s.host === 'localhost'),
    10,
  );
  t.is(seen.filter((s) => s.host === '127.0.0.1').length, 10 * REQUESTS);
  t.is(seen.filter((s) => s.host === 'localhost').length, 10 * REQUESTS);
  // Each IP of localhost gets its round-robin share of localhost's 10 devices.
  for (const [i, ip] of localhostIps.entries()) {
    const share = Math.floor(10 / localhostIps.length) + (i < 10 % localhostIps.length ? 1 : 0);
    t.is(
      devicesOf((s) => s.host === 'localhost' && s.ip === ip),
      share,
      `devices on ${ip}`,
    );
  }
});

test('blocks sized 3:1 get exactly 30 and 10 of 40 devices', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  const plan = await ws.file('plan.json', {
    blocks: [
      { script: FIXED_REQUESTS, params: { key: 'block_a', requests: 2 }, size: 3 },
      { script: FIXED_REQUESTS, params: { key: 'block_b', requests: 1 }, size: 1 },
    ],
  });
  const run = await runSgcli(['run', 'blocks', '--plan', plan, '--target-hosts', '127.0.0.1', '--target-port', String(nginx.port), '--size', '40', ...RUN, '--data-dir', ws.dataDir]);
  t.is(run.code, EXIT.ok, run.stderr);
  const archive = await readArchive(run.archive!);

  t.is(total(archive, 'block_a_count'), 30);
  t.is(total(archive, 'block_b_count'), 10);
  t.is(total(archive, 'response_count'), 30 * 2 + 10 * 1);
  t.is(await nginx.accessLogCount(), total(archive, 'response_count'));
});
