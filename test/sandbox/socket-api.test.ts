/**
 * The script's `send` and `recv` through the sandbox, on real loopback sockets
 * and on both engines (netio and the node:net fallback): strings and bytes out,
 * bytes back, a receive timeout the script can catch, codes of errors, bad
 * arguments, and the wrong protocol.
 */
import test from 'ava';
import { DEVICE_ERROR } from '../../ts/shared/errors.js';
import type { SocketConnection } from '../../ts/generator/protocols/device-connection.js';
import { createSocketConnection, SOCKET_ENGINES, type SocketEngine } from '../../ts/generator/protocols/socket-transport.js';
import { startTcpServer } from '../support/tcp-server.js';
import { fakeHttp, RecordingSink, sandbox } from './fakes.js';

async function echoSocket(t: import('ava').ExecutionContext, sink: RecordingSink, engine: SocketEngine): Promise<SocketConnection> {
  const server = await startTcpServer((socket) => socket.on('data', (d) => (d.toString() === 'quiet' ? undefined : socket.write(d))));
  t.teardown(() => server.close());
  const socket = createSocketConnection({ ip: '127.0.0.1', port: server.port, protocol: 'tcp', hostname: '127.0.0.1', verifyTls: false }, sink, undefined, engine);
  t.teardown(() => socket.close());
  await socket.connect();
  return socket;
}

for (const engine of SOCKET_ENGINES) {
  test(`${engine}: send takes strings and bytes, recv returns a Uint8Array of what arrived`, async (t) => {
    const { sb, sink } = await sandbox(`
      await send('héllo');
      const a = await recv();
      if (!(a instanceof Uint8Array) || text.decode(a) !== 'héllo') throw new Error('got ' + text.decode(a));
      await send(new Uint8Array([1, 2, 3]));
      const b = await recv(1000);
      if (b.join() !== '1,2,3') throw new Error('got ' + b.join());
      incCounter('ok');
    `);
    const socket = await echoSocket(t, sink, engine);
    await sb.run(1, { socket });
    sb.dispose();
    t.is(sink.countOf('ok'), 1);
    t.is(sink.countOf('send'), 2);
    t.is(sink.countOf('receive'), 2);
  });

  test(`${engine}: a receive timeout rejects with code timeout, and the script may carry on`, async (t) => {
    const { sb, sink } = await sandbox(`
      await send('quiet');
      try { await recv(50); } catch (e) { if (e.code === 'timeout') incCounter('timed_out'); }
      await send('again');
      if (text.decode(await recv()) !== 'again') throw new Error('lost the stream');
    `);
    const socket = await echoSocket(t, sink, engine);
    await sb.run(1, { socket });
    sb.dispose();
    t.is(sink.countOf('timed_out'), 1);
  });

  test(`${engine}: bad arguments and an uncaught timeout fail the device with their codes`, async (t) => {
    const cases: Array<[string, string]> = [
      ['await send(42);', DEVICE_ERROR.badArgument],
      ['await send(null);', DEVICE_ERROR.badArgument],
      ["await recv('soon');", DEVICE_ERROR.badArgument],
      ['await recv(-1);', DEVICE_ERROR.badArgument],
      ["await send('quiet'); await recv(20);", DEVICE_ERROR.timeout],
    ];
    for (const [source, code] of cases) {
      const { sb, sink } = await sandbox(source);
      const socket = await echoSocket(t, sink, engine);
      const error = await t.throwsAsync(sb.run(1, { socket }));
      t.is((error as { code?: string }).code, code, source);
      sb.dispose();
    }
  });

  test(`${engine}: send and recv on an HTTP device, and get on a TCP device, are wrong_protocol`, async (t) => {
    const { sb, sink } = await sandbox(`await send('x');`);
    const error = await t.throwsAsync(sb.run(1, fakeHttp().io));
    t.is((error as { code?: string }).code, DEVICE_ERROR.wrongProtocol);
    sb.dispose();
    const other = await sandbox(`await get('/');`);
    const socket = await echoSocket(t, sink, engine);
    const wrong = await t.throwsAsync(other.sb.run(1, { socket }));
    t.is((wrong as { code?: string }).code, DEVICE_ERROR.wrongProtocol);
    other.sb.dispose();
  });
}
