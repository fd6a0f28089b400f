/**
 * Runs one of the examples/ scripts through the compiled sgcli against a
 * server on loopback and reads the archive, as a user would.
 */
import type { ExecutionContext } from 'ava';
import { join } from 'node:path';
import { EXIT } from '../../ts/cli/exit-codes.js';
import type { Protocol } from '../../ts/shared/plan.js';
import { readArchive, type RunArchive } from '../e2e/run-archive.js';
import { ROOT, runSgcli, workspace } from '../e2e/sgcli-child.js';

export interface ExampleRun {
  archive: RunArchive;
  /** Histogram samples of `tag` over the whole run (from histograms.hlog). */
  samples: (tag: string) => number;
}

export async function runExample(
  t: ExecutionContext,
  example: string,
  options: { port: number; devices: number; sustain: number; params?: object; protocol?: Protocol; env?: Record<string, string> },
): Promise<ExampleRun> {
  const ws = await workspace(t);
  const run = await runSgcli(
    [
      'run',
      `example-${example}`,
      join(ROOT, 'examples', `${example}.js`),
      '--target-hosts',
      '127.0.0.1',
      '--target-port',
      String(options.port),
      '--target-protocol',
      options.protocol ?? 'http',
      '--size',
      String(options.devices),
      '--sustain',
      String(options.sustain),
      '--report-interval',
      '1',
      '--script-params',
      JSON.stringify(options.params ?? {}),
      '--data-dir',
      ws.dataDir,
    ],
    options.env,
  );
  t.is(run.code, EXIT.ok, run.stderr);
  const archive = await readArchive(run.archive!);
  return {
    archive,
    samples: (tag) => archive.hlog.filter((e) => e.tag === tag).reduce((sum, e) => sum + e.histogram.totalCount, 0),
  };
}

/**
 * `reported` is what the run counted, `seen` what the server counted: the
 * server may be ahead by at most one operation per device, those in flight
 * when the run stopped its devices.
 */
export function assertInFlightBound(t: ExecutionContext, reported: number, seen: number, devices: number, what: string): void {
  t.true(seen >= reported && seen - reported <= devices, `${what}: the run reported ${reported}, the server saw ${seen} (at most ${devices} more allowed)`);
}
