/**
 * Watches a run's devices against the process's open-file limit. Each device
 * holds a socket; past the limit every connect fails with EMFILE, which a user
 * of a generator started from a shell otherwise sees only as a growing error
 * count. The watch says so once per run, naming the limit, when the run gives
 * this generator more devices than the limit allows and when the first
 * `too_many_open_files` error is counted.
 */
import { DEVICE_ERROR } from '../shared/errors.js';
import { counterName, errorKey } from '../shared/metrics.js';

/** Descriptors a generator holds besides its devices' sockets (worker threads, pollers, the coordinator link, logs). */
export const RESERVED_DESCRIPTORS = 64;

const HOW_TO_RAISE = 'raise the hard limit before starting the generator (`ulimit -n`, LimitNOFILE= in a systemd unit, /etc/security/limits.conf; fs.nr_open and fs.file-max in /etc/sysctl.d)';

export class OpenFileWatch {
  private runId: string | undefined;
  private readonly cohorts = new Map<number, number>();
  private devices = 0;
  private toldDevices = false;
  private toldErrors = false;

  /** `limit`: the soft RLIMIT_NOFILE (Infinity: unlimited; null: unknown, nothing is watched for devices). */
  constructor(private readonly limit: number | null) {}

  /** Devices this generator can hold with the limit it has. */
  get deviceCapacity(): number | null {
    return this.limit === null ? null : Math.max(0, this.limit - RESERVED_DESCRIPTORS);
  }

  /** A cohort of `devices` started; the warning when the run now exceeds the limit (once per run). */
  cohortStarted(runId: string, cohortId: number, devices: number): string | undefined {
    this.enter(runId);
    this.cohorts.set(cohortId, devices);
    this.devices += devices;
    const capacity = this.deviceCapacity;
    if (capacity === null || this.devices <= capacity || this.toldDevices) return undefined;
    this.toldDevices = true;
    return `this run gives this generator ${this.devices} devices, more than its open-file limit of ${this.limit} allows (about ${capacity} devices); devices past it fail with ${DEVICE_ERROR.tooManyOpenFiles}: ${HOW_TO_RAISE}`;
  }

  cohortStopped(runId: string, cohortId: number): void {
    if (runId !== this.runId) return;
    this.devices -= this.cohorts.get(cohortId) ?? 0;
    this.cohorts.delete(cohortId);
  }

  /** An interval's counters; the notice for the run's first too_many_open_files errors. */
  countersSeen(runId: string | null, counters: Readonly<Record<string, number>>): string | undefined {
    const count = counters[counterName(errorKey(DEVICE_ERROR.tooManyOpenFiles))] ?? 0;
    if (runId === null || count === 0) return undefined;
    this.enter(runId);
    if (this.toldErrors) return undefined;
    this.toldErrors = true;
    const limit = this.limit === null ? 'its open-file limit' : `its open-file limit of ${this.limit === Infinity ? 'unlimited' : this.limit} descriptors`;
    return `devices are failing with ${DEVICE_ERROR.tooManyOpenFiles}: this generator reached ${limit} (or the system's): ${HOW_TO_RAISE}`;
  }

  private enter(runId: string): void {
    if (runId === this.runId) return;
    this.runId = runId;
    this.cohorts.clear();
    this.devices = 0;
    this.toldDevices = false;
    this.toldErrors = false;
  }
}
