/**
 * Messages between a generator process and its worker threads. Internal to the
 * generator: the coordinator never sees them (it speaks ts/shared/protocol.ts).
 */
import type { ResolvedPlan } from '../shared/plan.js';
import type { DrainedMetrics } from './metric-buffer.js';
import type { Target } from './protocols/device-connection.js';

/**
 * `arrivals`: serve iterations k ≡ slot (mod slots) of an arrival-rate block with a
 * pool of `targets.length` devices, its clock started at `startedAt`
 * (performance.timeOrigin + performance.now(), ms: the same instant on every thread),
 * from `from` seconds into the block on (0: its start; more for a generator that
 * rejoined a run under way).
 */

/** One device to start: which block's script, which target. */
export interface DeviceSpec {
  block: number;
  target: Target;
}

/** Orders that travel on the worker's stop-order port and overtake other work (stop-orders.ts). */
export type StopOrder = { type: 'stop'; runId: string; cohortId: number } | { type: 'end'; runId: string };

export type ToWorker =
  | { type: 'prepare'; runId: string; plan: ResolvedPlan }
  | { type: 'start'; runId: string; cohortId: number; devices: DeviceSpec[] }
  | { type: 'arrivals'; runId: string; block: number; slot: number; slots: number; targets: Target[]; startedAt: number; from: number }
  /** `final`: the run has ended; answer once its stopped devices' requests in flight have their answers. */
  | { type: 'collect'; seq: number; final?: boolean }
  | { type: 'shutdown' };

/** What a worker thread is started with. */
export interface WorkerStartData {
  /** The port stop orders come on. */
  stopOrders: import('node:worker_threads').MessagePort;
}

export type FromWorker =
  | { type: 'ready' }
  | { type: 'prepared'; runId: string; problem: string | null }
  | { type: 'collected'; seq: number; runId: string | null; activeDevices: number; metrics: DrainedMetrics }
  | { type: 'shut' };
