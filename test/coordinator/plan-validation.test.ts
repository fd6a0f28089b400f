import test from 'ava';
import { formatPlanProblems, validatePlan, type ScriptProblem } from '../../ts/shared/plan-validation.js';
import type { PlanProblem } from '../../ts/shared/plan.js';

const minimal = () => ({
  name: 'checkout',
  blocks: [{ script: 'await get("/")' }],
  addresses: [{ host: 'localhost' }],
});

async function problemsOf(input: unknown, checkScript?: (s: string) => Promise<ScriptProblem | null>): Promise<PlanProblem[]> {
  const result = await validatePlan(input, { checkScript });
  if (result.ok) throw new Error(`expected problems, got a valid plan: ${JSON.stringify(result.plan)}`);
  return result.problems;
}

const paths = (problems: PlanProblem[]) => problems.map((p) => p.path).sort();

test('a minimal plan gets every default', async (t) => {
  const result = await validatePlan(minimal());
  t.true(result.ok);
  if (!result.ok) return;
  t.deepEqual(result.plan, {
    name: 'checkout',
    blocks: [{ script: 'await get("/")', params: {}, size: 1, limits: { memoryMb: 16, cpuMs: 200, stackKb: 256 } }],
    addresses: [{ host: 'localhost', port: 80, protocol: 'http', verifyTls: false, serverName: 'localhost' }],
    size: 10,
    rampup: 0,
    sustain: 60,
    rampdown: 0,
  });
});

test('TLS protocols default to port 443, plain ones to 80; explicit ports stay', async (t) => {
  const result = await validatePlan({
    ...minimal(),
    addresses: [
      { host: 'a.example', protocol: 'https' },
      { host: 'b.example', protocol: 'http2s' },
      { host: 'c.example', protocol: 'http10s' },
      { host: 'd.example', protocol: 'tcp' },
      { host: 'e.example', protocol: 'https', port: 8443 },
    ],
  });
  t.true(result.ok);
  if (!result.ok) return;
  t.deepEqual(
    result.plan.addresses.map((a) => a.port),
    [443, 443, 443, 80, 8443],
  );
});

test('IP literals are accepted, brackets dropped, and get no server name', async (t) => {
  const result = await validatePlan({ ...minimal(), addresses: [{ host: '127.0.0.1' }, { host: '[::1]' }, { host: '::1' }] });
  t.true(result.ok);
  if (!result.ok) return;
  t.deepEqual(
    result.plan.addresses.map((a) => [a.host, a.serverName]),
    [
      ['127.0.0.1', undefined],
      ['::1', undefined],
      ['::1', undefined],
    ],
  );
});

test('the root must be an object', async (t) => {
  for (const input of [null, [], 'plan', 3, undefined]) {
    const problems = await problemsOf(input);
    t.is(problems.length, 1);
    t.is(problems[0]!.path, '');
    t.regex(problems[0]!.message, /must be a JSON object/);
  }
});

test('name is required, a string, not blank, bounded, single-line', async (t) => {
  for (const name of [undefined, 42, '   ', 'x'.repeat(201), 'two\nlines']) {
    t.deepEqual(paths(await problemsOf({ ...minimal(), name })), ['name'], `name ${JSON.stringify(name)}`);
  }
  const ok = await validatePlan({ ...minimal(), name: '  spaced  ' });
  t.true(ok.ok && ok.plan.name === 'spaced');
});

test('blocks must be a non-empty list of objects with a non-empty script', async (t) => {
  t.deepEqual(paths(await problemsOf({ ...minimal(), blocks: undefined })), ['blocks']);
  t.deepEqual(paths(await problemsOf({ ...minimal(), blocks: [] })), ['blocks']);
  t.deepEqual(paths(await problemsOf({ ...minimal(), blocks: { script: 'x' } })), ['blocks']);
  t.deepEqual(paths(await problemsOf({ ...minimal(), blocks: ['x'] })), ['blocks[0]']);
  t.deepEqual(paths(await problemsOf({ ...minimal(), blocks: [{}] })), ['blocks[0].script']);
  t.deepEqual(paths(await problemsOf({ ...minimal(), blocks: [{ script: 1 }] })), ['blocks[0].script']);
  t.deepEqual(paths(await problemsOf({ ...minimal(), blocks: [{ script: ' ' }] })), ['blocks[0].script']);
});

test('block size must be a positive whole number', async (t) => {
  for (const size of [0, -1, 1.5, '2', Number.NaN, Number.POSITIVE_INFINITY, null]) {
    const problems = await problemsOf({ ...minimal(), blocks: [{ script: 'x', size }] });
    t.deepEqual(paths(problems), ['blocks[0].size'], `size ${String(size)}`);
  }
  const ok = await validatePlan({ ...minimal(), blocks: [{ script: 'x', size: 3 }] });
  t.true(ok.ok && ok.plan.blocks[0]!.size === 3);
});

test('params must be a JSON object all the way down', async (t) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const cases: Array<[unknown, string]> = [
    [[1, 2], 'blocks[0].params'],
    ['{}', 'blocks[0].params'],
    [null, 'blocks[0].params'],
    [{ a: { b: Number.NaN } }, 'blocks[0].params.a.b'],
    [{ list: [1, () => 2] }, 'blocks[0].params.list[1]'],
    [{ when: new Date(0) }, 'blocks[0].params.when'],
    [cyclic, 'blocks[0].params.self'],
  ];
  for (const [params, path] of cases) {
    t.deepEqual(paths(await problemsOf({ ...minimal(), blocks: [{ script: 'x', params }] })), [path]);
  }
  const ok = await validatePlan({ ...minimal(), blocks: [{ script: 'x', params: { index: 'logs', n: [1, { deep: null }] } }] });
  t.true(ok.ok);
  if (ok.ok) t.deepEqual(ok.plan.blocks[0]!.params, { index: 'logs', n: [1, { deep: null }] });
});

test('a shared object in params is not mistaken for a cycle', async (t) => {
  const shared = { x: 1 };
  t.true((await validatePlan({ ...minimal(), blocks: [{ script: 'x', params: { a: shared, b: shared } }] })).ok);
});

test('addresses must be a non-empty list with valid hosts', async (t) => {
  t.deepEqual(paths(await problemsOf({ ...minimal(), addresses: undefined })), ['addresses']);
  t.deepEqual(paths(await problemsOf({ ...minimal(), addresses: [] })), ['addresses']);
  for (const host of [undefined, '', ' ', 5, 'http://example.com', 'example.com:8080', 'bad host', '-lead.example', 'a..b', '[not-v6]', 'x'.repeat(64)]) {
    const problems = await problemsOf({ ...minimal(), addresses: [{ host }] });
    t.deepEqual(paths(problems), ['addresses[0].host'], `host ${JSON.stringify(host)}`);
  }
  const hints = await problemsOf({ ...minimal(), addresses: [{ host: 'https://a.example/x' }, { host: 'a.example:81' }] });
  t.regex(hints[0]!.message, /protocol/);
  t.regex(hints[1]!.message, /port/);
  for (const host of ['example.com', 'example.com.', 'my_service', 'a-b.c-d.example', '10.0.0.1', 'fe80::1']) {
    t.true((await validatePlan({ ...minimal(), addresses: [{ host }] })).ok, host);
  }
});

test('port must be a whole number in 1..65535', async (t) => {
  for (const port of [0, 65536, -80, 80.5, '80', Number.NaN]) {
    const problems = await problemsOf({ ...minimal(), addresses: [{ host: 'a.example', port }] });
    t.deepEqual(paths(problems), ['addresses[0].port'], `port ${String(port)}`);
  }
  const range = await problemsOf({ ...minimal(), addresses: [{ host: 'a.example', port: 70000 }] });
  t.is(range[0]!.message, 'must be between 1 and 65535, got 70000');
  for (const port of [1, 65535]) t.true((await validatePlan({ ...minimal(), addresses: [{ host: 'a.example', port }] })).ok);
});

test('protocol must be one of the known protocols', async (t) => {
  for (const protocol of ['HTTP', 'ftp', 3, null]) {
    const problems = await problemsOf({ ...minimal(), addresses: [{ host: 'a.example', protocol }] });
    t.deepEqual(paths(problems), ['addresses[0].protocol']);
    t.regex(problems[0]!.message, /http10, http10s, http, https, http2, http2s, tcp, udp/);
  }
});

test('verifyTls must be boolean and serverName a host name', async (t) => {
  const problems = await problemsOf({ ...minimal(), addresses: [{ host: 'a.example', verifyTls: 'yes', serverName: '10.0.0.1' }] });
  t.deepEqual(paths(problems), ['addresses[0].serverName', 'addresses[0].verifyTls']);
  const ok = await validatePlan({ ...minimal(), addresses: [{ host: '10.0.0.1', protocol: 'https', verifyTls: true, serverName: 'api.example' }] });
  t.true(ok.ok);
  if (ok.ok) t.deepEqual(ok.plan.addresses[0], { host: '10.0.0.1', port: 443, protocol: 'https', verifyTls: true, serverName: 'api.example' });
});

test('size must be a whole number of at least 1', async (t) => {
  for (const size of [0, -10, 2.5, '100', Number.POSITIVE_INFINITY]) {
    t.deepEqual(paths(await problemsOf({ ...minimal(), size })), ['size'], `size ${String(size)}`);
  }
  const ok = await validatePlan({ ...minimal(), size: 1000 });
  t.true(ok.ok && ok.plan.size === 1000);
});

test('times must be finite and not negative, and the run must last', async (t) => {
  for (const field of ['rampup', 'sustain', 'rampdown']) {
    for (const value of [-1, Number.NaN, Number.POSITIVE_INFINITY, '10']) {
      t.deepEqual(paths(await problemsOf({ ...minimal(), [field]: value })), [field], `${field} ${String(value)}`);
    }
  }
  const zero = await problemsOf({ ...minimal(), rampup: 0, sustain: 0, rampdown: 0 });
  t.deepEqual(paths(zero), ['sustain']);
  t.regex(zero[0]!.message, /0 seconds/);
  const fractional = await validatePlan({ ...minimal(), rampup: 0.5, sustain: 0, rampdown: 0 });
  t.true(fractional.ok);
});

test('unknown fields are problems, with a suggestion when one is near', async (t) => {
  const problems = await problemsOf({
    ...minimal(),
    rampUp: 10,
    colour: 'red',
    blocks: [{ script: 'x', param: {} }],
    addresses: [{ host: 'a.example', prot: 'http' }],
  });
  t.deepEqual(paths(problems), ['addresses[0].prot', 'blocks[0].param', 'colour', 'rampUp']);
  const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
  t.regex(byPath.rampUp!, /did you mean "rampup"/);
  t.regex(byPath['blocks[0].param']!, /did you mean "params"/);
  t.regex(byPath.colour!, /known fields are name, blocks/);
});

test('every problem is reported at once', async (t) => {
  const problems = await problemsOf({
    name: '',
    blocks: [{ script: 'ok' }, { script: '', size: 0 }, 7],
    addresses: [{ host: 'a.example', port: 0, protocol: 'gopher' }, {}],
    size: -1,
    rampup: -5,
    sustain: 'long',
    extra: true,
  });
  t.deepEqual(paths(problems), ['addresses[0].port', 'addresses[0].protocol', 'addresses[1].host', 'blocks[1].script', 'blocks[1].size', 'blocks[2]', 'extra', 'name', 'rampup', 'size', 'sustain']);
  t.true(problems.every((p) => p.message.length > 0));
  t.is(formatPlanProblems(problems).split('\n').length, problems.length);
});

test('checkScript runs for every block and reports line and column', async (t) => {
  const seen: string[] = [];
  const checkScript = (source: string): Promise<ScriptProblem | null> => {
    seen.push(source);
    return Promise.resolve(source.includes('(') && !source.includes(')') ? { line: 2, column: 7, message: "expecting ')'" } : null);
  };
  const problems = await problemsOf({ ...minimal(), blocks: [{ script: 'fine()' }, { script: 'x\nbroken(' }, { script: 'also(', size: 0 }], size: 0 }, checkScript);
  t.deepEqual(seen.sort(), ['also(', 'fine()', 'x\nbroken('].sort());
  t.deepEqual(paths(problems), ['blocks[1].script', 'blocks[2].script', 'blocks[2].size', 'size']);
  t.is(problems.find((p) => p.path === 'blocks[1].script')!.message, "line 2, column 7: expecting ')'");
  const ok = await validatePlan(minimal(), { checkScript });
  t.true(ok.ok);
});

test('a failing checkScript rejects instead of passing the plan', async (t) => {
  await t.throwsAsync(validatePlan(minimal(), { checkScript: async () => Promise.reject(new Error('sandbox down')) }), {
    message: 'sandbox down',
  });
});

test('block limits: partial limits keep the other defaults', async (t) => {
  const result = await validatePlan({ ...minimal(), blocks: [{ script: 'await get("/")', limits: { memoryMb: 4 } }] });
  t.true(result.ok);
  if (result.ok) t.deepEqual(result.plan.blocks[0]!.limits, { memoryMb: 4, cpuMs: 200, stackKb: 256 });
});

test('block limits: every wrong limit is listed with its path', async (t) => {
  const problems = await problemsOf({
    ...minimal(),
    blocks: [
      { script: 'await get("/")', limits: { memoryMb: 0, cpuMs: 'fast', stackKb: 1.5, heapMb: 3 } },
      { script: 'await get("/")', limits: { memoryMb: 4096, cpuMs: 5, stackKb: 100000 } },
      { script: 'await get("/")', limits: 16 },
    ],
  });
  t.deepEqual(paths(problems), [
    'blocks[0].limits.cpuMs',
    'blocks[0].limits.heapMb',
    'blocks[0].limits.memoryMb',
    'blocks[0].limits.stackKb',
    'blocks[1].limits.cpuMs',
    'blocks[1].limits.memoryMb',
    'blocks[1].limits.stackKb',
    'blocks[2].limits',
  ]);
  t.regex(problems.find((p) => p.path === 'blocks[0].limits.memoryMb')!.message, /between 1 and 1024/);
  t.regex(problems.find((p) => p.path === 'blocks[0].limits.stackKb')!.message, /whole number/);
});
