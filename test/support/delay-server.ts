/**
 * An HTTP/1.1 server in a child process of its own whose `GET /delay?ms=N`
 * answers after N ms, as the demo target's does, and which times every answer
 * itself: from the request in (headers parsed) to the response handed to the
 * kernel. Tests compare a generator's reported latency with these hold times.
 * A child, so that its 10,000 sockets do not share the test's open-file limit
 * and its event loop does not share the generator's.
 *
 * `GET /holds` answers the hold times recorded so far (µs, JSON) and forgets them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

function serve(): void {
  let holds: number[] = [];
  const answer = (response: ServerResponse, status: number, body: string): void => {
    response.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  };
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://delay');
    if (url.pathname === '/holds') {
      const body = JSON.stringify(holds);
      holds = [];
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(body);
      return;
    }
    const ms = Number(url.searchParams.get('ms') ?? 0);
    if (url.pathname !== '/delay' || !Number.isInteger(ms) || ms < 0 || ms > 60_000) {
      answer(response, 404, 'GET /delay?ms=N\n');
      return;
    }
    const received = process.hrtime.bigint();
    const timer = setTimeout(() => {
      answer(response, 200, `delayed ${ms} ms\n`);
      holds.push(Number(process.hrtime.bigint() - received) / 1000);
    }, ms);
    // Per response, not per socket: a kept-alive socket carries many requests.
    response.once('close', () => clearTimeout(timer));
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.listen(0, '127.0.0.1', () => console.log(`listening on ${(server.address() as AddressInfo).port}`));
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[2] === '--serve') serve();
