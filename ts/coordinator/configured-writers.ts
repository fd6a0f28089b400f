/**
 * The writers a coordinator adds to every run beyond the archive's own (CSV and
 * histogram log), as its environment configures them. A new kind of writer is
 * one more entry here and its own file; the run knows only the Writer interface.
 */
import { cloudWatchChoice, resolveCloudWatchRegion } from './cloudwatch-region.js';
import type { Writer } from './writer.js';

export interface ConfiguredWriters {
  /** Called once per run: fresh writers for it. */
  create: () => Writer[];
  /** One line per writer kind, on or off and why, for the start-up log. */
  described: string[];
}

export async function configuredWriters(
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
  onEc2?: () => Promise<boolean>,
): Promise<{ ok: true; writers: ConfiguredWriters } | { ok: false; problems: string[] }> {
  const choice = cloudWatchChoice(env);
  if (!choice.ok) return { ok: false, problems: [choice.problem] };
  const cloudWatch = await resolveCloudWatchRegion(choice.choice, env, onEc2);
  if ('why' in cloudWatch) return { ok: true, writers: { create: () => [], described: [`CloudWatch metrics off (${cloudWatch.why})`] } };
  // The AWS SDK takes a quarter of a second to load: only a coordinator that sends to CloudWatch pays for it.
  const { CloudWatchWriter } = await import('./cloudwatch-writer.js');
  const { region } = cloudWatch;
  return {
    ok: true,
    writers: {
      create: () => [new CloudWatchWriter({ region, log })],
      described: [`CloudWatch metrics on, region ${region} (from ${cloudWatch.from})`],
    },
  };
}
