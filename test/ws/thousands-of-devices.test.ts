/**
 * Thousands of WebSocket devices through the compiled sgcli against one plain
 * `ws` server on loopback: each device upgrades, sends a few messages and
 * checks each echo, then waits for a broadcast the server sends once every
 * device's last message is in, then idles until the run ends. Nothing is in flight at
 * the end, so the run's counts and the server's must agree exactly.
 */
import test from 'ava';
import { EXIT } from '../../ts/cli/exit-codes.js';
import { readArchive, total } from '../e2e/run-archive.js';
import { runSgcli, workspace } from '../e2e/sgcli-child.js';
import { startWsServer } from '../support/ws-server.js';

const DEVICES = 2000;
const MESSAGES = 5;

const SCRIPT = `await wsUpgrade('/');
for (let i = 0; i < params.messages; i++) {
  const sent = 'message ' + i + ' ' + base64.encode(randomBytes(12));
  await wsSendText(sent);
  if ((await wsReceiveText(20000)) !== sent) throw Object.assign(new Error('echo differs'), { code: 'bad_echo' });
  incCounter('echoed');
}
if ((await wsReceiveText(30000)) !== 'everyone is here') throw Object.assign(new Error('not the broadcast'), { code: 'bad_broadcast' });
incCounter('broadcast');
await delay(600000);
`;

test(`${DEVICES} WebSocket devices: frames sent equal frames the server received, echoes and a broadcast all arrive`, async (t) => {
  let broadcasts = 0;
  let broadcastAfterMs = NaN;
  const started = performance.now();
  let sentByServer = 0;
  const server = await startWsServer({
    onConnection: (ws) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        ws.send(data, { binary: isBinary });
        sentByServer++;
        if (server.messages < DEVICES * MESSAGES) return;
        broadcastAfterMs = performance.now() - started;
        for (const client of server.wss.clients) {
          client.send('everyone is here');
          sentByServer++;
          broadcasts++;
        }
      });
    },
  });
  t.teardown(() => server.close());
  const ws = await workspace(t);
  const script = await ws.file('echo.js', SCRIPT);
  const run = await runSgcli([
    'run',
    'ws-thousands',
    script,
    '--target-hosts',
    '127.0.0.1',
    '--target-port',
    String(server.port),
    '--target-protocol',
    'http',
    '--size',
    String(DEVICES),
    '--sustain',
    '12',
    '--report-interval',
    '4',
    '--script-params',
    JSON.stringify({ messages: MESSAGES }),
    '--data-dir',
    ws.dataDir,
  ]);
  t.is(run.code, EXIT.ok, run.stderr.slice(-3000));
  // The sustain must leave room after this on a slow machine.
  t.log(`every device's last echo was in ${Math.round(broadcastAfterMs)} ms after sgcli started`);
  const archive = await readArchive(run.archive!);

  t.deepEqual(archive.summary.errors, {});
  t.is(server.upgrades, DEVICES);
  t.is(broadcasts, DEVICES);
  t.is(total(archive, 'echoed_count'), DEVICES * MESSAGES);
  t.is(total(archive, 'broadcast_count'), DEVICES);
  t.is(total(archive, 'ws_sent_frames_count'), server.messages);
  t.is(server.messages, DEVICES * MESSAGES);
  t.is(total(archive, 'ws_received_frames_count'), sentByServer);
  t.is(total(archive, 'ws_receive_overflow_count'), 0);
});
