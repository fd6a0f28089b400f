/**
 * A coordinator with its generator port as a process of its own, so a test can
 * kill it the way a machine dies (SIGKILL mid-run, no shutdown code runs) and
 * start another on the same port and data directory.
 *
 * Environment: DATA_DIR, PORT (0 = any), PLAN (JSON, started once GENERATORS
 * generators are connected), REPORT_INTERVAL_SECONDS. Prints `port <n>` when
 * listening, `run <runId>` when the plan has started, `done <runId>` when it ends.
 */
import { Coordinator } from '../../ts/coordinator/coordinator.js';
import { startGeneratorServer } from '../../ts/coordinator/generator-server.js';

const coordinator = new Coordinator({ dataDir: process.env.DATA_DIR!, log: (line) => console.error(line) });
await coordinator.recover();
const server = await startGeneratorServer({ coordinator, host: '127.0.0.1', port: Number(process.env.PORT ?? 0), log: (line) => console.error(line) });
console.log(`port ${server.port}`);

const plan = process.env.PLAN;
const wanted = Number(process.env.GENERATORS ?? 1);
if (plan) {
  const startWhenReady = async (): Promise<void> => {
    if (coordinator.registry.size < wanted) return;
    stop();
    const started = await coordinator.start(JSON.parse(plan));
    if (!started.ok) {
      console.error(JSON.stringify(started));
      process.exit(1);
    }
    console.log(`run ${started.run.runId}`);
    const result = await started.run.done;
    console.log(`done ${result.runId}`);
  };
  const stop = coordinator.registry.listen({ joined: () => void startWhenReady() });
  void startWhenReady();
}
