/**
 * A loopback port whose connects hang: a listener that never accepts, with its
 * accept queue already full, so the kernel drops further SYNs and a client waits
 * for SYN retries (the only way to see a connect timeout without leaving
 * loopback). The listener lives in a child process whose event loop is blocked,
 * because Node itself always accepts.
 */
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

export interface StalledListener {
  port: number;
  stop(): Promise<void>;
}

const CHILD = `
const net = require('node:net');
const server = net.createServer();
server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
  process.stdout.write(server.address().port + '\\n', () => {
    const lock = new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(lock, 0, 0, 30000);
    process.exit(0);
  });
});
`;

/** How long a filling connect may take before the queue counts as full. */
const FULL_AFTER_MS = 200;
const MAX_FILLERS = 16;

export async function startStalledListener(): Promise<StalledListener> {
  const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`stalled listener exited early (${code})`)));
  });
  const fillers: Socket[] = [];
  const stop = async (): Promise<void> => {
    for (const socket of fillers) socket.destroy();
    child.kill('SIGKILL');
    await exited;
  };
  // Connects complete while the accept queue has room; the first that hangs proves it is full.
  for (let i = 0; i < MAX_FILLERS; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await new Promise<boolean>((resolve) => {
      // The verdict waits for the poll phase after the timer: on a loop that was busy
      // for longer than FULL_AFTER_MS, timers run first, before a connect that the
      // kernel completed long ago is seen.
      const timer = setTimeout(() => setImmediate(() => resolve(false)), FULL_AFTER_MS);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!connected) return { port, stop };
  }
  await stop();
  throw new Error(`the accept queue of 127.0.0.1:${port} never filled after ${MAX_FILLERS} connects`);
}
