/**
 * A real DNS resolver on loopback for tests and benchmarks, built from two
 * dnsmasq processes: an authority that answers A queries for a test zone, and a
 * caching resolver in front of it that devices query. The resolver answers from
 * its cache as a recursive resolver does (flags 0x8180, not authoritative), and
 * logs every query it receives and every answer it gives, so a test can count
 * them. Both run in the foreground; stop() ends them by pid.
 *
 * Needs the Debian package `dnsmasq-base`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { closedPort } from './closed-port.js';

export interface DnsServer {
  /** The resolver's UDP port on 127.0.0.1. */
  port: number;
  /** The address the authority answers A queries for the zone with. */
  address: string;
  /** A queries for `name` the resolver has logged so far. */
  queries(name: string): Promise<number>;
  /** Answers for `name` the resolver has logged so far (from the authority or its cache), by address; `NODATA-IPv4` for an empty answer. */
  answers(name: string): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

export interface DnsOptions {
  /** The zone the authority answers for (default `stressgrid.com`). */
  zone?: string;
  /** Log every query (default true); benchmarks turn it off. */
  logQueries?: boolean;
  /**
   * The address the zone's names resolve to (default 10.11.12.13). An IPv6
   * address leaves A queries answered with no record (NOERROR, zero answers).
   */
  address?: string;
}

function dnsmasq(args: string[]): { child: ChildProcess; exited: Promise<void>; output: () => string } {
  const child = spawn('dnsmasq', ['--keep-in-foreground', '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--user=root', '--group=root', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, output: () => output };
}

/** One A query for `name`; resolves with the response, or rejects after `timeoutMs`. */
export function queryA(port: number, name: string, timeoutMs = 500): Promise<Buffer> {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  const query = Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 1, 0, 1]);
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`no DNS answer on ${port} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('error', () => {});
    socket.on('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(message);
    });
    socket.send(query, port, '127.0.0.1');
  });
}

export async function startDnsServer(options: DnsOptions = {}): Promise<DnsServer> {
  const zone = options.zone ?? 'stressgrid.com';
  const address = options.address ?? '10.11.12.13';
  const dir = await mkdtemp(join(tmpdir(), 'sg-dns-'));
  const log = join(dir, 'queries.log');
  const authorityPort = await closedPort();
  const port = await closedPort();
  const authority = dnsmasq([`--port=${authorityPort}`, `--address=/${zone}/${address}`, `--local=/${zone}/`, '--local-ttl=3600', `--pid-file=${join(dir, 'authority.pid')}`]);
  const resolver = dnsmasq([
    `--port=${port}`,
    `--server=127.0.0.1#${authorityPort}`,
    '--cache-size=10000',
    `--pid-file=${join(dir, 'resolver.pid')}`,
    ...(options.logQueries === false ? [] : ['--log-queries', `--log-facility=${log}`]),
  ]);
  const stop = async (): Promise<void> => {
    for (const p of [resolver, authority]) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    await Promise.all([resolver.exited, authority.exited]);
    await rm(dir, { recursive: true, force: true });
  };
  // The first answer comes from the authority through the resolver and fills its cache.
  // Only NOERROR counts: a resolver up before its authority answers SERVFAIL or
  // REFUSED, and a run that started then would see its first queries fail.
  for (let i = 0; ; i++) {
    try {
      const rcode = (await queryA(port, zone))[3]! & 0x0f;
      if (rcode !== 0) throw new Error(`the resolver answered rcode ${rcode}`);
      break;
    } catch (err) {
      if (i >= 40) {
        const why = `${(err as Error).message}\n${authority.output()}${resolver.output()}`;
        await stop();
        throw new Error(`dnsmasq did not start: ${why}`, { cause: err });
      }
      await sleep(50);
    }
  }
  const logLines = async (): Promise<string[]> => (await readFile(log, 'utf8').catch(() => '')).split('\n');
  return {
    port,
    address,
    async queries(name) {
      return (await logLines()).filter((line) => line.includes(`query[A] ${name} from`)).length;
    },
    async answers(name) {
      const byAddress = new Map<string, number>();
      for (const line of await logLines()) {
        const answer = / (?:reply|cached) (\S+) is (\S+)$/.exec(line);
        if (answer?.[1] === name) byAddress.set(answer[2]!, (byAddress.get(answer[2]!) ?? 0) + 1);
      }
      return byAddress;
    },
    stop,
  };
}
