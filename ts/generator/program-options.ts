/**
 * Settings of the stressgrid-generator program. Each has an environment variable
 * (what the systemd unit's env file sets) and a flag of the same meaning; a flag
 * wins. Every problem is reported at once.
 */
import { hostname } from 'node:os';
import { MAX_ID_LENGTH } from '../shared/protocol-validation.js';
import { WORKERS_ENV } from './worker-pool.js';
import { pickSetting, settingName } from '../shared/program-settings.js';
import { TOKEN_ENV } from '../shared/token.js';

export const COORDINATOR_URL_ENV = 'COORDINATOR_URL';
export const GENERATOR_ID_ENV = 'GENERATOR_ID';
export const DEFAULT_COORDINATOR_URL = 'ws://localhost:9696';

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
  const pick = (flag: string | undefined, name: string) => pickSetting(flag, env, name);
  const label = settingName;

  const [url = DEFAULT_COORDINATOR_URL, urlSource] = pick(flags.coordinatorUrl, COORDINATOR_URL_ENV);
  let coordinatorUrl = url;
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
      problems.push(`${label('--coordinator-url', urlSource)}: must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);
    }
    coordinatorUrl = parsed.href;
  } catch {
    problems.push(`${label('--coordinator-url', urlSource)}: ${JSON.stringify(url)} is not a URL (for example ws://coordinator:9696)`);
  }

  const [rawId = hostname(), idSource] = pick(flags.id, GENERATOR_ID_ENV);
  const id = rawId.trim();
  if (id === '' || id.length > MAX_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(id)) {
    problems.push(`${label('--id', idSource)}: must be 1 to ${MAX_ID_LENGTH} printable characters, got ${JSON.stringify(rawId)}`);
  }

  const [rawWorkers, workersSource] = pick(flags.workers, WORKERS_ENV);
  let workers: number | undefined;
  if (rawWorkers !== undefined) {
    workers = Number(rawWorkers);
    if (!/^\d+$/.test(rawWorkers.trim()) || !Number.isSafeInteger(workers) || workers < 1 || workers > 4096) {
      problems.push(`${label('--workers', workersSource)}: must be a whole number from 1 to 4096, got ${JSON.stringify(rawWorkers)}`);
    }
  }

  const [token] = pick(flags.token, TOKEN_ENV);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, options: { coordinatorUrl, id, workers, token } };
}
