/**
 * A real coordinator for API and sgcli tests: its own data directory, generators
 * in this process joined by in-process links (the protocol messages a socket
 * would carry), and the management API on a free loopback port. On request it
 * also opens its generator port, for stressgrid-generator processes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator } from '../../ts/generator/generator.js';
import { startApiServer, type ApiServer } from '../../ts/coordinator/api-server.js';
import { Coordinator } from '../../ts/coordinator/coordinator.js';
import { startGeneratorServer, type GeneratorServer } from '../../ts/coordinator/generator-server.js';
import type { Writer } from '../../ts/coordinator/writer.js';
import { inProcessLink } from '../../ts/shared/transport.js';
import { until } from '../support/until.js';

export interface TestCoordinator {
  coordinator: Coordinator;
  api: ApiServer;
  /** The API's base URL, `http://127.0.0.1:port`. */
  url: string;
  /** `ws://127.0.0.1:port` of the generator port, when it was asked for. */
  generatorUrl: string | undefined;
  dataDir: string;
  /** Resolves once a generator of this id is connected. */
  waitForGenerator(id: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface TestCoordinatorOptions {
  /** In-process generators, one worker thread each (default 1). */
  generators?: number;
  token?: string;
  /** How long signed download links are valid. */
  linkExpirySeconds?: number;
  reportIntervalSeconds?: number;
  webDir?: string;
  maxBodyBytes?: number;
  /** Writers added to every run (CloudWatch). */
  extraWriters?: () => Writer[];
  /** Opens the generator port on a free loopback port (generatorUrl), with the same token as the API. */
  generatorPort?: boolean;
}

export async function startTestCoordinator(options: TestCoordinatorOptions = {}): Promise<TestCoordinator> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-api-'));
  const coordinator = new Coordinator({ dataDir, reportIntervalSeconds: options.reportIntervalSeconds ?? 1, extraWriters: options.extraWriters, log: () => {} });
  await coordinator.recover();
  const generators: Generator[] = [];
  const count = options.generators ?? 1;
  const joined = new Promise<void>((resolve) => {
    if (count === 0) return resolve();
    const stop = coordinator.registry.listen({ joined: () => coordinator.registry.size >= count && (stop(), resolve()) });
  });
  for (let i = 0; i < count; i++) {
    const generator = await Generator.start({ id: `gen-${i + 1}`, workers: 1, log: () => {} });
    generators.push(generator);
    const link = inProcessLink();
    coordinator.attachGenerator(link.coordinator);
    generator.connect(link.generator);
  }
  await joined;
  const generatorServer: GeneratorServer | undefined = options.generatorPort ? await startGeneratorServer({ coordinator, host: '127.0.0.1', port: 0, token: options.token, log: () => {} }) : undefined;
  const api = await startApiServer({
    coordinator,
    host: '127.0.0.1',
    port: 0,
    token: options.token,
    linkExpirySeconds: options.linkExpirySeconds,
    webDir: options.webDir,
    maxBodyBytes: options.maxBodyBytes,
    log: () => {},
  });
  return {
    coordinator,
    api,
    url: api.url,
    generatorUrl: generatorServer ? `ws://127.0.0.1:${generatorServer.port}` : undefined,
    dataDir,
    waitForGenerator: (id, timeoutMs = 20_000) => until(() => coordinator.registry.list().some((g) => g.id === id), timeoutMs, `generator ${id} to connect`),
    async stop() {
      await coordinator.abort('test over');
      await generatorServer?.close();
      await api.close();
      await Promise.all(generators.map((g) => g.close()));
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A plan of `size` devices that each GET / from nginx every 50 ms. */
export function nginxPlan(port: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'api-test',
    blocks: [{ script: 'for (;;) { await get("/"); await delay(50); }' }],
    addresses: [{ host: '127.0.0.1', port, protocol: 'http' }],
    size: 10,
    rampup: 0,
    sustain: 60,
    rampdown: 0,
    ...overrides,
  };
}

/** A test coordinator stopped when the test ends. */
export async function coordinatorFor(t: { teardown: (fn: () => Promise<void>) => void }, options: Parameters<typeof startTestCoordinator>[0] = {}): Promise<TestCoordinator> {
  const c = await startTestCoordinator(options);
  t.teardown(() => c.stop());
  return c;
}
