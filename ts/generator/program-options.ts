/**
 * Settings of the stressgrid-generator program. Each has an environment variable
 * (what the systemd unit's env file sets) and a flag of the same meaning; a flag
 * wins. Every problem is reported at once.
 */
import { hostname } from 'node:os';
import { readSetting, SETTINGS } from '../shared/settings.js';

export const COORDINATOR_URL_ENV = SETTINGS.coordinatorUrl.env;
export const GENERATOR_ID_ENV = SETTINGS.generatorId.env;
export const DEFAULT_COORDINATOR_URL = SETTINGS.coordinatorUrl.fallback;

export interface GeneratorFlags {
  coordinatorUrl?: string;
  id?: string;
  workers?: string;
  token?: string;
}

export interface GeneratorProgramOptions {
  coordinatorUrl: string;
  id: string;
  /** Undefined: one worker thread per core. */
  workers: number | undefined;
  token: string | undefined;
}

export type GeneratorOptionsResult = { ok: true; options: GeneratorProgramOptions } | { ok: false; problems: string[] };

export function resolveGeneratorOptions(flags: GeneratorFlags, env: NodeJS.ProcessEnv = process.env): GeneratorOptionsResult {
  const problems: string[] = [];
  const read = <T>(result: { ok: true; value: T | undefined } | { ok: false; problem: string }): T | undefined => {
    if (result.ok) return result.value;
    problems.push(result.problem);
    return undefined;
  };
  // Checked values come back as the URL's href; the default is written without the trailing slash.
  const coordinatorUrl = new URL(read(readSetting('coordinatorUrl', flags.coordinatorUrl, env)) ?? SETTINGS.coordinatorUrl.fallback).href;
  const id = read(readSetting('generatorId', flags.id, env)) ?? hostname();
  const workers = read(readSetting('workers', flags.workers, env));
  const token = read(readSetting('token', flags.token, env));
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, options: { coordinatorUrl, id, workers, token } };
}
