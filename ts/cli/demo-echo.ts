/**
 * The demo target's TCP and UDP services: echoes, so a `tcp` or `udp` script
 * (`await send(x); await recv()`) has something to talk to with nothing else
 * installed. An echo is a DemoTarget (demo-target.ts) by its shape: it does not
 * import that module, which starts it.
 */
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { listen } from './listen.js';

/** A running echo: where it listens, and how many messages it has echoed. */
export interface EchoServer {
  readonly host: string;
  readonly port: number;
  readonly protocol: 'tcp' | 'udp';
  /** Messages echoed so far. */
  readonly served: number;
  close(): Promise<void>;
}

export interface EchoOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port chosen by the OS. */
  port?: number;
}

/** A TCP server that writes back every byte it reads; `served` counts the chunks echoed. */
export async function startTcpEcho(options: EchoOptions = {}): Promise<EchoServer> {
  let served = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk) => {
      served++;
      socket.write(chunk);
    });
  });
  const host = options.host ?? '127.0.0.1';
  await listen(server, options.port ?? 0, host);
  return {
    host,
    port: (server.address() as AddressInfo).port,
    protocol: 'tcp',
    get served() {
      return served;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const socket of sockets) socket.destroy();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A UDP socket that sends every datagram back to where it came from; `served` counts them. */
export async function startUdpEcho(options: EchoOptions = {}): Promise<EchoServer> {
  let served = 0;
  const host = options.host ?? '127.0.0.1';
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (datagram, from) => {
    served++;
    socket.send(datagram, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port ?? 0, host, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      resolve();
    });
  });
  return {
    host,
    port: socket.address().port,
    protocol: 'udp',
    get served() {
      return served;
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
