/**
 * The distributed mode with real processes: a coordinator and its generator port
 * in this process, `stressgrid-generator` programs as child processes, nginx as
 * the target. Each run is a few seconds of load.
 *
 * Needs the Debian package nginx.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { planSchedule } from '../../ts/coordinator/ramp.js';
import { validatePlan } from '../../ts/shared/plan-validation.js';
import { PROTOCOL_VERSION } from '../../ts/shared/protocol.js';
import { killAllGeneratorProcesses, startGeneratorProcess, type GeneratorProcess } from '../support/generator-process.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { readResultsCsv } from '../support/report-archive.js';
import { startCluster, startedDevices, until, type Cluster } from './cluster.js';

const clusters: Cluster[] = [];
const nginxes: NginxServer[] = [];
const dirs: string[] = [];

test.after.always(async () => {
  await killAllGeneratorProcesses();
  await Promise.all(clusters.map((c) => c.close()));
  await Promise.all(nginxes.map((n) => n.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function cluster(options: { port?: number; dataDir?: string } = {}): Promise<Cluster> {
  const c = await startCluster({ dataDir: options.dataDir ?? (await tempDir()), port: options.port });
  clusters.push(c);
  return c;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sg-distributed-'));
  dirs.push(dir);
  return dir;
}

async function nginx(): Promise<NginxServer> {
  const n = await startNginx();
  nginxes.push(n);
  return n;
}

const loop = (path: string) => `for (;;) {\n  await get(${JSON.stringify(path)});\n  await delay(20);\n}`;

function twoBlockPlan(name: string, a: NginxServer, b: NginxServer, timing: { rampup: number; sustain: number }) {
  return {
    name,
    blocks: [
      { script: loop('/?block=1'), size: 1 },
      { script: loop('/?block=2'), size: 3 },
    ],
    addresses: [
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ],
    size: 40,
    rampdown: 0,
    ...timing,
  };
}

test('two generator processes run a plan: each gets its share, the CSV counts every request nginx logged', async (t) => {
  const [a, b] = await Promise.all([nginx(), nginx()]);
  const c = await cluster();
  startGeneratorProcess({ url: c.url, id: 'gen-a' });
  startGeneratorProcess({ url: c.url, id: 'gen-b' });
  await c.waitForGenerators(['gen-a', 'gen-b']);
  const order = c.coordinator.registry.list().map((g) => g.id);

  const plan = twoBlockPlan('two generators', a, b, { rampup: 1, sustain: 2 });
  const started = await c.coordinator.start(plan);
  if (!started.ok) return t.fail(JSON.stringify(started));
  const result = await started.run.done;
  t.is(result.outcome, 'done', result.reason);
  t.is(result.criticalErrors, 0, c.notices.join('\n'));

  const checked = await validatePlan(plan);
  if (!checked.ok) return t.fail();
  const expected = new Map<string, number[]>();
  for (const action of planSchedule(checked.plan, order).actions) {
    if (action.kind !== 'start') continue;
    const totals = expected.get(action.generatorId) ?? [0, 0];
    action.devices.forEach((n, i) => (totals[i]! += n));
    expected.set(action.generatorId, totals);
  }
  const got = startedDevices(c, result.runId);
  t.deepEqual(got, expected);
  t.deepEqual([...got.values()].map((d) => d[0]! + d[1]!), [20, 20], 'each generator ran half of the 40 devices');
  t.deepEqual([0, 1].map((i) => [...got.values()].reduce((sum, d) => sum + d[i]!, 0)), [10, 30], 'blocks 1:3');

  const rows = await readResultsCsv(result.archivePath!);
  const responses = Number(rows.at(-1)!.response_count);
  t.true(responses > 40, `${responses} responses`);
  // nginx writes a log line just after its response leaves.
  const served = async () => (await a.accessLogCount()) + (await b.accessLogCount());
  let count = await served();
  for (const deadline = Date.now() + 2000; count < responses && Date.now() < deadline; count = await served()) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.is(responses, count, 'the last row counts every response nginx served');
  t.true((await a.accessLogCount()) > 0 && (await b.accessLogCount()) > 0, 'both addresses were used');
});
