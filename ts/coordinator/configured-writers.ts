/**
 * The writers a coordinator adds to every run beyond the archive's own (CSV and
 * histogram log), as its environment configures them. A new kind of writer is
 * one more entry here and its own file; the run knows only the Writer interface.
 */
import { CloudWatchWriter } from './cloudwatch-writer.js';
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
  const region = cloudWatch.region;
  const described = 'why' in cloudWatch ? `CloudWatch metrics off (${cloudWatch.why})` : `CloudWatch metrics on, region ${cloudWatch.region} (from ${cloudWatch.from})`;
  return {
    ok: true,
    writers: {
      create: () => (region === null ? [] : [new CloudWatchWriter({ region, log })]),
      described: [described],
    },
  };
}
