/**
 * Every setting a Stressgrid program reads from its command line or environment,
 * in one table: its variable, its flag, its default, how a value is checked and
 * the help text. The programs build their options and --help from it, and tests
 * hold the README's tables and deploy/env's files to it, so a setting cannot be
 * read two ways or documented with another default.
 */
import { CONTROL_CHARACTER } from './control-characters.js';
import { MAX_ID_LENGTH } from './protocol-validation.js';

export type ProgramName = 'stressgrid-coordinator' | 'stressgrid-generator' | 'sgcli';

/** How a program takes a setting: a flag (which wins) or its variable, or the variable only. */
export type Takes = 'flag' | 'env';

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

export interface Setting<T> {
  /** The environment variable. */
  readonly env: string;
  /** The flag, for the programs that take one (see `programs`). */
  readonly flag?: `--${string}`;
  /** The flag's argument as --help shows it. */
  readonly arg?: string;
  readonly programs: Readonly<Partial<Record<ProgramName, Takes>>>;
  /** The value when unset; undefined: none, or one the program works out (`defaultText` says which). */
  readonly fallback: T | undefined;
  /** The default as --help, the README and deploy/env say it. */
  readonly defaultText: string;
  readonly help: string;
  /** The value of a non-empty raw string, or what is wrong with it ("must be …, got …"). */
  check(raw: string): Checked<T>;
}

const got = (raw: string): string => `got ${JSON.stringify(raw)}`;
const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = <T>(problem: string): Checked<T> => ({ ok: false, problem });

function port(raw: string): Checked<number> {
  const text = raw.trim();
  const value = Number(text);
  return /^\d+$/.test(text) && value <= 65535 ? ok(value) : bad(`must be a port from 0 to 65535 (0: any free one), ${got(raw)}`);
}

function positiveSeconds(raw: string): Checked<number> {
  const text = raw.trim();
  const value = Number(text);
  return /^\d+(\.\d+)?$/.test(text) && value > 0 ? ok(value) : bad(`must be a positive number of seconds, ${got(raw)}`);
}

function wholeNumber(min: number, max: number, raw: string): Checked<number> {
  const text = raw.trim();
  const value = Number(text);
  return /^\d+$/.test(text) && Number.isSafeInteger(value) && value >= min && value <= max ? ok(value) : bad(`must be a whole number from ${min} to ${max}, ${got(raw)}`);
}

function oneOf<V extends string>(values: readonly V[], raw: string): Checked<V> {
  return (values as readonly string[]).includes(raw) ? ok(raw as V) : bad(`must be ${values.map((v) => `"${v}"`).join(' or ')}, ${got(raw)}`);
}

/** The longest a signed download link may be valid: ten years. */
export const MAX_LINK_EXPIRY_SECONDS = 10 * 365 * 24 * 3600;
/** What STRESSGRID_NETIO may say: netio and nothing else, or the node:net / node:dgram fallback. */
export const NETIO_CHOICES = ['native', 'node'] as const;
export type NetioChoice = (typeof NETIO_CHOICES)[number];
/** An AWS region name, like us-east-1. */
export const AWS_REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const CW_OFF = new Set(['off', 'none', 'false', '0']);
/** CW_REGION: a region, `auto` (the EC2 instance's) or `off`. */
export type CloudWatchRegionSetting = { kind: 'off'; raw: string } | { kind: 'auto' } | { kind: 'region'; region: string };

export const SETTINGS = {
  port: {
    env: 'STRESSGRID_PORT',
    flag: '--port',
    arg: '<n>',
    programs: { 'stressgrid-coordinator': 'flag' },
    fallback: 8000,
    defaultText: '8000',
    help: 'website and API port',
    check: port,
  } satisfies Setting<number>,
  generatorPort: {
    env: 'STRESSGRID_GENERATOR_PORT',
    flag: '--generator-port',
    arg: '<n>',
    programs: { 'stressgrid-coordinator': 'flag' },
    fallback: 9696,
    defaultText: '9696',
    help: 'port generators connect to',
    check: port,
  } satisfies Setting<number>,
  host: {
    env: 'STRESSGRID_HOST',
    flag: '--host',
    arg: '<address>',
    programs: { 'stressgrid-coordinator': 'flag' },
    fallback: '0.0.0.0',
    defaultText: '0.0.0.0',
    help: 'address both ports listen on',
    check: (raw: string) => {
      const host = raw.trim();
      return host !== '' && !/\s/.test(host) ? ok(host) : bad<string>(`must be an address to listen on, like 0.0.0.0 or 127.0.0.1; ${got(raw)}`);
    },
  } satisfies Setting<string>,
  dataDir: {
    env: 'STRESSGRID_DATA_DIR',
    flag: '--data-dir',
    arg: '<dir>',
    programs: { 'stressgrid-coordinator': 'flag' },
    fallback: './data',
    defaultText: './data',
    help: 'where run reports are kept',
    check: (raw: string) => (raw.trim() !== '' ? ok(raw) : bad<string>('must be a directory path')),
  } satisfies Setting<string>,
  reportInterval: {
    env: 'REPORT_INTERVAL_SECONDS',
    flag: '--report-interval',
    arg: '<s>',
    programs: { 'stressgrid-coordinator': 'flag', sgcli: 'flag' },
    fallback: 60,
    defaultText: '60',
    help: 'seconds between report rows',
    check: positiveSeconds,
  } satisfies Setting<number>,
  linkExpiry: {
    env: 'STRESSGRID_LINK_EXPIRY_SECONDS',
    flag: '--link-expiry',
    arg: '<s>',
    programs: { 'stressgrid-coordinator': 'flag' },
    fallback: 7 * 24 * 3600,
    defaultText: '604800',
    help: 'seconds a signed download link stays valid, with a token (604800: a week)',
    check: (raw: string) => {
      const text = raw.trim();
      const seconds = Number(text);
      return /^\d+$/.test(text) && seconds > 0 && seconds <= MAX_LINK_EXPIRY_SECONDS
        ? ok(seconds)
        : bad<number>(`must be a whole number of seconds from 1 to ${MAX_LINK_EXPIRY_SECONDS} (ten years), ${got(raw)}`);
    },
  } satisfies Setting<number>,
  token: {
    env: 'STRESSGRID_TOKEN',
    flag: '--token',
    arg: '<token>',
    // The coordinator takes it from its environment only: a command line is visible to every user of the machine.
    programs: { 'stressgrid-coordinator': 'env', 'stressgrid-generator': 'flag', sgcli: 'flag' },
    fallback: undefined,
    defaultText: 'none',
    help: 'shared secret of the website, the API and the generators',
    check: (raw: string) => ok(raw),
  } satisfies Setting<string>,
  cloudWatchRegion: {
    env: 'CW_REGION',
    programs: { 'stressgrid-coordinator': 'env' },
    fallback: undefined,
    defaultText: "AWS_REGION, else the instance's region on EC2, else off",
    help: "send metrics to Amazon CloudWatch in this region; `auto`: this EC2 instance's region; `off`: never",
    check: (raw: string): Checked<CloudWatchRegionSetting> => {
      const value = raw.trim().toLowerCase();
      if (CW_OFF.has(value)) return ok({ kind: 'off', raw: raw.trim() });
      if (value === 'auto') return ok({ kind: 'auto' });
      if (AWS_REGION_PATTERN.test(value)) return ok({ kind: 'region', region: value });
      return bad(`must be an AWS region like us-east-1, \`auto\` (this EC2 instance's region) or \`off\`; ${got(raw.trim())}`);
    },
  } satisfies Setting<CloudWatchRegionSetting>,
  prometheusRemoteWrite: {
    env: 'PROMETHEUS_REMOTE_WRITE_URL',
    flag: '--prometheus-remote-write',
    arg: '<url>',
    programs: { 'stressgrid-coordinator': 'flag', sgcli: 'flag' },
    fallback: undefined,
    defaultText: 'off',
    help: 'push every second of a run to this Prometheus remote-write URL',
    check: (raw: string) => {
      let parsed: URL;
      try {
        parsed = new URL(raw.trim());
      } catch {
        return bad<string>(`must be an http:// or https:// URL like http://prometheus:9090/api/v1/write, ${got(raw)}`);
      }
      return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? ok(raw.trim()) : bad<string>(`must be an http:// or https:// URL, got ${parsed.protocol} (${JSON.stringify(raw)})`);
    },
  } satisfies Setting<string>,
  prometheusRemoteWriteLabels: {
    env: 'PROMETHEUS_REMOTE_WRITE_LABELS',
    flag: '--prometheus-remote-write-labels',
    arg: '<k=v,...>',
    programs: { 'stressgrid-coordinator': 'flag', sgcli: 'flag' },
    fallback: undefined,
    defaultText: 'none',
    help: 'labels added to every pushed series',
    // Each pair is checked with the writer's other settings (prometheus-writer-kind.ts).
    check: (raw: string) => ok(raw),
  } satisfies Setting<string>,
  prometheusBearerToken: {
    env: 'PROMETHEUS_REMOTE_WRITE_BEARER_TOKEN',
    programs: { 'stressgrid-coordinator': 'env', sgcli: 'env' },
    fallback: undefined,
    defaultText: 'none',
    help: "the remote-write receiver's bearer token",
    check: (raw: string) => ok(raw),
  } satisfies Setting<string>,
  prometheusUsername: {
    env: 'PROMETHEUS_REMOTE_WRITE_USERNAME',
    programs: { 'stressgrid-coordinator': 'env', sgcli: 'env' },
    fallback: undefined,
    defaultText: 'none',
    help: "the remote-write receiver's basic-auth user name (or in the URL)",
    check: (raw: string) => ok(raw),
  } satisfies Setting<string>,
  prometheusPassword: {
    env: 'PROMETHEUS_REMOTE_WRITE_PASSWORD',
    programs: { 'stressgrid-coordinator': 'env', sgcli: 'env' },
    fallback: undefined,
    defaultText: 'none',
    help: "the remote-write receiver's basic-auth password, with PROMETHEUS_REMOTE_WRITE_USERNAME",
    check: (raw: string) => ok(raw),
  } satisfies Setting<string>,
  coordinatorUrl: {
    env: 'COORDINATOR_URL',
    flag: '--coordinator-url',
    arg: '<url>',
    programs: { 'stressgrid-generator': 'flag' },
    fallback: 'ws://localhost:9696',
    defaultText: 'ws://localhost:9696',
    help: "the coordinator's generator port, ws:// or wss://",
    check: (raw: string) => {
      let parsed: URL;
      try {
        parsed = new URL(raw);
      } catch {
        return bad<string>(`${JSON.stringify(raw)} is not a URL (for example ws://coordinator:9696)`);
      }
      return parsed.protocol === 'ws:' || parsed.protocol === 'wss:' ? ok(parsed.href) : bad<string>(`must be a ws:// or wss:// URL, ${got(raw)}`);
    },
  } satisfies Setting<string>,
  generatorId: {
    env: 'GENERATOR_ID',
    flag: '--id',
    arg: '<id>',
    programs: { 'stressgrid-generator': 'flag', sgcli: 'env' },
    fallback: undefined,
    defaultText: 'the host name',
    help: "the generator's name in reports",
    check: (raw: string) => {
      const id = raw.trim();
      return id !== '' && id.length <= MAX_ID_LENGTH && !CONTROL_CHARACTER.test(id) ? ok(id) : bad<string>(`must be 1 to ${MAX_ID_LENGTH} printable characters, ${got(raw)}`);
    },
  } satisfies Setting<string>,
  workers: {
    env: 'STRESSGRID_WORKERS',
    flag: '--workers',
    arg: '<n>',
    programs: { 'stressgrid-generator': 'flag', sgcli: 'env' },
    fallback: undefined,
    defaultText: 'one per core',
    help: 'worker threads',
    check: (raw: string) => wholeNumber(1, 4096, raw),
  } satisfies Setting<number>,
  netio: {
    env: 'STRESSGRID_NETIO',
    programs: { 'stressgrid-generator': 'env', sgcli: 'env' },
    fallback: undefined,
    defaultText: 'netio when its addon loads, else node:net / node:dgram',
    help: 'engine of TCP and UDP device sockets: `native` (netio, and a missing addon is an error) or `node` (node:net / node:dgram)',
    check: (raw: string) => oneOf(NETIO_CHOICES, raw),
  } satisfies Setting<NetioChoice>,
  networkInterface: {
    env: 'STRESSGRID_NETWORK_INTERFACE',
    programs: { 'stressgrid-generator': 'env', sgcli: 'env' },
    fallback: undefined,
    defaultText: 'every interface but loopback (loopback too while a target is on it)',
    help: 'the one network interface whose bytes the generator reports',
    check: (raw: string) => ok(raw.trim()),
  } satisfies Setting<string>,
} as const;

export type SettingKey = keyof typeof SETTINGS;
type ValueOf<K extends SettingKey> = (typeof SETTINGS)[K] extends Setting<infer T> ? T : never;

/** Every setting, as the table lists them. */
export const ALL_SETTINGS: readonly Setting<unknown>[] = Object.values(SETTINGS);

/** The settings `program` reads, in table order. */
export function settingsOf(program: ProgramName): Setting<unknown>[] {
  return ALL_SETTINGS.filter((s) => s.programs[program] !== undefined);
}

/** How a problem names a setting: by the variable when it came from there. */
export function settingLabel(setting: Setting<unknown>, fromFlag: boolean): string {
  if (fromFlag) return setting.flag!;
  return setting.flag !== undefined ? `${setting.env} (or ${setting.flag})` : setting.env;
}

/**
 * A setting's value: the flag's when given, else the variable's when set and not
 * empty, else the fallback. A bad value is a problem that names where it came from.
 */
export function readSetting<K extends SettingKey>(
  key: K,
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; value: ValueOf<K> | undefined } | { ok: false; problem: string; from: string; message: string } {
  const setting = SETTINGS[key] as unknown as Setting<ValueOf<K>>;
  const raw = flag ?? (env[setting.env] || undefined);
  if (raw === undefined) return { ok: true, value: setting.fallback };
  const checked = setting.check(raw);
  if (checked.ok) return checked;
  const from = flag !== undefined ? setting.flag! : setting.env;
  return { ok: false, problem: `${settingLabel(setting, flag !== undefined)}: ${checked.problem}`, from, message: checked.problem };
}

/** The setting's --help line: its help, variable and default. */
export function settingHelp(setting: Setting<unknown>): string {
  return `${setting.help} (env ${setting.env}, default ${setting.defaultText})`;
}

/** The flags `program` takes, as commander options: flag, argument and --help line. */
export function settingFlags(program: ProgramName): { flags: string; help: string }[] {
  return settingsOf(program)
    .filter((s) => s.programs[program] === 'flag' && s.flag !== undefined)
    .map((s) => ({ flags: `${s.flag} ${s.arg}`, help: settingHelp(s) }));
}

/** --help's closing lines for the settings `program` takes from its environment only. */
export function environmentOnlyHelp(program: ProgramName): string {
  return settingsOf(program)
    .filter((s) => s.programs[program] === 'env')
    .map((s) => `\n${s.env} (environment only): ${s.help} (default ${s.defaultText}).`)
    .join('');
}
