import { BLOCK_LIMIT_DEFAULTS } from '../../ts/shared/plan.js';
import test from 'ava';
import { Histogram } from '../../ts/hdr/index.js';
import {
  CHECK_FAILED,
  MAX_METRICS,
  checkCoordinatorMessage,
  checkGeneratorMessage,
  parseCoordinatorFrame,
  parseCoordinatorMessage,
  parseGeneratorFrame,
  parseGeneratorMessage,
  type ParseResult,
} from '../../ts/shared/protocol-validation.js';
import { PROTOCOL_VERSION, type CoordinatorMessage, type GeneratorMessage, type Telemetry } from '../../ts/shared/protocol.js';
import { serializeGeneratorMessage } from '../../ts/shared/telemetry-frame.js';

const histogram = (() => {
  const h = new Histogram({ lowest: 1, highest: 60_000_000, significantDigits: 3 });
  h.recordMany([120, 340, 5600]);
  return h.encode({ compressed: false });
})();

const RUN_ID = 'checkout-20260314T092653Z-ab12';

const generatorMessages: GeneratorMessage[] = [
  { type: 'hello', version: PROTOCOL_VERSION, generatorId: 'gen-1.example.com', workers: 4 },
  {
    type: 'telemetry',
    generatorId: 'gen-1',
    runId: RUN_ID,
    seq: 7,
    at: 1_773_480_413_000,
    intervalMs: 1000.4,
    activeDevices: 100,
    cpuPercent: 36.5,
    networkRxBytes: 4096,
    networkTxBytes: 1024,
    counters: { response_count: 250, conn_refused_error_count: 2, login_count: 1 },
    histograms: { conn_us: histogram, headers_us: histogram },
    final: true,
  },
  { type: 'telemetry', generatorId: 'gen-1', runId: null, seq: 0, at: 0, intervalMs: 0, activeDevices: 0, cpuPercent: 0, networkRxBytes: 0, networkTxBytes: 0, counters: {}, histograms: {} },
  { type: 'run_problem', generatorId: 'gen-1', runId: RUN_ID, message: 'nx_domain: target.invalid does not resolve' },
  { type: 'generator_notice', generatorId: 'gen-1', runId: RUN_ID, message: 'devices are failing with too_many_open_files' },
];

const coordinatorMessages: CoordinatorMessage[] = [
  { type: 'welcome', version: PROTOCOL_VERSION },
  { type: 'refused', reason: 'this coordinator speaks protocol version 1, the generator 2' },
  {
    type: 'prepare_run',
    runId: RUN_ID,
    plan: {
      name: 'Checkout',
      blocks: [
        { script: 'await get("/")', params: { path: '/', nested: { list: [1, 'two', null, true] } }, size: 1, limits: { memoryMb: 8, cpuMs: 100, stackKb: 128 } },
        { script: 'await delay(5)', params: {}, size: 3, limits: { ...BLOCK_LIMIT_DEFAULTS } },
      ],
      addresses: [
        { host: '127.0.0.1', port: 8080, protocol: 'http', verifyTls: false },
        { host: 'example.com', port: 443, protocol: 'https', verifyTls: true, serverName: 'example.com' },
      ],
      size: 40,
      rampup: 1.5,
      sustain: 60,
      rampdown: 0,
    },
  },
  { type: 'start_cohort', runId: RUN_ID, cohortId: 3, devices: [3, 7], addressOffset: 30 },
  { type: 'stop_cohort', runId: RUN_ID, cohortId: 3 },
  { type: 'end_run', runId: RUN_ID },
];

/** A generator message as its socket carries it: the frame and whether it is binary. */
function wire(m: GeneratorMessage): [Buffer, boolean] {
  const frame = serializeGeneratorMessage(m);
  return typeof frame === 'string' ? [Buffer.from(frame), false] : [frame, true];
}

/** The JSON header a telemetry frame starts with. */
const headerOf = (m: Telemetry): Record<string, unknown> => ({ ...m, histograms: Object.entries(m.histograms).map(([name, bytes]) => [name, bytes.length]) });
const bodyOf = (m: Telemetry): Buffer => Buffer.concat(Object.values(m.histograms));

/** A binary frame from a header's text and a body, whatever they say. */
function binaryFrame(header: string, body: Buffer): Buffer {
  const json = Buffer.from(header);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(json.length);
  return Buffer.concat([prefix, json, body]);
}

const TELEMETRY = generatorMessages[1] as Telemetry;
const telemetryFrame = (changes: Record<string, unknown>, body = bodyOf(TELEMETRY)): Buffer => binaryFrame(JSON.stringify({ ...headerOf(TELEMETRY), ...changes }), body);

test('every valid message of either side comes through unchanged', (t) => {
  for (const m of generatorMessages) t.deepEqual(parseGeneratorFrame(...wire(m)), { ok: true, message: m }, m.type);
  for (const m of coordinatorMessages) t.deepEqual(parseCoordinatorMessage(JSON.stringify(m)), { ok: true, message: m }, m.type);
});

test('telemetry travels as a binary frame, every other message as JSON text', (t) => {
  for (const m of generatorMessages) t.is(wire(m)[1], m.type === 'telemetry', m.type);
  const asText = parseGeneratorMessage(JSON.stringify(TELEMETRY));
  t.deepEqual(asText, { ok: false, reason: 'telemetry travels in a binary frame, not as JSON text' });
  t.deepEqual(parseCoordinatorFrame(Buffer.from(JSON.stringify(coordinatorMessages[0])), true), { ok: false, reason: 'a coordinator sends JSON text frames only' });
});

test('each side accepts only its peer’s messages', (t) => {
  for (const m of coordinatorMessages) t.false(parseGeneratorMessage(JSON.stringify(m)).ok, m.type);
  for (const m of generatorMessages) t.false(parseCoordinatorFrame(...wire(m)).ok, m.type);
});

test('fields nobody defined are dropped, not passed on', (t) => {
  const parsed = parseGeneratorMessage(JSON.stringify(generatorMessages[0]).replace('{', '{"__proto__":{"polluted":1},"admin":true,'));
  t.deepEqual(parsed, { ok: true, message: generatorMessages[0]! });
  t.false('polluted' in {});
  t.false(parsed.ok && 'admin' in parsed.message);
});

test('a hello or welcome of another protocol version passes with its version, so the peer can be refused clearly', (t) => {
  t.deepEqual(parseGeneratorMessage(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION + 1, generatorId: 'next', capabilities: ['x'] })), {
    ok: true,
    message: { type: 'hello', version: PROTOCOL_VERSION + 1, generatorId: 'next', workers: 0 },
  });
  t.deepEqual(parseCoordinatorMessage('{"type":"welcome","version":9}'), { ok: true, message: { type: 'welcome', version: 9 } });
  t.false(parseGeneratorMessage('{"type":"hello","version":"1","generatorId":"g","workers":1}').ok);
});

/** A text frame as a string, a binary frame as bytes. */
const rejected: Array<[string, string | Buffer, RegExp]> = [
  ['not JSON', '{"type":', /^not JSON/],
  ['JSON of no object', '[1,2]', /message must be an object, got a list/],
  ['a bare string', '"hello"', /message must be an object/],
  ['unknown type', '{"type":"shutdown"}', /unknown generator message type "shutdown"/],
  ['empty id', JSON.stringify({ ...generatorMessages[0], generatorId: '' }), /generatorId must not be empty/],
  ['id with a line break', JSON.stringify({ ...generatorMessages[0], generatorId: 'a\nb' }), /control characters/],
  ['id too long', JSON.stringify({ ...generatorMessages[0], generatorId: 'g'.repeat(300) }), /at most 256 characters/],
  ['no workers', JSON.stringify({ ...generatorMessages[0], workers: 0 }), /workers must be between 1/],
  ['fractional seq', telemetryFrame({ seq: 1.5 }), /seq must be a whole number/],
  ['negative devices', telemetryFrame({ activeDevices: -1 }), /activeDevices must be between 0/],
  ['cpu over 100', telemetryFrame({ cpuPercent: 101 }), /cpuPercent must be between 0 and 100/],
  ['counter as string', telemetryFrame({ counters: { response_count: '5' } }), /counters.response_count must be a finite number/],
  ['counter infinite (1e999)', binaryFrame(JSON.stringify({ ...headerOf(TELEMETRY), counters: {} }).replace('"counters":{}', '"counters":{"x_count":1e999}'), bodyOf(TELEMETRY)), /finite number/],
  ['metric name with a slash', telemetryFrame({ counters: { '../x': 1 } }), /no metric name/],
  ['__proto__ as metric', binaryFrame(JSON.stringify(headerOf(TELEMETRY)).replace('"counters":{', '"counters":{"__proto__":1,'), bodyOf(TELEMETRY)), /no metric name/],
  ['telemetry as JSON text', JSON.stringify(headerOf(TELEMETRY)), /telemetry travels in a binary frame/],
  ['header length beyond the frame', Buffer.from([0, 0, 1, 0, 123]), /shorter than its header length says/],
  ['frame shorter than a length prefix', Buffer.from([0, 1]), /shorter than its header length says/],
  ['header not JSON', binaryFrame('{"type":', Buffer.alloc(0)), /header is not JSON/],
  ['a hello in a binary frame', binaryFrame(JSON.stringify(generatorMessages[0]), Buffer.alloc(0)), /must hold telemetry, got type "hello"/],
  ['histograms as a map', telemetryFrame({ histograms: { conn_us: 5 } }), /histograms must be a list/],
  ['histogram longer than the frame', telemetryFrame({ histograms: [['conn_us', 1_000_000]] }), /histograms\[0\]\[1\] must be between 1 and/],
  ['empty histogram', telemetryFrame({ histograms: [['conn_us', 0]] }), /histograms\[0\]\[1\] must be between 1 and/],
  ['bytes after the histograms', telemetryFrame({ histograms: [['conn_us', histogram.length]] }), /bytes after its histograms/],
  [
    'a histogram named twice',
    telemetryFrame({
      histograms: [
        ['conn_us', histogram.length],
        ['conn_us', histogram.length],
      ],
    }),
    /names conn_us a second time/,
  ],
  [
    'histogram name no metric',
    telemetryFrame({
      histograms: [
        ['__proto__', histogram.length],
        ['conn_us', histogram.length],
      ],
    }),
    /no metric name/,
  ],
  ['histogram entry not a pair', telemetryFrame({ histograms: [['conn_us']] }), /must be \[name, byteLength\]/],
  ['runId neither string nor null', telemetryFrame({ runId: 5 }), /runId must be a string/],
  ['final not boolean', telemetryFrame({ final: 'yes' }), /final must be true or false/],
  ['too many metrics', telemetryFrame({ counters: Object.fromEntries(Array.from({ length: MAX_METRICS + 1 }, (_, i) => [`m${i}`, 1])) }), /at most 4096 metrics/],
  ['problem text too long', JSON.stringify({ ...generatorMessages[3], message: 'x'.repeat(5000) }), /message must be at most 4096/],
];

for (const [what, frame, reason] of rejected) {
  test(`refused with a reason: ${what}`, (t) => {
    const parsed = typeof frame === 'string' ? parseGeneratorFrame(Buffer.from(frame), false) : parseGeneratorFrame(frame, true);
    t.false(parsed.ok);
    if (!parsed.ok) t.regex(parsed.reason, reason);
  });
}

test('a malformed plan or cohort is refused with the field that is wrong', (t) => {
  const prepare = coordinatorMessages[2] as Extract<CoordinatorMessage, { type: 'prepare_run' }>;
  const cases: Array<[unknown, RegExp]> = [
    [{ ...prepare, plan: { ...prepare.plan, blocks: [] } }, /plan.blocks must hold 1 to/],
    [{ ...prepare, plan: { ...prepare.plan, addresses: [{ ...prepare.plan.addresses[0], port: 70000 }] } }, /plan.addresses\[0\].port must be between 1 and 65535/],
    [{ ...prepare, plan: { ...prepare.plan, addresses: [{ ...prepare.plan.addresses[0], protocol: 'gopher' }] } }, /plan.addresses\[0\].protocol must be one of/],
    [{ ...prepare, plan: { ...prepare.plan, blocks: [{ script: 5, params: {}, size: 1 }] } }, /plan.blocks\[0\].script must be a string/],
    [{ ...prepare, plan: { ...prepare.plan, blocks: [{ script: 'x', params: [], size: 1 }] } }, /plan.blocks\[0\].params must be an object/],
    [{ ...prepare, plan: { ...prepare.plan, sustain: -1 } }, /plan.sustain must be between 0/],
    [{ type: 'start_cohort', runId: RUN_ID, cohortId: 0, devices: [1, -2], addressOffset: 0 }, /devices\[1\] must be between 0/],
    [{ type: 'stop_cohort', runId: RUN_ID }, /cohortId must be a finite number, got undefined/],
  ];
  for (const [message, reason] of cases) {
    const parsed = checkCoordinatorMessage(message);
    t.false(parsed.ok, String(reason));
    if (!parsed.ok) t.regex(parsed.reason, reason);
  }
});

/** Deterministic, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 60, -0, '', 'x', '\u0000', '__proto__', [], [1], {}, { a: 1 }, 'A'.repeat(300), 'telemetry'];

/** One random change to a JSON value: a field removed, replaced, added, or a list emptied. */
function mutate(value: unknown, next: () => number): unknown {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  if (Array.isArray(value)) {
    if (value.length === 0 || next() < 0.2) return next() < 0.5 ? [] : [...(value as unknown[]), pick(ODD_VALUES)];
    const i = Math.floor(next() * value.length);
    const copy = [...(value as unknown[])];
    copy[i] = mutate(copy[i], next);
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    const roll = next();
    if (keys.length === 0 || roll < 0.1) copy[pick(['type', 'extra', 'version', '__proto__', 'seq'])] = pick(ODD_VALUES);
    else if (roll < 0.3) delete copy[pick(keys)];
    else {
      const key = pick(keys);
      copy[key] = next() < 0.4 ? pick(ODD_VALUES) : mutate(copy[key], next);
    }
    return copy;
  }
  return pick(ODD_VALUES);
}

function checkFuzzed(
  t: import('ava').ExecutionContext,
  parse: (text: string) => ParseResult<unknown>,
  check: (value: unknown) => ParseResult<unknown>,
  messages: readonly unknown[],
  seed: number,
): void {
  const next = random(seed);
  let refused = 0;
  for (let i = 0; i < 5000; i++) {
    let value: unknown = messages[i % messages.length];
    for (let n = 1 + Math.floor(next() * 3); n > 0; n--) value = mutate(value, next);
    let text = JSON.stringify(value);
    // Byte-level damage too: truncation, a flipped character.
    const truncate = next() < 0.2;
    if (truncate) text = text.slice(0, Math.floor(next() * text.length));
    else if (next() < 0.2) {
      const at = Math.floor(next() * text.length);
      text = text.slice(0, at) + String.fromCharCode(Math.floor(next() * 128)) + text.slice(at + 1);
    }
    let parsed: ParseResult<unknown>;
    try {
      parsed = parse(text);
    } catch (err) {
      t.fail(`threw on ${text}: ${String(err)}`);
      return;
    }
    if (parsed.ok) {
      // Whatever passes must pass again as it was rebuilt: the check is a fixed point.
      t.deepEqual(check(structuredClone(parsed.message)), parsed, text);
    } else {
      refused++;
      if (typeof parsed.reason !== 'string' || parsed.reason === '') t.fail(`no reason for ${text}`);
      // The catch-all reason means a check threw something other than its own error: a bug in the validator.
      else if (parsed.reason.startsWith(CHECK_FAILED)) t.fail(`the validator threw on ${text}: ${parsed.reason}`);
    }
  }
  t.true(refused > 1000, `${refused} of 5000 mutations refused`);
}

test('fuzzed generator messages: never a throw, always a message or a reason', (t) => {
  // Telemetry is fuzzed as its frame's JSON header, the histogram bytes after it kept.
  const asText = generatorMessages.map((m) => (m.type === 'telemetry' ? headerOf(m) : m));
  const parse = (text: string) => (text.includes('"telemetry"') ? parseGeneratorFrame(binaryFrame(text, bodyOf(TELEMETRY)), true) : parseGeneratorFrame(Buffer.from(text), false));
  checkFuzzed(t, parse, checkGeneratorMessage, asText, 1);
});

test('fuzzed coordinator messages: never a throw, always a message or a reason', (t) => {
  checkFuzzed(t, parseCoordinatorMessage, checkCoordinatorMessage, coordinatorMessages, 2);
});

test('damaged telemetry frames: never a throw, never a failed check, always a message or a reason', (t) => {
  const next = random(3);
  const [frame] = wire(TELEMETRY);
  const reasons = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const damaged = Buffer.from(frame);
    const roll = next();
    let bytes: Buffer = damaged;
    if (roll < 0.25) bytes = damaged.subarray(0, Math.floor(next() * damaged.length));
    else if (roll < 0.4) bytes = Buffer.concat([damaged, Buffer.from([Math.floor(next() * 256)])]);
    else if (roll < 0.55) damaged.writeUInt32BE(Math.floor(next() * 2 ** 32), 0);
    else for (let n = 1 + Math.floor(next() * 4); n > 0; n--) damaged[Math.floor(next() * damaged.length)] = Math.floor(next() * 256);
    let parsed: ParseResult<GeneratorMessage>;
    try {
      parsed = parseGeneratorFrame(bytes, true);
    } catch (err) {
      return t.fail(`threw on ${bytes.toString('hex')}: ${String(err)}`);
    }
    if (parsed.ok) continue;
    if (parsed.reason.startsWith(CHECK_FAILED)) return t.fail(`the validator threw on ${bytes.toString('hex')}: ${parsed.reason}`);
    reasons.add(parsed.reason.replace(/\d+/g, 'N'));
  }
  t.true(reasons.size > 5, `reasons seen: ${[...reasons].join('; ')}`);
});

test('values JSON.parse cannot produce are refused when checked in memory', (t) => {
  const m = { ...generatorMessages[1], counters: { response_count: Number.NaN } };
  t.false(checkGeneratorMessage(m).ok);
  t.false(checkGeneratorMessage({ ...generatorMessages[1], at: Number.POSITIVE_INFINITY }).ok);
});
