/**
 * A coordinator with its generator port as a process of its own, so a test can
 * kill it the way a machine dies (SIGKILL mid-run, no shutdown code runs) and
 * start another on the same port and data directory.
 *
 * Environment: DATA_DIR, PORT (0 = any), PLANS (a JSON list of plans, run one
 * after the other once GENERATORS generators are connected),
 * REPORT_INTERVAL_SECONDS. Prints `port <n>` when listening, `run <runId>` when a
 * plan has started, `done <runId>` when it has ended.
 */
import { Coordinator } from '../../ts/coordinator/coordinator.js';
import { startGeneratorServer } from '../../ts/coordinator/generator-server.js';
import { readSetting } from '../../ts/shared/settings.js';

const interval = readSetting('reportInterval', undefined, process.env);
if (!interval.ok) throw new Error(interval.problem);
const coordinator = new Coordinator({ dataDir: process.env.DATA_DIR!, reportIntervalSeconds: interval.value, log: (line) => console.error(line) });
await coordinator.recover();
const server = await startGeneratorServer({ coordinator, host: '127.0.0.1', port: Number(process.env.PORT ?? 0), log: (line) => console.error(line) });
console.log(`port ${server.port}`);

const plans = JSON.parse(process.env.PLANS ?? '[]') as unknown[];
const wanted = Number(process.env.GENERATORS ?? 1);
let begun = false;
const runAll = async (): Promise<void> => {
  if (begun || coordinator.registry.size < wanted) return;
  begun = true;
  for (const plan of plans) {
    const started = await coordinator.start(plan);
    if (!started.ok) {
      console.error(JSON.stringify(started));
      process.exit(1);
    }
    console.log(`run ${started.run.runId}`);
    const result = await started.run.done;
    console.log(`done ${result.runId}`);
  }
};
coordinator.registry.listen({ joined: () => void runAll() });
