/**
 * The generator program's tie to its coordinator: dial, hand the link to the
 * generator, and when the link drops (coordinator restart, network failure,
 * refusal) dial again after a backoff, for as long as the program runs. A
 * generator is a long-lived machine service; giving up would need a person.
 */
import { WebSocket } from 'ws';
import { parseCoordinatorFrame } from '../shared/protocol-validation.js';
import { serializeGeneratorMessage } from '../shared/telemetry-frame.js';
import type { CoordinatorMessage, GeneratorMessage } from '../shared/protocol.js';
import type { GeneratorSide } from '../shared/transport.js';
import { DEFAULT_MAX_MESSAGE_BYTES, wsLink } from '../shared/ws-link.js';
import { Backoff } from '../shared/backoff.js';

/** How long the WebSocket handshake may take before the attempt counts as failed. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface CoordinatorConnectionOptions {
  /** `ws://` or `wss://`. */
  url: string;
  token?: string;
  /** Serves each link until it closes, and says when the coordinator welcomed it: the Generator. */
  generator: { connect(link: GeneratorSide, events: { welcomed(): void }): void };
  log: (line: string) => void;
  backoff?: Backoff;
  maxMessageBytes?: number;
  heartbeatMs?: number;
}

export class CoordinatorConnection {
  private socket: WebSocket | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly backoff: Backoff;

  private constructor(private readonly options: CoordinatorConnectionOptions) {
    this.backoff = options.backoff ?? new Backoff();
  }

  /** Starts dialling; keeps the generator connected until stop(). */
  static start(options: CoordinatorConnectionOptions): CoordinatorConnection {
    const connection = new CoordinatorConnection(options);
    connection.dial();
    return connection;
  }

  /** No more attempts; the link in use stays until its owner closes it. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  /** Resolves when the socket in use (if any) has closed, its last messages flushed. */
  ended(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => socket.once('close', () => resolve()));
  }

  private say(line: string): void {
    this.options.log(`stressgrid generator: ${line}`);
  }

  private dial(): void {
    if (this.stopped) return;
    const { url, token } = this.options;
    const socket = new WebSocket(url, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      maxPayload: this.options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.socket = socket;
    let failure: string | undefined;
    let opened = false;
    let failed = false;
    const fail = (why: string) => {
      if (failed) return;
      failed = true;
      this.again(why);
    };

    socket.once('unexpected-response', (req, res) => {
      // With this listener ws leaves the refused request to us: it emits no close.
      req.destroy();
      res.destroy();
      fail(
        res.statusCode === 401
          ? `the coordinator at ${url} refused the token (401): set the same STRESSGRID_TOKEN on both sides`
          : `the coordinator at ${url} answered HTTP ${res.statusCode} instead of a WebSocket upgrade`,
      );
    });
    socket.on('error', (err) => {
      failure ??= `could not connect to ${url}: ${err.message}`;
    });
    socket.once('open', () => {
      opened = true;
      // stop() came while this attempt was under way: the generator is shutting down.
      if (this.stopped) socket.close(1000, 'generator shutting down');
      else this.serve(socket);
    });
    socket.once('close', () => {
      if (!opened) fail(failure ?? `could not connect to ${url}`);
    });
  }

  private serve(socket: WebSocket): void {
    const link = wsLink<GeneratorMessage, CoordinatorMessage>(socket, parseCoordinatorFrame, {
      serialize: serializeGeneratorMessage,
      maxMessageBytes: this.options.maxMessageBytes,
      heartbeatMs: this.options.heartbeatMs,
      onInvalid: (reason) => this.say(`closed the link to the coordinator: ${reason}`),
    });
    link.onClose((reason) => this.again(`lost the coordinator at ${this.options.url}: ${reason}`));
    this.options.generator.connect(link, {
      // Only a link the coordinator welcomed in our protocol version counts as success; a refused one keeps backing off.
      welcomed: () => {
        this.backoff.reset();
        this.say(`connected to ${this.options.url}`);
      },
    });
  }

  private again(why: string): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    this.say(`${why}; attempt ${this.backoff.attempts} in ${(delay / 1000).toFixed(1)} s`);
    this.retry = setTimeout(() => this.dial(), delay);
  }
}
