/**
 * A generator that speaks the coordinator's protocol but runs no devices: every
 * second it reports the utilisation the test sets (CPU, network) and as active
 * the devices it was told to start. A real generator reports the machine's CPU,
 * which a test cannot set; this one shows the coordinator and the website a
 * generator at 95 % (or any figure) on demand.
 */
import type { Coordinator } from '../../ts/coordinator/coordinator.js';
import { PROTOCOL_VERSION, type CoordinatorMessage, type Telemetry } from '../../ts/shared/protocol.js';
import { inProcessLink } from '../../ts/shared/transport.js';

const TELEMETRY_INTERVAL_MS = 1000;

export interface ScriptedUtilisation {
  cpuPercent: number;
  networkRxBytesPerSecond: number;
  networkTxBytesPerSecond: number;
  /** The interfaces those bytes count (default none named). */
  networkInterfaces?: string[];
  /** Their link speed, bits per second (default unknown). */
  networkLinkBitsPerSecond?: number;
}

export interface ScriptedGenerator {
  readonly id: string;
  /** What the next telemetry reports; change it at any time. */
  utilisation: ScriptedUtilisation;
  /** Devices it was told to start and not yet to stop. */
  readonly activeDevices: number;
  close(): void;
}

export interface ScriptedEnd {
  /** How long after `end_run` the final telemetry goes (default 0); Infinity: it never does. */
  finalDelayMs?: number;
  /** Counters the final telemetry carries (what the stopped devices measured last). */
  finalCounters?: Record<string, number>;
}

/** Joins the coordinator over an in-process link, as the embedded mode's generators do. */
export function attachScriptedGenerator(coordinator: Coordinator, id: string, utilisation: ScriptedUtilisation, end: ScriptedEnd = {}): ScriptedGenerator {
  const link = inProcessLink();
  const cohorts = new Map<number, number>();
  let runId: string | null = null;
  let seq = 0;
  const generator: ScriptedGenerator = {
    id,
    utilisation,
    get activeDevices() {
      return [...cohorts.values()].reduce((a, b) => a + b, 0);
    },
    close() {
      clearInterval(timer);
      link.generator.close('test over');
    },
  };
  const telemetry = (final = false, counters: Record<string, number> = {}): Telemetry => {
    const seconds = TELEMETRY_INTERVAL_MS / 1000;
    const { cpuPercent, networkRxBytesPerSecond, networkTxBytesPerSecond, networkInterfaces, networkLinkBitsPerSecond } = generator.utilisation;
    return {
      type: 'telemetry',
      generatorId: id,
      runId,
      seq: seq++,
      at: Date.now(),
      intervalMs: TELEMETRY_INTERVAL_MS,
      activeDevices: generator.activeDevices,
      cpuPercent,
      networkRxBytes: networkRxBytesPerSecond * seconds,
      networkTxBytes: networkTxBytesPerSecond * seconds,
      ...(networkInterfaces ? { networkInterfaces } : {}),
      ...(networkLinkBitsPerSecond !== undefined ? { networkLinkBitsPerSecond } : {}),
      counters,
      histograms: {},
      ...(final ? { final } : {}),
    };
  };
  const timer = setInterval(() => link.generator.send(telemetry()), TELEMETRY_INTERVAL_MS);
  link.generator.onMessage((m: CoordinatorMessage) => {
    if (m.type === 'welcome') link.generator.send(telemetry());
    else if (m.type === 'prepare_run') {
      runId = m.runId;
      link.generator.send({ type: 'run_ready', generatorId: id, runId: m.runId });
    } else if (m.type === 'start_cohort')
      cohorts.set(
        m.cohortId,
        m.devices.reduce((a, b) => a + b, 0),
      );
    else if (m.type === 'stop_cohort') cohorts.delete(m.cohortId);
    else if (m.type === 'end_run') {
      cohorts.clear();
      const delay = end.finalDelayMs ?? 0;
      if (delay === Infinity) {
        // Paused for good: no telemetry at all from here on.
        clearInterval(timer);
        return;
      }
      const finalPush = () => {
        link.generator.send(telemetry(true, end.finalCounters));
        runId = null;
      };
      if (delay > 0) setTimeout(finalPush, delay);
      else finalPush();
    }
  });
  link.generator.onClose(() => clearInterval(timer));
  coordinator.attachGenerator(link.coordinator);
  link.generator.send({ type: 'hello', version: PROTOCOL_VERSION, generatorId: id, workers: 1 });
  return generator;
}
