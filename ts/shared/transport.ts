/**
 * How the coordinator and a generator reach each other. Everything between them
 * is a protocol message over a Link; an in-process pair serves the embedded
 * mode, a WebSocket the distributed one.
 */
import type { CoordinatorMessage, GeneratorMessage } from './protocol.js';

export interface Link<Out, In> {
  send(message: Out): void;
  onMessage(handler: (message: In) => void): void;
  onClose(handler: (reason: string) => void): void;
  close(reason?: string): void;
}

export type GeneratorSide = Link<GeneratorMessage, CoordinatorMessage>;
export type CoordinatorSide = Link<CoordinatorMessage, GeneratorMessage>;

class InProcessEnd<Out, In> implements Link<Out, In> {
  peer!: InProcessEnd<In, Out>;
  private messageHandlers: Array<(m: In) => void> = [];
  private closeHandlers: Array<(reason: string) => void> = [];
  private closed = false;

  send(message: Out): void {
    if (this.closed) return;
    // A copy: the embedded mode shares no objects between the sides, as a socket would not.
    const copy = structuredClone(message);
    queueMicrotask(() => this.peer.deliver(copy));
  }

  deliver(message: In): void {
    if (this.closed) return;
    for (const h of this.messageHandlers) h(message);
  }

  onMessage(handler: (message: In) => void): void {
    this.messageHandlers.push(handler);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  close(reason = 'closed'): void {
    if (this.closed) return;
    this.shut(reason);
    this.peer.shut(reason);
  }

  private shut(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers) h(reason);
  }
}

/** Two connected ends: give one to the coordinator, the other to a generator. */
export function inProcessLink(): { coordinator: CoordinatorSide; generator: GeneratorSide } {
  const c = new InProcessEnd<CoordinatorMessage, GeneratorMessage>();
  const g = new InProcessEnd<GeneratorMessage, CoordinatorMessage>();
  c.peer = g;
  g.peer = c;
  return { coordinator: c, generator: g };
}
