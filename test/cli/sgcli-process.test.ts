/**
 * The compiled sgcli as a user runs it: a real process, real signals, real exit codes.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from '../../ts/cli/exit-codes.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SGCLI = join(root, 'dist/ts/cli/sgcli.js');
const EMBEDDED_RUNNER = join(root, 'dist/ts/coordinator/embedded.js');

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Resolves once stdout or stderr matches. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

function sgcli(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, [SGCLI, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const text = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (text.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (text.stderr += chunk));
  // 'close', not 'exit': only then has everything the process wrote been read.
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  // A test that fails midway must not leave its process behind.
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  void exited.then(() => clearTimeout(killer));
  return {
    child,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    exited,
    waitFor: async (stream, pattern, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(text[stream]);
        if (match) return match;
        if (Date.now() > deadline) throw new Error(`no ${pattern} on ${stream} in ${timeoutMs} ms; stderr: ${text.stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

test('sgcli demo-target serves until SIGINT, then exits 0', async (t) => {
  const run = sgcli(['demo-target']);
  const [, url] = await run.waitFor('stdout', /listening on (http:\/\/\S+)\n/);
  const response = await fetch(`${url}/delay?ms=1`);
  t.is(await response.text(), 'delayed 1 ms\n');
  run.child.kill('SIGINT');
  t.is(await run.exited, EXIT.ok);
  t.regex(run.stderr(), /stopped after 1 requests/);
});

test('invalid options exit 2 with every problem on stderr and nothing on stdout', async (t) => {
  const run = sgcli(['run', 'bad', 'examples/http-get.js', '--size', '0', '--target-port', 'x', '--sustain', '-5']);
  t.is(await run.exited, EXIT.usage);
  t.is(run.stdout(), '');
  t.regex(run.stderr(), /3 problems/);
  for (const option of ['--size', '--target-port', '--sustain']) t.regex(run.stderr(), new RegExp(`^  ${option}: `, 'm'));
});

test('--coordinator with a generator (ws://) URL exits 2 and names the API URL to give', async (t) => {
  const run = sgcli(['run', 'remote', 'examples/http-get.js', '--coordinator', 'ws://localhost:9696']);
  t.is(await run.exited, EXIT.usage);
  t.regex(run.stderr(), /WebSocket URL .*sgcli needs the coordinator's API URL/);
});

test('a script that does not compile exits 3 with file:line:column from the QuickJS compiler', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sgcli-compile-'));
  try {
    const script = join(dir, 'broken.js');
    writeFileSync(script, 'const a = 1;\nfor (let i = 0; i < 3; i++ {\n  await get("/");\n}\n');
    const run = sgcli(['run', 'broken', script]);
    t.is(await run.exited, EXIT.scriptCompile);
    t.is(run.stdout(), '');
    t.regex(run.stderr(), new RegExp(`^  ${script.replaceAll('.', '\\.')}:2:28: SyntaxError: `, 'm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sgcli --version prints the package version', async (t) => {
  const run = sgcli(['--version']);
  t.is(await run.exited, EXIT.ok);
  t.regex(run.stdout(), /^\d+\.\d+\.\d+\n$/);
});

// Needs the embedded coordinator + generator (ts/coordinator/embedded.ts); runs once it is built.
(existsSync(EMBEDDED_RUNNER) ? test : test.skip)('SIGINT during a --demo run aborts it, writes the archive and exits 4 with its path last on stdout', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sgcli-sigint-'));
  try {
    const run = sgcli(['run', 'sigint', 'examples/http-get.js', '--demo', '--size', '10', '--sustain', '60', '--script-params', '{"delayMs":20}', '--data-dir', dataDir]);
    await run.waitFor('stderr', /response_count=[1-9]/, 30_000);
    run.child.kill('SIGINT');
    t.is(await run.exited, EXIT.aborted, run.stderr());
    t.regex(run.stderr(), /aborting/);
    const lines = run.stdout().trimEnd().split('\n');
    const archive = lines.at(-1)!;
    t.regex(archive, /\.tar\.gz$/);
    t.true(existsSync(archive.startsWith('/') ? archive : join(root, archive)), archive);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
