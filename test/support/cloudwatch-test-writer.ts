/**
 * A CloudWatchWriter aimed at the local endpoint (cloudwatch-endpoint.ts): the
 * real AWS SDK signing with fake credentials, and retries in milliseconds, so a
 * test of failing requests takes no longer than one of arriving ones.
 */
import { CloudWatchWriter, type CloudWatchWriterOptions } from '../../ts/coordinator/cloudwatch-writer.js';

/** AWS's documented example keys: the SDK signs with them, nothing checks them. */
export const FAKE_CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

/** Region the writer says it sends to unless told otherwise (it appears in the console link). */
export const LOCAL_CLOUDWATCH_REGION = 'us-east-1';

export function localCloudWatchWriter(endpoint: string, options: Partial<CloudWatchWriterOptions> = {}): CloudWatchWriter {
  return new CloudWatchWriter({
    region: LOCAL_CLOUDWATCH_REGION,
    client: { endpoint, credentials: FAKE_CREDENTIALS },
    backoff: { initialMs: 5, maxMs: 20 },
    drainTimeoutMs: 3000,
    ...options,
  });
}
