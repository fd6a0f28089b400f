/**
 * The distributed mode with real processes: `stressgrid-generator` programs as
 * child processes, nginx as the target, and the coordinator either in this process
 * (its links tapped, so a test sees every message each generator was sent) or as
 * the `stressgrid-coordinator` program driven over its API. Each run is a few
 * seconds of load.
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
import type { GeneratorInfo, ReportEntry, RunStarted, RunStatus } from '../../ts/coordinator/api-messages.js';
import { planSchedule, type StartAction } from '../../ts/coordinator/ramp.js';
import { RESULTS_JOURNAL, readJournal } from '../../ts/coordinator/csv-writer.js';
import { validatePlan } from '../../ts/shared/plan-validation.js';
import type { LiveSnapshot } from '../../ts/shared/live.js';
import type { ResolvedPlan } from '../../ts/shared/plan.js';
import { PROTOCOL_VERSION, type StartArrivals, type StartCohort, type Telemetry } from '../../ts/shared/protocol.js';
import { startGeneratorProcess, type GeneratorProcess } from '../support/generator-process.js';
import { killAllPrograms } from '../support/program-process.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { readResultsCsv } from '../support/report-archive.js';
import { downloadArchive, readArchive, total } from '../e2e/run-archive.js';
import { json, postJson } from '../support/api-client.js';
import { startCoordinatorProgram } from '../support/coordinator-program.js';
import { startCluster, startedDevices, type Cluster } from './cluster.js';
import { until } from '../support/until.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const COORDINATOR_CHILD = join(root, 'dist/test/support/coordinator-child.js');

const clusters: Cluster[] = [];
const nginxes: NginxServer[] = [];
const dirs: string[] = [];
const children: Array<ReturnType<typeof spawn>> = [];

test.after.always(async () => {
  await killAllPrograms();
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(clusters.map((c) => c.close()));
  await Promise.all(nginxes.map((n) => n.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function cluster(): Promise<Cluster> {
  const c = await startCluster({ dataDir: await tempDir() });
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

/** Waits until exactly `processes` are connected; a failure shows what they logged. */
async function joined(c: Cluster, processes: GeneratorProcess[], timeoutMs?: number): Promise<void> {
  try {
    await c.waitForGenerators(
      processes.map((p) => p.id),
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${processes.map((p) => `generator ${p.id} (exit ${p.child.exitCode ?? p.child.signalCode}):\n${p.stderr()}`).join('\n')}`, { cause: err });
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const loop = (path: string, pauseMs = 20) => `for (;;) {\n  await get(${JSON.stringify(path)});\n  await delay(${pauseMs});\n}`;
/**
 * Exactly `requests` requests, then an idle wait that outlasts the run: no request
 * is in flight when the devices stop, so every one nginx served is counted.
 */
const REQUESTS_PER_DEVICE = 20;
const counted = (path: string) => `for (let i = 0; i < ${REQUESTS_PER_DEVICE}; i++) {\n  await get(${JSON.stringify(path)});\n  await delay(10);\n}\nawait delay(600000);`;

function twoBlockPlan(name: string, a: NginxServer, b: NginxServer, timing: { rampup: number; sustain: number; size?: number }, script: (path: string) => string = loop) {
  return {
    name,
    blocks: [
      { script: script('/?block=1'), size: 1 },
      { script: script('/?block=2'), size: 3 },
    ],
    addresses: [
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ],
    size: timing.size ?? 40,
    rampdown: 0,
    rampup: timing.rampup,
    sustain: timing.sustain,
  };
}

test.serial('two generator processes run a plan: each gets its share, the CSV counts every request nginx logged', async (t) => {
  const [a, b] = await Promise.all([nginx(), nginx()]);
  const c = await cluster();
  await joined(c, [startGeneratorProcess({ url: c.url, id: 'gen-a' }), startGeneratorProcess({ url: c.url, id: 'gen-b' })]);
  const order = c.coordinator.registry.list().map((g) => g.id);

  const plan = twoBlockPlan('two generators', a, b, { rampup: 1, sustain: 2 }, counted);
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
  t.deepEqual(
    [...got.values()].map((d) => d[0]! + d[1]!),
    [20, 20],
    'each generator ran half of the 40 devices',
  );
  t.deepEqual(
    [0, 1].map((i) => [...got.values()].reduce((sum, d) => sum + d[i]!, 0)),
    [10, 30],
    'blocks 1:3',
  );

  const rows = await readResultsCsv(result.archivePath!);
  t.is(Number(rows.at(-1)!.response_count), 40 * REQUESTS_PER_DEVICE, 'every device made its requests, each counted once');
  const served = [...(await a.waitForAccessLog(20 * REQUESTS_PER_DEVICE)), ...(await b.waitForAccessLog(20 * REQUESTS_PER_DEVICE))];
  t.is(served.length, 40 * REQUESTS_PER_DEVICE, 'the last row counts every response nginx served, no more');
  t.deepEqual(
    [1, 2].map((block) => served.filter((line) => line.uri === `/?block=${block}`).length),
    [10 * REQUESTS_PER_DEVICE, 30 * REQUESTS_PER_DEVICE],
    'block shares 1:3',
  );
});

test.serial(
  'the programs end to end: a plan started over the API of stressgrid-coordinator runs on two stressgrid-generator processes, each with its share; the downloaded CSV counts every request nginx logged',
  async (t) => {
    const [a, b] = await Promise.all([nginx(), nginx()]);
    const coordinator = startCoordinatorProgram({ dataDir: await tempDir(), args: ['--report-interval', '1'] });
    const { api, generators: url } = await coordinator.listening();
    const processes = ['gen-a', 'gen-b'].map((id) => startGeneratorProcess({ url, id }));
    const generators = async () => (await json<GeneratorInfo[]>(await fetch(`${api}/api/generators`))).sort((x, y) => (x.id < y.id ? -1 : 1));
    await until(async () => (await generators()).map((g) => g.id).join() === 'gen-a,gen-b', 20_000, 'both generators connected');

    const started = await postJson(`${api}/api/runs`, twoBlockPlan('programs end to end', a, b, { rampup: 1, sustain: 3 }, counted));
    t.is(started.status, 201);
    const { runId } = await json<RunStarted>(started);
    // Devices stay active once their requests are made, so with the ramp up each generator shows its whole share.
    await until(async () => (await generators()).every((g) => g.utilisation?.activeDevices === 20), 20_000, 'each generator running half of the 40 devices');
    let status: RunStatus | undefined;
    await until(async () => (status = await json<RunStatus>(await fetch(`${api}/api/runs/${runId}`))).state === 'ended', 30_000, 'the run to end');
    if (status?.state !== 'ended') return t.fail();
    t.like(status.result, { outcome: 'done', criticalErrors: 0, archiveUrl: `/results/${runId}.tar.gz` });

    const archive = await downloadArchive(`${api}${status.result.archiveUrl}`);
    t.like(archive.summary, { runId, effectiveDevices: 40, generatorCount: 2, generatorsLost: [] });
    const served = [...(await a.waitForAccessLog(20 * REQUESTS_PER_DEVICE)), ...(await b.waitForAccessLog(20 * REQUESTS_PER_DEVICE))];
    t.is(served.length, 40 * REQUESTS_PER_DEVICE, 'every device made its requests, half of them to each address');
    t.is(total(archive, 'response_count'), served.length, 'the CSV counts every response nginx served, no more');
    t.deepEqual(
      [1, 2].map((block) => served.filter((line) => line.uri === `/?block=${block}`).length),
      [10 * REQUESTS_PER_DEVICE, 30 * REQUESTS_PER_DEVICE],
      'block shares 1:3',
    );

    for (const p of [...processes, coordinator]) p.kill('SIGTERM');
    for (const p of [...processes, coordinator]) t.is(await p.exited, 0, p.stderr());
  },
);

function onePlan(name: string, target: NginxServer, sustain: number) {
  return { name, blocks: [{ script: loop('/') }], addresses: [{ host: '127.0.0.1', port: target.port }], size: 20, rampup: 0, sustain, rampdown: 0 };
}

/** Start cohorts of the schedule for one generator, by cohort id. */
function scheduledStarts(plan: ResolvedPlan, order: string[], generatorId: string): Map<number, StartAction> {
  const starts = planSchedule(plan, order).actions.filter((a): a is StartAction => a.kind === 'start' && a.generatorId === generatorId);
  return new Map(starts.map((a) => [a.cohortId, a]));
}

test.serial('a generator killed mid-ramp: the others go on, the loss is shown live and recorded, nothing of its link is left; restarted, it rejoins and takes the later steps', async (t) => {
  const [a, b] = await Promise.all([nginx(), nginx()]);
  const c = await cluster();
  const stays = startGeneratorProcess({ url: c.url, id: 'stays' });
  const doomed = startGeneratorProcess({ url: c.url, id: 'doomed' });
  await joined(c, [stays, doomed]);
  const order = c.coordinator.registry.list().map((g) => g.id);
  const snapshots: LiveSnapshot[] = [];
  c.coordinator.observe({ onLive: (s) => snapshots.push(s) });
  const pushes: Array<{ id: string; at: number; telemetry: Telemetry }> = [];
  c.coordinator.registry.listen({ telemetry: (g, telemetry) => pushes.push({ id: g.id, at: Date.now(), telemetry }) });

  // Eight steps, one a second: several come after the killed generator is back.
  const plan = twoBlockPlan('generator lost', a, b, { rampup: 8, sustain: 1, size: 160 }, (path) => loop(path, 200));
  const checked = await validatePlan(plan);
  if (!checked.ok) return t.fail(JSON.stringify(checked.problems));
  const started = await c.coordinator.start(plan);
  if (!started.ok) return t.fail(JSON.stringify(started));
  const runId = started.run.runId;
  const busy = (id: string, after = 0) => pushes.some((p) => p.id === id && p.at > after && p.telemetry.runId === runId && p.telemetry.activeDevices > 0);
  await until(
    () => busy('doomed'),
    20_000,
    () => 'devices running on the generator to be killed',
  );

  const killedAt = Date.now();
  doomed.kill('SIGKILL');
  await until(
    () => c.notices.some((n) => /generator doomed left the run/.test(n)),
    5000,
    () => `a notice of the loss; notices: ${c.notices.join('\n')}`,
  );
  await c.waitForLog(/generator doomed from .* disconnected/);
  t.deepEqual(
    c.coordinator.registry.list().map((g) => g.id),
    ['stays'],
    'the registry forgot the dead link',
  );
  await until(
    () => c.server.connections() === 1,
    5000,
    () => `the dead connection closed; open: ${c.server.connections()}`,
  );
  await until(
    () => snapshots.some((s) => s.lostGenerators.includes('doomed')),
    5000,
    () => 'a live snapshot that shows the loss',
  );
  const lostView = snapshots.find((s) => s.lostGenerators.includes('doomed'))!;
  t.deepEqual(lostView.lostGenerators, ['doomed']);
  t.deepEqual(
    lostView.generators.map((g) => g.id),
    ['stays'],
    'the live view holds nothing of the dead generator',
  );

  const sentBefore = c.sent.get('doomed')!.length;
  await joined(c, [stays, startGeneratorProcess({ url: c.url, id: 'doomed' })]);
  await until(
    () => c.notices.some((n) => /generator doomed rejoined/.test(n)),
    5000,
    () => `a notice of the rejoin; notices: ${c.notices.join('\n')}`,
  );
  const rejoinedAt = Date.now();
  await until(
    () => busy('doomed', rejoinedAt),
    20_000,
    () => 'devices running on the restarted generator',
  );
  await until(
    () => snapshots.at(-1)!.lostGenerators.length === 0,
    5000,
    () => 'a live snapshot without the loss once it is back',
  );

  const result = await started.run.done;
  t.is(result.outcome, 'done', result.reason);
  t.true(result.criticalErrors >= 1, 'the lost generator counts as a critical error');

  const afterRejoin = c.sent.get('doomed')!.slice(sentBefore);
  t.deepEqual(
    afterRejoin.slice(0, 2).map((m) => m.type),
    ['welcome', 'prepare_run'],
    'welcomed and prepared again when it rejoined',
  );
  const laterStarts = afterRejoin.filter((m): m is StartCohort => m.type === 'start_cohort');
  const doomedSchedule = scheduledStarts(checked.plan, order, 'doomed');
  t.true(laterStarts.length >= 1, 'given a share again at a later step');
  for (const m of laterStarts) t.deepEqual(m.devices, doomedSchedule.get(m.cohortId)?.devices, `cohort ${m.cohortId} is one of its own`);
  t.is(laterStarts.at(-1)!.cohortId, Math.max(...doomedSchedule.keys()), 'down to the last step');

  const staysSchedule = scheduledStarts(checked.plan, order, 'stays');
  t.deepEqual(
    c.sent
      .get('stays')!
      .filter((m): m is StartCohort => m.type === 'start_cohort')
      .map((m) => m.cohortId),
    [...staysSchedule.keys()],
    'the surviving generator got every one of its steps',
  );
  const staysAfterKill = pushes.filter((p) => p.id === 'stays' && p.at > killedAt && p.telemetry.runId === runId);
  t.true(staysAfterKill.length >= 3, `the surviving generator kept reporting: ${staysAfterKill.length} pushes after the kill`);
  t.true(
    staysAfterKill.some((p) => p.telemetry.activeDevices === staysSchedule.size * 10),
    'and ran its whole share',
  );

  const archive = await readArchive(result.archivePath!);
  t.deepEqual(archive.summary.generatorsLost, ['doomed']);
  t.true(total(archive, 'response_count') > 0);
  t.is(c.server.connections(), 2);
});

test.serial('a generator killed during an arrival-rate run: restarted, it rejoins and takes back its slot of the rate from then on, with no burst of what fell due while it was away', async (t) => {
  const target = await nginx();
  const c = await cluster();
  const stays = startGeneratorProcess({ url: c.url, id: 'stays' });
  const doomed = startGeneratorProcess({ url: c.url, id: 'doomed' });
  await joined(c, [stays, doomed]);
  const pushes: Array<{ id: string; at: number; telemetry: Telemetry }> = [];
  c.coordinator.registry.listen({ telemetry: (g, telemetry) => pushes.push({ id: g.id, at: Date.now(), telemetry }) });

  // 40 iterations a second split over two generators, 20 each, for 16 s.
  const RATE = 40;
  const plan = {
    name: 'arrivals rejoined',
    blocks: [{ script: "await get('/');", arrivalRate: RATE, maxDevices: 4 }],
    addresses: [{ host: '127.0.0.1', port: target.port }],
    rampup: 0,
    sustain: 16,
    rampdown: 0,
  };
  const started = await c.coordinator.start(plan);
  if (!started.ok) return t.fail(JSON.stringify(started));
  const runId = started.run.runId;
  const iterations = (id: string, after: number) =>
    pushes.filter((p) => p.id === id && p.at > after && p.telemetry.runId === runId).reduce((sum, p) => sum + (p.telemetry.counters.iteration_count ?? 0), 0);
  await until(
    () => iterations('doomed', 0) > 0,
    20_000,
    () => 'iterations on the generator to be killed',
  );
  const [first] = c.sent.get('doomed')!.filter((m): m is StartArrivals => m.type === 'start_arrivals');

  doomed.kill('SIGKILL');
  await until(
    () => c.notices.some((n) => /generator doomed left the run/.test(n)),
    5000,
    () => `a notice of the loss; notices: ${c.notices.join('\n')}`,
  );
  const sentBefore = c.sent.get('doomed')!.length;
  await joined(c, [stays, startGeneratorProcess({ url: c.url, id: 'doomed' })]);
  await until(
    () => c.notices.some((n) => /generator doomed runs its share of arrival-rate block 0 again from [\d.]+ s into it/.test(n)),
    10_000,
    () => `a notice of the resumed share; notices: ${c.notices.join('\n')}`,
  );
  const resumedAt = Date.now();
  const resumed = c.sent
    .get('doomed')!
    .slice(sentBefore)
    .filter((m): m is StartArrivals => m.type === 'start_arrivals');
  t.is(resumed.length, 1, 'its slot of the block once more');
  t.like(resumed[0], { block: 0, slot: first!.slot, slots: first!.slots, maxDevices: first!.maxDevices, addressOffset: first!.addressOffset, startedAt: first!.startedAt });
  const from = resumed[0]!.from!;
  t.true(from > 1 && from < 16, `from ${from} s into the block`);

  // Over a window well inside the rest of the run: nginx sees the whole rate again, and each generator serves half.
  await sleep(1500);
  const windowStart = Date.now();
  const servedBefore = await target.accessLogCount();
  // Up to 4 s, ending a second before the run does (a slow restart leaves less of it).
  const windowMs = Math.min(4000, started.run.startedAt + (plan.sustain - 1) * 1000 - windowStart);
  t.true(windowMs >= 2000, `${windowMs} ms of the run left to look at after the rejoin`);
  await sleep(windowMs);
  const served = (await target.accessLogCount()) - servedBefore;
  const windowSeconds = (Date.now() - windowStart) / 1000;
  t.true(Math.abs(served / windowSeconds - RATE) <= RATE * 0.2, `nginx saw ${(served / windowSeconds).toFixed(1)}/s after the rejoin, planned ${RATE}/s`);

  const result = await started.run.done;
  t.is(result.outcome, 'done', result.reason);
  const after = pushes.filter((p) => p.id === 'doomed' && p.at > resumedAt && p.telemetry.runId === runId);
  const doomedRate = after.reduce((sum, p) => sum + (p.telemetry.counters.iteration_count ?? 0), 0) / after.reduce((sum, p) => sum + p.telemetry.intervalMs / 1000, 0);
  t.true(Math.abs(doomedRate - RATE / 2) <= (RATE / 2) * 0.25, `the rejoined generator started ${doomedRate.toFixed(1)} iterations a second, its share is ${RATE / 2}`);
  t.true(Math.max(...after.map((p) => p.telemetry.counters.iteration_count ?? 0)) <= RATE, 'no burst of the iterations that fell due while it was away');
  t.is(
    after.reduce((sum, p) => sum + (p.telemetry.counters.dropped_iteration_count ?? 0), 0),
    0,
    'nothing dropped',
  );
});

test.serial('a generator reconnecting under a connected id replaces the old link over real sockets', async (t) => {
  const target = await nginx();
  const c = await cluster();
  const stale = new WebSocket(c.url);
  const staleClosed = new Promise<{ code: number; reason: string }>((resolve) => stale.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => stale.once('open', resolve).once('error', reject));
  stale.send(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, generatorId: 'twin', workers: 1 }));
  await c.waitForGenerators(['twin']);

  const twin = startGeneratorProcess({ url: c.url, id: 'twin' });
  t.deepEqual(await staleClosed, { code: 1000, reason: 'replaced by a new connection' });
  await joined(c, [twin]);
  t.is(c.coordinator.registry.size, 1);

  const started = await c.coordinator.start(onePlan('replaced link', target, 1));
  if (!started.ok) return t.fail(JSON.stringify(started));
  const result = await started.run.done;
  t.is(result.outcome, 'done', result.reason);
  t.is(result.criticalErrors, 0, c.notices.join('\n'));
  const rows = await readResultsCsv(result.archivePath!);
  t.true(Number(rows.at(-1)!.response_count) > 0, 'the new link ran the devices');
});

/** Resolves once nginx has logged no request for `quietMs`; fails if it never settles within `timeoutMs`. */
async function settled(target: NginxServer, quietMs: number, timeoutMs: number): Promise<number> {
  let count = await target.accessLogCount();
  let since = Date.now();
  const deadline = since + timeoutMs;
  for (;;) {
    await sleep(100);
    const now = await target.accessLogCount();
    if (now !== count) [count, since] = [now, Date.now()];
    else if (Date.now() - since >= quietMs) return count;
    if (Date.now() > deadline) throw new Error(`nginx still served requests after ${timeoutMs} ms (${count} so far)`);
  }
}

test.serial(
  'a coordinator killed mid-run: generators stop their devices; the stressgrid-coordinator started on the same port and data dir gets them back and serves every earlier report',
  async (t) => {
    const target = await nginx();
    const dataDir = await tempDir();
    const child = spawn(process.execPath, [COORDINATOR_CHILD], {
      cwd: root,
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        PORT: '0',
        GENERATORS: '2',
        REPORT_INTERVAL_SECONDS: '1',
        PLANS: JSON.stringify([onePlan('finished', target, 1), onePlan('interrupted', target, 30)]),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const line = async (pattern: RegExp) => {
      await until(
        () => pattern.test(stdout),
        20_000,
        () => `${pattern} from the coordinator; stdout:\n${stdout}\nstderr:\n${stderr}`,
      );
      return pattern.exec(stdout)!;
    };
    const port = Number((await line(/^port (\d+)$/m))[1]);
    const url = `ws://127.0.0.1:${port}`;
    const generators = ['r1', 'r2'].map((id) => startGeneratorProcess({ url, id }));
    const finished = (await line(/^done (\S+)$/m))[1]!;
    const interrupted = (await line(/^run (\S+)\n(?:.*\n)*?run (\S+)$/m))[2]!;
    // Killed once the interrupted run has a row on disk: what recovery can save of it.
    const journal = join(dataDir, interrupted, RESULTS_JOURNAL);
    await until(async () => (await readJournal(journal).catch(() => [])).some((row) => (row.metrics.response_count ?? 0) > 0), 15_000, 'a report row of the second run');
    child.kill('SIGKILL');
    await exited;

    for (const g of generators) await g.waitFor(/lost the coordinator at .*; attempt \d+ in [\d.]+ s/);
    // Requests in flight at the kill may still land; a device left running would add one every 20 ms.
    const served = await settled(target, 1000, 10_000);
    await sleep(2000);
    t.is(await target.accessLogCount(), served, 'no device ran on after its coordinator died');

    const restarted = startCoordinatorProgram({ dataDir, generatorPort: port, args: ['--report-interval', '1'] });
    const { api } = await restarted.listening();
    await until(
      async () =>
        (await json<GeneratorInfo[]>(await fetch(`${api}/api/generators`)))
          .map((g) => g.id)
          .sort()
          .join() === 'r1,r2',
      30_000,
      'both generators back',
    );
    const reports = await json<ReportEntry[]>(await fetch(`${api}/api/reports`));
    t.deepEqual(reports.map((r) => r.runId).sort(), [finished, interrupted].sort(), 'the finished run and the interrupted one, archived on recovery');
    for (const report of reports) {
      t.is(report.url, `/results/${report.runId}.tar.gz`);
      const archive = await downloadArchive(`${api}${report.url}`);
      t.is(archive.summary.runId, report.runId);
      t.is(archive.summary.aborted, report.runId === interrupted, report.runId);
      t.true(total(archive, 'response_count') > 0, `${report.runId} counted its responses`);
    }

    const started = await postJson(`${api}/api/runs`, onePlan('after restart', target, 1));
    t.is(started.status, 201);
    const { runId } = await json<RunStarted>(started);
    let status: RunStatus | undefined;
    await until(async () => (status = await json<RunStatus>(await fetch(`${api}/api/runs/${runId}`))).state === 'ended', 30_000, 'the run after the restart to end');
    t.like(status, { state: 'ended', result: { outcome: 'done', criticalErrors: 0 } });
    restarted.kill('SIGTERM');
    t.is(await restarted.exited, 0, restarted.stderr());
  },
);
