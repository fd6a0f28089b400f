/**
 * Picks the engine of TCP/UDP device sockets: netio when its addon loads, else
 * node:net / node:dgram. `STRESSGRID_NETIO=node` forces the fallback (to compare,
 * or to rule netio out); `STRESSGRID_NETIO=native` makes a missing addon an
 * error instead of a quiet fallback.
 */
import { loadNetio } from '../../netio/native.js';
import { NETIO_CHOICES, readSetting, SETTINGS } from '../../shared/settings.js';
import type { MetricSink } from '../metric-sink.js';
import type { SocketConnection, Target } from './device-connection.js';
import { NetioConnection } from './netio-connection.js';
import { NodeSocketConnection } from './node-socket-connection.js';
import { SOCKET_DEFAULTS, type SocketOptions } from './socket-connection.js';

export const NETIO_ENV = SETTINGS.netio.env;
/** What NETIO_ENV may say: netio and nothing else, or the fallback. */
export const NETIO_ENV_VALUES = NETIO_CHOICES;

export const SOCKET_ENGINES = ['netio', 'node'] as const;
export type SocketEngine = (typeof SOCKET_ENGINES)[number];

/** The engine `env` selects; throws when it names an unknown one or demands a missing addon. */
export function socketEngine(env: NodeJS.ProcessEnv = process.env): SocketEngine {
  const read = readSetting('netio', undefined, env);
  if (!read.ok) throw new Error(read.problem);
  const wanted = read.value;
  if (wanted === 'node') return 'node';
  const loaded = loadNetio();
  if ('addon' in loaded) return 'netio';
  if (wanted === 'native') throw new Error(`${NETIO_ENV}=native, but the netio addon did not load: ${loaded.error}`);
  return 'node';
}

let chosen: SocketEngine | undefined;

export function createSocketConnection(target: Target, sink: MetricSink, options: SocketOptions = SOCKET_DEFAULTS, engine?: SocketEngine): SocketConnection {
  const use = engine ?? (chosen ??= socketEngine());
  if (use === 'netio') {
    const loaded = loadNetio();
    if ('addon' in loaded) return new NetioConnection(loaded.addon, target, sink, options);
    throw new Error(`the netio addon did not load: ${loaded.error}`);
  }
  return new NodeSocketConnection(target, sink, options);
}

/**
 * Records into `sink` the socket bytes counted natively on this thread since the
 * last call (netio); the fallback records its bytes as they move. Called once per
 * telemetry push, with the sink the thread's devices record into.
 */
export function recordSocketBytes(sink: MetricSink): void {
  NetioConnection.recordBytes(sink);
}
