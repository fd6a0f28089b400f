/**
 * The management API against a real coordinator, generators running real devices
 * against a real nginx, and real HTTP and WebSocket clients.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { list as tarList } from 'tar';
import { WebSocket } from 'ws';
import type { ApiErrorBody, GeneratorInfo, LiveMessage, ReportEntry, RunEnded, RunStarted, RunStatus } from '../../ts/coordinator/api-messages.js';
import { json, postJson } from '../support/api-client.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { coordinatorFor, nginxPlan } from './coordinator-harness.js';
import { until } from '../support/until.js';

let nginx: NginxServer;
test.before(async () => {
  nginx = await startNginx();
});
test.after.always(async () => {
  await nginx?.stop();
});

async function tarEntries(archive: Buffer): Promise<string[]> {
  const names: string[] = [];
  // gunzip first on its own, so a download that is not gzip fails here with zlib's message.
  const tarBytes = gunzipSync(archive);
  await new Promise<void>((resolve, reject) => {
    const parser = tarList({ onReadEntry: (entry) => names.push(entry.path) });
    parser.on('end', resolve).on('error', reject);
    Readable.from([tarBytes]).pipe(parser);
  });
  return names.sort();
}

test('a run: start, a refused second start that leaves the first running, live state, abort, then its report listed, downloaded and deleted', async (t) => {
  const c = await coordinatorFor(t);
  const started = await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port));
  t.is(started.status, 201);
  const { runId } = await json<RunStarted>(started);

  const second = await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port, { name: 'second' }));
  t.is(second.status, 409);
  const refused = await json<ApiErrorBody>(second);
  t.is(refused.error.code, 'run_active');
  t.regex(refused.error.message, new RegExp(runId));

  let status: RunStatus | undefined;
  await until(
    async () => {
      const response = await fetch(`${c.url}/api/runs/current`);
      status = await json<RunStatus>(response);
      return status.state === 'active' && (status.snapshot.counters.response_count?.total ?? 0) > 0;
    },
    15_000,
    'responses in the live state',
  );
  t.is(status!.state === 'active' && status!.snapshot.runId, runId, 'the first run is still the active one');
  t.is(c.coordinator.run?.runId, runId);
  const byId = await json<RunStatus>(await fetch(`${c.url}/api/runs/${runId}`));
  t.is(byId.state, 'active');

  const aborted = await postJson(`${c.url}/api/runs/current/abort`, { reason: 'enough' });
  t.is(aborted.status, 200);
  const result = await json<RunEnded>(aborted);
  t.like(result, { runId, outcome: 'aborted', reason: 'enough', archiveUrl: `/results/${runId}.tar.gz` });
  t.like(result.summary, { runId, aborted: true, effectiveDevices: 10, generatorCount: 1 });
  t.is((await fetch(`${c.url}/api/runs/current`)).status, 404);
  t.like(await json<RunStatus>(await fetch(`${c.url}/api/runs/${runId}`)), { state: 'ended', result: { runId, outcome: 'aborted' } });
  t.is((await postJson(`${c.url}/api/runs/current/abort`, {})).status, 404);

  const reports = await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`));
  t.deepEqual(
    reports.map((r) => [r.runId, r.url]),
    [[runId, `/results/${runId}.tar.gz`]],
  );

  const download = await fetch(`${c.url}${result.archiveUrl}`);
  t.is(download.status, 200);
  t.is(download.headers.get('content-type'), 'application/gzip');
  const bytes = Buffer.from(await download.arrayBuffer());
  t.is(bytes.length, reports[0]!.bytes);
  const entries = await tarEntries(bytes);
  t.true(entries.includes('results.csv') && entries.includes('plan.json'), entries.join(', '));

  const archive = join(c.dataDir, `${runId}.tar.gz`);
  t.true(existsSync(archive));
  t.is((await fetch(`${c.url}/api/reports/${runId}`, { method: 'DELETE' })).status, 204);
  t.false(existsSync(archive));
  t.is((await fetch(`${c.url}/api/reports/${runId}`, { method: 'DELETE' })).status, 404);
  t.is((await fetch(`${c.url}/results/${runId}.tar.gz`)).status, 404);
  t.deepEqual(await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`)), []);
});

test('two starts sent at once: one run starts, the other is refused with 409', async (t) => {
  const c = await coordinatorFor(t);
  const responses = await Promise.all([postJson(`${c.url}/api/runs`, nginxPlan(nginx.port)), postJson(`${c.url}/api/runs`, nginxPlan(nginx.port))]);
  t.deepEqual(responses.map((r) => r.status).sort(), [201, 409]);
  t.truthy(c.coordinator.run);
  await c.coordinator.abort();
  t.is((await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`))).length, 1);
});

test('a bad plan gets 400 with every problem, each with its path', async (t) => {
  const c = await coordinatorFor(t);
  const response = await postJson(`${c.url}/api/runs`, {
    name: '',
    blocks: [{ script: 'await get("/");\nfor (;;) {' }],
    addresses: [{ host: '127.0.0.1', protocol: 'gopher' }],
    rampup: -1,
    sustain: 10,
    rampdown: 0,
  });
  t.is(response.status, 400);
  const body = await json<ApiErrorBody>(response);
  t.is(body.error.code, 'invalid_plan');
  const paths = body.problems!.map((p) => p.path);
  for (const path of ['name', 'blocks[0].script', 'addresses[0].protocol', 'rampup']) t.true(paths.includes(path), `${path} in ${paths.join(', ')}`);
  t.regex(body.error.message, new RegExp(`${body.problems!.length} problems`));
  t.regex(body.problems!.find((p) => p.path === 'blocks[0].script')!.message, /^line 2, column \d+: /);
  t.is(c.coordinator.run, undefined);
});

test('bodies that are not JSON plans: invalid JSON 400, wrong type 415, too large 413, all as JSON errors', async (t) => {
  const c = await coordinatorFor(t, { maxBodyBytes: 1024 });
  const invalid = await postJson(`${c.url}/api/runs`, '{"name": ');
  t.is(invalid.status, 400);
  const invalidBody = await json<ApiErrorBody>(invalid);
  t.is(invalidBody.error.code, 'invalid_json');
  t.regex(invalidBody.error.message, /not valid JSON/);
  const text = await fetch(`${c.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
  t.is(text.status, 415);
  t.is((await json<ApiErrorBody>(text)).error.code, 'unsupported_media_type');
  const large = await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port, { name: 'x'.repeat(2000) }));
  t.is(large.status, 413);
  t.is((await json<ApiErrorBody>(large)).error.code, 'body_too_large');
  const unknown = await fetch(`${c.url}/api/nothing`);
  t.is(unknown.status, 404);
  t.is((await json<ApiErrorBody>(unknown)).error.code, 'not_found');
});

test('malformed run ids are 400, never a path outside the data directory', async (t) => {
  const c = await coordinatorFor(t);
  for (const response of [await fetch(`${c.url}/api/reports/..%2F..%2Fetc`, { method: 'DELETE' }), await fetch(`${c.url}/results/..%2Fsecret.tar.gz`), await fetch(`${c.url}/api/runs/not-a-run-id`)]) {
    t.is(response.status, 400, response.url);
    t.is((await json<ApiErrorBody>(response)).error.code, 'invalid_run_id');
  }
});

test('without generators a start is 503', async (t) => {
  const c = await coordinatorFor(t, { generators: 0 });
  const response = await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port));
  t.is(response.status, 503);
  t.is((await json<ApiErrorBody>(response)).error.code, 'no_generators');
});

test('generators are listed with their last utilisation', async (t) => {
  const c = await coordinatorFor(t, { generators: 2 });
  let listed: GeneratorInfo[] = [];
  await until(
    async () => {
      listed = await json<GeneratorInfo[]>(await fetch(`${c.url}/api/generators`));
      return listed.length === 2 && listed.every((g) => g.utilisation !== null);
    },
    15_000,
    'utilisation of both generators',
  );
  t.deepEqual(
    listed.map((g) => [g.id, g.workers]),
    [
      ['gen-1', 1],
      ['gen-2', 1],
    ],
  );
  for (const g of listed) {
    t.false(Number.isNaN(Date.parse(g.connectedAt)));
    t.is(g.utilisation!.activeDevices, 0);
    t.true(g.utilisation!.cpuPercent >= 0);
    // The interfaces its bytes count, and their link share where the kernel knows the speed.
    t.true(Array.isArray(g.utilisation!.networkInterfaces));
    t.true(g.utilisation!.networkPercent === null || g.utilisation!.networkPercent >= 0);
  }
});

test("with a token: 401 without it, 200 with the bearer header; the browser's live stream offers it as a subprotocol, never in the URL", async (t) => {
  const token = 's3cret-token';
  const c = await coordinatorFor(t, { token });
  const bearer = { authorization: `Bearer ${token}` };
  const refused = await fetch(`${c.url}/api/reports`);
  t.is(refused.status, 401);
  t.is((await json<ApiErrorBody>(refused)).error.code, 'unauthorized');
  t.is((await fetch(`${c.url}/api/reports`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  t.is((await fetch(`${c.url}/api/reports?token=${token}`)).status, 401, 'no token in a query');
  t.is((await fetch(`${c.url}/api/reports`, { headers: bearer })).status, 200);
  t.is((await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port))).status, 401);
  t.is(c.coordinator.run, undefined);

  const wsUrl = `${c.url.replace('http', 'ws')}/api/live`;
  const upgrade = (url: string, protocols: string[]) =>
    new Promise<number | string>((resolve) => {
      const ws = new WebSocket(url, protocols);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => (resolve(`open ${ws.protocol}`), ws.close()));
      ws.on('error', () => undefined);
    });
  const carrier = `stressgrid-token.${Buffer.from(token).toString('base64url')}`;
  t.is(await upgrade(wsUrl, ['stressgrid-live']), 401);
  t.is(await upgrade(`${wsUrl}?token=${token}`, ['stressgrid-live']), 401, 'no token in a query');
  t.is(await upgrade(wsUrl, ['stressgrid-live', `stressgrid-token.${Buffer.from('wrong').toString('base64url')}`]), 401);
  t.is(await upgrade(wsUrl, ['stressgrid-live', carrier]), 'open stressgrid-live', 'admitted; the answer names the live protocol, not the token');
});

test("with a token, a run's archive URL is a signed link that downloads as given; altered or expired it is refused, and it never holds the token", async (t) => {
  const token = 's3cret-token';
  const c = await coordinatorFor(t, { token, linkExpirySeconds: 2 });
  const bearer = { authorization: `Bearer ${token}` };
  t.is((await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port), bearer)).status, 201);
  const result = await json<RunEnded>(await fetch(`${c.url}/api/runs/current/abort`, { method: 'POST', headers: bearer }));
  const link = new URL(result.archiveUrl!, c.url);
  t.is(link.pathname, `/results/${result.runId}.tar.gz`);
  t.deepEqual([...link.searchParams.keys()], ['expires', 'signature']);
  t.false(result.archiveUrl!.includes(token));
  t.false(result.archiveUrl!.includes(encodeURIComponent(token)));
  const expires = Number(link.searchParams.get('expires'));
  t.true(Math.abs(expires - (Date.now() / 1000 + 2)) < 2, `expires ${expires}`);

  const download = await fetch(link);
  t.is(download.status, 200);
  t.true((await tarEntries(Buffer.from(await download.arrayBuffer()))).includes('results.csv'));

  const plain = await fetch(`${c.url}/results/${result.runId}.tar.gz`);
  t.is(plain.status, 401, 'unsigned, the archive needs the token');
  t.is((await fetch(`${c.url}/results/${result.runId}.tar.gz`, { headers: bearer })).status, 200, 'the bearer header still admits');
  t.is((await fetch(`${c.url}/results/${result.runId}.tar.gz?token=${token}`)).status, 401, 'no token in a query');

  const altered = (name: string, value: string) => {
    const url = new URL(link);
    url.searchParams.set(name, value);
    return fetch(url);
  };
  const longer = await altered('expires', String(expires + 3600));
  t.is(longer.status, 403);
  t.is((await json<ApiErrorBody>(longer)).error.code, 'link_invalid');
  const sig = link.searchParams.get('signature')!;
  t.is((await altered('signature', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`)).status, 403);
  t.is((await altered('signature', '')).status, 403);
  const otherRun = new URL(link);
  otherRun.pathname = `/results/${result.runId.replace(/.$/, (ch) => (ch === '0' ? '1' : '0'))}.tar.gz`;
  t.is((await fetch(otherRun)).status, 403, 'the signature is for one run only');

  const listed = await json<ReportEntry[]>(await fetch(`${c.url}/api/reports`, { headers: bearer }));
  t.regex(listed[0]!.url, /^\/results\/.+\.tar\.gz\?expires=\d+&signature=[\w-]+$/);
  t.is((await fetch(`${c.url}${listed[0]!.url}`)).status, 200, 'the reports list gives signed links too');

  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expires * 1000 - Date.now()) + 50));
  const expired = await fetch(link);
  t.is(expired.status, 403);
  const body = await json<ApiErrorBody>(expired);
  t.is(body.error.code, 'link_expired');
  t.regex(body.error.message, /expired/);
});

test("the live stream carries every second's snapshot, the notices and the ending with its archive URL", async (t) => {
  const c = await coordinatorFor(t);
  const messages: LiveMessage[] = [];
  const ws = new WebSocket(`${c.url.replace('http', 'ws')}/api/live`);
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as LiveMessage));
  await new Promise((resolve, reject) => ws.on('open', resolve).on('error', reject));
  t.teardown(() => ws.close());

  const { runId } = await json<RunStarted>(await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port, { size: 15, sustain: 3 })));
  await until(() => messages.some((m) => m.type === 'ended'), 15_000, 'the ending');
  const live = messages.flatMap((m) => (m.type === 'live' ? [m.snapshot] : []));
  t.true(live.length >= 2, `${live.length} snapshots`);
  t.true(live.every((s) => s.runId === runId));
  const seen = live.map((s) => `${s.state} ${s.activeDevices} ${s.counters.response_count?.perSecond}`).join('; ');
  t.true(
    live.some((s) => s.activeDevices === 10),
    seen,
  );
  t.true(
    live.some((s) => (s.counters.response_count?.perSecond ?? 0) > 0),
    seen,
  );
  t.true(
    messages.some((m) => m.type === 'notice' && /10/.test(m.message)),
    'the rounding of 15 devices down to the step is told',
  );
  const ended = messages.find((m): m is Extract<LiveMessage, { type: 'ended' }> => m.type === 'ended')!;
  t.like(ended.result, { runId, outcome: 'done', archiveUrl: `/results/${runId}.tar.gz` });
  t.is(messages.at(-1)!.type, 'ended', 'the ending comes after the last snapshot');
  t.is((await fetch(`${c.url}${ended.result.archiveUrl}`)).status, 200);
});

test('a client joining mid-run gets the current snapshot at once', async (t) => {
  const c = await coordinatorFor(t);
  const { runId } = await json<RunStarted>(await postJson(`${c.url}/api/runs`, nginxPlan(nginx.port)));
  const first = await new Promise<LiveMessage>((resolve, reject) => {
    const ws = new WebSocket(`${c.url.replace('http', 'ws')}/api/live`);
    ws.once('message', (data: Buffer) => (ws.close(), resolve(JSON.parse(data.toString()) as LiveMessage)));
    ws.on('error', reject);
  });
  t.like(first, { type: 'live', snapshot: { runId } });
  t.is((await fetch(`${c.url}/api/live`)).status, 426);
});

test('the website is served from its folder once it has an index.html; paths cannot leave it', async (t) => {
  const webDir = await mkdtemp(join(tmpdir(), 'sg-web-'));
  t.teardown(() => rm(webDir, { recursive: true, force: true }));
  const c = await coordinatorFor(t, { webDir, generators: 0 });
  t.is((await fetch(`${c.url}/`)).status, 404);
  await writeFile(join(webDir, 'index.html'), '<!doctype html><title>Stressgrid</title>');
  await writeFile(join(webDir, 'app.js'), 'console.log(1)');
  const index = await fetch(`${c.url}/`);
  t.is(index.status, 200);
  t.is(index.headers.get('content-type'), 'text/html; charset=utf-8');
  t.regex(await index.text(), /Stressgrid/);
  t.is((await fetch(`${c.url}/app.js`)).headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.is((await fetch(`${c.url}/..%2F..%2Fetc%2Fpasswd`)).status, 404);
  t.is((await fetch(`${c.url}/missing.css`)).status, 404);
});
