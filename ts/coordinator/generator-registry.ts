/**
 * The generators connected to this coordinator. A link becomes a generator when
 * its `hello` speaks our protocol version; one that reconnects under an id already
 * connected replaces the old link, never doubles it.
 */
import { PROTOCOL_VERSION, type GeneratorMessage, type GeneratorNotice, type RunProblem, type RunReady, type Telemetry } from '../shared/protocol.js';
import type { CoordinatorSide } from '../shared/transport.js';

export interface ConnectedGenerator {
  readonly id: string;
  readonly workers: number;
  readonly link: CoordinatorSide;
  readonly connectedAt: number;
}

export interface RegistryListener {
  joined?(generator: ConnectedGenerator): void;
  left?(generator: ConnectedGenerator, reason: string): void;
  telemetry?(generator: ConnectedGenerator, telemetry: Telemetry): void;
  problem?(generator: ConnectedGenerator, problem: RunProblem): void;
  ready?(generator: ConnectedGenerator, ready: RunReady): void;
  notice?(generator: ConnectedGenerator, notice: GeneratorNotice): void;
}

export class GeneratorRegistry {
  private readonly generators = new Map<string, ConnectedGenerator>();
  private readonly listeners = new Set<RegistryListener>();

  constructor(private readonly log: (line: string) => void = (line) => console.error(line)) {}

  listen(listener: RegistryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  list(): ConnectedGenerator[] {
    return [...this.generators.values()];
  }

  get size(): number {
    return this.generators.size;
  }

  /** Takes a new link; it joins once it has said hello. */
  attach(link: CoordinatorSide): void {
    let generator: ConnectedGenerator | undefined;
    link.onMessage((m: GeneratorMessage) => {
      if (!generator) {
        if (m.type !== 'hello') return link.close('the first message must be hello');
        if (m.version !== PROTOCOL_VERSION) {
          link.send({ type: 'refused', reason: `this coordinator speaks protocol version ${PROTOCOL_VERSION}, the generator ${m.version}: run the same Stressgrid version on both` });
          return link.close('protocol version mismatch');
        }
        generator = { id: m.generatorId, workers: m.workers, link, connectedAt: Date.now() };
        const previous = this.generators.get(generator.id);
        this.generators.set(generator.id, generator);
        if (previous) {
          this.log(`stressgrid coordinator: generator ${generator.id} reconnected; closing its previous link`);
          this.emit((l) => l.left?.(previous, 'replaced by a new connection'));
          previous.link.close('replaced by a new connection');
        }
        link.send({ type: 'welcome', version: PROTOCOL_VERSION });
        const joined = generator;
        this.emit((l) => l.joined?.(joined));
        return;
      }
      const g = generator;
      if (m.type === 'telemetry') this.emit((l) => l.telemetry?.(g, m));
      else if (m.type === 'run_problem') this.emit((l) => l.problem?.(g, m));
      else if (m.type === 'run_ready') this.emit((l) => l.ready?.(g, m));
      else if (m.type === 'generator_notice') this.emit((l) => l.notice?.(g, m));
    });
    link.onClose((reason) => {
      const g = generator;
      if (!g || this.generators.get(g.id) !== g) return;
      this.generators.delete(g.id);
      this.emit((l) => l.left?.(g, reason));
    });
  }

  /** Sends to every connected generator. */
  broadcast(message: Parameters<CoordinatorSide['send']>[0]): void {
    for (const g of this.generators.values()) g.link.send(message);
  }

  private emit(call: (l: RegistryListener) => void): void {
    for (const l of this.listeners) {
      try {
        call(l);
      } catch (err) {
        this.log(`stressgrid coordinator: ${(err as Error).stack ?? String(err)}`);
      }
    }
  }
}
