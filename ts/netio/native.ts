/**
 * Loads the netio addon (crates/netio): a prebuild matching this platform when
 * the package carries one, else the one `npm install` built with cargo. Unlike
 * the histogram addon it is optional: without it TCP and UDP devices run on
 * node:net / node:dgram (ts/generator/protocols/socket-transport.ts says which).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Opaque handle of one engine (one poller) on this thread. */
export type EngineHandle = { readonly __brand: 'NetioEngine' };

// The numbers below are the addon's too: it exports them as `constants`, and
// test/netio/constants.test.ts fails when the two tables differ.

/** `transport` argument of `connect` (crates/netio/src/engine.rs `Transport::ALL`). */
export const TRANSPORT = Object.freeze({ tcp: 0, udp: 1 });

/** Kinds in the event batch (crates/netio/src/batch.rs `EventKind::ALL`). */
export const EVENT = Object.freeze({ connected: 1, connectFailed: 2, data: 3, sent: 4, failed: 5 });
/** Integers per event: `[kind, id, a, b]`. */
export const EVENT_WIDTH = 4;
/** Reported where an errno would be when the peer closed the connection (engine.rs `PEER_CLOSED`). */
export const PEER_CLOSED = 0x10000;

/** Receive one batch: `events` holds EVENT_WIDTH int32s per event; `data` the payloads they point into. */
export type EventsCallback = (events: ArrayBuffer, data: Buffer | null) => void;

/** The numbers the engine and this module share, as the addon defines them. */
export interface NetioConstants {
  readonly EVENT: Readonly<Record<string, number>>;
  readonly EVENT_WIDTH: number;
  readonly PEER_CLOSED: number;
  readonly TRANSPORT: Readonly<Record<string, number>>;
}

export interface NetioAddon {
  /** The engine's own event numbers, event width, `PEER_CLOSED` and transports. */
  readonly constants: NetioConstants;
  /** Whether this build has the thread wake mode (cargo feature `thread-wake` of crates/netio; off by default). */
  readonly threadWake: boolean;
  /**
   * `threaded`: wake the loop from a waiter thread instead of polling the fd on it (measured, not the default);
   * a build without `threadWake` throws ERR_NETIO_ARGUMENT.
   */
  createEngine(onEvents: EventsCallback, threaded?: boolean): EngineHandle;
  /** `[id, connUs]` (connUs -1 for TCP: a `connected` or `connectFailed` event follows), or -errno. */
  connect(engine: EngineHandle, transport: number, ip: string, port: number): [number, number] | number;
  /** 0 sent, 1 queued (a `sent` event follows), or -errno. */
  send(engine: EngineHandle, id: number, data: Uint8Array): number;
  /** The bytes that had arrived, 0 (a `data` event follows), or -errno. */
  recv(engine: EngineHandle, id: number): Buffer | number;
  close(engine: EngineHandle, id: number): void;
  /** `[bytesSent, bytesReceived, connectionsOpened, open]`. */
  stats(engine: EngineHandle): [number, number, number, number];
  destroyEngine(engine: EngineHandle): void;
  /** Raises the soft RLIMIT_NOFILE to the hard one: `[soft, hard, previous]` (-1: unlimited), or -errno. */
  raiseOpenFileLimit(): [number, number, number] | number;
  /** RLIMIT_NOFILE as it stands: `[soft, hard, soft]` (-1: unlimited), or -errno. */
  openFileLimit(): [number, number, number] | number;
}

const require = createRequire(import.meta.url);
/** dist/ts/netio/native.js → package root. */
const addonDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'crates', 'netio');

let loaded: { addon: NetioAddon } | { error: string } | undefined;

/** The addon, or why it could not be loaded. */
export function loadNetio(): { addon: NetioAddon } | { error: string } {
  if (loaded === undefined) {
    try {
      const nodeGypBuild = require('node-gyp-build') as (dir: string) => NetioAddon;
      loaded = { addon: nodeGypBuild(addonDir) };
    } catch (err) {
      loaded = { error: (err as Error).message.split('\n')[0]! };
    }
  }
  return loaded;
}
