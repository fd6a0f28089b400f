/**
 * A threshold on a metric nothing records (a misspelt key) is named when the run
 * starts; built-in metrics, error counters, `_intended` twins and keys a script
 * names literally are not, and a script that names keys by expression silences it.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Coordinator } from '../../ts/coordinator/coordinator.js';
import { scriptMetricNames, unrecordedThresholdMetrics } from '../../ts/shared/threshold-metrics.js';
import { readThresholds, type ThresholdsInput } from '../../ts/shared/thresholds.js';
import { attachScriptedGenerator } from '../support/scripted-generator.js';

const thresholds = (input: ThresholdsInput) => readThresholds(input).thresholds;

test('script keys: literal startTiming, stopTiming, stopStartTiming and incCounter keys; null once a key is an expression', (t) => {
  t.deepEqual([...scriptMetricNames(`startTiming('login'); await get('/'); stopStartTiming("login", \`page\`); incCounter('ok', 2); stopTiming('page');`)!].sort(), [
    'login_us',
    'ok_count',
    'page_us',
  ]);
  t.is(scriptMetricNames(`const k = 'a'; startTiming(k);`), null);
  t.is(scriptMetricNames('incCounter(`n_${i}`)'), null);
  t.deepEqual([...scriptMetricNames(`await get('/');`)!], []);
});

test('unrecorded threshold metrics: a misspelt built-in and a key no script names; not built-ins, errors, error_rate, twins or script keys', (t) => {
  const scripts = [`startTiming('login'); await get('/'); stopTiming('login'); incCounter('ok');`];
  const all = thresholds({
    header_us: ['p99 < 100ms'],
    headers_us: ['p99 < 100ms'],
    headers_intended_us: ['p99 < 1s'],
    login_us: ['p90 < 1s'],
    login_intended_us: ['p90 < 1s'],
    logon_us: ['p90 < 1s'],
    ok_count: ['count > 0', 'ratio(reponse_count) > 0.9'],
    conn_refused_error_count: ['count == 0'],
    error_rate: ['value < 0.01'],
    cpu_percent: ['max < 90'],
  });
  t.deepEqual(unrecordedThresholdMetrics(all, scripts), ['header_us', 'logon_us', 'reponse_count']);
  t.deepEqual(unrecordedThresholdMetrics(all, [...scripts, 'startTiming(name);']), [], 'a key by expression could be anything');
});

test('a run with a threshold on a metric nothing records says so when it starts', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'sg-threshold-metrics-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const coordinator = new Coordinator({ dataDir, reportIntervalSeconds: 1, log: () => {} });
  const notices: string[] = [];
  coordinator.observe({ onNotice: (m) => notices.push(m) });
  const generator = attachScriptedGenerator(coordinator, 'gen', { cpuPercent: 20, networkRxBytesPerSecond: 0, networkTxBytesPerSecond: 0 }, { finalCounters: { response_count: 1 } });
  t.teardown(() => generator.close());
  const started = await coordinator.start({
    name: 'typo',
    blocks: [{ script: "await get('/');" }],
    addresses: [{ host: '127.0.0.1', port: 80 }],
    size: 10,
    rampup: 0,
    sustain: 1,
    rampdown: 0,
    thresholds: { header_us: ['p99 < 100ms'], headers_us: ['p99 < 100ms'] },
  });
  if (!started.ok) throw new Error(JSON.stringify(started));
  await started.run.done;
  const named = notices.filter((n) => n.startsWith('threshold on'));
  t.deepEqual(named.length, 1, notices.join('\n'));
  t.regex(named[0]!, /^threshold on "header_us": nothing in this plan records it/);
});
