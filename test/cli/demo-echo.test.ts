/**
 * The demo target's TCP and UDP echoes: on their own, and as `sgcli run --demo
 * --target-protocol tcp|udp` aims a script at them, on netio and on the
 * node:net / node:dgram fallback.
 */
import test from 'ava';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { NETIO_ENV, NETIO_ENV_VALUES } from '../../ts/generator/protocols/socket-transport.js';
import { METRIC } from '../../ts/shared/metrics.js';
import { demoUrl, startDemoTarget } from '../../ts/cli/demo-target.js';
import { readArchive, total } from '../e2e/run-archive.js';
import { runSgcli, workspace } from '../e2e/sgcli-child.js';

test('the TCP echo writes back what it reads', async (t) => {
  const target = await startDemoTarget({ protocol: 'tcp' });
  t.teardown(() => target.close());
  t.is(demoUrl(target), `tcp://127.0.0.1:${target.port}`);
  const echoed = await new Promise<string>((resolve, reject) => {
    const socket = connect(target.port, target.host, () => socket.write('ping'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString());
    });
    socket.once('error', reject);
  });
  t.is(echoed, 'ping');
  t.is(target.served, 1);
});

test('the UDP echo sends every datagram back', async (t) => {
  const target = await startDemoTarget({ protocol: 'udp' });
  t.teardown(() => target.close());
  t.is(target.protocol, 'udp');
  const socket = createSocket('udp4');
  t.teardown(() => socket.close());
  const echoed = new Promise<string>((resolve) => socket.once('message', (m) => resolve(m.toString())));
  socket.send('ping', target.port, target.host);
  t.is(await echoed, 'ping');
  t.is(target.served, 1);
});

/** One device run sends and receives PING_BYTES per round trip ('ping 0' .. 'ping 4'). */
const PING_BYTES = 6;

for (const engine of NETIO_ENV_VALUES) {
  for (const protocol of ['tcp', 'udp'] as const) {
    test(`sgcli --demo --target-protocol ${protocol}, ${NETIO_ENV}=${engine}: devices send and receive against the echo`, async (t) => {
      const ws = await workspace(t);
      const script = await ws.file(
        'echo.js',
        `for (let i = 0; i < 5; i++) { await send('ping ' + i); if (text.decode(await recv()) !== 'ping ' + i) throw new Error('bad echo'); incCounter('echo'); await delay(100); }`,
      );
      const run = await runSgcli(['run', `demo-${protocol}`, script, '--demo', '--target-protocol', protocol, '--size', '10', '--sustain', '2', '--report-interval', '1', '--data-dir', ws.dataDir], {
        [NETIO_ENV]: engine,
      });
      t.is(run.code, EXIT.ok, run.stderr);
      t.regex(run.stderr, new RegExp(`demo target listening on ${protocol}://127\\.0\\.0\\.1:\\d+`));
      const archive = await readArchive(run.archive!);
      t.deepEqual(archive.summary.errors, {});
      t.true(total(archive, 'echo_count') >= 50, `${total(archive, 'echo_count')} echoes`);
      t.true(total(archive, 'receive_count') >= total(archive, 'echo_count'));
      t.is(total(archive, METRIC.socketSentBytesCount), PING_BYTES * total(archive, METRIC.sendCount));
      t.is(total(archive, METRIC.socketReceivedBytesCount), PING_BYTES * total(archive, METRIC.receiveCount));
    });
  }
}
