/**
 * Plan validation: turns whatever arrived (API body, website form, sgcli options)
 * into a ResolvedPlan, or into the complete list of what is wrong with it.
 *
 * Every rule runs on every field so a user fixes a plan in one round trip; a
 * problem names its field path (`blocks[1].script`) the way a user would point at it.
 */
import { isIP } from 'node:net';
import { arrivalStages, defaultMaxDevices, peakRate, stagesDuration } from './arrival-rate.js';
import { CONTROL_CHARACTER } from './control-characters.js';
import {
  BLOCK_LIMIT_DEFAULTS,
  BLOCK_LIMIT_RANGES,
  ARRIVAL_PATTERNS,
  PLAN_DEFAULTS,
  PROTOCOLS,
  TLS_PROTOCOLS,
  type BlockLimits,
  type Plan,
  type PlanProblem,
  type Protocol,
  type ResolvedBlock,
  type ResolvedPlan,
  type Stage,
} from './plan.js';
import { describe, isPlainObject } from './json-shape.js';
import { readThresholds } from './thresholds.js';

/** Where a script failed to compile, as the sandbox reports it. */
export interface ScriptProblem {
  line: number;
  column: number;
  message: string;
}

export interface ValidatePlanOptions {
  /**
   * Compiles one block's script; resolves to null when it compiles. Called once
   * per block whose script is a non-empty string, all blocks concurrently.
   * A rejection is not a plan problem and rejects validatePlan.
   */
  checkScript?: (source: string) => Promise<ScriptProblem | null>;
}

export type PlanValidation = { ok: true; plan: ResolvedPlan } | { ok: false; problems: PlanProblem[] };

const PLAN_FIELDS = ['name', 'blocks', 'addresses', 'size', 'rampup', 'sustain', 'rampdown', 'thresholds'] as const satisfies ReadonlyArray<keyof Plan>;
const BLOCK_FIELDS = ['script', 'params', 'size', 'limits', 'arrivalRate', 'stages', 'maxDevices', 'arrival'] as const;
const LIMIT_FIELDS = ['memoryMb', 'cpuMs', 'stackKb'] as const satisfies ReadonlyArray<keyof BlockLimits>;
const STAGE_FIELDS = ['rate', 'duration'] as const;
/** Far beyond what one cluster can start, low enough that a typo (an extra 000) is caught. */
export const MAX_ARRIVAL_RATE = 10_000_000;
const ADDRESS_FIELDS = ['host', 'port', 'protocol', 'verifyTls', 'serverName'] as const;

/** Long enough for any sensible title, short enough to fit a run id and a chart legend. */
export const MAX_PLAN_NAME_LENGTH = 200;

/** Validates a plan and fills in its defaults; see PlanValidation. */
export async function validatePlan(input: unknown, options: ValidatePlanOptions = {}): Promise<PlanValidation> {
  const problems: PlanProblem[] = [];
  const report = (path: string, message: string): void => {
    problems.push({ path, message });
  };

  if (!isPlainObject(input)) {
    report('', `the plan must be a JSON object, got ${describe(input)}`);
    return { ok: false, problems };
  }
  reportUnknownFields(input, PLAN_FIELDS, '', report);

  const name = readName(input.name, report);
  const blocks = readList(input.blocks, 'blocks', 'block', report, (value, path) => readBlock(value, path, report));
  const addresses = readList(input.addresses, 'addresses', 'address', report, (value, path) => readAddress(value, path, report));
  const size = readNumber(input.size, 'size', PLAN_DEFAULTS.size, { integer: true, min: 1 }, report);
  const rampup = readNumber(input.rampup, 'rampup', PLAN_DEFAULTS.rampup, { min: 0 }, report);
  const sustain = readNumber(input.sustain, 'sustain', PLAN_DEFAULTS.sustain, { min: 0 }, report);
  const rampdown = readNumber(input.rampdown, 'rampdown', PLAN_DEFAULTS.rampdown, { min: 0 }, report);
  // Blocks with their own stages do not follow the plan's ramp; the run lasts while any block does.
  const followRamp = !Array.isArray(blocks) || blocks.some((b) => b === undefined || b.stages === undefined);
  if (followRamp && rampup !== undefined && sustain !== undefined && rampdown !== undefined && rampup + sustain + rampdown <= 0) {
    report('sustain', 'the run would last 0 seconds: rampup + sustain + rampdown must be more than 0');
  }
  const thresholds = readThresholds(input.thresholds);
  for (const problem of thresholds.problems) report(problem.path, problem.message);

  if (options.checkScript && Array.isArray(input.blocks)) {
    const check = options.checkScript;
    // Scripts compile even when a sibling field of their block is wrong, so the
    // user sees the syntax error in the same answer.
    const compiled = await Promise.all(
      input.blocks.map(async (block: unknown, i) => {
        const script = isPlainObject(block) ? block.script : undefined;
        return typeof script === 'string' && script.trim() !== '' ? { i, problem: await check(script) } : null;
      }),
    );
    for (const result of compiled) {
      if (result?.problem) {
        const { line, column, message } = result.problem;
        problems.push({ path: `blocks[${result.i}].script`, message: `line ${line}, column ${column}: ${message}`, line, column });
      }
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    plan: {
      name: name!,
      blocks: blocks as ResolvedPlan['blocks'],
      addresses: addresses as ResolvedPlan['addresses'],
      size: size!,
      rampup: rampup!,
      sustain: sustain!,
      rampdown: rampdown!,
      ...(input.thresholds === undefined ? {} : { thresholds: input.thresholds as ResolvedPlan['thresholds'] }),
    },
  };
}

/** Formats problems one per line, `path: message`, for a terminal or a log. */
export function formatPlanProblems(problems: readonly PlanProblem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n');
}

type Report = (path: string, message: string) => void;

function readName(value: unknown, report: Report): string | undefined {
  if (value === undefined) return void report('name', 'a name is required');
  if (typeof value !== 'string') return void report('name', `must be a string, got ${describe(value)}`);
  const name = value.trim();
  if (name === '') return void report('name', 'must not be empty');
  if (name.length > MAX_PLAN_NAME_LENGTH) return void report('name', `must be at most ${MAX_PLAN_NAME_LENGTH} characters, got ${name.length}`);
  if (CONTROL_CHARACTER.test(name)) return void report('name', 'must not contain control characters (line breaks, tabs, ...)');
  return name;
}

/**
 * Reads a required, non-empty list. Each element goes through `readItem`; the list
 * is returned even when some elements are bad (as undefined) so later checks that
 * need the list's length (script compilation) still run.
 */
function readList<T>(value: unknown, path: string, what: string, report: Report, readItem: (value: unknown, path: string) => T | undefined): Array<T | undefined> | undefined {
  if (value === undefined) return void report(path, `at least one ${what} is required`);
  if (!Array.isArray(value)) return void report(path, `must be a list of ${what} objects, got ${describe(value)}`);
  if (value.length === 0) return void report(path, `at least one ${what} is required`);
  return value.map((item, i) => readItem(item, `${path}[${i}]`));
}

function readBlock(value: unknown, path: string, report: Report): ResolvedBlock | undefined {
  if (!isPlainObject(value)) return void report(path, `must be an object with a script, got ${describe(value)}`);
  reportUnknownFields(value, BLOCK_FIELDS, path, report);
  let script: string | undefined;
  if (value.script === undefined) report(`${path}.script`, 'a script is required');
  else if (typeof value.script !== 'string') report(`${path}.script`, `must be a string of JavaScript, got ${describe(value.script)}`);
  else if (value.script.trim() === '') report(`${path}.script`, 'must not be empty');
  else script = value.script;
  const params = readParams(value.params, `${path}.params`, report);
  const size = readNumber(value.size, `${path}.size`, PLAN_DEFAULTS.blockSize, { integer: true, min: 1 }, report);
  const limits = readLimits(value.limits, `${path}.limits`, report);
  const open = readArrivals(value, path, report);
  if (script === undefined || params === undefined || size === undefined || limits === undefined || open === undefined) return undefined;
  return { script, params, size, limits, ...open };
}

function readLimits(value: unknown, path: string, report: Report): Required<BlockLimits> | undefined {
  if (value === undefined) return { ...BLOCK_LIMIT_DEFAULTS };
  if (!isPlainObject(value)) return void report(path, `must be an object such as {"memoryMb": 16, "cpuMs": 200, "stackKb": 256}, got ${describe(value)}`);
  reportUnknownFields(value, LIMIT_FIELDS, path, report);
  const limits: Partial<Required<BlockLimits>> = {};
  for (const field of LIMIT_FIELDS) {
    limits[field] = readNumber(value[field], `${path}.${field}`, BLOCK_LIMIT_DEFAULTS[field], { integer: true, ...BLOCK_LIMIT_RANGES[field] }, report);
  }
  return LIMIT_FIELDS.every((field) => limits[field] !== undefined) ? (limits as Required<BlockLimits>) : undefined;
}

type Arrivals = Pick<ResolvedBlock, 'arrivalRate' | 'stages' | 'maxDevices' | 'arrival'>;

/**
 * The open-model fields of a block: {} for a closed block (it resolves exactly as
 * before they existed), undefined when any of them is wrong.
 */
function readArrivals(value: Record<string, unknown>, path: string, report: Report): Arrivals | undefined {
  let ok = true;
  const fail = (field: string, message: string): void => {
    ok = false;
    report(`${path}.${field}`, message);
  };
  let arrivalRate: number | undefined;
  if (value.arrivalRate !== undefined) {
    if (typeof value.arrivalRate !== 'number' || !Number.isFinite(value.arrivalRate)) fail('arrivalRate', `must be a number of iterations per second, got ${describe(value.arrivalRate)}`);
    else if (value.arrivalRate <= 0 || value.arrivalRate > MAX_ARRIVAL_RATE) fail('arrivalRate', `must be more than 0 and at most ${MAX_ARRIVAL_RATE} iterations per second, got ${value.arrivalRate}`);
    else arrivalRate = value.arrivalRate;
  }
  const stages = value.stages === undefined ? undefined : readStages(value.stages, `${path}.stages`, (p, m) => ((ok = false), report(p, m)));
  if (value.arrivalRate !== undefined && value.stages !== undefined) fail('stages', "give either arrivalRate (with the plan's rampup, sustain and rampdown) or stages, not both");
  const open = value.arrivalRate !== undefined || value.stages !== undefined;
  const closedOnly = (field: string): void => fail(field, 'applies only to an arrival-rate block: give the block an arrivalRate or stages');
  let maxDevices: number | undefined;
  if (value.maxDevices !== undefined) {
    const n = readNumber(value.maxDevices, `${path}.maxDevices`, 0, { integer: true, min: 1 }, (p, m) => ((ok = false), report(p, m)));
    if (n !== undefined && !open) closedOnly('maxDevices');
    maxDevices = n;
  }
  let arrival = PLAN_DEFAULTS.arrival;
  if (value.arrival !== undefined) {
    if (typeof value.arrival !== 'string' || !(ARRIVAL_PATTERNS as readonly string[]).includes(value.arrival)) {
      fail('arrival', `must be one of ${ARRIVAL_PATTERNS.join(', ')}; got ${describe(value.arrival)}`);
    } else {
      arrival = value.arrival as typeof arrival;
      if (!open) closedOnly('arrival');
    }
  }
  if (!ok) return undefined;
  if (!open) return {};
  const own: Pick<ResolvedBlock, 'arrivalRate' | 'stages'> = stages !== undefined ? { stages } : { arrivalRate };
  return { ...own, maxDevices: maxDevices ?? defaultMaxDevices(arrivalStages(own, { rampup: 0, sustain: 1, rampdown: 0 })), arrival };
}

function readStages(value: unknown, path: string, report: Report): Stage[] | undefined {
  if (!Array.isArray(value)) return void report(path, `must be a list of { rate, duration } objects, got ${describe(value)}`);
  if (value.length === 0) return void report(path, 'at least one stage is required');
  let ok = true;
  const stages = value.map((item, i): Stage => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(item)) {
      ok = false;
      report(at, `must be an object { rate, duration }, got ${describe(item)}`);
      return { rate: 0, duration: 0 };
    }
    reportUnknownFields(item, STAGE_FIELDS, at, (p, m) => ((ok = false), report(p, m)));
    const rate = item.rate === undefined ? void report(`${at}.rate`, 'a rate (iterations per second) is required') : readNumber(item.rate, `${at}.rate`, 0, { min: 0, max: MAX_ARRIVAL_RATE }, report);
    const duration = item.duration === undefined ? void report(`${at}.duration`, 'a duration (seconds) is required') : readNumber(item.duration, `${at}.duration`, 0, { min: 0 }, report);
    if (rate === undefined || duration === undefined) ok = false;
    return { rate: rate ?? 0, duration: duration ?? 0 };
  });
  if (!ok) return undefined;
  if (stagesDuration(stages) <= 0) return void report(path, 'the stages would last 0 seconds: their durations must add up to more than 0');
  if (peakRate(stages) <= 0) return void report(path, 'every stage has rate 0: no iteration would ever start');
  return stages;
}

function readParams(value: unknown, path: string, report: Report): Record<string, unknown> | undefined {
  if (value === undefined) return {};
  if (!isPlainObject(value)) return void report(path, `must be a JSON object, got ${describe(value)}`);
  const bad = findNonJson(value, path, new Set());
  if (bad) return void report(bad.path, bad.message);
  return value;
}

/** Finds the first value that JSON cannot carry unchanged (a device gets params as JSON). */
function findNonJson(value: unknown, path: string, seen: Set<object>): PlanProblem | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : { path, message: `must be a finite number, got ${value}` };
  }
  if (typeof value !== 'object') return { path, message: `is not a JSON value (${typeof value})` };
  if (seen.has(value)) return { path, message: 'refers to itself; JSON cannot hold a cycle' };
  seen.add(value);
  try {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const bad = findNonJson(value[i], `${path}[${i}]`, seen);
        if (bad) return bad;
      }
      return undefined;
    }
    if (!isPlainObject(value)) return { path, message: `is not a JSON value (${describe(value)})` };
    for (const [key, item] of Object.entries(value)) {
      const bad = findNonJson(item, `${path}.${key}`, seen);
      if (bad) return bad;
    }
    return undefined;
  } finally {
    seen.delete(value);
  }
}

function readAddress(value: unknown, path: string, report: Report): ResolvedPlan['addresses'][number] | undefined {
  if (!isPlainObject(value)) return void report(path, `must be an object with a host, got ${describe(value)}`);
  reportUnknownFields(value, ADDRESS_FIELDS, path, report);
  const host = readHost(value.host, `${path}.host`, report);
  let protocol: Protocol | undefined = PLAN_DEFAULTS.protocol;
  if (value.protocol !== undefined) {
    if (typeof value.protocol === 'string' && (PROTOCOLS as readonly string[]).includes(value.protocol)) {
      protocol = value.protocol as Protocol;
    } else {
      protocol = undefined;
      report(`${path}.protocol`, `must be one of ${PROTOCOLS.join(', ')}; got ${describe(value.protocol)}`);
    }
  }
  const defaultPort = protocol && TLS_PROTOCOLS.has(protocol) ? PLAN_DEFAULTS.tlsPort : PLAN_DEFAULTS.port;
  const port = readNumber(value.port, `${path}.port`, defaultPort, { integer: true, min: 1, max: 65535 }, report);
  let verifyTls: boolean | undefined = false;
  if (value.verifyTls !== undefined && typeof value.verifyTls !== 'boolean') {
    verifyTls = undefined;
    report(`${path}.verifyTls`, `must be true or false, got ${describe(value.verifyTls)}`);
  } else if (value.verifyTls !== undefined) {
    verifyTls = value.verifyTls;
  }
  let serverName: string | undefined;
  let serverNameOk = true;
  if (value.serverName !== undefined) {
    if (typeof value.serverName !== 'string' || isIP(value.serverName) !== 0 || !isHostName(value.serverName)) {
      serverNameOk = false;
      report(`${path}.serverName`, `must be a host name (TLS sends no IP address as server name), got ${describe(value.serverName)}`);
    } else {
      serverName = value.serverName;
    }
  } else if (host !== undefined && isIP(host) === 0) {
    serverName = host;
  }
  if (host === undefined || protocol === undefined || port === undefined || verifyTls === undefined || !serverNameOk) return undefined;
  return serverName === undefined ? { host, port, protocol, verifyTls } : { host, port, protocol, verifyTls, serverName };
}

/** Returns the host as devices will dial it: an IPv6 literal loses its brackets. */
function readHost(value: unknown, path: string, report: Report): string | undefined {
  if (value === undefined) return void report(path, 'a host is required');
  if (typeof value !== 'string') return void report(path, `must be a host name or IP address, got ${describe(value)}`);
  const host = value.trim();
  if (host === '') return void report(path, 'must not be empty');
  const bracketed = /^\[(.*)\]$/.exec(host);
  if (bracketed) {
    if (isIP(bracketed[1]!) === 6) return bracketed[1];
    return void report(path, `${JSON.stringify(value)} is not an IPv6 address`);
  }
  if (isIP(host) !== 0) return host;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) {
    return void report(path, `must be a host name without a scheme or path (put the protocol in "protocol"), got ${JSON.stringify(value)}`);
  }
  if (/^[^:]+:\d+$/.test(host)) {
    return void report(path, `must be a host name without a port (put the port in "port"), got ${JSON.stringify(value)}`);
  }
  if (!isHostName(host)) return void report(path, `${JSON.stringify(value)} is neither a valid host name nor an IP address`);
  return host;
}

/**
 * RFC 1123 host names, plus underscores, which real networks (container names,
 * service records) use and resolvers accept.
 */
function isHostName(value: string): boolean {
  const name = value.endsWith('.') ? value.slice(0, -1) : value;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(label));
}

interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
}

function readNumber(value: unknown, path: string, fallback: number, rule: NumberRule, report: Report): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') return void report(path, `must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) return void report(path, `must be a finite number, got ${value}`);
  if (rule.integer && !Number.isSafeInteger(value)) return void report(path, `must be a whole number, got ${value}`);
  const { min, max } = rule;
  if (min !== undefined && max !== undefined && (value < min || value > max)) {
    return void report(path, `must be between ${min} and ${max}, got ${value}`);
  }
  if (min !== undefined && value < min) return void report(path, `must be at least ${min}, got ${value}`);
  if (max !== undefined && value > max) return void report(path, `must be at most ${max}, got ${value}`);
  return value;
}

function reportUnknownFields(value: Record<string, unknown>, known: readonly string[], path: string, report: Report): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const fieldPath = path ? `${path}.${key}` : key;
    const near = known.find((k) => k.toLowerCase() === key.toLowerCase() || editDistance(k.toLowerCase(), key.toLowerCase()) <= 2);
    report(fieldPath, `unknown field${near ? ` (did you mean "${near}"?)` : `; known fields are ${known.join(', ')}`}`);
  }
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
