import test from 'ava';
import { buildPlan, parseRunOptions, usesDemoTarget, type RunOptionValues } from '../../ts/cli/run-options.js';

const settingsOf = (values: RunOptionValues, env: Record<string, string | undefined> = {}) => {
  const { settings, problems } = parseRunOptions(values, env);
  if (problems.length > 0) throw new Error(`unexpected problems: ${JSON.stringify(problems)}`);
  return settings;
};

test('a script file and no options give the seed defaults', (t) => {
  const { plan, problems } = buildPlan(settingsOf({}), { name: 'smoke', scriptFile: 's.js', scriptSource: 'await get("/")' });
  t.deepEqual(problems, []);
  t.deepEqual(plan, {
    name: 'smoke',
    blocks: [{ script: 'await get("/")' }],
    addresses: [{ host: 'localhost' }],
    size: 10,
    rampup: 0,
    sustain: 60,
    rampdown: 0,
  });
});

test('every option lands in its plan field', (t) => {
  const settings = settingsOf({
    targetHosts: 'a.example, 10.0.0.2',
    targetPort: '8080',
    targetProtocol: 'http2s',
    size: '250',
    scriptParams: '{"path":"/json","delayMs":5}',
    rampup: '5',
    sustain: '20.5',
    rampdown: '3',
  });
  const { plan, problems } = buildPlan(settings, { name: 'full', scriptFile: 's.js', scriptSource: 'x()' });
  t.deepEqual(problems, []);
  t.deepEqual(plan, {
    name: 'full',
    blocks: [{ script: 'x()', params: { path: '/json', delayMs: 5 } }],
    addresses: [
      { host: 'a.example', port: 8080, protocol: 'http2s' },
      { host: '10.0.0.2', port: 8080, protocol: 'http2s' },
    ],
    size: 250,
    rampup: 5,
    sustain: 20.5,
    rampdown: 3,
  });
});

test('command-line options override the fields of a --plan file and apply to each block and address', (t) => {
  const basePlan = {
    name: 'from-file',
    blocks: [
      { script: 'a()', params: { n: 1 }, size: 3 },
      { script: 'b()', size: 1 },
    ],
    addresses: [
      { host: 'one', port: 81 },
      { host: 'two', protocol: 'http10' },
    ],
    size: 40,
    rampup: 10,
    sustain: 30,
  };
  const { plan, problems } = buildPlan(settingsOf({ targetPort: '9000', sustain: '5', scriptParams: '{"n":2}' }), { name: 'cli-name', basePlan });
  t.deepEqual(problems, []);
  t.deepEqual(plan, {
    name: 'cli-name',
    blocks: [
      { script: 'a()', params: { n: 2 }, size: 3 },
      { script: 'b()', params: { n: 2 }, size: 1 },
    ],
    addresses: [
      { host: 'one', port: 9000 },
      { host: 'two', port: 9000, protocol: 'http10' },
    ],
    size: 40,
    rampup: 10,
    sustain: 5,
    rampdown: 0,
  });
});

test('a script file replaces the script of every block of a --plan file', (t) => {
  const basePlan = { blocks: [{ script: 'old()', size: 2 }, { script: 'old2()' }] };
  const { plan } = buildPlan(settingsOf({}), { name: 'n', basePlan, scriptFile: 'new.js', scriptSource: 'fresh()' });
  t.deepEqual(plan.blocks, [{ script: 'fresh()', size: 2 }, { script: 'fresh()' }]);
});

test('REPORT_INTERVAL_SECONDS is the default report interval and --report-interval overrides it', (t) => {
  t.is(settingsOf({}).reportIntervalSeconds, 60);
  t.is(settingsOf({}, { REPORT_INTERVAL_SECONDS: '15' }).reportIntervalSeconds, 15);
  t.is(settingsOf({ reportInterval: '2' }, { REPORT_INTERVAL_SECONDS: '15' }).reportIntervalSeconds, 2);
  t.is(settingsOf({}).dataDir, './data');
  t.is(settingsOf({ dataDir: '/tmp/reports' }).dataDir, '/tmp/reports');
});

test('every invalid option is listed at once, each with its option name', (t) => {
  const { problems } = parseRunOptions(
    {
      targetHosts: 'a,,b',
      targetPort: '70000',
      targetProtocol: 'ftp',
      size: '2.5',
      scriptParams: '{nope',
      rampup: '-1',
      sustain: 'long',
      rampdown: '1e3',
      reportInterval: '0',
      coordinator: ' ',
      dataDir: '',
      plan: '',
    },
    {},
  );
  t.deepEqual(problems.map((p) => p.path).sort(), [
    '--coordinator',
    '--data-dir',
    '--plan',
    '--rampdown',
    '--rampup',
    '--report-interval',
    '--script-params',
    '--size',
    '--sustain',
    '--target-hosts',
    '--target-port',
    '--target-protocol',
  ]);
  for (const problem of problems) t.true(problem.message.length > 10, problem.path);
  t.regex(problems.find((p) => p.path === '--target-protocol')!.message, /http10, http10s, http, https, http2, http2s, tcp, udp/);
});

test('script params must be a JSON object, not another JSON value', (t) => {
  for (const raw of ['[1,2]', 'null', '"text"', '3']) {
    const { problems } = parseRunOptions({ scriptParams: raw }, {});
    t.deepEqual(
      problems.map((p) => p.path),
      ['--script-params'],
      raw,
    );
  }
});

test('a bad REPORT_INTERVAL_SECONDS is named as the variable', (t) => {
  const { problems } = parseRunOptions({}, { REPORT_INTERVAL_SECONDS: 'soon' });
  t.deepEqual(
    problems.map((p) => p.path),
    ['REPORT_INTERVAL_SECONDS'],
  );
});

test('without a script file a --plan must give blocks, and its shape is checked', (t) => {
  t.deepEqual(
    buildPlan(settingsOf({}), { name: 'n' }).problems.map((p) => p.path),
    ['<script-file>'],
  );
  t.deepEqual(
    buildPlan(settingsOf({}), { name: 'n', basePlan: { blocks: 'x', addresses: {} } }).problems.map((p) => p.path),
    ['plan.blocks', '<script-file>', 'plan.addresses'],
  );
  t.deepEqual(
    buildPlan(settingsOf({}), { name: 'n', scriptFile: 's.js', scriptSource: 's', basePlan: [] }).problems.map((p) => p.path),
    ['--plan'],
  );
});

test('--demo aims at the demo target unless a target host or port is given', (t) => {
  t.true(usesDemoTarget(settingsOf({ demo: true })));
  t.true(usesDemoTarget(settingsOf({ demo: true, targetProtocol: 'http10' })));
  t.false(usesDemoTarget(settingsOf({ demo: true, targetHosts: 'elsewhere' })));
  t.false(usesDemoTarget(settingsOf({ demo: true, targetPort: '8080' })));
  t.false(usesDemoTarget(settingsOf({})));
  // The demo target answers plain HTTP/1.x and echoes TCP and UDP; it has no TLS.
  const { problems } = buildPlan(settingsOf({ demo: true, targetProtocol: 'https' }), { name: 'n', scriptFile: 's.js', scriptSource: 's' });
  t.deepEqual(
    problems.map((p) => p.path),
    ['--target-protocol'],
  );
  for (const targetProtocol of ['tcp', 'udp'] as const) {
    t.deepEqual(buildPlan(settingsOf({ demo: true, targetProtocol }), { name: 'n', scriptFile: 's.js', scriptSource: 's' }).problems, []);
  }
});
