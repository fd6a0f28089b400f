/**
 * The checks a message passes when it crosses a socket. A peer on the network is
 * not trusted: a frame becomes a protocol message only when every field has the
 * type, range and size protocol.ts promises, and the message handed on is rebuilt
 * from those fields alone, so nothing unchecked (extra fields, prototypes) reaches
 * the registry, the aggregator or the devices.
 *
 * A hello or welcome of another protocol version passes with only its version
 * checked: the receiver must see it to answer with a clear refusal.
 */
import { CONTROL_CHARACTER } from './control-characters.js';
import { ARRIVAL_PATTERNS, BLOCK_LIMIT_DEFAULTS, BLOCK_LIMIT_RANGES, PROTOCOLS, type ArrivalPattern, type Protocol, type ResolvedPlan } from './plan.js';
import { PROTOCOL_VERSION, type CoordinatorMessage, type GeneratorMessage, type Hello, type PrepareRun, type RunProblem, type StartArrivals, type StartCohort, type Telemetry } from './protocol.js';
import { splitTelemetryFrame } from './telemetry-frame.js';

export type ParseResult<T> = { ok: true; message: T } | { ok: false; reason: string };

/** Generator ids, run ids, metric names: a short line of printable text. */
export const MAX_ID_LENGTH = 256;
/** Free text (problems, refusals, scripts' host names): long enough to explain, short enough to log. */
export const MAX_TEXT_LENGTH = 4096;
/** Network interfaces one telemetry message may name. */
const MAX_INTERFACES = 64;
/** Metrics of one telemetry push; a script has at most a few dozen keys. */
export const MAX_METRICS = 4096;
/** Blocks or addresses of a plan, and so entries of a cohort. */
export const MAX_PLAN_ITEMS = 10_000;
/** Worker threads a generator may announce. */
export const MAX_WORKERS = 4096;

const METRIC_NAME = /^[a-z][a-z0-9_]{0,127}$/;

/** How a reason starts when a check itself failed (a bug here), not the message: never expected from any input. */
export const CHECK_FAILED = 'could not check the message';

/** A message is malformed at `path`; thrown inside this module only, returned as a reason. */
class Malformed extends Error {}

/** A generator's WebSocket frame: telemetry in a binary frame (telemetry-frame.ts), anything else as JSON text. */
export function parseGeneratorFrame(data: Buffer, binary: boolean): ParseResult<GeneratorMessage> {
  return binary ? checkWith(data, readTelemetryFrame) : parseGeneratorMessage(data.toString('utf8'));
}

/** A generator message in a JSON text frame: every type but telemetry. */
export function parseGeneratorMessage(text: string): ParseResult<GeneratorMessage> {
  return parseWith(text, readTextGeneratorMessage);
}

export function parseCoordinatorFrame(data: Buffer, binary: boolean): ParseResult<CoordinatorMessage> {
  return binary ? { ok: false, reason: 'a coordinator sends JSON text frames only' } : parseCoordinatorMessage(data.toString('utf8'));
}

export function parseCoordinatorMessage(text: string): ParseResult<CoordinatorMessage> {
  return parseWith(text, readCoordinatorMessage);
}

/** Checks an already parsed value (a message built in memory, a test's fixture). */
export function checkGeneratorMessage(value: unknown): ParseResult<GeneratorMessage> {
  return checkWith(value, readGeneratorMessage);
}

export function checkCoordinatorMessage(value: unknown): ParseResult<CoordinatorMessage> {
  return checkWith(value, readCoordinatorMessage);
}

function parseWith<T>(text: string, read: (value: unknown) => T): ParseResult<T> {
  if (typeof text !== 'string') return { ok: false, reason: 'a message must be a JSON text' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not JSON: ${(err as Error).message}` };
  }
  return checkWith(value, read);
}

function checkWith<T>(value: unknown, read: (value: unknown) => T): ParseResult<T> {
  try {
    return { ok: true, message: read(value) };
  } catch (err) {
    if (err instanceof Malformed) return { ok: false, reason: err.message };
    // A bug here must not let a message through unchecked, nor take the process down.
    return { ok: false, reason: `${CHECK_FAILED}: ${String(err)}` };
  }
}

function readGeneratorMessage(value: unknown): GeneratorMessage {
  const m = object(value, 'message');
  const type = m.type;
  switch (type) {
    case 'hello':
      return readHello(m);
    case 'telemetry':
      return readTelemetry(m);
    case 'run_problem':
      return readRunProblem(m);
    case 'run_ready':
      return { type: 'run_ready', generatorId: id(m.generatorId, 'generatorId'), runId: id(m.runId, 'runId') };
    case 'generator_notice':
      return { type: 'generator_notice', generatorId: id(m.generatorId, 'generatorId'), runId: id(m.runId, 'runId'), message: text(m.message, 'message', MAX_TEXT_LENGTH) };
    default:
      throw new Malformed(`unknown generator message type ${describe(type)}`);
  }
}

function readTextGeneratorMessage(value: unknown): GeneratorMessage {
  if (object(value, 'message').type === 'telemetry') throw new Malformed('telemetry travels in a binary frame, not as JSON text');
  return readGeneratorMessage(value);
}

/** Splits a binary frame into its header and histograms, every length checked against the bytes there are. */
function readTelemetryFrame(frame: unknown): Telemetry {
  const parts = splitTelemetryFrame(frame as Buffer);
  if (parts === undefined) throw new Malformed('binary frame shorter than its header length says');
  let header: unknown;
  try {
    header = JSON.parse(parts.header);
  } catch (err) {
    throw new Malformed(`binary frame header is not JSON: ${(err as Error).message}`);
  }
  const m = object(header, 'message');
  if (m.type !== 'telemetry') throw new Malformed(`a binary frame must hold telemetry, got type ${describe(m.type)}`);
  if (!Array.isArray(m.histograms)) throw new Malformed(`histograms must be a list of [name, byteLength], got ${describe(m.histograms)}`);
  if (m.histograms.length > MAX_METRICS) throw new Malformed(`histograms must hold at most ${MAX_METRICS} metrics, got ${m.histograms.length}`);
  const histograms: Record<string, Uint8Array> = {};
  let at = 0;
  m.histograms.forEach((entry: unknown, i: number) => {
    const path = `histograms[${i}]`;
    if (!Array.isArray(entry) || entry.length !== 2) throw new Malformed(`${path} must be [name, byteLength]`);
    const name = metricName(entry[0], `${path}[0]`);
    if (Object.hasOwn(histograms, name)) throw new Malformed(`${path} names ${name} a second time`);
    const length = integer(entry[1], `${path}[1]`, 1, parts.body.length - at);
    // A view, not a copy: the aggregator merges it at once and lets the frame go.
    histograms[name] = new Uint8Array(parts.body.buffer, parts.body.byteOffset + at, length);
    at += length;
  });
  if (at !== parts.body.length) throw new Malformed(`binary frame has ${parts.body.length - at} bytes after its histograms`);
  return readTelemetry({ ...m, histograms });
}

function readCoordinatorMessage(value: unknown): CoordinatorMessage {
  const m = object(value, 'message');
  const type = m.type;
  switch (type) {
    case 'welcome':
      return { type, version: integer(m.version, 'version', 0, Number.MAX_SAFE_INTEGER) };
    case 'refused':
      return { type, reason: text(m.reason, 'reason', MAX_TEXT_LENGTH) };
    case 'prepare_run':
      return readPrepareRun(m);
    case 'start_cohort':
      return readStartCohort(m);
    case 'start_arrivals':
      return readStartArrivals(m);
    case 'stop_cohort':
      return { type, runId: id(m.runId, 'runId'), cohortId: integer(m.cohortId, 'cohortId', 0, Number.MAX_SAFE_INTEGER) };
    case 'end_run':
      return { type, runId: id(m.runId, 'runId') };
    default:
      throw new Malformed(`unknown coordinator message type ${describe(type)}`);
  }
}

function readHello(m: Record<string, unknown>): Hello {
  const version = integer(m.version, 'version', 0, Number.MAX_SAFE_INTEGER);
  if (version !== PROTOCOL_VERSION) {
    // Another version may shape its hello differently; what the refusal needs is the version.
    const generatorId = typeof m.generatorId === 'string' && m.generatorId.length <= MAX_ID_LENGTH && !CONTROL_CHARACTER.test(m.generatorId) ? m.generatorId : '';
    return { type: 'hello', version, generatorId, workers: 0 };
  }
  return { type: 'hello', version, generatorId: id(m.generatorId, 'generatorId'), workers: integer(m.workers, 'workers', 1, MAX_WORKERS) };
}

function readTelemetry(m: Record<string, unknown>): Telemetry {
  const telemetry: Telemetry = {
    type: 'telemetry',
    generatorId: id(m.generatorId, 'generatorId'),
    runId: m.runId === null ? null : id(m.runId, 'runId'),
    seq: integer(m.seq, 'seq', 0, Number.MAX_SAFE_INTEGER),
    at: number(m.at, 'at', 0),
    intervalMs: number(m.intervalMs, 'intervalMs', 0),
    activeDevices: integer(m.activeDevices, 'activeDevices', 0, Number.MAX_SAFE_INTEGER),
    cpuPercent: number(m.cpuPercent, 'cpuPercent', 0, 100),
    networkRxBytes: number(m.networkRxBytes, 'networkRxBytes', 0),
    networkTxBytes: number(m.networkTxBytes, 'networkTxBytes', 0),
    counters: metricMap(m.counters, 'counters', (v, path) => number(v, path, 0)),
    histograms: metricMap(m.histograms, 'histograms', (v, path) => bytes(v, path)),
  };
  if (m.final !== undefined) {
    if (typeof m.final !== 'boolean') throw new Malformed(`final must be true or false, got ${describe(m.final)}`);
    if (m.final) telemetry.final = true;
  }
  if (m.networkInterfaces !== undefined) {
    if (!Array.isArray(m.networkInterfaces) || m.networkInterfaces.length > MAX_INTERFACES) throw new Malformed(`networkInterfaces must be a list of at most ${MAX_INTERFACES} names`);
    telemetry.networkInterfaces = m.networkInterfaces.map((name: unknown, i: number) => id(name, `networkInterfaces[${i}]`));
  }
  if (m.networkLinkBitsPerSecond !== undefined) telemetry.networkLinkBitsPerSecond = number(m.networkLinkBitsPerSecond, 'networkLinkBitsPerSecond', 1);
  return telemetry;
}

function readRunProblem(m: Record<string, unknown>): RunProblem {
  return { type: 'run_problem', generatorId: id(m.generatorId, 'generatorId'), runId: id(m.runId, 'runId'), message: text(m.message, 'message', MAX_TEXT_LENGTH) };
}

function readPrepareRun(m: Record<string, unknown>): PrepareRun {
  return { type: 'prepare_run', runId: id(m.runId, 'runId'), plan: readPlan(m.plan) };
}

function readStartCohort(m: Record<string, unknown>): StartCohort {
  return {
    type: 'start_cohort',
    runId: id(m.runId, 'runId'),
    cohortId: integer(m.cohortId, 'cohortId', 0, Number.MAX_SAFE_INTEGER),
    devices: list(m.devices, 'devices', (v, path) => integer(v, path, 0, Number.MAX_SAFE_INTEGER)),
    addressOffset: integer(m.addressOffset, 'addressOffset', 0, Number.MAX_SAFE_INTEGER),
  };
}

function readStartArrivals(m: Record<string, unknown>): StartArrivals {
  const slots = integer(m.slots, 'slots', 1, Number.MAX_SAFE_INTEGER);
  return {
    type: 'start_arrivals',
    runId: id(m.runId, 'runId'),
    block: integer(m.block, 'block', 0, MAX_PLAN_ITEMS - 1),
    slot: integer(m.slot, 'slot', 0, slots - 1),
    slots,
    maxDevices: integer(m.maxDevices, 'maxDevices', 1, Number.MAX_SAFE_INTEGER),
    addressOffset: integer(m.addressOffset, 'addressOffset', 0, Number.MAX_SAFE_INTEGER),
    startedAt: number(m.startedAt, 'startedAt', 0),
    ...(m.from !== undefined ? { from: number(m.from, 'from', 0) } : {}),
  };
}

/** The open-model fields of a validated block (none for a closed block). */
function readArrivalFields(b: Record<string, unknown>, path: string): Partial<ResolvedPlan['blocks'][number]> {
  const out: Partial<ResolvedPlan['blocks'][number]> = {};
  if (b.arrivalRate !== undefined) out.arrivalRate = number(b.arrivalRate, `${path}.arrivalRate`, 0);
  if (b.stages !== undefined) {
    out.stages = list(b.stages, `${path}.stages`, (v, at) => {
      const s = object(v, at);
      return { rate: number(s.rate, `${at}.rate`, 0), duration: number(s.duration, `${at}.duration`, 0) };
    });
  }
  if (b.maxDevices !== undefined) out.maxDevices = integer(b.maxDevices, `${path}.maxDevices`, 1, Number.MAX_SAFE_INTEGER);
  if (b.arrival !== undefined) {
    if (!(ARRIVAL_PATTERNS as readonly unknown[]).includes(b.arrival)) throw new Malformed(`${path}.arrival must be one of ${ARRIVAL_PATTERNS.join(', ')}, got ${describe(b.arrival)}`);
    out.arrival = b.arrival as ArrivalPattern;
  }
  return out;
}

/**
 * The shape of a plan the coordinator already validated: types and ranges only.
 * The user-facing rules (and their friendly messages) are plan-validation.ts's.
 */
function readPlan(value: unknown): ResolvedPlan {
  const p = object(value, 'plan');
  return {
    name: text(p.name, 'plan.name', MAX_TEXT_LENGTH),
    blocks: list(p.blocks, 'plan.blocks', (v, path) => {
      const b = object(v, path);
      return {
        script: string(b.script, `${path}.script`),
        params: object(b.params, `${path}.params`),
        size: integer(b.size, `${path}.size`, 1, Number.MAX_SAFE_INTEGER),
        limits: blockLimits(b.limits, `${path}.limits`),
        ...readArrivalFields(b, path),
      };
    }),
    addresses: list(p.addresses, 'plan.addresses', (v, path) => {
      const a = object(v, path);
      const address: ResolvedPlan['addresses'][number] = {
        host: id(a.host, `${path}.host`),
        port: integer(a.port, `${path}.port`, 1, 65535),
        protocol: protocol(a.protocol, `${path}.protocol`),
        verifyTls: boolean(a.verifyTls, `${path}.verifyTls`),
      };
      if (a.serverName !== undefined) address.serverName = id(a.serverName, `${path}.serverName`);
      return address;
    }),
    size: integer(p.size, 'plan.size', 1, Number.MAX_SAFE_INTEGER),
    rampup: number(p.rampup, 'plan.rampup', 0),
    sustain: number(p.sustain, 'plan.sustain', 0),
    rampdown: number(p.rampdown, 'plan.rampdown', 0),
  };
}

function blockLimits(value: unknown, path: string): ResolvedPlan['blocks'][number]['limits'] {
  // A plan from a coordinator that predates limits gets the defaults.
  const l = value === undefined ? {} : object(value, path);
  const limit = (field: keyof typeof BLOCK_LIMIT_RANGES): number =>
    l[field] === undefined ? BLOCK_LIMIT_DEFAULTS[field] : integer(l[field], `${path}.${field}`, BLOCK_LIMIT_RANGES[field].min, BLOCK_LIMIT_RANGES[field].max);
  return { memoryMb: limit('memoryMb'), cpuMs: limit('cpuMs'), stackKb: limit('stackKb') };
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Malformed(`${path} must be an object, got ${describe(value)}`);
  return value as Record<string, unknown>;
}

function list<T>(value: unknown, path: string, item: (value: unknown, path: string) => T): T[] {
  if (!Array.isArray(value)) throw new Malformed(`${path} must be a list, got ${describe(value)}`);
  if (value.length === 0 || value.length > MAX_PLAN_ITEMS) throw new Malformed(`${path} must hold 1 to ${MAX_PLAN_ITEMS} items, got ${value.length}`);
  return value.map((v, i) => item(v, `${path}[${i}]`));
}

/** A map from metric names to values; the name rule keeps out `__proto__` and its kind. */
function metricMap<T>(value: unknown, path: string, read: (value: unknown, path: string) => T): Record<string, T> {
  const m = object(value, path);
  const keys = Object.keys(m);
  if (keys.length > MAX_METRICS) throw new Malformed(`${path} must hold at most ${MAX_METRICS} metrics, got ${keys.length}`);
  const out: Record<string, T> = {};
  for (const key of keys) out[metricName(key, `${path} key`)] = read(m[key], `${path}.${key}`);
  return out;
}

/** Metric names; the rule also keeps out `__proto__` and its kind. */
function metricName(value: unknown, path: string): string {
  if (typeof value !== 'string' || !METRIC_NAME.test(value)) throw new Malformed(`${path} is no metric name: ${describe(value)}`);
  return value;
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new Malformed(`${path} must be a string, got ${describe(value)}`);
  return value;
}

function text(value: unknown, path: string, max: number): string {
  const s = string(value, path);
  if (s.length > max) throw new Malformed(`${path} must be at most ${max} characters, got ${s.length}`);
  return s;
}

/** A non-empty single line without control characters: ids, host names. */
function id(value: unknown, path: string): string {
  const s = text(value, path, MAX_ID_LENGTH);
  if (s === '') throw new Malformed(`${path} must not be empty`);
  if (CONTROL_CHARACTER.test(s)) throw new Malformed(`${path} must not contain control characters`);
  return s;
}

function number(value: unknown, path: string, min = -Infinity, max = Infinity): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Malformed(`${path} must be a finite number, got ${describe(value)}`);
  if (value < min || value > max) throw new Malformed(`${path} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  const n = number(value, path, min, max);
  if (!Number.isSafeInteger(n)) throw new Malformed(`${path} must be a whole number, got ${n}`);
  return n;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new Malformed(`${path} must be true or false, got ${describe(value)}`);
  return value;
}

function protocol(value: unknown, path: string): Protocol {
  if (typeof value !== 'string' || !(PROTOCOLS as readonly string[]).includes(value)) {
    throw new Malformed(`${path} must be one of ${PROTOCOLS.join(', ')}, got ${describe(value)}`);
  }
  return value as Protocol;
}

/** An encoded histogram's bytes; whether they decode is the aggregator's to find out (it counts failures). */
function bytes(value: unknown, path: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length === 0) throw new Malformed(`${path} must be the bytes of an encoded histogram`);
  return value;
}

/** Names a value for a reason without echoing what a hostile peer sent at length. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return 'an object';
  return typeof value;
}
