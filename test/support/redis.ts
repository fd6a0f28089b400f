/**
 * A real redis-server on loopback for tests and benchmarks: a free port, its
 * own temporary directory, no persistence, run in the foreground so stop() can
 * end it by its pid. `info()`, `keys()` and `integer()` ask it over a plain
 * socket, so a test can check what the devices stored.
 *
 * Needs the Debian package `redis-server`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closedPort } from './closed-port.js';

export interface RedisServer {
  port: number;
  /** One INFO section as `field → value`. */
  info(section: string): Promise<Map<string, string>>;
  /** `calls=` of `cmdstat_<command>` in INFO commandstats (0 when never called). */
  calls(command: string): Promise<number>;
  /** Every key (`KEYS *`). */
  keys(): Promise<string[]>;
  /** The reply of an inline command answered with an integer (`DBSIZE`, `STRLEN <key>`). */
  integer(line: string): Promise<number>;
  stop(): Promise<void>;
}

export interface RedisOptions {
  /** `maxclients` (default 10,000, Redis's own). */
  maxClients?: number;
}

/** Sends one inline command and reads the reply until `complete` says it is whole. */
function command(port: number, line: string, complete: (reply: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${line}\r\n`));
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      reply += chunk;
      if (complete(reply)) {
        socket.destroy();
        resolve(reply);
      }
    });
    socket.on('error', reject);
  });
}

/** A bulk reply (`$<n>\r\n<n bytes>\r\n`) is whole once its length is in. */
const bulkComplete = (reply: string): boolean => {
  const header = /^\$(-?\d+)\r\n/.exec(reply);
  if (header === null) return reply.startsWith('-') && reply.endsWith('\r\n');
  return Buffer.byteLength(reply) >= header[0].length + Number(header[1]) + 2;
};

/** An array of bulk strings (`*<n>\r\n` then `$<len>\r\n<string>\r\n` each) is whole once its 1 + 2n lines are in. */
const arrayComplete = (reply: string): boolean => {
  const header = /^\*(\d+)\r\n/.exec(reply);
  if (header === null) return reply.endsWith('\r\n');
  return reply.endsWith('\r\n') && reply.split('\r\n').length - 1 >= 1 + 2 * Number(header[1]);
};

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-redis-'));
  const port = await closedPort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--maxclients', String(options.maxClients ?? 10_000)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    try {
      await command(port, 'PING', (r) => r.endsWith('\r\n'));
      break;
    } catch (err) {
      if (i >= 100 || child.exitCode !== null) {
        await stop();
        throw new Error(`redis-server did not start on ${port}: ${(err as Error).message}\n${output}`, { cause: err });
      }
      await sleep(50);
    }
  }
  const info = async (section: string): Promise<Map<string, string>> => {
    const reply = await command(port, `INFO ${section}`, bulkComplete);
    const fields = new Map<string, string>();
    for (const line of reply.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
    }
    return fields;
  };
  return {
    port,
    info,
    async calls(name) {
      const stat = (await info('commandstats')).get(`cmdstat_${name}`);
      const calls = stat === undefined ? undefined : /calls=(\d+)/.exec(stat);
      return calls ? Number(calls[1]) : 0;
    },
    async keys() {
      const reply = await command(port, 'KEYS *', arrayComplete);
      if (!reply.startsWith('*')) throw new Error(`KEYS answered ${JSON.stringify(reply)}`);
      return reply
        .split('\r\n')
        .slice(1, -1)
        .filter((_, i) => i % 2 === 1);
    },
    async integer(line) {
      const reply = await command(port, line, (r) => r.endsWith('\r\n'));
      const value = /^:(-?\d+)\r\n$/.exec(reply);
      if (value === null) throw new Error(`${line} answered ${JSON.stringify(reply)}`);
      return Number(value[1]);
    },
    stop,
  };
}
