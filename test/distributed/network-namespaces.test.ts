/**
 * Generators on other hosts, as far as the network can tell: two network
 * namespaces joined to this one by veth pairs, a generator process in each,
 * the coordinator and the load target in the root namespace on a veth address.
 * Nothing crosses loopback, so this is what a real cluster's packets see.
 *
 * Needs root and iproute2 (`ip netns`). Skipped only when either is missing, and
 * never in CI (CI=true), where it fails instead.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startGeneratorProcess } from '../support/generator-process.js';
import { killAllPrograms } from '../support/program-process.js';
import { readResultsCsv } from '../support/report-archive.js';
import { startCluster, type Cluster } from './cluster.js';

const run = promisify(execFile);
const ip = (...args: string[]) => run('ip', args);

/** Each namespace gets a /30 of 10.249.<subnet>.0/24: root side .1 / .5, namespace side .2 / .6. */
const subnet = process.pid % 250;
const tag = `sg${process.pid % 100_000}`;
const namespaces = [
  { name: `${tag}a`, hostIf: `${tag}ha`, nsIf: `${tag}na`, hostAddr: `10.249.${subnet}.1`, nsAddr: `10.249.${subnet}.2` },
  { name: `${tag}b`, hostIf: `${tag}hb`, nsIf: `${tag}nb`, hostAddr: `10.249.${subnet}.5`, nsAddr: `10.249.${subnet}.6` },
];
/** Where the coordinator and the target listen: the root side of the first pair. */
const serviceAddr = namespaces[0]!.hostAddr;

async function unavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    await ip('netns', 'list');
  } catch (err) {
    return `ip netns is unavailable (install iproute2): ${(err as Error).message}`;
  }
  return null;
}

async function createNamespaces(): Promise<void> {
  for (const ns of namespaces) {
    await ip('netns', 'add', ns.name);
    await ip('link', 'add', ns.hostIf, 'type', 'veth', 'peer', 'name', ns.nsIf);
    await ip('link', 'set', ns.nsIf, 'netns', ns.name);
    await ip('addr', 'add', `${ns.hostAddr}/30`, 'dev', ns.hostIf);
    await ip('link', 'set', ns.hostIf, 'up');
    await ip('-n', ns.name, 'addr', 'add', `${ns.nsAddr}/30`, 'dev', ns.nsIf);
    await ip('-n', ns.name, 'link', 'set', ns.nsIf, 'up');
    await ip('-n', ns.name, 'link', 'set', 'lo', 'up');
    // The service address is a local address of the root namespace: reachable over any of its links.
    await ip('-n', ns.name, 'route', 'add', 'default', 'via', ns.hostAddr);
  }
}

async function deleteNamespaces(): Promise<void> {
  // Deleting a namespace deletes its veth end, and with it the root end.
  for (const ns of namespaces) await ip('netns', 'del', ns.name).catch(() => {});
  for (const ns of namespaces) await ip('link', 'del', ns.hostIf).catch(() => {});
}

let cluster: Cluster | undefined;
let target: Server | undefined;
let dataDir: string | undefined;
test.after.always(async () => {
  await killAllPrograms();
  await cluster?.close();
  await new Promise((resolve) => (target ? target.close(resolve) : resolve(undefined)));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  await deleteNamespaces();
});

const REQUESTS_PER_DEVICE = 10;

test.serial('generators in other network namespaces join across veth links and run a plan against the root namespace', async (t) => {
  const why = await unavailable();
  if (why !== null) {
    if (process.env.CI === 'true') return t.fail(`${why}; CI must run this test`);
    t.log(`skipped: ${why}`);
    return t.pass();
  }
  await deleteNamespaces();
  await createNamespaces();

  let served = 0;
  target = createServer((_req, res) => {
    served++;
    res.end('ok\n');
  });
  await new Promise<void>((resolve) => target!.listen(0, serviceAddr, resolve));
  const targetPort = (target.address() as AddressInfo).port;

  dataDir = await mkdtemp(join(tmpdir(), 'sg-netns-'));
  cluster = await startCluster({ dataDir, host: serviceAddr });
  const generators = namespaces.map((ns) => startGeneratorProcess({ url: cluster!.url, id: ns.name, wrapper: ['ip', 'netns', 'exec', ns.name] }));
  await cluster.waitForGenerators(generators.map((g) => g.id)).catch((err: Error) => {
    throw new Error(`${err.message}\n${generators.map((g) => `${g.id}:\n${g.stderr()}`).join('\n')}`);
  });
  for (const ns of namespaces) t.regex(cluster.log.join('\n'), new RegExp(`generator ${ns.name} connected from ${ns.nsAddr.replaceAll('.', '\\.')}:\\d+`));

  const started = await cluster.coordinator.start({
    name: 'across namespaces',
    blocks: [{ script: `for (let i = 0; i < ${REQUESTS_PER_DEVICE}; i++) { await get("/"); await delay(10); }\nawait delay(600000);` }],
    addresses: [{ host: serviceAddr, port: targetPort }],
    size: 20,
    rampup: 0,
    sustain: 2,
  });
  if (!started.ok) return t.fail(JSON.stringify(started));
  const result = await started.run.done;
  t.is(result.outcome, 'done', result.reason);
  t.is(result.criticalErrors, 0, cluster.notices.join('\n'));
  const rows = await readResultsCsv(result.archivePath!);
  t.is(Number(rows.at(-1)!.response_count), 20 * REQUESTS_PER_DEVICE);
  t.is(served, 20 * REQUESTS_PER_DEVICE);
});
