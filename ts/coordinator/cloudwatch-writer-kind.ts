/**
 * How the environment turns the CloudWatch writer on: a region from CW_REGION,
 * AWS_REGION or the EC2 instance (cloudwatch-region.ts), else off.
 */
import { cloudWatchChoice, resolveCloudWatchRegion } from './cloudwatch-region.js';
import type { WriterKind } from './writer.js';

/** `onEc2` says whether this machine is an EC2 instance (default: its firmware says; tests answer for it). */
export function cloudWatchWriterKind(onEc2?: () => Promise<boolean>): WriterKind {
  return {
    async configure(env, log) {
      const choice = cloudWatchChoice(env);
      if (!choice.ok) return { ok: false, problem: choice.problem };
      const cloudWatch = await resolveCloudWatchRegion(choice.choice, env, onEc2);
      if ('why' in cloudWatch) return { ok: true, create: null, described: `CloudWatch metrics off (${cloudWatch.why})` };
      // The AWS SDK takes a quarter of a second to load: only a coordinator that sends to CloudWatch pays for it.
      const { CloudWatchWriter } = await import('./cloudwatch-writer.js');
      const { region } = cloudWatch;
      return { ok: true, create: () => new CloudWatchWriter({ region, log }), described: `CloudWatch metrics on, region ${region} (from ${cloudWatch.from})` };
    },
  };
}
