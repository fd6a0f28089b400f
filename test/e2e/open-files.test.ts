/**
 * The open-file limit as a user meets it: sgcli started under a low limit (as
 * from a shell with `ulimit -n`), against a real TCP server. The soft limit is
 * raised to the hard one and said; past the hard one, connects fail with
 * too_many_open_files, not unknown, and the run says why, naming the limit.
 */
import test from 'ava';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { startTcpServer, type TcpServer } from '../support/tcp-server.js';
import { readArchive } from './run-archive.js';
import { num, runSgcli, workspace } from './sgcli-child.js';

let server: TcpServer;
test.before(async () => {
  // Holds every connection open, answering each line.
  server = await startTcpServer((socket) => socket.on('data', (data) => socket.write(data)));
});
test.after.always(() => server?.close());

const HOLD_SCRIPT = "await send('ping\\n'); await recv(); await delay(60000);";

const runArgs = (dataDir: string, script: string, size: number) => [
  'run',
  'open-files',
  script,
  '--target-hosts',
  '127.0.0.1',
  '--target-port',
  String(server.port),
  '--target-protocol',
  'tcp',
  '--size',
  String(size),
  '--rampup',
  '1',
  '--sustain',
  '3',
  '--rampdown',
  '0',
  '--data-dir',
  dataDir,
];

// Node itself raises the soft limit at start-up on Linux, so sgcli finds it raised already; the
// raise through the addon is tested in crates/netio (open_files.rs) where nothing did it first.
test('under a low soft limit sgcli runs at the hard limit and says what it got', async (t) => {
  const ws = await workspace(t);
  const script = await ws.file('hold.js', HOLD_SCRIPT);
  const run = await runSgcli(runArgs(ws.dataDir, script, 20), {}, ['prlimit', '--nofile=256:4096', '--']);
  t.is(run.code, EXIT.ok, run.stderr);
  t.regex(run.stderr, /open files: up to 4096 \((raised from 256 to )?the hard limit\)/);
  t.notRegex(run.stderr, /too_many_open_files/);
  // The target is on loopback, so loopback carries the load and is counted, said live and in the report.
  t.regex(run.live.at(-1)!.interfaces ?? '', /(^|,)lo(,|$)/);
  const networks = Object.values((await readArchive(run.archive!)).summary.networks ?? {});
  t.is(networks.length, 1);
  t.true(networks[0]!.interfaces.includes('lo'), JSON.stringify(networks));
});

test('past the hard limit: a warning naming the limit, connects counted as too_many_open_files (never unknown) with a notice naming it', async (t) => {
  const ws = await workspace(t);
  const script = await ws.file('hold.js', HOLD_SCRIPT);
  const run = await runSgcli(runArgs(ws.dataDir, script, 300), {}, ['prlimit', '--nofile=200:200', '--']);
  t.regex(run.stderr, /open files: up to 200 \(the hard limit\)/);
  t.regex(run.stderr, /gives this generator \d+ devices, more than its open-file limit of 200 allows/);
  t.regex(run.stderr, /devices are failing with too_many_open_files: this generator reached its open-file limit of 200 descriptors/);
  t.regex(run.stderr, /ulimit -n/);
  t.is(run.stderr.match(/devices are failing with too_many_open_files/g)!.length, 1, 'told once');
  const last = run.live.at(-1)!;
  t.true(num(last, 'too_many_open_files_error_count') > 0, JSON.stringify(last));
  t.false('unknown_error_count' in last, 'nothing is counted as unknown');
  t.true(Math.max(...run.live.map((line) => num(line, 'active'))) > 100, 'the devices under the limit still run');
});
