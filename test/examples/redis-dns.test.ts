/**
 * examples/redis.js (TCP) and examples/dns.js (UDP) through sgcli, on both
 * socket engines (netio and the node:net / node:dgram fallback), against a real
 * redis-server and a real DNS resolver on loopback: what the servers counted
 * must equal what the run counted, Redis holds keys and values of the sizes the
 * example describes, the resolver gave the answer it was configured with, and
 * an empty answer fails the devices as it did in the original.
 */
import test from 'ava';
import { NETIO_ENV } from '../../ts/generator/protocols/socket-transport.js';
import { total } from '../e2e/run-archive.js';
import { startDnsServer } from '../support/dns-server.js';
import { startRedis } from '../support/redis.js';
import { assertInFlightBound, runExample } from './example-run.js';

const DEVICES = 10;

for (const engine of ['native', 'node']) {
  test(`${engine}: redis.js — Redis's INFO commandstats counts exactly the SETs and GETs the run sent`, async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const { archive, samples } = await runExample(t, 'redis', { port: redis.port, devices: DEVICES, sustain: 4, protocol: 'tcp', env: { [NETIO_ENV]: engine } });
    const [sets, gets] = [await redis.calls('set'), await redis.calls('get')];

    t.deepEqual(archive.summary.errors, {});
    t.is(total(archive, 'conn_count'), DEVICES);
    t.is(total(archive, 'send_count'), sets + gets);
    // Four seconds at one SET/GET pair a second per device.
    t.true(sets >= 3 * DEVICES, `${sets} SETs`);
    // Each SET answered +OK was timed (set_us), each GET answered with the value too (get_us).
    assertInFlightBound(t, samples('set_us'), sets, DEVICES, 'SETs answered');
    assertInFlightBound(t, samples('get_us'), gets, DEVICES, 'GETs answered');
    assertInFlightBound(t, total(archive, 'receive_count'), sets + gets, DEVICES, 'replies');
    t.is((await redis.info('clients')).get('connected_clients'), '1', 'every device connection was closed (the one left asks INFO)');

    // Keys are 16 random bits in base64 (3 characters, 65,536 of them); values 768 random bytes in base64 (1,024 characters).
    const keys = await redis.keys();
    const dbsize = await redis.integer('DBSIZE');
    t.is(dbsize, keys.length);
    t.true(dbsize > 0 && dbsize <= Math.min(sets, 65536), `${dbsize} keys after ${sets} SETs`);
    for (const key of keys) {
      t.regex(key, /^[A-Za-z0-9+/]{3}$/);
      t.is(await redis.integer(`STRLEN ${key}`), 1024, `STRLEN ${key}`);
    }
  });

  test(`${engine}: dns.js — the resolver's query log counts exactly the queries the run sent, all answered`, async (t) => {
    const dns = await startDnsServer();
    t.teardown(() => dns.stop());
    const before = await dns.queries('stressgrid.com');
    const answeredBefore = (await dns.answers('stressgrid.com')).get(dns.address) ?? 0;
    const { archive, samples } = await runExample(t, 'dns', { port: dns.port, devices: DEVICES, sustain: 4, protocol: 'udp', env: { [NETIO_ENV]: engine } });
    const queries = (await dns.queries('stressgrid.com')) - before;

    t.deepEqual(archive.summary.errors, {});
    t.is(total(archive, 'conn_count'), DEVICES);
    t.is(total(archive, 'send_count'), queries);
    t.true(queries >= 3 * DEVICES, `${queries} queries`);
    // resolve_us is recorded once the answer has arrived, before it is decoded; a bad one would have ended its device, counted in the errors.
    assertInFlightBound(t, samples('resolve_us'), queries, DEVICES, 'queries answered');
    assertInFlightBound(t, total(archive, 'receive_count'), queries, DEVICES, 'answers');
    // The script decodes the address but keeps it, as the original did: the resolver's log shows what it answered.
    const answers = await dns.answers('stressgrid.com');
    t.deepEqual([...answers.keys()], [dns.address]);
    t.is(answers.get(dns.address)! - answeredBefore, queries);
  });

  test(`${engine}: dns.js — an answer with no record fails the device as no_answer, as the original's answer decoding did`, async (t) => {
    const dns = await startDnsServer({ address: '::1' });
    t.teardown(() => dns.stop());
    const before = await dns.queries('stressgrid.com');
    const { archive, samples } = await runExample(t, 'dns', { port: dns.port, devices: DEVICES, sustain: 3, protocol: 'udp', env: { [NETIO_ENV]: engine } });
    const queries = (await dns.queries('stressgrid.com')) - before;

    t.deepEqual(Object.keys(archive.summary.errors), ['no_answer_error_count']);
    // Each device fails at its first answer and is recycled a second later, to fail again.
    const failures = archive.summary.errors['no_answer_error_count']!;
    t.true(failures > DEVICES, `${failures} failures`);
    assertInFlightBound(t, failures, queries, DEVICES, 'empty answers');
    assertInFlightBound(t, samples('resolve_us'), queries, DEVICES, 'queries answered');
    t.deepEqual([...(await dns.answers('stressgrid.com')).keys()], ['NODATA-IPv4']);
  });
}
