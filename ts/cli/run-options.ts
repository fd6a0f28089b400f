/**
 * `sgcli run` options → plan. Option values arrive as the strings commander
 * collected; every problem is gathered (never the first only) with the option or
 * plan field it belongs to. The plan's own rules (ramp step, scripts that compile,
 * block shares) are checked by the runner's validation, not here.
 */
import { PLAN_DEFAULTS, PROTOCOLS, type PlanProblem, type Protocol } from '../shared/plan.js';
import { parseThresholdOption } from '../shared/thresholds.js';
import { readSetting, SETTINGS } from '../shared/settings.js';

/** Option values as commander hands them over: strings, or true for flags. */
export interface RunOptionValues {
  coordinator?: string;
  targetHosts?: string;
  targetPort?: string;
  targetProtocol?: string;
  size?: string;
  arrivalRate?: string;
  maxDevices?: string;
  scriptParams?: string;
  rampup?: string;
  sustain?: string;
  rampdown?: string;
  reportInterval?: string;
  plan?: string;
  dataDir?: string;
  demo?: boolean;
  /** `--threshold '<metric>: <expression>'`, repeatable. */
  threshold?: string[];
  summaryJson?: string;
  junit?: string;
}

export const REPORT_INTERVAL_ENV = SETTINGS.reportInterval.env;
export const DEFAULT_REPORT_INTERVAL_SECONDS = SETTINGS.reportInterval.fallback;
export const DEFAULT_TARGET_HOST = 'localhost';
export const DEFAULT_DATA_DIR = './data';

/** Options checked and converted; absent ones stay undefined so a --plan file's fields stand. */
export interface RunSettings {
  coordinator?: string;
  targetHosts?: string[];
  targetPort?: number;
  targetProtocol?: Protocol;
  size?: number;
  /** Iterations per second of every block (the open model), instead of --size devices. */
  arrivalRate?: number;
  maxDevices?: number;
  scriptParams?: Record<string, unknown>;
  rampup?: number;
  sustain?: number;
  rampdown?: number;
  reportIntervalSeconds: number;
  planFile?: string;
  dataDir: string;
  demo: boolean;
  /** Thresholds given with --threshold, added to the plan's. */
  thresholds: Array<{ metric: string; expression: string }>;
  /** Where --summary-json writes the end-of-run summary. */
  summaryJson?: string;
}

const INTEGER = /^\d+$/;
const DECIMAL = /^\d+(\.\d+)?$/;

function integerOption(raw: string | undefined, path: string, min: number, max: number | undefined, problems: PlanProblem[]): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  const value = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
    const range = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
    problems.push({ path, message: `must be a whole number ${range}, got ${JSON.stringify(raw)}` });
    return undefined;
  }
  return value;
}

function secondsOption(raw: string | undefined, path: string, problems: PlanProblem[], positive = false): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  const value = Number(text);
  if (!DECIMAL.test(text) || (positive && value === 0)) {
    problems.push({ path, message: `must be a ${positive ? 'positive' : 'non-negative'} number of seconds, got ${JSON.stringify(raw)}` });
    return undefined;
  }
  return value;
}

function rateOption(raw: string | undefined, path: string, problems: PlanProblem[]): number | undefined {
  if (raw === undefined) return undefined;
  const text = raw.trim();
  const value = Number(text);
  if (!DECIMAL.test(text) || value === 0) {
    problems.push({ path, message: `must be a positive number of iterations per second, got ${JSON.stringify(raw)}` });
    return undefined;
  }
  return value;
}

function jsonObjectOption(raw: string | undefined, path: string, problems: PlanProblem[]): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    problems.push({ path, message: `is not valid JSON: ${(error as Error).message}` });
    return undefined;
  }
  if (!isObject(value)) {
    problems.push({ path, message: 'must be a JSON object, like {"delayMs": 100}' });
    return undefined;
  }
  return value;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks every option at once; `env` supplies REPORT_INTERVAL_SECONDS when the option is absent. */
export function parseRunOptions(values: RunOptionValues, env: Record<string, string | undefined>): { settings: RunSettings; problems: PlanProblem[] } {
  const problems: PlanProblem[] = [];

  let targetHosts: string[] | undefined;
  if (values.targetHosts !== undefined) {
    targetHosts = values.targetHosts.split(',').map((host) => host.trim());
    if (targetHosts.some((host) => host === '')) {
      problems.push({ path: '--target-hosts', message: `must be host names or addresses separated by commas, got ${JSON.stringify(values.targetHosts)}` });
    }
  }

  let targetProtocol: Protocol | undefined;
  if (values.targetProtocol !== undefined) {
    if ((PROTOCOLS as readonly string[]).includes(values.targetProtocol)) {
      targetProtocol = values.targetProtocol as Protocol;
    } else {
      problems.push({ path: '--target-protocol', message: `must be one of ${PROTOCOLS.join(', ')}; got ${JSON.stringify(values.targetProtocol)}` });
    }
  }

  if (values.coordinator !== undefined && values.coordinator.trim() === '') {
    problems.push({ path: '--coordinator', message: "must be the coordinator's API URL, like http://coordinator:8000" });
  }
  if (values.dataDir !== undefined && values.dataDir.trim() === '') {
    problems.push({ path: '--data-dir', message: 'must be a directory path' });
  }
  if (values.plan !== undefined && values.plan.trim() === '') {
    problems.push({ path: '--plan', message: 'must be the path of a plan JSON file' });
  }

  const interval = readSetting('reportInterval', values.reportInterval, env);
  if (!interval.ok) problems.push({ path: interval.from, message: interval.message });
  const reportIntervalSeconds = interval.ok ? interval.value : undefined;

  const thresholds: RunSettings['thresholds'] = [];
  for (const text of values.threshold ?? []) {
    const parsed = parseThresholdOption(text);
    if (parsed.ok) thresholds.push({ metric: parsed.metric, expression: parsed.expression });
    else problems.push({ path: '--threshold', message: parsed.message });
  }
  if (values.summaryJson !== undefined && values.summaryJson.trim() === '') {
    problems.push({ path: '--summary-json', message: 'must be a file path' });
  }

  const settings: RunSettings = {
    coordinator: values.coordinator,
    targetHosts,
    targetPort: integerOption(values.targetPort, '--target-port', 1, 65535, problems),
    targetProtocol,
    size: integerOption(values.size, '--size', 1, undefined, problems),
    arrivalRate: rateOption(values.arrivalRate, '--arrival-rate', problems),
    maxDevices: integerOption(values.maxDevices, '--max-devices', 1, undefined, problems),
    scriptParams: jsonObjectOption(values.scriptParams, '--script-params', problems),
    rampup: secondsOption(values.rampup, '--rampup', problems),
    sustain: secondsOption(values.sustain, '--sustain', problems),
    rampdown: secondsOption(values.rampdown, '--rampdown', problems),
    reportIntervalSeconds: reportIntervalSeconds ?? DEFAULT_REPORT_INTERVAL_SECONDS,
    planFile: values.plan,
    dataDir: values.dataDir ?? DEFAULT_DATA_DIR,
    demo: values.demo === true,
    thresholds,
    ...(values.summaryJson !== undefined ? { summaryJson: values.summaryJson } : {}),
  };
  return { settings, problems };
}

/**
 * The demo target is used with --demo unless the user named a target host or port
 * (then the demo would be started for nothing).
 */
export const usesDemoTarget = (settings: RunSettings): boolean => settings.demo && settings.targetHosts === undefined && settings.targetPort === undefined;

/** Protocols the demo target can answer: plain HTTP/1.x, and its TCP and UDP echoes. */
export const DEMO_TARGET_PROTOCOLS: ReadonlySet<Protocol> = new Set(['http', 'http10', 'tcp', 'udp']);

export interface PlanSources {
  name: string;
  /** The script file named on the command line, if one was. */
  scriptFile?: string;
  /** Its text; undefined when it could not be read (a problem already says so). */
  scriptSource?: string;
  /** The --plan file, already parsed. */
  basePlan?: unknown;
}

/**
 * Builds the plan the runner gets: the --plan file's fields, overridden by the
 * command line. A script file and --script-params apply to every block; target
 * options replace the addresses (host list) or amend each of them (port, protocol).
 * The result is not validated beyond what the options themselves say.
 */
export function buildPlan(settings: RunSettings, sources: PlanSources): { plan: Record<string, unknown>; problems: PlanProblem[] } {
  const problems: PlanProblem[] = [];
  let base: Record<string, unknown> = {};
  if (sources.basePlan !== undefined) {
    if (isObject(sources.basePlan)) base = sources.basePlan;
    else problems.push({ path: '--plan', message: 'must hold a JSON object: { name, blocks, addresses, size, rampup, sustain, rampdown }' });
  }

  const plan: Record<string, unknown> = { ...base, name: sources.name };
  if (sources.name.trim() === '') problems.push({ path: '<name>', message: 'must not be empty' });

  const baseBlocks = base.blocks;
  if (baseBlocks !== undefined && !Array.isArray(baseBlocks)) {
    problems.push({ path: 'plan.blocks', message: 'must be an array of { script, params?, size? }' });
  }
  const blocks: unknown[] = Array.isArray(baseBlocks) && baseBlocks.length > 0 ? baseBlocks : [];
  if (sources.scriptFile === undefined && blocks.length === 0) {
    problems.push({ path: '<script-file>', message: 'is required unless --plan gives blocks with scripts' });
  }
  const overrides: Record<string, unknown> = {};
  if (sources.scriptSource !== undefined) overrides.script = sources.scriptSource;
  if (settings.scriptParams !== undefined) overrides.params = settings.scriptParams;
  if (settings.arrivalRate !== undefined) overrides.arrivalRate = settings.arrivalRate;
  if (settings.maxDevices !== undefined) overrides.maxDevices = settings.maxDevices;
  // --arrival-rate replaces a block's stages: the two are alternatives.
  const amendBlock = (block: Record<string, unknown>): Record<string, unknown> => {
    const { stages, ...rest } = block;
    return settings.arrivalRate !== undefined ? { ...rest, ...overrides } : { ...block, ...overrides, ...(stages !== undefined && { stages }) };
  };
  plan.blocks = blocks.length === 0 ? (sources.scriptSource !== undefined ? [overrides] : []) : blocks.map((block) => (isObject(block) ? amendBlock(block) : block));

  const amend = (address: Record<string, unknown>): Record<string, unknown> => ({
    ...address,
    ...(settings.targetPort !== undefined && { port: settings.targetPort }),
    ...(settings.targetProtocol !== undefined && { protocol: settings.targetProtocol }),
  });
  const baseAddresses = base.addresses;
  if (settings.targetHosts !== undefined) {
    plan.addresses = settings.targetHosts.map((host) => amend({ host }));
  } else if (Array.isArray(baseAddresses) && baseAddresses.length > 0) {
    plan.addresses = (baseAddresses as unknown[]).map((address) => (isObject(address) ? amend(address) : address));
  } else if (baseAddresses !== undefined && !Array.isArray(baseAddresses)) {
    problems.push({ path: 'plan.addresses', message: 'must be an array of { host, port?, protocol? }' });
  } else {
    plan.addresses = [amend({ host: DEFAULT_TARGET_HOST })];
  }

  if (usesDemoTarget(settings) && settings.targetProtocol !== undefined && !DEMO_TARGET_PROTOCOLS.has(settings.targetProtocol)) {
    problems.push({ path: '--target-protocol', message: `the demo target speaks plain HTTP/1.x (http, http10) and echoes over tcp and udp, not ${settings.targetProtocol}` });
  }

  plan.size = settings.size ?? base.size ?? PLAN_DEFAULTS.size;
  plan.rampup = settings.rampup ?? base.rampup ?? PLAN_DEFAULTS.rampup;
  plan.sustain = settings.sustain ?? base.sustain ?? PLAN_DEFAULTS.sustain;
  plan.rampdown = settings.rampdown ?? base.rampdown ?? PLAN_DEFAULTS.rampdown;
  if (settings.thresholds.length > 0) {
    // Added to the plan file's thresholds, never replacing them: a CI job tightens a plan, it does not loosen it.
    const thresholds: Record<string, unknown> = isObject(base.thresholds) ? { ...base.thresholds } : {};
    for (const { metric, expression } of settings.thresholds) {
      const existing = thresholds[metric];
      thresholds[metric] = [...(Array.isArray(existing) ? (existing as unknown[]) : existing === undefined ? [] : [existing]), expression];
    }
    plan.thresholds = thresholds;
  }
  return { plan, problems };
}

/** Points every device of the plan at one address (the demo target). */
export const withSingleTarget = (plan: Record<string, unknown>, host: string, port: number, protocol: Protocol): Record<string, unknown> => ({
  ...plan,
  addresses: [{ host, port, protocol }],
});
