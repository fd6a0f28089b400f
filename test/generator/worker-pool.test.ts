/**
 * The generator's WorkerPool with real worker threads: devices dealt over the
 * workers, every worker's metrics collected and merged into one set, and a
 * plan whose script does not compile refused with the compiler's problem.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { Histogram } from '../../ts/hdr/index.js';
import type { Target } from '../../ts/generator/protocols/device-connection.js';
import { WORKERS_ENV, WorkerPool, defaultWorkerCount } from '../../ts/generator/worker-pool.js';
import { BLOCK_LIMIT_DEFAULTS, type ResolvedPlan } from '../../ts/shared/plan.js';
import { resolveGeneratorOptions } from '../../ts/generator/program-options.js';

const REQUESTS = 3;
/** Far above what a loaded machine adds to a loopback exchange, so the two workers' values cannot mix. */
const SLOW_MS = 300;

/** Times each request into `exchange_us`, then waits to be stopped. */
const SCRIPT = `for (let i = 0; i < ${REQUESTS}; i++) {
  startTiming('exchange');
  await get('/');
  stopTiming('exchange');
}
await delay(60000);
`;

/** A server answering after `delayMs`; `answered` counts responses sent. */
async function server(t: import('ava').ExecutionContext, delayMs: number): Promise<{ target: Target; answered: () => number }> {
  let answered = 0;
  const s: Server = createServer((_req, res) => {
    res.on('finish', () => answered++);
    setTimeout(() => res.end('ok'), delayMs);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve()))));
  const { port } = s.address() as AddressInfo;
  return { target: { ip: '127.0.0.1', port, protocol: 'http', hostname: '127.0.0.1', verifyTls: false }, answered: () => answered };
}

const plan = (script: string): ResolvedPlan => ({
  name: 'pool',
  blocks: [{ script, params: {}, size: 1, limits: { ...BLOCK_LIMIT_DEFAULTS } }],
  addresses: [{ host: '127.0.0.1', port: 80, protocol: 'http', verifyTls: false }],
  size: 10,
  rampup: 0,
  sustain: 1,
  rampdown: 0,
});

test('two workers: a device on each, their histograms and counters merged into one collect', async (t) => {
  const pool = await WorkerPool.start(2);
  t.teardown(() => pool.close());
  t.is(pool.size, 2);
  const [fast, slow] = await Promise.all([server(t, 0), server(t, SLOW_MS)]);
  t.is(await pool.prepare('run-1', plan(SCRIPT)), null);

  // Dealt round-robin: the fast server's device on one worker, the slow one's on the other.
  pool.start('run-1', 0, [
    { block: 0, target: fast.target },
    { block: 0, target: slow.target },
  ]);
  const deadline = performance.now() + 5000;
  while (fast.answered() < REQUESTS || slow.answered() < REQUESTS) {
    if (performance.now() > deadline) throw new Error(`answered: fast ${fast.answered()}, slow ${slow.answered()}`);
    await sleep(10);
  }
  // The last response left the server; give the worker a moment to read it.
  await sleep(200);
  const running = await pool.collect();
  t.is(running.runId, 'run-1');
  t.is(running.activeDevices, 2);
  t.is(running.metrics.counters.response_count, 2 * REQUESTS);
  t.is(running.metrics.counters.conn_count, 2);

  const exchange = Histogram.decode(running.metrics.histograms.exchange_us!);
  t.is(exchange.totalCount, 2 * REQUESTS);
  // The lower half is the fast worker's values, the upper half the slow one's.
  t.true(exchange.valueAtPercentile(50) < SLOW_MS * 1000, `median ${exchange.valueAtPercentile(50)} µs`);
  t.true(exchange.valueAtPercentile(51) >= (SLOW_MS - 5) * 1000, `p51 ${exchange.valueAtPercentile(51)} µs`);
  t.is(Histogram.decode(running.metrics.histograms.headers_us!).totalCount, 2 * REQUESTS);

  pool.end('run-1');
  const ended = await pool.collect();
  t.is(ended.runId, null);
  t.is(ended.activeDevices, 0);
  t.deepEqual(ended.metrics, { counters: {}, histograms: {} });
});

test('a script that does not compile: prepare answers with the problem', async (t) => {
  const pool = await WorkerPool.start(2);
  t.teardown(() => pool.close());
  const problem = await pool.prepare('run-bad', plan('const = 1;'));
  t.regex(problem ?? '', /SyntaxError/);
  // Nothing was prepared, so a start for that run places no device.
  pool.start('run-bad', 0, [{ block: 0, target: { ip: '127.0.0.1', port: 1, protocol: 'http', hostname: '127.0.0.1', verifyTls: false } }]);
  t.is((await pool.collect()).activeDevices, 0);
});

test(`${WORKERS_ENV} sets the worker count; anything but a whole number from 1 to 4096 is refused, and unset means one per core`, (t) => {
  const workers = (value: string | undefined) => resolveGeneratorOptions({}, value === undefined ? {} : { [WORKERS_ENV]: value });
  const three = workers('3');
  t.true(three.ok && three.options.workers === 3);
  const unset = workers(undefined);
  t.true(unset.ok && unset.options.workers === undefined);
  t.true(defaultWorkerCount() >= 1);
  for (const bad of ['0', '-2', '1.5', 'two', '4097']) {
    const result = workers(bad);
    t.false(result.ok, bad);
    if (!result.ok) t.regex(result.problems[0]!, new RegExp(`^${WORKERS_ENV} \\(or --workers\\): must be a whole number from 1 to 4096`), bad);
  }
});

test('a worker that cannot load rejects the start with its error instead of hanging the generator', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sg-pool-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const broken = join(dir, 'broken-worker.mjs');
  await writeFile(broken, "import { missing } from 'node:os';\n");
  const started = WorkerPool.start(2, pathToFileURL(broken));
  const outcome = await Promise.race([
    started.then(
      () => 'started',
      (err: Error) => err.message,
    ),
    sleep(5000).then(() => 'still waiting'),
  ]);
  t.regex(outcome, /^a generator worker failed to start: .*missing/);
});

test('a worker that dies mid-run leaves the pool: collect still answers with the others', async (t) => {
  const pool = await WorkerPool.start(2);
  try {
    const first = await pool.collect();
    t.is(first.activeDevices, 0);
    // Kill one worker from outside, as a native crash would.
    const workers = (pool as unknown as { workers: import('node:worker_threads').Worker[] }).workers;
    await workers[0]!.terminate();
    const after = await Promise.race([pool.collect(), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000))]);
    t.not(after, 'hung');
    t.is((pool as unknown as { workers: unknown[] }).workers.length, 1);
  } finally {
    await pool.close();
  }
});
