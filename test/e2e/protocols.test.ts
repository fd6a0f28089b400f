/**
 * Every HTTP protocol end to end through the compiled sgcli against a real
 * nginx: the report's total response count must be exactly what nginx logged,
 * and nginx must have seen the protocol and scheme the plan asked for.
 */
import test from 'ava';
import { startNginx, type NginxServer } from '../support/nginx.js';
import type { Protocol } from '../../ts/shared/plan.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { FIXED_REQUESTS } from './device-scripts.js';
import { readArchive, total } from './run-archive.js';
import { runSgcli, workspace } from './sgcli-child.js';

const DEVICES = 10;
const REQUESTS = 5;

interface Case {
  protocol: Protocol;
  port: (nginx: NginxServer) => number | undefined;
  /** `$server_protocol` nginx logs. */
  logged: string;
  scheme: 'http' | 'https';
}

const CASES: Case[] = [
  { protocol: 'http', port: (n) => n.port, logged: 'HTTP/1.1', scheme: 'http' },
  { protocol: 'http10', port: (n) => n.port, logged: 'HTTP/1.0', scheme: 'http' },
  { protocol: 'https', port: (n) => n.tlsPort, logged: 'HTTP/1.1', scheme: 'https' },
  { protocol: 'http2s', port: (n) => n.tlsPort, logged: 'HTTP/2.0', scheme: 'https' },
  { protocol: 'http2', port: (n) => n.h2Port, logged: 'HTTP/2.0', scheme: 'http' },
];

for (const c of CASES) {
  test(`${c.protocol}: the CSV's response_count equals nginx's access log, all ${c.logged} over ${c.scheme}`, async (t) => {
    const nginx = await startNginx({ tls: c.scheme === 'https', http2: c.logged === 'HTTP/2.0' });
    t.teardown(() => nginx.stop());
    const ws = await workspace(t);
    const script = await ws.file('fixed.js', FIXED_REQUESTS);
    const run = await runSgcli([
      'run',
      `proto-${c.protocol}`,
      script,
      '--target-hosts',
      '127.0.0.1',
      '--target-port',
      String(c.port(nginx)),
      '--target-protocol',
      c.protocol,
      '--size',
      String(DEVICES),
      '--sustain',
      '4',
      '--report-interval',
      '1',
      '--script-params',
      JSON.stringify({ requests: REQUESTS }),
      '--data-dir',
      ws.dataDir,
    ]);
    t.is(run.code, EXIT.ok, run.stderr);
    const archive = await readArchive(run.archive!);
    const logged = await nginx.accessLogLines();

    t.is(logged.length, total(archive, 'response_count'));
    t.is(total(archive, 'response_count'), DEVICES * REQUESTS);
    t.is(total(archive, 'device_count'), DEVICES);
    t.is(total(archive, 'bad_status_count'), 0);
    t.deepEqual(archive.summary.errors, {});
    t.deepEqual([...new Set(logged.map((l) => `${l.protocol} ${l.scheme} ${l.status}`))], [`${c.logged} ${c.scheme} 200`]);
    // One kept-alive connection per device, never one per request.
    t.is(new Set(logged.map((l) => l.connection)).size, DEVICES);
  });
}
