/**
 * A raw TCP server on loopback whose behaviour a test writes by hand: answer
 * halfway, reset, go silent. Closing it destroys every socket it accepted, so no
 * test leaves a connection behind.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface TcpServer {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpServer(onConnection: (socket: Socket) => void, host = '127.0.0.1'): Promise<TcpServer> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Calls `onRequest` with each complete request head (up to the blank line) read from `socket`. */
export function onRequestHead(socket: Socket, onRequest: (head: string) => void): void {
  let buffered = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
      const head = buffered.slice(0, end);
      buffered = buffered.slice(end + 4);
      onRequest(head);
    }
  });
}
