/**
 * Settings of the stressgrid-coordinator program. Each has an environment
 * variable (what the systemd unit's env file sets) and most a flag of the same
 * meaning; a flag wins. Every problem is reported at once. The token has no
 * flag: a command line is visible to every user of the machine.
 */
import { isIP } from 'node:net';
import { readSetting, SETTINGS } from '../shared/settings.js';

export const PORT_ENV = SETTINGS.port.env;
export const GENERATOR_PORT_ENV = SETTINGS.generatorPort.env;
export const HOST_ENV = SETTINGS.host.env;
export const DATA_DIR_ENV = SETTINGS.dataDir.env;
export const DEFAULT_HOST = SETTINGS.host.fallback;

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
  const read = <T>(result: { ok: true; value: T | undefined } | { ok: false; problem: string }, fallback: T): T => {
    if (result.ok) return result.value ?? fallback;
    problems.push(result.problem);
    return fallback;
  };
  const options: CoordinatorProgramOptions = {
    port: read(readSetting('port', flags.port, env), SETTINGS.port.fallback),
    generatorPort: read(readSetting('generatorPort', flags.generatorPort, env), SETTINGS.generatorPort.fallback),
    host: read(readSetting('host', flags.host, env), SETTINGS.host.fallback),
    dataDir: read(readSetting('dataDir', flags.dataDir, env), SETTINGS.dataDir.fallback),
    reportIntervalSeconds: read(readSetting('reportInterval', flags.reportInterval, env), SETTINGS.reportInterval.fallback),
    linkExpirySeconds: read(readSetting('linkExpiry', flags.linkExpiry, env), SETTINGS.linkExpiry.fallback),
    // The token has no flag here: a command line is visible to every user of the machine.
    token: read(readSetting('token', undefined, env), undefined),
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
    `WARNING: listening on ${options.host} without ${SETTINGS.token.env}: anyone who can reach these ports can start and abort runs, ` +
    `read and delete reports, and join as a generator. Set ${SETTINGS.token.env} (the same on every generator), or --host 127.0.0.1.`
  );
}
