/**
 * How the settings turn the Prometheus remote-write writer on: a URL from
 * --prometheus-remote-write or PROMETHEUS_REMOTE_WRITE_URL, else off. Extra
 * labels from --prometheus-remote-write-labels or PROMETHEUS_REMOTE_WRITE_LABELS
 * (`env=staging,team=checkout`). Credentials come from the environment only (a
 * command line is visible to every user of the machine): a bearer token, or a
 * user name and password for basic auth (also accepted in the URL).
 */
import { RESERVED_PROMETHEUS_LABELS } from '../shared/prometheus-names.js';
import { pickSetting, settingName } from '../shared/program-settings.js';
import { SETTINGS } from '../shared/settings.js';
import type { WriterKind } from './writer.js';
import type { PrometheusWriterOptions } from './prometheus-writer.js';

export const PROMETHEUS_ENV = Object.freeze({
  url: SETTINGS.prometheusRemoteWrite.env,
  labels: SETTINGS.prometheusRemoteWriteLabels.env,
  bearerToken: SETTINGS.prometheusBearerToken.env,
  username: SETTINGS.prometheusUsername.env,
  password: SETTINGS.prometheusPassword.env,
});

export const PROMETHEUS_FLAG = Object.freeze({ url: SETTINGS.prometheusRemoteWrite.flag, labels: SETTINGS.prometheusRemoteWriteLabels.flag });

/** The two flags as commander hands them over. */
export interface PrometheusFlags {
  prometheusRemoteWrite?: string;
  prometheusRemoteWriteLabels?: string;
}

export type PrometheusSettings = Omit<PrometheusWriterOptions, 'log'>;

/** A bad setting: its name as the user gave it (`--prometheus-remote-write` or the variable), and what is wrong. */
export interface SettingProblem {
  setting: string;
  message: string;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The writer's options, or null when it is off; every problem at once. */
export function prometheusSettings(flags: PrometheusFlags, env: NodeJS.ProcessEnv): { ok: true; settings: PrometheusSettings | null } | { ok: false; problems: SettingProblem[] } {
  const problems: SettingProblem[] = [];
  const [rawUrl, urlSource] = pickSetting(flags.prometheusRemoteWrite, env, PROMETHEUS_ENV.url);
  const [rawLabels, labelsSource] = pickSetting(flags.prometheusRemoteWriteLabels, env, PROMETHEUS_ENV.labels);

  const labels: Array<[string, string]> = [];
  for (const pair of (rawLabels ?? '').split(',').filter((p) => p.trim() !== '')) {
    const at = pair.indexOf('=');
    const name = (at < 0 ? pair : pair.slice(0, at)).trim();
    const value = at < 0 ? '' : pair.slice(at + 1).trim();
    const where = settingName(PROMETHEUS_FLAG.labels, labelsSource);
    if (at < 0 || !LABEL_NAME.test(name) || value === '') problems.push({ setting: where, message: `${JSON.stringify(pair)} is not name=value (a name like env, a value that is not empty)` });
    else if (RESERVED_PROMETHEUS_LABELS.includes(name) || name.startsWith('__'))
      problems.push({ setting: where, message: `${name} is a label Stressgrid or Prometheus sets itself; pick another name` });
    else labels.push([name, value]);
  }

  const bearerToken = env[PROMETHEUS_ENV.bearerToken] || undefined;
  let username = env[PROMETHEUS_ENV.username] || undefined;
  let password = env[PROMETHEUS_ENV.password] || undefined;
  if (password !== undefined && username === undefined) problems.push({ setting: PROMETHEUS_ENV.password, message: `needs ${PROMETHEUS_ENV.username}` });

  let url: string | undefined;
  if (rawUrl !== undefined && rawUrl.trim() !== '') {
    const where = settingName(PROMETHEUS_FLAG.url, urlSource);
    let parsed: URL | undefined;
    try {
      parsed = new URL(rawUrl.trim());
    } catch {
      problems.push({ setting: where, message: `must be an http:// or https:// URL like http://prometheus:9090/api/v1/write, got ${JSON.stringify(rawUrl)}` });
    }
    if (parsed && parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      problems.push({ setting: where, message: `must be an http:// or https:// URL, got ${parsed.protocol} (${JSON.stringify(rawUrl)})` });
    } else if (parsed) {
      // fetch refuses URLs with credentials: they become the basic auth header.
      if (parsed.username) {
        username ??= decodeURIComponent(parsed.username);
        password ??= decodeURIComponent(parsed.password);
        parsed.username = '';
        parsed.password = '';
      }
      url = parsed.toString();
    }
  } else if (rawLabels !== undefined || bearerToken || username || password) {
    problems.push({ setting: `${PROMETHEUS_ENV.url} (or ${PROMETHEUS_FLAG.url})`, message: 'is not set: the remote-write labels and credentials have nowhere to go' });
  }
  if (bearerToken && username) problems.push({ setting: PROMETHEUS_ENV.bearerToken, message: 'give it or a user name and password for basic auth, not both' });

  if (problems.length > 0) return { ok: false, problems };
  if (url === undefined) return { ok: true, settings: null };
  return {
    ok: true,
    settings: {
      url,
      ...(labels.length > 0 ? { labels } : {}),
      ...(bearerToken ? { bearerToken } : {}),
      ...(username ? { basicAuth: { username, password: password ?? '' } } : {}),
    },
  };
}

/** The URL without its query (tokens sometimes ride there), for the start-up line. */
function shown(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`;
}

export function prometheusWriterKind(flags: PrometheusFlags = {}): WriterKind {
  return {
    async configure(env, log) {
      const checked = prometheusSettings(flags, env);
      if (!checked.ok) return { ok: false, problem: checked.problems.map((p) => `${p.setting}: ${p.message}`).join('; ') };
      const settings = checked.settings;
      if (settings === null) return { ok: true, create: null, described: `Prometheus remote write off (${PROMETHEUS_ENV.url} not set)` };
      const { PrometheusRemoteWriter } = await import('./prometheus-writer.js');
      const auth = settings.bearerToken ? ', bearer token' : settings.basicAuth ? ', basic auth' : '';
      const labels = settings.labels ? `, labels ${settings.labels.map(([k, v]) => `${k}=${v}`).join(',')}` : '';
      return { ok: true, create: () => new PrometheusRemoteWriter({ ...settings, log }), described: `Prometheus remote write on, to ${shown(settings.url)}${auth}${labels}` };
    },
  };
}
