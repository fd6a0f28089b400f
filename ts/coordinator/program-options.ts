/**
 * Settings of the stressgrid-coordinator program. Each has an environment
 * variable (what the systemd unit's env file sets) and most a flag of the same
 * meaning; a flag wins. Every problem is reported at once. The token has no
 * flag: a command line is visible to every user of the machine.
 */
import { isIP } from 'node:net';
import { pickSetting, settingName } from '../shared/program-settings.js';
import { TOKEN_ENV } from '../shared/token.js';
import { DEFAULT_API_PORT } from './api-server.js';
import { REPORT_INTERVAL_ENV } from './coordinator.js';
import { GENERATOR_PORT } from './generator-server.js';
import { DEFAULT_LINK_EXPIRY_SECONDS, LINK_EXPIRY_ENV, parseLinkExpiry } from './download-links.js';
import { DEFAULT_DATA_DIR } from './report-store.js';
import { DEFAULT_REPORT_INTERVAL_SECONDS } from './run.js';

export const PORT_ENV = 'STRESSGRID_PORT';
export const GENERATOR_PORT_ENV = 'STRESSGRID_GENERATOR_PORT';
export const HOST_ENV = 'STRESSGRID_HOST';
export const DATA_DIR_ENV = 'STRESSGRID_DATA_DIR';
export const DEFAULT_HOST = '0.0.0.0';

export interface CoordinatorFlags {
  port?: string;
  generatorPort?: string;
  host?: string;
  dataDir?: string;
  reportInterval?: string;
  linkExpiry?: string;
}

export interface CoordinatorProgramOptions {
  port: number;
  generatorPort: number;
  host: string;
  dataDir: string;
  reportIntervalSeconds: number;
  /** How long a signed download link is valid. */
  linkExpirySeconds: number;
  token: string | undefined;
}

export type CoordinatorOptionsResult = { ok: true; options: CoordinatorProgramOptions } | { ok: false; problems: string[] };

export function resolveCoordinatorOptions(flags: CoordinatorFlags, env: NodeJS.ProcessEnv = process.env): CoordinatorOptionsResult {
  const problems: string[] = [];
  const pick = (flag: string | undefined, name: string) => pickSetting(flag, env, name);
  const named = settingName;

  const port = (option: string, name: string, fallback: number): number => {
    const [raw, source] = pick(option === '--port' ? flags.port : flags.generatorPort, name);
    if (raw === undefined) return fallback;
    const value = Number(raw.trim());
    if (!/^\d+$/.test(raw.trim()) || value > 65535) {
      problems.push(`${named(option, source)}: must be a port from 0 to 65535 (0: any free one), got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  };

  const [rawHost = DEFAULT_HOST, hostSource] = pick(flags.host, HOST_ENV);
  const host = rawHost.trim();
  if (host === '' || /\s/.test(host)) problems.push(`${named('--host', hostSource)}: must be an address to listen on, like 0.0.0.0 or 127.0.0.1; got ${JSON.stringify(rawHost)}`);

  const [dataDir = DEFAULT_DATA_DIR, dataSource] = pick(flags.dataDir, DATA_DIR_ENV);
  if (dataDir.trim() === '') problems.push(`${named('--data-dir', dataSource)}: must be a directory path`);

  const [rawInterval, intervalSource] = pick(flags.reportInterval, REPORT_INTERVAL_ENV);
  let reportIntervalSeconds = DEFAULT_REPORT_INTERVAL_SECONDS;
  if (rawInterval !== undefined) {
    reportIntervalSeconds = Number(rawInterval.trim());
    if (!/^\d+(\.\d+)?$/.test(rawInterval.trim()) || reportIntervalSeconds <= 0) {
      problems.push(`${named('--report-interval', intervalSource)}: must be a positive number of seconds, got ${JSON.stringify(rawInterval)}`);
    }
  }

  const [rawExpiry, expirySource] = pick(flags.linkExpiry, LINK_EXPIRY_ENV);
  let linkExpirySeconds = DEFAULT_LINK_EXPIRY_SECONDS;
  if (rawExpiry !== undefined) {
    const parsed = parseLinkExpiry(rawExpiry);
    if (parsed === null) problems.push(`${named('--link-expiry', expirySource)}: must be a whole number of seconds from 1 to 315360000 (ten years), got ${JSON.stringify(rawExpiry)}`);
    else linkExpirySeconds = parsed;
  }

  const options = {
    port: port('--port', PORT_ENV, DEFAULT_API_PORT),
    generatorPort: port('--generator-port', GENERATOR_PORT_ENV, GENERATOR_PORT),
    host,
    dataDir,
    reportIntervalSeconds,
    linkExpirySeconds,
    token: env[TOKEN_ENV] || undefined,
  };
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, options };
}

/** Whether only this machine can reach an address. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** The start-up warning for a coordinator anyone on the network may drive, or null. */
export function exposureWarning(options: Pick<CoordinatorProgramOptions, 'host' | 'token'>): string | null {
  if (options.token !== undefined || isLoopback(options.host)) return null;
  return (
    `WARNING: listening on ${options.host} without ${TOKEN_ENV}: anyone who can reach these ports can start and abort runs, ` +
    `read and delete reports, and join as a generator. Set ${TOKEN_ENV} (the same on every generator), or --host 127.0.0.1.`
  );
}
