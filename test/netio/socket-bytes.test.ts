/**
 * `socket_sent_bytes` and `socket_received_bytes` on both engines, against real
 * peers on loopback that count what they read and write: the device's counts must
 * be exactly the peer's, the other way round. netio's counts are the engine's
 * totals for the whole thread, so the tests run one at a time (in this file's own
 * process) and each starts from what the engine had counted before it.
 */
import test, { type ExecutionContext } from 'ava';
import { createSocket } from 'node:dgram';
import { KEY } from '../../ts/shared/metrics.js';
import type { SocketConnection } from '../../ts/generator/protocols/device-connection.js';
import { createSocketConnection, recordSocketBytes, SOCKET_ENGINES, type SocketEngine } from '../../ts/generator/protocols/socket-transport.js';
import { RecordingSink } from '../support/recording-sink.js';
import { startTcpServer } from '../support/tcp-server.js';
import { until } from '../support/until.js';

/** Sizes of the script's sends: one byte, a line, a datagram's worth, and (TCP) more than the kernel takes at once. */
const TCP_SENDS = [1, 80, 1400, 700_000];
const UDP_SENDS = [1, 80, 1400, 9000];

const total = (sizes: number[]): number => sizes.reduce((a, b) => a + b, 0);

interface PeerCounts {
  read: number;
  written: number;
}

function connection(t: ExecutionContext, engine: SocketEngine, port: number, protocol: 'tcp' | 'udp'): { sink: RecordingSink; socket: SocketConnection } {
  // What the engine counted before this test is recorded elsewhere.
  recordSocketBytes(new RecordingSink());
  const sink = new RecordingSink();
  const socket = createSocketConnection({ ip: '127.0.0.1', port, protocol, hostname: '127.0.0.1', verifyTls: false }, sink, undefined, engine);
  t.teardown(() => socket.close());
  return { sink, socket };
}

/**
 * Records until the device and the peer have both counted at least `sent` and
 * `received` bytes: the fallback counts a write when its callback runs, and so
 * does the peer, which may be a turn of the loop after the bytes arrived. Bounded,
 * so a count that never gets there fails on the comparisons that follow.
 */
async function settled(sink: RecordingSink, peer: PeerCounts, sent: number, received: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    recordSocketBytes(sink);
    const device = sink.countOf(KEY.socketSentBytes) >= sent && sink.countOf(KEY.socketReceivedBytes) >= received;
    if ((device && peer.read >= sent && peer.written >= received) || Date.now() > deadline) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Checks the device's counts against the peer's, and both against what the test sent: `sizes`, each echoed twice. */
function assertCounts(t: ExecutionContext, sink: RecordingSink, peer: PeerCounts, sizes: number[]): void {
  const sent = total(sizes);
  t.deepEqual(peer, { read: sent, written: 2 * sent });
  t.is(sink.countOf(KEY.socketSentBytes), peer.read);
  t.is(sink.countOf(KEY.socketReceivedBytes), peer.written);
}

for (const engine of SOCKET_ENGINES) {
  test.serial(`${engine}: TCP bytes sent and received are what the peer read and wrote`, async (t) => {
    const peer: PeerCounts = { read: 0, written: 0 };
    // Every chunk comes back twice, so the two directions differ.
    const server = await startTcpServer((s) =>
      s.on('data', (chunk: Buffer) => {
        peer.read += chunk.length;
        for (let i = 0; i < 2; i++) s.write(chunk, (err) => (err ? undefined : (peer.written += chunk.length)));
      }),
    );
    t.teardown(() => server.close());
    const { sink, socket } = connection(t, engine, server.port, 'tcp');
    await socket.connect();
    for (const size of TCP_SENDS) {
      const sent = socket.send(Buffer.alloc(size, 1));
      let got = 0;
      while (got < 2 * size) got += (await socket.recv(5000)).byteLength;
      await sent;
      t.is(got, 2 * size, `the ${size}-byte send came back twice`);
    }
    await settled(sink, peer, total(TCP_SENDS), 2 * total(TCP_SENDS));
    assertCounts(t, sink, peer, TCP_SENDS);
  });

  test.serial(`${engine}: UDP payload bytes sent and received are what the peer read and wrote`, async (t) => {
    const peer: PeerCounts = { read: 0, written: 0 };
    const server = createSocket('udp4');
    server.on('message', (datagram, from) => {
      peer.read += datagram.length;
      for (let i = 0; i < 2; i++) server.send(datagram, from.port, from.address, (err, bytes) => (err ? undefined : (peer.written += bytes)));
    });
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    t.teardown(() => server.close());
    const { sink, socket } = connection(t, engine, server.address().port, 'udp');
    await socket.connect();
    for (const size of UDP_SENDS) {
      await socket.send(Buffer.alloc(size, 1));
      for (let i = 0; i < 2; i++) t.is((await socket.recv(5000)).byteLength, size);
    }
    await settled(sink, peer, total(UDP_SENDS), 2 * total(UDP_SENDS));
    assertCounts(t, sink, peer, UDP_SENDS);
  });
}

/**
 * What arrives for a device that never receives it (a reply after the run
 * stopped the device's loop) was never taken by a receive: netio does not even
 * read it, and the fallback, which node reads anyway, must not count it either,
 * or one run's byte counts would depend on the engine.
 */
for (const engine of SOCKET_ENGINES) {
  for (const protocol of ['tcp', 'udp'] as const) {
    test.serial(`${engine}: ${protocol.toUpperCase()} bytes that no receive takes are not counted`, async (t) => {
      let written = 0;
      let port: number;
      if (protocol === 'tcp') {
        const server = await startTcpServer((s) => s.on('data', (chunk: Buffer) => s.write(chunk, (err) => (err ? undefined : (written += chunk.length)))));
        t.teardown(() => server.close());
        port = server.port;
      } else {
        const server = createSocket('udp4');
        server.on('message', (datagram, from) => server.send(datagram, from.port, from.address, (err, bytes) => (err ? undefined : (written += bytes))));
        await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
        t.teardown(() => server.close());
        port = server.address().port;
      }
      const { sink, socket } = connection(t, engine, port, protocol);
      await socket.connect();
      // One exchange received, then one whose reply nobody asks for.
      await socket.send(Buffer.alloc(100, 1));
      t.is((await socket.recv(5000)).byteLength, 100);
      await socket.send(Buffer.alloc(40, 2));
      await until(() => written >= 140, 5000, 'the peer to write both replies');
      t.is(written, 140, 'the peer wrote both replies');
      // Time for the unasked reply to reach the device's socket (and node to read it).
      await new Promise((resolve) => setTimeout(resolve, 200));
      recordSocketBytes(sink);
      t.is(sink.countOf(KEY.socketReceivedBytes), 100);
      t.is(sink.countOf(KEY.socketSentBytes), 140);
    });
  }
}
