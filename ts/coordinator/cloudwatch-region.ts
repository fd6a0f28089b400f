/**
 * Which AWS region, if any, the coordinator sends CloudWatch metrics to:
 * `CW_REGION` (a region, `auto` for the EC2 instance's own, or `off`), else
 * `AWS_REGION`, else the instance's region when the machine is an EC2 instance.
 * Instance metadata is asked only when `CW_REGION=auto` or the machine's
 * firmware says it is EC2, so starting anywhere else costs nothing.
 */
import { readFile } from 'node:fs/promises';
import { AWS_REGION_PATTERN, readSetting, SETTINGS } from '../shared/settings.js';

export const CW_REGION_ENV = SETTINGS.cloudWatchRegion.env;
export const AWS_REGION_ENV = 'AWS_REGION';
/** The SDK's own variable for the instance metadata endpoint (tests point it at a local server). */
export const IMDS_ENDPOINT_ENV = 'AWS_EC2_METADATA_SERVICE_ENDPOINT';
const IMDS_ENDPOINT = 'http://169.254.169.254';
/** Instance metadata answers within milliseconds on EC2; elsewhere nothing answers at all. */
const IMDS_TIMEOUT_MS = 1000;

export type CloudWatchChoice =
  | { kind: 'off'; why: string }
  | { kind: 'region'; region: string; from: string }
  /** Ask instance metadata: `auto` was asked for (failing is a warning), or the machine looks like EC2 (failing is silent). */
  | { kind: 'metadata'; asked: boolean };

/** Reads the variables; a CW_REGION that is neither a region, `auto` nor `off` is a problem. */
export function cloudWatchChoice(env: NodeJS.ProcessEnv): { ok: true; choice: CloudWatchChoice | 'detect' } | { ok: false; problem: string } {
  const read = readSetting('cloudWatchRegion', undefined, env);
  if (!read.ok) return read;
  const asked = read.value;
  if (asked?.kind === 'off') return { ok: true, choice: { kind: 'off', why: `${CW_REGION_ENV}=${asked.raw}` } };
  if (asked?.kind === 'auto') return { ok: true, choice: { kind: 'metadata', asked: true } };
  if (asked?.kind === 'region') return { ok: true, choice: { kind: 'region', region: asked.region, from: CW_REGION_ENV } };
  const aws = env[AWS_REGION_ENV]?.trim();
  if (aws) return { ok: true, choice: { kind: 'region', region: aws, from: AWS_REGION_ENV } };
  return { ok: true, choice: 'detect' };
}

/** True when the firmware names Amazon EC2 (Nitro and Xen instances alike); reading two small files, no network. */
export async function looksLikeEc2(files = ['/sys/class/dmi/id/board_vendor', '/sys/class/dmi/id/sys_vendor', '/sys/hypervisor/uuid']): Promise<boolean> {
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (/^Amazon EC2/i.test(text.trim()) || /^ec2/i.test(text.trim())) return true;
  }
  return false;
}

/** The instance's region from instance metadata, IMDSv2 (a session token first), within a short timeout. */
export async function instanceRegion(env: NodeJS.ProcessEnv = process.env, timeoutMs = IMDS_TIMEOUT_MS): Promise<string> {
  const base = (env[IMDS_ENDPOINT_ENV] || IMDS_ENDPOINT).replace(/\/+$/, '');
  const signal = AbortSignal.timeout(timeoutMs);
  const tokenResponse = await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }, signal });
  if (!tokenResponse.ok) throw new Error(`instance metadata refused a token (HTTP ${tokenResponse.status})`);
  const token = await tokenResponse.text();
  const regionResponse = await fetch(`${base}/latest/meta-data/placement/region`, { headers: { 'x-aws-ec2-metadata-token': token }, signal });
  if (!regionResponse.ok) throw new Error(`instance metadata has no region (HTTP ${regionResponse.status})`);
  const region = (await regionResponse.text()).trim();
  if (!AWS_REGION_PATTERN.test(region)) throw new Error(`instance metadata gave no region but ${JSON.stringify(region.slice(0, 40))}`);
  return region;
}

/** The region to send to, or why none; `say` gets a warning when `auto` found no region. */
export async function resolveCloudWatchRegion(
  choice: CloudWatchChoice | 'detect',
  env: NodeJS.ProcessEnv = process.env,
  onEc2: () => Promise<boolean> = () => looksLikeEc2(),
): Promise<{ region: string; from: string } | { region: null; why: string }> {
  if (choice === 'detect') {
    if (!(await onEc2())) return { region: null, why: `neither ${CW_REGION_ENV} nor ${AWS_REGION_ENV} is set and this is no EC2 instance` };
    choice = { kind: 'metadata', asked: false };
  }
  if (choice.kind === 'off') return { region: null, why: choice.why };
  if (choice.kind === 'region') return { region: choice.region, from: choice.from };
  try {
    return { region: await instanceRegion(env), from: 'EC2 instance metadata' };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    const why = e.name === 'TimeoutError' ? 'instance metadata did not answer' : e.cause?.code ? `instance metadata could not be reached (${e.cause.code})` : e.message;
    return { region: null, why: `${choice.asked ? `${CW_REGION_ENV}=auto` : 'this looks like EC2'} but ${why}` };
  }
}
