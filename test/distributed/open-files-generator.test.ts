/**
 * A stressgrid-generator process started under a low open-file limit, as from a
 * shell: it logs the limit it runs with, and a run that gives it more devices
 * than that allows is told so, naming the limit, on the coordinator (where sgcli
 * and the website show notices), with the failures counted as too_many_open_files.
 */
import test from 'ava';
import { startGeneratorProcess } from '../support/generator-process.js';
import { killAllPrograms } from '../support/program-process.js';
import { startTcpServer, type TcpServer } from '../support/tcp-server.js';
import { coordinatorFor } from '../api/coordinator-harness.js';
import { until } from '../support/until.js';

let server: TcpServer;
test.before(async () => {
  server = await startTcpServer((socket) => socket.on('data', (data) => socket.write(data)));
});
test.after.always(async () => {
  await killAllPrograms();
  await server?.close();
});

test('a generator under `ulimit -n 200` logs its limit; a run of 300 devices is warned of, its EMFILE failures counted and told on the coordinator', async (t) => {
  const c = await coordinatorFor(t, { generators: 0, generatorPort: true });
  const notices: string[] = [];
  const unobserve = c.coordinator.observe({ onNotice: (message) => notices.push(message) });
  t.teardown(unobserve);
  const generator = startGeneratorProcess({ url: c.generatorUrl!, id: 'low-limit', workers: 2, wrapper: ['prlimit', '--nofile=200:200', '--'] });
  t.teardown(() => generator.kill());
  await c.waitForGenerator('low-limit');
  t.regex(generator.stderr(), /stressgrid generator: open files: up to 200 \(the hard limit\)/);

  const started = await c.coordinator.start({
    name: 'open-files',
    blocks: [{ script: "await send('ping\\n'); await recv(); await delay(60000);" }],
    addresses: [{ host: '127.0.0.1', port: server.port, protocol: 'tcp' }],
    size: 300,
    rampup: 1,
    sustain: 30,
    rampdown: 0,
  });
  t.true(started.ok);
  await until(() => notices.some((n) => /failing with too_many_open_files/.test(n)), 20_000, 'the too_many_open_files notice');
  t.true(
    notices.some((n) => /^generator low-limit: this run gives this generator \d+ devices, more than its open-file limit of 200 allows/.test(n)),
    notices.join('\n'),
  );
  t.true(notices.some((n) => /^generator low-limit: devices are failing with too_many_open_files: .*limit of 200 descriptors.*ulimit -n/.test(n)));
  t.regex(generator.stderr(), /stressgrid generator: devices are failing with too_many_open_files/, 'the generator logs it too');
  const snapshot = c.coordinator.run!.snapshot();
  t.true((snapshot.counters.too_many_open_files_error_count?.total ?? 0) > 0, JSON.stringify(snapshot.counters));
  t.false('unknown_error_count' in snapshot.counters);
  await c.coordinator.abort('enough');
});
