/**
 * The seed's Redis (TCP) and DNS (UDP) examples, run as a user runs them
 * (examples/redis.js and examples/dns.js through the compiled sgcli) against a
 * real redis-server and a real DNS resolver on loopback, on both socket
 * engines. What the servers counted must equal what we counted.
 */
import test, { type ExecutionContext } from 'ava';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { NETIO_ENV } from '../../ts/generator/protocols/socket-transport.js';
import { startDnsServer } from '../support/dns-server.js';
import { startRedis } from '../support/redis.js';
import { readArchive, total, type RunArchive } from './run-archive.js';
import { ROOT, runSgcli, workspace } from './sgcli-child.js';

const DEVICES = 10;
const ENGINES = ['native', 'node'] as const;

/** Runs `examples/<name>` with DEVICES devices for four seconds; returns its archive. */
async function runExample(t: ExecutionContext, engine: string, name: string, port: number, protocol: 'tcp' | 'udp'): Promise<RunArchive> {
  const ws = await workspace(t);
  const run = await runSgcli(
    [
      'run', `${name.replace('.js', '')}-${engine}`, `${ROOT}examples/${name}`,
      '--target-hosts', '127.0.0.1', '--target-port', String(port), '--target-protocol', protocol,
      '--size', String(DEVICES), '--sustain', '4', '--report-interval', '1', '--data-dir', ws.dataDir,
    ],
    { [NETIO_ENV]: engine },
  );
  t.is(run.code, EXIT.ok, run.stderr);
  return readArchive(run.archive!);
}

for (const engine of ENGINES) {
  test(`${engine}: examples/redis.js — Redis's INFO commandstats counts exactly our SETs and GETs`, async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const archive = await runExample(t, engine, 'redis.js', redis.port, 'tcp');
    const [sets, gets] = [await redis.calls('set'), await redis.calls('get')];
    const sent = total(archive, 'send_count');
    const received = total(archive, 'receive_count');

    t.deepEqual(archive.summary.errors, {});
    t.is(total(archive, 'conn_count'), DEVICES);
    t.is(sent, sets + gets);
    // Four seconds at one SET/GET pair per second and device.
    t.true(sets >= 3 * DEVICES, `${sets} SETs`);
    t.true(gets >= sets - DEVICES && gets <= sets, `${gets} GETs for ${sets} SETs`);
    // A device stopped between a send and its reply leaves at most one reply unread.
    t.true(received <= sent && received >= sent - DEVICES, `${received} replies to ${sent} commands`);
    t.is((await redis.info('clients')).get('connected_clients'), '1', 'every device connection was closed (the one left is INFO)');
  });

  test(`${engine}: examples/dns.js — the resolver's query log counts exactly our queries, all answered`, async (t) => {
    const dns = await startDnsServer();
    t.teardown(() => dns.stop());
    const before = await dns.queries('stressgrid.com');
    const archive = await runExample(t, engine, 'dns.js', dns.port, 'udp');
    const queries = (await dns.queries('stressgrid.com')) - before;
    const sent = total(archive, 'send_count');

    t.deepEqual(archive.summary.errors, {});
    t.is(total(archive, 'conn_count'), DEVICES);
    t.is(sent, queries);
    t.true(queries >= 3 * DEVICES, `${queries} queries`);
    const received = total(archive, 'receive_count');
    t.true(received <= sent && received >= sent - DEVICES, `${received} answers to ${sent} queries`);
  });
}
