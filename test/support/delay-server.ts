/**
 * An HTTP/1.1 server in a child process of its own whose `GET /delay?ms=N`
 * answers after N ms, as the demo target's does, and which times every answer
 * itself: from the read that completes the request's head to the response
 * handed to the kernel. Tests compare a generator's reported latency with these
 * hold times. A child, so that its 10,000 sockets do not share the test's
 * open-file limit and its event loop does not share the generator's.
 *
 * `GET /holds` answers the hold times recorded so far (µs, JSON) and forgets them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export interface DelayServer {
  port: number;
  /** Hold times (µs) of the `/delay` requests answered since the last call, and forgets them. */
  holds(): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startDelayServer(): Promise<DelayServer> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the delay server exited with ${code} before it listened`)));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /listening on (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  child.removeAllListeners('exit');
  return {
    port,
    holds: async () => (await (await fetch(`http://127.0.0.1:${port}/holds`)).json()) as number[],
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A minimal HTTP/1.1 answer, kept alive. */
function response(status: number, contentType: string, body: string): string {
  const reason = status === 200 ? 'OK' : 'Not Found';
  return `HTTP/1.1 ${status} ${reason}\r\ncontent-type: ${contentType}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * HTTP/1.1 by hand, GET only, keep-alive and pipelining: node:http would time a
 * request from its handler, and on a connection that was idle its parse and
 * dispatch take a few hundred µs after the bytes are read, server time a client
 * sees that the hold would not show. Here the hold starts when the chunk that
 * completes the request's head is read and ends when the answer is handed to
 * the kernel.
 */
function serve(): void {
  let holds: number[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    const timers = new Set<NodeJS.Timeout>();
    socket.once('close', () => timers.forEach((timer) => clearTimeout(timer)));
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      const received = process.hrtime.bigint();
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const [method, target = '/'] = pending.slice(0, pending.indexOf('\r\n')).split(' ');
        pending = pending.slice(end + 4);
        const url = new URL(target, 'http://delay');
        if (method === 'GET' && url.pathname === '/holds') {
          socket.write(response(200, 'application/json', JSON.stringify(holds)));
          holds = [];
          continue;
        }
        const ms = Number(url.searchParams.get('ms') ?? 0);
        if (method !== 'GET' || url.pathname !== '/delay' || !Number.isInteger(ms) || ms < 0 || ms > 60_000) {
          socket.write(response(404, 'text/plain', 'GET /delay?ms=N\n'));
          continue;
        }
        const timer = setTimeout(() => {
          timers.delete(timer);
          socket.write(response(200, 'text/plain', `delayed ${ms} ms\n`));
          holds.push(Number(process.hrtime.bigint() - received) / 1000);
        }, ms);
        timers.add(timer);
      }
    });
  });
  server.listen(0, '127.0.0.1', () => console.log(`listening on ${(server.address() as AddressInfo).port}`));
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[2] === '--serve') serve();
