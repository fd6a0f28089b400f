/**
 * One suite for both TCP/UDP engines (netio and the node:net / node:dgram
 * fallback), against real sockets on loopback: echo, refused, reset, peer close,
 * silent peer, connect timeout, a flooding peer, oversized sends, a peer that
 * reads nothing until the send queue overflows, failures that come while no
 * receive waits, and use after close. Each must end with the same DeviceError
 * code on both engines.
 */
import test, { type ExecutionContext } from 'ava';
import { createSocket } from 'node:dgram';
import { constants } from 'node:os';
import { DEVICE_ERROR, DeviceError } from '../../ts/shared/errors.js';
import type { SocketConnection, Target } from '../../ts/generator/protocols/device-connection.js';
import { MAX_QUEUED_BYTES, RECV_BYTES } from '../../ts/generator/protocols/socket-connection.js';
import { createSocketConnection, SOCKET_ENGINES, type SocketEngine } from '../../ts/generator/protocols/socket-transport.js';
import { closedPort } from '../support/closed-port.js';
import { RecordingSink } from '../support/recording-sink.js';
import { startStalledListener } from '../support/stalled-listener.js';
import { startTcpServer } from '../support/tcp-server.js';
import { loadNetio } from '../../ts/netio/native.js';

const target = (port: number, protocol: 'tcp' | 'udp' = 'tcp'): Target => ({ ip: '127.0.0.1', port, protocol, hostname: '127.0.0.1', verifyTls: false });

function open(t: ExecutionContext, engine: SocketEngine, port: number, protocol: 'tcp' | 'udp' = 'tcp', connectTimeoutMs = 5000) {
  const sink = new RecordingSink();
  const connection = createSocketConnection(target(port, protocol), sink, { connectTimeoutMs }, engine);
  t.teardown(() => connection.close());
  return { sink, connection };
}

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return err instanceof DeviceError ? err.code : `not a DeviceError: ${String(err)}`;
  }
}

/** Receives until `n` bytes came; returns them and the size of each receive. */
async function recvAll(connection: SocketConnection, n: number): Promise<{ bytes: Buffer; sizes: number[] }> {
  const parts: Uint8Array[] = [];
  const sizes: number[] = [];
  let got = 0;
  while (got < n) {
    const part = await connection.recv(5000);
    parts.push(part);
    sizes.push(part.byteLength);
    got += part.byteLength;
  }
  return { bytes: Buffer.concat(parts), sizes };
}

/**
 * Lets the engine see what reached its sockets (a FIN, an ICMP error) before the test
 * calls recv, so the failure is found on the path where no receive was waiting.
 * Loopback delivers at once; this only has to outlast a few turns of the loop.
 */
const engineTurns = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

async function udpEcho(t: ExecutionContext): Promise<number> {
  const server = createSocket('udp4');
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return server.address().port;
}

for (const engine of SOCKET_ENGINES) {
  test(`${engine}: TCP echo round trips record conn, send and receive`, async (t) => {
    const server = await startTcpServer((socket) => socket.on('data', (d) => socket.write(d)));
    t.teardown(() => server.close());
    const { sink, connection } = open(t, engine, server.port);
    await connection.connect();
    for (let i = 0; i < 20; i++) {
      await connection.send(Buffer.from(`ping ${i}\n`));
      t.is(Buffer.from(await connection.recv(5000)).toString(), `ping ${i}\n`);
    }
    t.is(sink.countOf('conn'), 1);
    t.is(sink.durationsOf('conn').length, 1);
    t.is(sink.countOf('send'), 20);
    t.is(sink.countOf('receive'), 20);
  });

  test(`${engine}: a large TCP send arrives whole and receives never exceed RECV_BYTES`, async (t) => {
    const server = await startTcpServer((socket) => socket.on('data', (d) => socket.write(d)));
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    const payload = Buffer.alloc(MAX_QUEUED_BYTES, 7);
    const [, echoed] = await Promise.all([connection.send(payload), recvAll(connection, payload.length)]);
    t.true(echoed.bytes.equals(payload));
    t.true(echoed.sizes.every((n) => n > 0 && n <= RECV_BYTES));
  });

  test(`${engine}: a send above the bound is bad_argument and the connection stays usable`, async (t) => {
    const server = await startTcpServer((socket) => socket.on('data', (d) => socket.write(d)));
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    t.is(await code(connection.send(Buffer.alloc(MAX_QUEUED_BYTES + 1))), DEVICE_ERROR.badArgument);
    await connection.send(Buffer.from('still here'));
    t.is(Buffer.from(await connection.recv(5000)).toString(), 'still here');
  });

  test(`${engine}: a send that would overflow the queue is bad_argument, and what was queued arrives whole`, async (t) => {
    let peer: import('node:net').Socket | undefined;
    let peerRead = 0;
    const server = await startTcpServer((socket) => {
      peer = socket;
      socket.pause();
      socket.on('data', (d: Buffer) => (peerRead += d.length));
    });
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    // The peer reads nothing: the kernel's buffers fill, then the device's queue.
    const chunk = Buffer.alloc(MAX_QUEUED_BYTES / 4, 1);
    const accepted: Promise<string>[] = [];
    let refused: string | undefined;
    for (let i = 0; i < 400 && refused === undefined; i++) {
      const sent = code(connection.send(chunk));
      // A refusal settles at once; a send waiting for the queue to drain does not.
      const settled = await Promise.race([sent, new Promise<string>((resolve) => setImmediate(resolve, 'waiting'))]);
      if (settled === 'resolved' || settled === 'waiting') accepted.push(sent);
      else refused = settled;
    }
    t.is(refused, DEVICE_ERROR.badArgument);
    peer!.resume();
    t.deepEqual(new Set(await Promise.all(accepted)), new Set(['resolved']));
    await connection.send(Buffer.from('tail'));
    const expected = accepted.length * chunk.length + 'tail'.length;
    const deadline = Date.now() + 10_000;
    while (peerRead < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    t.is(peerRead, expected);
  });

  test(`${engine}: connecting to a closed port is conn_refused`, async (t) => {
    const { sink, connection } = open(t, engine, await closedPort());
    t.is(await code(connection.connect()), DEVICE_ERROR.connRefused);
    t.is(sink.countOf('conn'), 0);
  });

  test(`${engine}: a connect that hangs is conn_timedout`, async (t) => {
    const listener = await startStalledListener();
    t.teardown(() => listener.stop());
    const { connection } = open(t, engine, listener.port, 'tcp', 300);
    t.is(await code(connection.connect()), DEVICE_ERROR.connTimedout);
  });

  test(`${engine}: a peer that resets is conn_reset; later operations say so too`, async (t) => {
    const server = await startTcpServer((socket) => socket.on('data', () => socket.resetAndDestroy()));
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    await connection.send(Buffer.from('x'));
    t.is(await code(connection.recv(5000)), DEVICE_ERROR.connReset);
    t.is(await code(connection.send(Buffer.from('y'))), DEVICE_ERROR.connReset);
  });

  test(`${engine}: a peer that closes makes the waiting receive closed`, async (t) => {
    const server = await startTcpServer((socket) => socket.on('data', () => socket.end()));
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    await connection.send(Buffer.from('bye'));
    t.is(await code(connection.recv(5000)), DEVICE_ERROR.closed);
    t.is(await code(connection.recv(5000)), DEVICE_ERROR.closed);
  });

  test(`${engine}: a peer that closed while no receive waited: every later recv and send is closed`, async (t) => {
    let peerEnded!: () => void;
    const ended = new Promise<void>((resolve) => (peerEnded = resolve));
    const server = await startTcpServer((socket) => socket.on('data', () => socket.end(peerEnded)));
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    await connection.send(Buffer.from('bye'));
    await ended;
    await engineTurns();
    t.is(await code(connection.recv(1000)), DEVICE_ERROR.closed);
    t.is(await code(connection.send(Buffer.from('still there?'))), DEVICE_ERROR.closed);
    t.is(await code(connection.recv(1000)), DEVICE_ERROR.closed);
  });

  test(`${engine}: a silent peer makes recv time out, and bytes that come later are kept`, async (t) => {
    let peer: import('node:net').Socket | undefined;
    const server = await startTcpServer((socket) => (peer = socket));
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    t.is(await code(connection.recv(100)), DEVICE_ERROR.timeout);
    peer!.write('late');
    t.is(Buffer.from(await connection.recv(5000)).toString(), 'late');
  });

  test(`${engine}: send and recv after close reject with closed, close twice is harmless`, async (t) => {
    const server = await startTcpServer((socket) => socket.on('data', (d) => socket.write(d)));
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    const waiting = connection.recv(5000);
    connection.close();
    connection.close();
    t.is(await code(waiting), DEVICE_ERROR.closed);
    t.is(await code(connection.send(Buffer.from('x'))), DEVICE_ERROR.closed);
    t.is(await code(connection.recv(10)), DEVICE_ERROR.closed);
  });

  test(`${engine}: a flooding peer is read only as fast as the script receives`, async (t) => {
    const chunk = Buffer.alloc(RECV_BYTES, 1);
    let written = 0;
    const server = await startTcpServer((socket) => {
      const pump = (): void => {
        while (written < 256 * RECV_BYTES && socket.write(chunk)) written += chunk.length;
        if (written < 256 * RECV_BYTES) socket.once('drain', pump);
      };
      pump();
    });
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.port);
    await connection.connect();
    const first = await recvAll(connection, 4 * RECV_BYTES);
    t.true(first.sizes.every((n) => n <= RECV_BYTES));
    await new Promise((resolve) => setTimeout(resolve, 200));
    // The kernel buffers fill and the peer stops: it could not write 16 MiB into a reader that is not reading.
    t.true(written < 256 * RECV_BYTES, `peer wrote ${written} bytes`);
  });

  test(`${engine}: UDP echo, one datagram per receive`, async (t) => {
    const port = await udpEcho(t);
    const { sink, connection } = open(t, engine, port, 'udp');
    await connection.connect();
    t.is(sink.countOf('conn'), 1);
    for (let i = 0; i < 10; i++) {
      await connection.send(Buffer.from(`q${i}`));
      t.is(Buffer.from(await connection.recv(5000)).toString(), `q${i}`);
    }
    await connection.send(Buffer.from('a'));
    await connection.send(Buffer.from('b'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    t.is(Buffer.from(await connection.recv(5000)).toString(), 'a');
    t.is(Buffer.from(await connection.recv(5000)).toString(), 'b');
    t.is(sink.countOf('send'), 12);
    t.is(sink.countOf('receive'), 12);
  });

  test(`${engine}: UDP to a closed port is conn_refused (ICMP port unreachable)`, async (t) => {
    const { connection } = open(t, engine, await closedPort(), 'udp');
    await connection.connect();
    await connection.send(Buffer.from('anyone?'));
    t.is(await code(connection.recv(2000)), DEVICE_ERROR.connRefused);
  });

  test(`${engine}: UDP refused while no receive waited: every later recv and send is conn_refused`, async (t) => {
    const { connection } = open(t, engine, await closedPort(), 'udp');
    await connection.connect();
    await connection.send(Buffer.from('anyone?'));
    await engineTurns();
    t.is(await code(connection.recv(1000)), DEVICE_ERROR.connRefused);
    t.is(await code(connection.send(Buffer.from('again?'))), DEVICE_ERROR.connRefused);
    t.is(await code(connection.recv(1000)), DEVICE_ERROR.connRefused);
  });

  test(`${engine}: a datagram too large for UDP is bad_argument`, async (t) => {
    const port = await udpEcho(t);
    const { connection } = open(t, engine, port, 'udp');
    await connection.connect();
    t.is(await code(connection.send(Buffer.alloc(70_000))), DEVICE_ERROR.badArgument);
  });
}

test('the addon refuses bad arguments with an error instead of crashing', (t) => {
  const loaded = loadNetio();
  if (!('addon' in loaded)) return t.fail(`netio did not load: ${loaded.error}`);
  const { addon } = loaded;
  const engine = addon.createEngine(() => {});
  t.teardown(() => addon.destroyEngine(engine));
  const argumentError = { code: 'ERR_NETIO_ARGUMENT' };
  t.throws(() => addon.createEngine('not a function' as never), argumentError);
  // The waiter-thread wake mode exists only in builds with the cargo feature thread-wake.
  if (!addon.threadWake) t.throws(() => addon.createEngine(() => {}, true), { ...argumentError, message: /thread-wake/ });
  t.throws(() => addon.send({} as never, 0, new Uint8Array(1)), argumentError);
  t.throws(() => addon.connect(engine, 0, 'not an ip', 80), argumentError);
  t.throws(() => addon.connect(engine, 0, '127.0.0.1', 70_000), argumentError);
  t.throws(() => addon.connect(engine, 2, '127.0.0.1', 80), argumentError);
  t.throws(() => addon.connect(engine, 0, `127.0.0.1${' '.repeat(100)}`, 80), argumentError);
  t.throws(() => addon.send(engine, 0, 'text' as never), argumentError);
  // Ids that name nothing are "not connected", whatever they are.
  for (const id of [0, 7, -1, 2 ** 40, Number.NaN]) {
    t.is(addon.send(engine, id, new Uint8Array(1)), -constants.errno.ENOTCONN);
    t.is(addon.recv(engine, id), -constants.errno.ENOTCONN);
    t.notThrows(() => addon.close(engine, id));
  }
});

for (const engine of SOCKET_ENGINES) {
  test(`${engine}: TCP echo over IPv6 loopback`, async (t) => {
    const server = await startTcpServer((socket) => socket.on('data', (d) => socket.write(d)), '::1');
    t.teardown(() => server.close());
    const connection = createSocketConnection({ ip: '::1', port: server.port, protocol: 'tcp', hostname: '::1', verifyTls: false }, new RecordingSink(), undefined, engine);
    t.teardown(() => connection.close());
    await connection.connect();
    await connection.send(Buffer.from('six'));
    t.is(Buffer.from(await connection.recv(5000)).toString(), 'six');
  });
}

for (const engine of SOCKET_ENGINES) {
  test(`${engine}: a UDP peer that floods is dropped beyond the buffer, and each receive is one datagram`, async (t) => {
    const server = createSocket('udp4');
    server.on('message', (_msg, rinfo) => {
      for (let i = 0; i < 5000; i++) server.send(Buffer.alloc(1000, i % 256), rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    t.teardown(() => server.close());
    const { connection } = open(t, engine, server.address().port, 'udp');
    await connection.connect();
    await connection.send(Buffer.from('flood me'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    let received = 0;
    for (;;) {
      try {
        const datagram = await connection.recv(100);
        t.is(datagram.byteLength, 1000);
        received++;
      } catch (err) {
        t.is((err as DeviceError).code, DEVICE_ERROR.timeout);
        break;
      }
    }
    t.true(received > 0 && received < 5000, `${received} of 5000 datagrams kept`);
  });
}
