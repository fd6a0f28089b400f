/**
 * Fans the coordinator's live values, notices and run endings out to every
 * WebSocket client of /api/live. Each message is serialised once for all
 * clients. A client that cannot keep up skips live snapshots (the next one
 * replaces them anyway) but never a notice or an ending; one that falls far
 * behind is disconnected rather than allowed to grow the coordinator's memory.
 */
import type { WebSocket } from 'ws';
import type { Coordinator } from './coordinator.js';
import { runEnded, type LiveMessage, type RunEnded } from './api-messages.js';
import type { Run } from './run.js';

/** Buffered bytes above which a client's live snapshots are skipped. */
const SKIP_LIVE_BYTES = 1 << 20;
/** Buffered bytes above which a client is dropped. */
const DROP_CLIENT_BYTES = 16 << 20;
/** Pings find clients that vanished without closing (a laptop put to sleep). */
const PING_INTERVAL_MS = 30_000;
/** Endings kept for GET /api/runs/<runId> after the run is gone. */
const RECENT_RESULTS = 20;

export class LiveStream {
  private readonly clients = new Set<WebSocket>();
  private readonly alive = new WeakSet<WebSocket>();
  private readonly watched = new WeakSet<Run>();
  private readonly recent = new Map<string, RunEnded>();
  private readonly unobserve: () => void;
  private readonly pinger: NodeJS.Timeout;

  /** `link` names a run's archive in its ending (a signed link where the coordinator has a token). */
  constructor(
    private readonly coordinator: Coordinator,
    private readonly link?: (runId: string) => string,
  ) {
    this.unobserve = coordinator.observe({
      onLive: (snapshot) => {
        // Runs started by anything but the API (none today) still get their ending told.
        const run = coordinator.run;
        if (run) this.watch(run);
        this.broadcast({ type: 'live', snapshot }, true);
      },
      onNotice: (message) => this.broadcast({ type: 'notice', message }, false),
    });
    this.pinger = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  /** Tells every client how `run` ended, once its report is written. */
  watch(run: Run): void {
    if (this.watched.has(run)) return;
    this.watched.add(run);
    void run.done.then((result) => {
      const ended = runEnded(result, this.link);
      this.recent.set(ended.runId, ended);
      if (this.recent.size > RECENT_RESULTS) this.recent.delete(this.recent.keys().next().value!);
      this.broadcast({ type: 'ended', result: ended }, false);
    });
  }

  /** How a recent run ended, if this coordinator saw it end. */
  ended(runId: string): RunEnded | undefined {
    return this.recent.get(runId);
  }

  /** Serves one client until it closes; it gets the active run's state at once. */
  add(socket: WebSocket): void {
    this.clients.add(socket);
    this.alive.add(socket);
    socket.on('pong', () => this.alive.add(socket));
    socket.on('close', () => this.clients.delete(socket));
    socket.on('error', () => socket.terminate());
    // Clients only listen; whatever they send is ignored.
    const run = this.coordinator.run;
    if (run) this.send(socket, JSON.stringify({ type: 'live', snapshot: run.snapshot() } satisfies LiveMessage), true);
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    clearInterval(this.pinger);
    this.unobserve();
    for (const socket of this.clients) socket.close(1001, 'coordinator shutting down');
    this.clients.clear();
  }

  private broadcast(message: LiveMessage, skippable: boolean): void {
    if (this.clients.size === 0) return;
    const text = JSON.stringify(message);
    for (const socket of this.clients) this.send(socket, text, skippable);
  }

  private send(socket: WebSocket, text: string, skippable: boolean): void {
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount > DROP_CLIENT_BYTES) {
      this.clients.delete(socket);
      socket.terminate();
      return;
    }
    if (skippable && socket.bufferedAmount > SKIP_LIVE_BYTES) return;
    socket.send(text);
  }

  private ping(): void {
    for (const socket of this.clients) {
      if (!this.alive.has(socket)) {
        this.clients.delete(socket);
        socket.terminate();
        continue;
      }
      this.alive.delete(socket);
      socket.ping();
    }
  }
}
