/**
 * BERT in scripts against independent implementations: terms written by
 * Python's erlang-py and bert libraries (fixtures.json, made by
 * make-fixtures.py) decode to the documented JavaScript values, and those values
 * encode to the very bytes erlang-py writes (Erlang's own choice of tags). The
 * codec runs where scripts run, in the QuickJS guest.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { evaluate, fakeHttp, jsonResponse, sandbox } from './fakes.js';

interface Fixture {
  name: string;
  encoder: string;
  hex: string;
  value: unknown;
  exact: boolean;
}

const FIXTURES = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/sandbox/bert/fixtures.json', import.meta.url)), 'utf8')) as Fixture[];

/** Guest code: the tagged descriptions of fixtures.json, built into values and read back from them. */
const TAGGED = `
const build = (d) => {
  const [tag] = Object.keys(d), v = d[tag];
  switch (tag) {
    case 'int': { const n = Number(v); return Number.isSafeInteger(n) && String(n) === v ? n : BigInt(v); }
    case 'float': return v;
    case 'str': return v;
    case 'bytes': return hex.decode(v);
    case 'atom': return bert.atom(v);
    case 'bool': return v;
    case 'nil': return null;
    case 'list': return v.map(build);
    case 'tuple': return bert.tuple(...v.map(build));
    case 'object': return Object.fromEntries(v.map(([k, x]) => [k, build(x)]));
    case 'map': return new Map(v.map(([k, x]) => [build(k), build(x)]));
    case 'time': return new Date(v);
  }
  throw new Error('unknown tag ' + tag);
};
const describe = (v) => {
  if (v === null) return { nil: null };
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'bigint') return { int: v.toString() };
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { int: String(v) } : { float: v };
  if (typeof v === 'string') return { str: v };
  if (v instanceof Uint8Array) return { bytes: hex.encode(v) };
  if (v instanceof bert.Atom) return { atom: v.name };
  if (v instanceof bert.Tuple) return { tuple: Array.from(v, describe) };
  if (Array.isArray(v)) return { list: v.map(describe) };
  if (v instanceof Date) return { time: v.getTime() };
  if (v instanceof Map) return { map: Array.from(v, ([k, x]) => [describe(k), describe(x)]) };
  return { object: Object.keys(v).map((k) => [k, describe(v[k])]) };
};
`;

/** What a value reads back as after a round trip: a Map whose keys are all strings comes back as an object (the documented mapping). */
function afterRoundTrip(d: unknown): unknown {
  if (Array.isArray(d)) return d.map(afterRoundTrip);
  if (d === null || typeof d !== 'object') return d;
  const [[tag, v]] = Object.entries(d) as [[string, unknown]];
  if (tag === 'map') {
    const entries = (v as Array<[unknown, unknown]>).map(([k, x]) => [afterRoundTrip(k), afterRoundTrip(x)] as [unknown, unknown]);
    if (entries.every(([k]) => typeof k === 'object' && k !== null && 'str' in k)) return { object: entries.map(([k, x]) => [(k as { str: string }).str, x]) };
    return { map: entries };
  }
  if (tag === 'object') return { object: (v as Array<[string, unknown]>).map(([k, x]) => [k, afterRoundTrip(x)]) };
  return { [tag]: afterRoundTrip(v) };
}

test('every fixture decodes to its documented value; exact ones encode to the same bytes; every value round-trips', async (t) => {
  const results = (await evaluate(
    `${TAGGED}
    return params.fixtures.map((f) => {
      const r = { name: f.name };
      try { r.decoded = describe(bert.decode(hex.decode(f.hex))); } catch (e) { r.decoded = 'threw ' + e.code + ': ' + e.message; }
      const value = build(f.value);
      r.encoded = hex.encode(bert.encode(value));
      r.roundTrip = describe(bert.decode(bert.encode(value)));
      return r;
    });`,
    { fixtures: FIXTURES },
  )) as Array<{ name: string; decoded: unknown; encoded: string; roundTrip: unknown }>;
  t.is(results.length, FIXTURES.length);
  FIXTURES.forEach((f, i) => {
    const r = results[i]!;
    t.deepEqual(r.decoded, f.value, `${f.name} (${f.encoder}) decodes`);
    if (f.exact) t.is(r.encoded, f.hex, `${f.name} encodes as ${f.encoder} does`);
    t.deepEqual(r.roundTrip, afterRoundTrip(f.value), `${f.name} round-trips`);
  });
  t.true(FIXTURES.filter((f) => f.exact).length >= 30);
});

test('bert(value) is sent as application/x-bert; application/x-bert responses are decoded; json and bert say what was parsed', async (t) => {
  const term = FIXTURES.find((f) => f.name === 'map with atom keys')!;
  const { sb } = await sandbox(`
    const sent = await post('/rpc', {}, bert(bert.tuple(bert.atom('call'), bert.atom('users'), 'get', [1, 2.5, null, true, { a: 'b' }])));
    const own = await put('/typed', { 'content-type': 'application/bert' }, bert([]));
    const got = await get('/term');
    const js = await get('/json');
    const quoted = await get('/quoted');
    const text = await get('/text');
    const broken = await get('/broken');
    await post('/result', {}, json({
      reply: sent.body instanceof bert.Tuple ? [String(sent.body[0]), sent.body[1]] : null,
      sentBert: sent.bert, sentJson: sent.json,
      term: got.body instanceof Map ? [...got.body.keys()].map(String) : null,
      termName: got.body instanceof Map ? got.body.get(bert.atom('name')) : null,
      jsonFlags: [js.json, js.bert, typeof js.body], quoted: [quoted.json, quoted.body], text: [text.json, text.body],
      broken: [broken.bert, broken.body instanceof Uint8Array],
      own: own.status,
    }));
  `);
  const seen: Array<{ path: string; type: string | undefined; hex: string }> = [];
  let result: Record<string, unknown> = {};
  const { io } = fakeHttp((req) => {
    const type = req.headers.find(([n]) => n.toLowerCase() === 'content-type')?.[1];
    if (req.body) seen.push({ path: req.path, type, hex: Buffer.from(req.body).toString('hex') });
    const bertReply = (hex: string) => ({ status: 200, headers: [['content-type', 'application/x-bert']] as Array<[string, string]>, body: Buffer.from(hex, 'hex') });
    switch (req.path) {
      case '/rpc':
        // {reply, 3}
        return bertReply('8368027705' + '7265706c79' + '6103');
      case '/term':
        return bertReply(term.hex);
      case '/json':
        return jsonResponse({ a: 1 });
      case '/quoted':
        return { status: 200, headers: [['content-type', 'application/json']], body: Buffer.from('"a string"') };
      case '/text':
        return { status: 200, headers: [['content-type', 'text/plain']], body: Buffer.from('a string') };
      case '/broken':
        return bertReply('8301');
      case '/result':
        result = JSON.parse(Buffer.from(req.body!).toString()) as Record<string, unknown>;
        return jsonResponse(null);
      default:
        return jsonResponse(null);
    }
  });
  await sb.run(1, io);
  sb.dispose();
  t.like(seen[0], { path: '/rpc', type: 'application/x-bert' });
  t.like(seen[1], { path: '/typed', type: 'application/bert', hex: '836a' }, 'a content type of the script is kept');
  // {call, users, <<"get">>, [1, 2.5, {bert, nil}, {bert, true}, #{<<"a">> => <<"b">>}]}, as Erlang writes it.
  t.is(
    seen[0]!.hex,
    '836804770463616c6c77057573657273' +
      '6d00000003676574' +
      '6c00000005' +
      '6101' +
      '464004000000000000' +
      '6802770462657274' +
      '77036e696c' +
      '6802770462657274' +
      '770474727565' +
      '74000000016d00000001616d0000000162' +
      '6a',
  );
  t.deepEqual(result.reply, ['reply', 3]);
  t.deepEqual([result.sentBert, result.sentJson], [true, false]);
  t.deepEqual(result.term, ['name', 'tags']);
  t.is(result.termName, 'ada');
  t.deepEqual(result.jsonFlags, [true, false, 'object']);
  t.deepEqual(result.quoted, [true, 'a string'], 'a JSON string is told from a text body');
  t.deepEqual(result.text, [false, 'a string']);
  t.deepEqual(result.broken, [false, true], 'a body that is no term is handed over as bytes');
});

test('values with no term are bad_argument; malformed terms are protocol errors naming the problem', async (t) => {
  const out = (await evaluate(`
    const code = (f) => { try { f(); return 'ok'; } catch (e) { return e.code + ': ' + e.message; } };
    return [
      code(() => bert.encode(NaN)),
      code(() => bert.encode(() => 1)),
      code(() => bert.encode(new Set())),
      code(() => bert.decode(new Uint8Array([131, 108, 255, 255, 255, 255]))),
      code(() => bert.decode(new Uint8Array([131, 108, 0, 0, 0, 1, 97, 1, 97, 2]))),
      code(() => bert.decode(new Uint8Array([1, 97, 1]))),
      code(() => bert.decode(new Uint8Array([131, 97, 1, 0]))),
      code(() => bert.decode(new Uint8Array([131, 103]))),
      String(bert.atom('x') === bert.atom('x')),
      JSON.stringify(bert.tuple(bert.atom('ok'), 1)),
    ];
  `)) as string[];
  t.regex(out[0]!, /^bad_argument: bert: NaN has no term/);
  t.regex(out[1]!, /^bad_argument: bert: cannot encode a function/);
  t.regex(out[2]!, /^bad_argument: bert: cannot encode a Set/);
  t.regex(out[3]!, /^protocol: bert: a length of 4294967295 exceeds the bytes left/);
  t.regex(out[4]!, /^protocol: bert: improper lists/);
  t.regex(out[5]!, /^protocol: bert: not an Erlang external term/);
  t.regex(out[6]!, /^protocol: bert: 1 bytes after the term/);
  t.regex(out[7]!, /^protocol: bert: term tag 103 is not supported/);
  t.is(out[8], 'true', 'atoms are interned, so a Map keyed by atoms is read with bert.atom(name)');
  t.is(out[9], '["ok",1]');
});
