/**
 * sgcli --coordinator as a user runs it: the compiled sgcli in its own process,
 * a real coordinator (API on a loopback port, generators running real devices)
 * and nginx as the target.
 */
import test from 'ava';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { EXIT } from '../../ts/cli/exit-codes.js';
import type { RunStarted } from '../../ts/coordinator/api-messages.js';
import { startNginx, type NginxServer } from '../support/nginx.js';
import { coordinatorFor, nginxPlan } from '../api/coordinator-harness.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SGCLI = join(root, 'dist/ts/cli/sgcli.js');
const SCRIPT = 'examples/http-get.js';
const execFileAsync = promisify(execFile);

let nginx: NginxServer;
test.before(async () => {
  nginx = await startNginx();
});
test.after.always(async () => {
  await nginx?.stop();
});

function sgcli(args: string[], env: Record<string, string | undefined> = {}) {
  const child = spawn(process.execPath, [SGCLI, ...args], { cwd: root, env: { ...process.env, STRESSGRID_TOKEN: undefined, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const text = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text.stderr += chunk));
  // 'close', not 'exit': only then has everything the process wrote been read.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // A test that fails midway must not leave its process behind.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exited.then(() => clearTimeout(killer));
  return {
    child,
    exited,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    lastStdoutLine: () => text.stdout.trimEnd().split('\n').at(-1) ?? '',
    async waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(text.stderr)) {
        if (Date.now() > deadline) throw new Error(`no ${pattern} on stderr in ${timeoutMs} ms; stderr: ${text.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

const targetArgs = (): string[] => ['--target-hosts', '127.0.0.1', '--target-port', String(nginx.port), '--script-params', '{"delayMs":20}'];

test('a run on a coordinator with a token: the live view on stderr, a signed archive URL as the last stdout line that plain curl downloads as printed, the token nowhere', async (t) => {
  const c = await coordinatorFor(t, { token: 'remote-token' });
  const run = sgcli(['run', 'remote-ok', SCRIPT, ...targetArgs(), '--size', '10', '--sustain', '3', '--coordinator', c.url], { STRESSGRID_TOKEN: 'remote-token' });
  t.is(await run.exited, EXIT.ok, run.stderr());
  t.regex(run.stderr(), /response_count=[1-9]/);
  const url = run.lastStdoutLine();
  t.regex(url, new RegExp(`^${c.url}/results/remote-ok-\\w+-\\w+\\.tar\\.gz\\?expires=\\d+&signature=[\\w-]+$`));
  t.is(run.stdout(), `${url}\n`, 'stdout carries the URL alone');
  t.false(run.stdout().includes('remote-token'), 'the token is not in stdout');
  t.false(run.stderr().includes('remote-token'), 'nor in the log');
  const saved = join(await mkdtemp(join(tmpdir(), 'sg-curl-')), 'report.tar.gz');
  t.teardown(() => rm(dirname(saved), { recursive: true, force: true }));
  await execFileAsync('curl', ['--silent', '--show-error', '--fail', '--output', saved, url]);
  t.true(gunzipSync(await readFile(saved)).includes('results.csv'), 'curl fetched the archive with the URL as printed');
  t.is((await fetch(url.replace(/\?.*$/, ''))).status, 401, 'without its signature the archive needs the token');
  t.is(c.coordinator.run, undefined, 'no second run was started');
  t.is((await c.coordinator.store.list()).length, 1);
});

test('Ctrl-C aborts the remote run: exit 4, the run is over on the coordinator, its archive exists and its URL is printed', async (t) => {
  const c = await coordinatorFor(t);
  const run = sgcli(['run', 'remote-abort', SCRIPT, ...targetArgs(), '--size', '10', '--sustain', '60', '--coordinator', `${c.url}/`]);
  await run.waitFor(/response_count=[1-9]/);
  const runId = c.coordinator.run?.runId;
  t.truthy(runId);
  run.child.kill('SIGINT');
  t.is(await run.exited, EXIT.aborted, run.stderr());
  t.regex(run.stderr(), /aborting/);
  t.is(run.lastStdoutLine(), `${c.url}/results/${runId}.tar.gz`);
  t.is((await fetch(`${c.url}/api/runs/current`)).status, 404);
  t.true(existsSync(join(c.dataDir, `${runId}.tar.gz`)));
  const download = await fetch(run.lastStdoutLine());
  t.is(download.status, 200);
  t.true(gunzipSync(Buffer.from(await download.arrayBuffer())).length > 0);
});

test('a start refused because a run is active exits 5 with the reason, and the active run goes on', async (t) => {
  const c = await coordinatorFor(t);
  const started = await fetch(`${c.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(nginxPlan(nginx.port)) });
  const { runId } = (await started.json()) as RunStarted;
  const run = sgcli(['run', 'remote-second', SCRIPT, ...targetArgs(), '--coordinator', c.url]);
  t.is(await run.exited, EXIT.runFailed, run.stderr());
  t.regex(run.stderr(), new RegExp(`refused the run \\(409\\): run ${runId} is still active`));
  t.is(run.stdout(), '');
  t.is(c.coordinator.run?.runId, runId);
});

test('a coordinator that needs a token refuses sgcli without it: exit 5 naming STRESSGRID_TOKEN; nothing starts', async (t) => {
  const c = await coordinatorFor(t, { token: 'needed' });
  const run = sgcli(['run', 'remote-token', SCRIPT, ...targetArgs(), '--coordinator', c.url, '--token', 'wrong']);
  t.is(await run.exited, EXIT.runFailed);
  t.regex(run.stderr(), /refused the token \(401\)/);
  t.regex(run.stderr(), /STRESSGRID_TOKEN/);
  t.is(c.coordinator.run, undefined);
});

test('a script that does not compile exits 3 with file:line:column, as embedded, and nothing starts', async (t) => {
  const c = await coordinatorFor(t);
  const dir = await mkdtemp(join(tmpdir(), 'sgcli-remote-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const script = join(dir, 'broken.js');
  await writeFile(script, 'await get("/");\nfor (;;) {\n');
  const run = sgcli(['run', 'remote-broken', script, ...targetArgs(), '--coordinator', c.url]);
  t.is(await run.exited, EXIT.scriptCompile, run.stderr());
  t.regex(run.stderr(), new RegExp(`^  ${script.replaceAll('.', '\\.')}:\\d+:\\d+: SyntaxError`, 'm'));
  t.is(c.coordinator.run, undefined);
  t.deepEqual(await c.coordinator.store.list(), []);
});

test('an unreachable coordinator exits 5; a ws:// URL is a usage error that names the API URL', async (t) => {
  const unreachable = sgcli(['run', 'remote-gone', SCRIPT, '--coordinator', 'http://127.0.0.1:1']);
  t.is(await unreachable.exited, EXIT.runFailed);
  t.regex(unreachable.stderr(), /cannot reach the coordinator at http:\/\/127\.0\.0\.1:1\/: connect ECONNREFUSED/);
  const ws = sgcli(['run', 'remote-ws', SCRIPT, '--coordinator', 'ws://127.0.0.1:9696']);
  t.is(await ws.exited, EXIT.usage);
  t.regex(ws.stderr(), /--coordinator: .*API URL, like http:\/\/coordinator:8000/);
});

test('thresholds on a coordinator: the coordinator evaluates them, sgcli prints the summary, exits 99, writes JUnit, and the signed HTML report link downloads', async (t) => {
  const c = await coordinatorFor(t, { token: 'remote-token' });
  const dir = await mkdtemp(join(tmpdir(), 'sg-remote-thresholds-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const junit = join(dir, 'junit.xml');
  const run = sgcli(
    [
      'run',
      'remote-verdict',
      SCRIPT,
      ...targetArgs(),
      '--size',
      '10',
      '--sustain',
      '2',
      '--coordinator',
      c.url,
      '--threshold',
      'headers_us: p99 < 10s',
      '--threshold',
      'response_count: count > 100000000',
      '--junit',
      junit,
    ],
    { STRESSGRID_TOKEN: 'remote-token' },
  );
  t.is(await run.exited, EXIT.thresholdsFailed, run.stderr());
  t.regex(run.stderr(), /thresholds: 1 of 2 FAILED\n +pass +headers_us: p99 < 10s +measured [\d.]+ ms\n +FAIL +response_count: count > 100000000 +measured \d+/);
  t.regex(run.stderr(), /requests [\d,]+ \(/);
  t.regex(await readFile(junit, 'utf8'), /<testsuite name="remote-verdict" tests="2" failures="1"/);
  const url = run.lastStdoutLine();
  const page = await fetch(url.replace('.tar.gz?', '.html?'));
  t.is(page.status, 200);
  t.regex(await page.text(), /<script type="application\/json" id="report-data">/);
  t.is((await fetch(url.replace(/\.tar\.gz\?.*$/, '.html'))).status, 401, 'without its signature the report needs the token too');
});
