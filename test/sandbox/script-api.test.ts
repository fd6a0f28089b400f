import test from 'ava';
import { createHash, createHmac } from 'node:crypto';
import { DeviceError } from '../../ts/shared/errors.js';
import { evaluate, fakeHttp, jsonResponse, sandbox } from './fakes.js';

test('every HTTP verb reaches DeviceIO with method, path, headers and body', async (t) => {
  const { sb } = await sandbox(`
    await get('/g', { 'x-a': 'b' });
    await head('/h');
    await options('/o', [['x-n', 42]]);
    await del('/d');
    await post('/p', {}, 'text body');
    await put('/u', [], new Uint8Array([1, 2, 3]));
    await patch('/a', { 'content-type': 'application/merge-patch+json' }, json({ a: 1 }));
    await post('/j', undefined, json([1, 'x']));
  `);
  const { io, requests } = fakeHttp();
  await sb.run(1, io);
  sb.dispose();
  t.deepEqual(
    requests.map((r) => [r.method, r.path, r.headers, r.body === undefined ? undefined : Buffer.from(r.body).toString('latin1')]),
    [
      ['GET', '/g', [['x-a', 'b']], undefined],
      ['HEAD', '/h', [], undefined],
      ['OPTIONS', '/o', [['x-n', '42']], undefined],
      ['DELETE', '/d', [], undefined],
      ['POST', '/p', [], 'text body'],
      ['PUT', '/u', [], '\x01\x02\x03'],
      ['PATCH', '/a', [['content-type', 'application/merge-patch+json']], '{"a":1}'],
      ['POST', '/j', [['content-type', 'application/json']], '[1,"x"]'],
    ],
  );
});

test('response bodies: JSON parsed, text as string, other types as bytes, bad JSON as text', async (t) => {
  const bodies: Record<string, [string, string | Buffer]> = {
    '/json': ['application/json; charset=utf-8', '{"a":[1,2],"é":"ü"}'],
    '/problem': ['application/problem+json', '{"title":"x"}'],
    '/text': ['text/plain', 'héllo'],
    '/xml': ['application/xml', '<a/>'],
    '/bin': ['application/octet-stream', Buffer.from([0, 255, 7])],
    '/badjson': ['application/json', '{oops'],
  };
  const { sb } = await sandbox(`
    const out = {};
    for (const p of ['/json', '/problem', '/text', '/xml', '/bin', '/badjson']) {
      const r = await get(p);
      out[p] = { status: r.status, headers: r.headers, kind: r.body instanceof Uint8Array ? 'bytes' : typeof r.body,
                 body: r.body instanceof Uint8Array ? Array.from(r.body) : r.body };
    }
    await post('/result', {}, json(out));
  `);
  let result: Record<string, { status: number; headers: unknown; kind: string; body: unknown }> = {};
  const { io } = fakeHttp((req) => {
    if (req.path === '/result') {
      result = JSON.parse(Buffer.from(req.body!).toString()) as typeof result;
      return jsonResponse(null);
    }
    const [type, body] = bodies[req.path]!;
    return { status: 201, headers: [['content-type', type]], body: Buffer.from(body) };
  });
  await sb.run(1, io);
  sb.dispose();
  t.deepEqual(result['/json'], { status: 201, headers: [['content-type', 'application/json; charset=utf-8']], kind: 'object', body: { a: [1, 2], é: 'ü' } });
  t.deepEqual(result['/problem']!.body, { title: 'x' });
  t.deepEqual([result['/text']!.kind, result['/text']!.body], ['string', 'héllo']);
  t.is(result['/xml']!.body, '<a/>');
  t.deepEqual([result['/bin']!.kind, result['/bin']!.body], ['bytes', [0, 255, 7]]);
  t.deepEqual([result['/badjson']!.kind, result['/badjson']!.body], ['string', '{oops']);
});

test('response headers: lower-case pairs in order, none, empty values, a value the flat form cannot carry; spread, JSON and assignment see them', async (t) => {
  const served: Record<string, Array<[string, string]>> = {
    '/many': [
      ['server', 'nginx'],
      ['content-type', 'text/plain'],
      ['x-empty', ''],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ],
    '/none': [],
    '/odd': [['x-odd', 'one\ntwo']],
  };
  const { sb } = await sandbox(`
    const out = {};
    for (const p of ['/many', '/none', '/odd']) out[p] = (await get(p)).headers;
    const r = await get('/many');
    const copy = { ...r };
    const text = JSON.parse(JSON.stringify(r));
    r.headers = 'replaced';
    out.copy = copy.headers;
    out.json = text.headers;
    out.replaced = r.headers;
    out.keys = Object.keys(r);
    await post('/result', {}, json(out));
  `);
  let result: Record<string, unknown> = {};
  const { io } = fakeHttp((req) => {
    if (req.path === '/result') {
      result = JSON.parse(Buffer.from(req.body!).toString()) as typeof result;
      return jsonResponse(null);
    }
    return { status: 200, headers: served[req.path]!, body: Buffer.from('ok') };
  });
  await sb.run(1, io);
  sb.dispose();
  t.deepEqual(result['/many'], served['/many']);
  t.deepEqual(result['/none'], []);
  t.deepEqual(result['/odd'], served['/odd']);
  t.deepEqual(result.copy, served['/many']);
  t.deepEqual(result.json, served['/many']);
  t.is(result.replaced, 'replaced');
  t.deepEqual(result.keys, ['status', 'headers', 'body', 'json', 'bert']);
});

test('a transport error reaches the script as an Error with code, and uncaught it is the device error', async (t) => {
  const source = `
    try { await get('/a'); } catch (e) { incCounter(e.code + '_seen'); if (!(e instanceof Error) || e.message !== 'refused!') throw new Error('bad shape'); }
    await get('/b');
  `;
  const { sb, sink } = await sandbox(source);
  const io = { http: () => Promise.reject(new DeviceError('conn_refused', 'refused!')) };
  const error = await t.throwsAsync(sb.run(1, io), { instanceOf: DeviceError });
  sb.dispose();
  t.is(error.code, 'conn_refused');
  t.is(sink.counts.get('conn_refused_seen'), 1);
});

test('an HTTP call on a device without HTTP fails with wrong_protocol', async (t) => {
  const { sb } = await sandbox(`await get('/')`);
  const error = await t.throwsAsync(sb.run(1, {}), { instanceOf: DeviceError });
  sb.dispose();
  t.is(error.code, 'wrong_protocol');
});

test('timings record microseconds and counters add up, batched to the sink', async (t) => {
  const { sb, sink } = await sandbox(`
    startTiming('wait');
    await delay(30);
    stopStartTiming('wait', 'second');
    await delay(10);
    stopTiming('second');
    incCounter('hits');
    incCounter('hits', 4);
  `);
  await sb.run(1, {});
  sb.dispose();
  const [wait] = sink.durations.get('wait')!;
  const [second] = sink.durations.get('second')!;
  t.true(wait! >= 29_000 && wait! < 1_000_000, `wait ${wait}`);
  t.true(second! >= 9_000 && second! < 1_000_000, `second ${second}`);
  t.is(sink.counts.get('hits'), 5);
});

test('delay with a random ratio waits ms·(1 + r·(2U−1))', async (t) => {
  const { sb, sink } = await sandbox(`for (let i = 0; i < 8; i++) { startTiming('d'); await delay(20, 0.5); stopTiming('d'); }`);
  await sb.run(1, {});
  sb.dispose();
  const waits = sink.durations.get('d')!;
  t.is(waits.length, 8);
  // Timers never fire early; the upper bound only guards against a lost wake-up.
  for (const us of waits) t.true(us >= 9_000 && us < 5_000_000, `waited ${us} µs`);
  t.true(new Set(waits).size > 1);
});

test('randomBits, randomBytes, base64, hex, text, crypto and params', async (t) => {
  const result = (await evaluate(
    `
    const rb = randomBytes(16), bits = randomBits(12);
    return {
      rb: [rb instanceof Uint8Array, rb.length], bits: [bits.length, bits[0] < 16],
      b64: base64.encode('hello?>'), b64url: base64.encode(new Uint8Array([251, 255]), { url: true, padding: false }),
      b64dec: Array.from(base64.decode('+/8=')), b64urldec: Array.from(base64.decode('-_8', { url: true })),
      hex: hex.encode(new Uint8Array([0, 171, 255])), hexdec: Array.from(hex.decode('00ABff')),
      text: Array.from(text.encode('é😀')), back: text.decode(text.encode('é😀 x')),
      sha256: hex.encode(crypto.hash('sha256', 'abc')), md5: hex.encode(crypto.hash('md5', new Uint8Array([1, 2]))),
      sha1: hex.encode(crypto.hash('sha1', 'abc')), sha512: hex.encode(crypto.hash('sha512', '')),
      hmac: hex.encode(crypto.hmac('sha256', 'key', 'data')),
      params: params.name, frozen: Object.isFrozen(params) && Object.isFrozen(params.nested), json: typeof JSON.parse('{}'),
    };`,
    { name: 'p', nested: { a: 1 } },
  )) as Record<string, unknown>;
  const h = (alg: string, data: string | Buffer) => createHash(alg).update(data).digest('hex');
  t.deepEqual(result, {
    rb: [true, 16],
    bits: [2, true],
    b64: Buffer.from('hello?>').toString('base64'),
    b64url: Buffer.from([251, 255]).toString('base64url'),
    b64dec: [251, 255],
    b64urldec: [251, 255],
    hex: '00abff',
    hexdec: [0, 171, 255],
    text: [...Buffer.from('é😀')],
    back: 'é😀 x',
    sha256: h('sha256', 'abc'),
    md5: h('md5', Buffer.from([1, 2])),
    sha1: h('sha1', 'abc'),
    sha512: h('sha512', ''),
    hmac: createHmac('sha256', 'key').update('data').digest('hex'),
    params: 'p',
    frozen: true,
    json: 'object',
  });
});

test('incCounter takes a non-negative integer only: anything else is bad_argument and counts nothing', async (t) => {
  const out = (await evaluate(`
    const code = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
    return [code(() => incCounter('n', 0)), code(() => incCounter('n', 3)), code(() => incCounter('n', -1)), code(() => incCounter('n', 1.5)),
            code(() => incCounter('n', NaN)), code(() => incCounter('n', Infinity)), code(() => incCounter('n', '2')), code(() => incCounter('n', 2n))];
  `)) as string[];
  t.deepEqual(out, ['ok', 'ok', 'bad_argument', 'bad_argument', 'bad_argument', 'bad_argument', 'bad_argument', 'bad_argument']);
});

test('bad arguments throw or reject with code bad_argument', async (t) => {
  const result = await evaluate(`
    const codes = [];
    const sync = [() => startTiming('Bad Key'), () => stopTiming('never_started'), () => incCounter('x', 'a'), () => incCounter('generator'), () => incCounter('network_rx_bytes'),
      () => randomBytes(-1), () => base64.decode('a'), () => base64.decode('@@@@'), () => hex.decode('abc'),
      () => crypto.hash('sha3', 'x'), () => crypto.hmac('sha1', 5, 'x'), () => text.encode(5), () => base64.encode({})];
    for (const f of sync) { try { f(); codes.push('none'); } catch (e) { codes.push(e.code); } }
    const async = [() => get(5), () => get('/', 'x'), () => get('/', [['bad name', 'v']]), () => get('/', { a: 'x\\r\\ny' }),
      () => post('/', {}, 42), () => post('/', {}, json(1n)), () => delay(-1), () => delay(1, 2)];
    for (const f of async) { try { await f(); codes.push('none'); } catch (e) { codes.push(e.code); } }
    return codes;
  `);
  t.deepEqual(result, Array(21).fill('bad_argument'));
});
