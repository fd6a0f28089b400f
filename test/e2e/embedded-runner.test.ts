/**
 * runEmbedded called directly, as sgcli and the API do: a coordinator and a
 * generator with real worker threads in this process, a plan against nginx,
 * live snapshots, aborts by signal, and plans refused before they run.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { runEmbedded, type EmbeddedOptions } from '../../ts/coordinator/embedded.js';
import type { LiveSnapshot } from '../../ts/shared/live.js';
import { startNginx } from '../support/nginx.js';
import { FIXED_REQUESTS, RECYCLING_REQUESTS } from './device-scripts.js';
import { readArchive, total } from './run-archive.js';
import { workspace } from './sgcli-child.js';

interface Observed {
  options: EmbeddedOptions;
  live: LiveSnapshot[];
  notices: string[];
  abort: AbortController;
}

function observe(dataDir: string): Observed {
  const abort = new AbortController();
  const live: LiveSnapshot[] = [];
  const notices: string[] = [];
  return {
    live,
    notices,
    abort,
    options: {
      dataDir,
      reportIntervalSeconds: 1,
      workers: 2,
      signal: abort.signal,
      onLive: (snapshot) => live.push(snapshot),
      onNotice: (message) => notices.push(message),
    },
  };
}

const plan = (fields: Record<string, unknown>) => ({ name: 'embedded', size: 10, rampup: 0, sustain: 3, rampdown: 0, ...fields });

test('a plan against nginx: done, live snapshots every second, the archive counts what nginx logged', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  const o = observe(ws.dataDir);
  const result = await runEmbedded(plan({ blocks: [{ script: FIXED_REQUESTS, params: { requests: 5 } }], addresses: [{ host: '127.0.0.1', port: nginx.port }] }), o.options);
  t.is(result.outcome, 'done');
  t.is(result.criticalErrors, 0);
  t.true(existsSync(result.archivePath!));
  const archive = await readArchive(result.archivePath!);
  t.is(total(archive, 'response_count'), 50);
  t.is(await nginx.accessLogCount(), 50);

  t.true(o.live.length >= 2, `${o.live.length} snapshots`);
  const last = o.live.at(-1)!;
  t.is(last.state, 'done');
  t.is(last.counters.response_count?.total, 50);
  t.is(last.generators.length, 1);
  t.true(o.live.some((s) => s.activeDevices === 10));
  t.true(o.live.every((s, i) => i === 0 || s.elapsed >= o.live[i - 1]!.elapsed));
});

test('a plan with several problems comes back with all of them and runs nothing', async (t) => {
  const ws = await workspace(t);
  const o = observe(ws.dataDir);
  const result = await runEmbedded(plan({ size: 0, blocks: [{ script: 'const = 1;' }], addresses: [{ host: '127.0.0.1', port: 1 }] }), o.options);
  t.is(result.outcome, 'failed');
  t.is(result.archivePath, null);
  const paths = (result.problems ?? []).map((p) => p.path).sort();
  t.deepEqual(paths, ['blocks[0].script', 'size']);
  t.regex(result.problems!.find((p) => p.path === 'blocks[0].script')!.message, /^line 1, column \d+: SyntaxError/);
  t.deepEqual(o.live, []);
  t.deepEqual(
    (await readdir(ws.dataDir).catch(() => [])).filter((name) => name.endsWith('.tar.gz')),
    [],
  );
});

test('the abort signal mid-run stops it and still archives what ran', async (t) => {
  const nginx = await startNginx();
  t.teardown(() => nginx.stop());
  const ws = await workspace(t);
  const o = observe(ws.dataDir);
  const running = runEmbedded(plan({ sustain: 60, blocks: [{ script: RECYCLING_REQUESTS }], addresses: [{ host: '127.0.0.1', port: nginx.port }] }), {
    ...o.options,
    onLive: (snapshot) => {
      o.live.push(snapshot);
      if ((snapshot.counters.response_count?.total ?? 0) > 0) o.abort.abort();
    },
  });
  const result = await running;
  t.is(result.outcome, 'aborted');
  const archive = await readArchive(result.archivePath!);
  t.true(archive.summary.aborted);
  t.true(total(archive, 'response_count') > 0);
  t.is(o.live.at(-1)!.state, 'aborted');
  t.true(o.live.at(-1)!.elapsed < 30);
});

test('a signal aborted before the start runs nothing and writes no archive', async (t) => {
  const ws = await workspace(t);
  const o = observe(ws.dataDir);
  o.abort.abort();
  const result = await runEmbedded(plan({ blocks: [{ script: 'await get("/");' }], addresses: [{ host: '127.0.0.1', port: 1 }] }), o.options);
  t.deepEqual(result, { outcome: 'aborted', archivePath: null, criticalErrors: 0 });
  t.deepEqual(o.live, []);
});

test('an unresolvable host: failed, with a notice naming it', async (t) => {
  const ws = await workspace(t);
  const o = observe(ws.dataDir);
  const result = await runEmbedded(plan({ sustain: 30, blocks: [{ script: 'await get("/");' }], addresses: [{ host: 'does-not-exist.invalid' }] }), o.options);
  t.is(result.outcome, 'failed');
  t.true(result.criticalErrors >= 1);
  t.true(
    o.notices.some((n) => /nx_domain: host does-not-exist\.invalid does not resolve/.test(n)),
    o.notices.join('\n'),
  );
  const archive = await readArchive(result.archivePath!);
  t.true(archive.summary.aborted);
});

test('an abort that arrives while the run is starting still stops it (regression: it was lost until the planned end)', async (t) => {
  const ws = await workspace(t);
  const o = observe(ws.dataDir);
  // The rounding notice comes from inside the start, before runEmbedded listens to the signal.
  const started = performance.now();
  const result = await runEmbedded(plan({ size: 15, sustain: 30, blocks: [{ script: 'await delay(60000);' }], addresses: [{ host: '127.0.0.1', port: 1 }] }), {
    ...o.options,
    onNotice: (message) => {
      o.notices.push(message);
      if (/rounded down/.test(message)) o.abort.abort();
    },
  });
  t.is(result.outcome, 'aborted');
  t.true(performance.now() - started < 10_000, 'stopped long before the planned 30 s');
  const archive = await readArchive(result.archivePath!);
  t.true(archive.summary.aborted);
});
