/**
 * A real coordinator with its generator port, in the test process, whose links
 * are tapped: every message the coordinator sends is recorded under the
 * generator id that said hello on that link, so a test can count what each
 * generator was told to run.
 */
import { Coordinator } from '../../ts/coordinator/coordinator.js';
import { startGeneratorServer, type GeneratorServer } from '../../ts/coordinator/generator-server.js';
import type { CoordinatorMessage, GeneratorMessage, StartCohort } from '../../ts/shared/protocol.js';
import type { CoordinatorSide } from '../../ts/shared/transport.js';
import { until } from '../support/until.js';

export interface Cluster {
  coordinator: Coordinator;
  server: GeneratorServer;
  url: string;
  /** Lines the coordinator and its port logged. */
  log: string[];
  /** Notices the runs showed (generator left, rejoined, ...). */
  notices: string[];
  /** What the coordinator sent, per generator id. */
  sent: Map<string, CoordinatorMessage[]>;
  /** Resolves when exactly these generators are connected. */
  waitForGenerators(ids: readonly string[], timeoutMs?: number): Promise<void>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  dataDir: string;
  host?: string;
  port?: number;
  token?: string;
  heartbeatMs?: number;
  reportIntervalSeconds?: number;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const log: string[] = [];
  const notices: string[] = [];
  const sent = new Map<string, CoordinatorMessage[]>();
  const coordinator = new Coordinator({ dataDir: options.dataDir, reportIntervalSeconds: options.reportIntervalSeconds ?? 1, log: (line) => log.push(line) });
  await coordinator.recover();
  coordinator.observe({ onNotice: (m) => notices.push(m) });
  const attach = coordinator.attachGenerator.bind(coordinator);
  coordinator.attachGenerator = (link) => attach(tap(link, sent));
  const server = await startGeneratorServer({
    coordinator,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    token: options.token,
    heartbeatMs: options.heartbeatMs,
    log: (line) => log.push(line),
  });
  const host = options.host ?? '127.0.0.1';
  return {
    coordinator,
    server,
    url: `ws://${host.includes(':') ? `[${host}]` : host}:${server.port}`,
    log,
    notices,
    sent,
    async waitForGenerators(ids, timeoutMs = 20_000) {
      const want = [...ids].sort().join(',');
      await until(
        () =>
          coordinator.registry
            .list()
            .map((g) => g.id)
            .sort()
            .join(',') === want,
        timeoutMs,
        () =>
          `generators ${want}; connected: ${coordinator.registry
            .list()
            .map((g) => g.id)
            .join(',')}; log:\n${log.join('\n')}`,
      );
    },
    async waitForLog(pattern, timeoutMs = 20_000) {
      let found: string | undefined;
      await until(
        () => (found = log.find((line) => pattern.test(line))) !== undefined,
        timeoutMs,
        () => `${pattern} in the coordinator log:\n${log.join('\n')}`,
      );
      return found!;
    },
    async close() {
      await coordinator.abort('test over');
      await server.close();
    },
  };
}

/** Devices per block each generator was told to start in `runId`. */
export function startedDevices(cluster: Cluster, runId: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [id, messages] of cluster.sent) {
    const starts = messages.filter((m): m is StartCohort => m.type === 'start_cohort' && m.runId === runId);
    if (starts.length === 0) continue;
    const totals = starts[0]!.devices.map(() => 0);
    for (const s of starts) s.devices.forEach((n, i) => (totals[i]! += n));
    out.set(id, totals);
  }
  return out;
}

function tap(link: CoordinatorSide, sent: Map<string, CoordinatorMessage[]>): CoordinatorSide {
  let id: string | undefined;
  link.onMessage((m: GeneratorMessage) => {
    if (m.type === 'hello' && id === undefined) id = m.generatorId;
  });
  return {
    send(message) {
      if (id !== undefined) {
        if (!sent.has(id)) sent.set(id, []);
        sent.get(id)!.push(message);
      }
      link.send(message);
    },
    onMessage: (handler) => link.onMessage(handler),
    onClose: (handler) => link.onClose(handler),
    close: (reason) => link.close(reason),
  };
}
