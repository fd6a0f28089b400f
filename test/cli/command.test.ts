import test from 'ava';
import { runCommand, type CliDeps, type RunEmbedded } from '../../ts/cli/command.js';
import type { EmbeddedOptions, EmbeddedResult } from '../../ts/coordinator/embedded.js';
import { startDemoTarget } from '../../ts/cli/demo-target.js';
import { EXIT } from '../../ts/cli/exit-codes.js';
import type { ScriptProblem } from '../../ts/shared/plan-validation.js';
import { fakeSnapshot } from './fake-snapshot.js';

class Capture {
  text = '';
  readonly isTTY = false;
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

interface Harness {
  deps: CliDeps;
  stdout: Capture;
  stderr: Capture;
  /** Plans and options the runner was called with. */
  calls: Array<{ plan: unknown; options: EmbeddedOptions }>;
  /** Directories sgcli asked to create. */
  directories: string[];
  interrupt(): void;
  listeners(): number;
  runnerLoaded(): boolean;
}

function harness(runner: RunEmbedded, more: { files?: Record<string, string>; env?: Record<string, string>; checkScript?: CliDeps['checkScript'] } = {}): Harness {
  const stdout = new Capture();
  const stderr = new Capture();
  const handlers = new Set<() => void>();
  const calls: Harness['calls'] = [];
  const directories: string[] = [];
  let loaded = false;
  const files: Record<string, string> = { 'script.js': 'await get("/")', ...more.files };
  const deps: CliDeps = {
    loadRunner: () => {
      loaded = true;
      return Promise.resolve<RunEmbedded>(async (plan, options) => {
        calls.push({ plan, options });
        return runner(plan, options);
      });
    },
    checkScript: more.checkScript,
    startDemoTarget,
    stdout,
    stderr,
    env: more.env ?? {},
    makeDirectory: (path) => {
      if (path.startsWith('/unwritable')) return Promise.reject(new Error(`EACCES: permission denied, mkdir '${path}'`));
      directories.push(path);
      return Promise.resolve();
    },
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) return Promise.reject(Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' }));
      return Promise.resolve(text);
    },
    onInterrupt: (handler) => {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
  };
  return {
    deps,
    stdout,
    stderr,
    calls,
    directories,
    interrupt: () => [...handlers].forEach((handler) => handler()),
    listeners: () => handlers.size,
    runnerLoaded: () => loaded,
  };
}

const result = (overrides: Partial<EmbeddedResult> = {}): EmbeddedResult => ({
  outcome: 'done',
  archivePath: 'data/demo-1.tar.gz',
  criticalErrors: 0,
  ...overrides,
});

/** A runner that shows one healthy second, then ends with `end`. */
const healthyRun =
  (end: Partial<EmbeddedResult> = {}): RunEmbedded =>
  (_plan, options) => {
    options.onLive(fakeSnapshot());
    options.onLive(fakeSnapshot({ state: 'done', elapsed: 60, remaining: 0 }));
    return Promise.resolve(result(end));
  };

test('a healthy run exits 0 and prints only the archive path on stdout', async (t) => {
  const h = harness(healthyRun());
  const code = await runCommand(['run', 'demo', 'script.js', '--size', '20', '--sustain', '5', '--data-dir', '/tmp/reports'], h.deps);
  t.is(code, EXIT.ok);
  t.is(h.stdout.text, 'data/demo-1.tar.gz\n');
  t.regex(h.stderr.text, /state=sustain/);
  t.is(h.calls.length, 1);
  t.like(h.calls[0]!.plan, { name: 'demo', size: 20, sustain: 5, blocks: [{ script: 'await get("/")' }], addresses: [{ host: 'localhost' }] });
  t.is(h.calls[0]!.options.dataDir, '/tmp/reports');
  t.deepEqual(h.directories, ['/tmp/reports'], 'the data directory is created before the run');
  t.is(h.calls[0]!.options.reportIntervalSeconds, 60);
  t.is(h.listeners(), 0, 'the Ctrl-C handler is gone after the run');
});

test('the report interval comes from REPORT_INTERVAL_SECONDS unless --report-interval is given', async (t) => {
  const fromEnv = harness(healthyRun(), { env: { REPORT_INTERVAL_SECONDS: '5' } });
  t.is(await runCommand(['run', 'demo', 'script.js'], fromEnv.deps), EXIT.ok);
  t.is(fromEnv.calls[0]!.options.reportIntervalSeconds, 5);
  const fromOption = harness(healthyRun(), { env: { REPORT_INTERVAL_SECONDS: '5' } });
  t.is(await runCommand(['run', 'demo', 'script.js', '--report-interval', '2'], fromOption.deps), EXIT.ok);
  t.is(fromOption.calls[0]!.options.reportIntervalSeconds, 2);
});

test('runner notices go to stderr, never stdout', async (t) => {
  const h = harness((_plan, options) => {
    options.onNotice('desired 25 devices rounds down to 20: the ramp step is 10 per generator');
    options.onLive(fakeSnapshot());
    return Promise.resolve(result());
  });
  t.is(await runCommand(['run', 'demo', 'script.js', '--size', '25'], h.deps), EXIT.ok);
  t.regex(h.stderr.text, /notice: desired 25 devices rounds down to 20/);
  t.is(h.stdout.text, 'data/demo-1.tar.gz\n');
});

test('critical errors counted by the runner exit 1, with the archive still printed', async (t) => {
  const h = harness(healthyRun({ criticalErrors: 7 }));
  t.is(await runCommand(['run', 'demo', 'script.js'], h.deps), EXIT.criticalErrors);
  t.regex(h.stderr.text, /the runner counted 7 critical errors/);
  t.is(h.stdout.text, 'data/demo-1.tar.gz\n');
});

test('a script that faults exits 1 even though responses came back', async (t) => {
  const h = harness((_plan, options) => {
    const snapshot = fakeSnapshot();
    snapshot.counters.script_error_count = { total: 2, perSecond: 0 };
    options.onLive(snapshot);
    return Promise.resolve(result());
  });
  t.is(await runCommand(['run', 'demo', 'script.js'], h.deps), EXIT.criticalErrors);
  t.regex(h.stderr.text, /the script failed: 2 script errors/);
});

test('an aborted run is not judged: exit 4 even with script faults', async (t) => {
  const h = harness((_plan, options) => {
    options.onLive(fakeSnapshot({ counters: { script_error_count: { total: 2, perSecond: 0 } } }));
    return Promise.resolve(result({ outcome: 'aborted' }));
  });
  t.is(await runCommand(['run', 'demo', 'script.js'], h.deps), EXIT.aborted);
  t.notRegex(h.stderr.text, /broken/);
});

test('a run in which no device exchanged anything exits 1', async (t) => {
  const h = harness((_plan, options) => {
    options.onLive(fakeSnapshot({ counters: { conn_refused_error_count: { total: 40, perSecond: 20 } } }));
    return Promise.resolve(result());
  });
  t.is(await runCommand(['run', 'demo', 'script.js'], h.deps), EXIT.criticalErrors);
  t.regex(h.stderr.text, /no device exchanged anything with the target \(40 device errors in all\)/);
});

test('every invalid option is listed and exits 2 before the runner loads', async (t) => {
  const h = harness(healthyRun());
  const code = await runCommand(['run', 'demo', 'missing.js', '--size', 'lots', '--target-protocol', 'gopher', '--script-params', '{', '--rampup', 'soon'], h.deps);
  t.is(code, EXIT.usage);
  t.false(h.runnerLoaded());
  t.is(h.stdout.text, '');
  for (const field of ['--size', '--target-protocol', '--script-params', '--rampup', '<script-file>: cannot read missing.js']) {
    t.true(h.stderr.text.includes(`  ${field}`), field);
  }
  t.regex(h.stderr.text, /invalid plan or options \(5 problems\)/);
});

test('a plan that does not validate lists every problem with its field path and exits 2', async (t) => {
  const plan = JSON.stringify({ blocks: [{ script: 'x()', weight: 2 }], addresses: [{ host: 'http://a.example/' }] });
  const h = harness(healthyRun(), { files: { 'plan.json': plan } });
  t.is(await runCommand(['run', 'demo', '--plan', 'plan.json', '--sustain', '0'], h.deps), EXIT.usage);
  t.false(h.runnerLoaded());
  t.regex(h.stderr.text, /blocks\[0\]\.weight: unknown field/);
  t.regex(h.stderr.text, /addresses\[0\]\.host: must be a host name without a scheme/);
  t.regex(h.stderr.text, /sustain: the run would last 0 seconds/);
});

test('a data directory that cannot be created is a usage error before anything starts', async (t) => {
  const h = harness(healthyRun());
  t.is(await runCommand(['run', 'demo', 'script.js', '--data-dir', '/unwritable/data'], h.deps), EXIT.usage);
  t.false(h.runnerLoaded());
  t.regex(h.stderr.text, /--data-dir: cannot create \/unwritable\/data: EACCES/);
});

test('a --plan file that is not JSON is a usage error', async (t) => {
  const h = harness(healthyRun(), { files: { 'plan.json': '{ name: ' } });
  t.is(await runCommand(['run', 'demo', '--plan', 'plan.json'], h.deps), EXIT.usage);
  t.regex(h.stderr.text, /--plan: plan\.json is not valid JSON/);
});

test('a script that does not compile exits 3 with file:line:column: message (checked before start)', async (t) => {
  const checked: string[] = [];
  const checkScript = (source: string): Promise<ScriptProblem | null> => {
    checked.push(source);
    return Promise.resolve({ line: 2, column: 7, message: "SyntaxError: unexpected token in expression: ')'" });
  };
  const h = harness(healthyRun(), { files: { 'bad.js': 'const a = 1;\nget(1));' }, checkScript });
  t.is(await runCommand(['run', 'demo', 'bad.js'], h.deps), EXIT.scriptCompile);
  t.deepEqual(checked, ['const a = 1;\nget(1));']);
  t.false(h.runnerLoaded());
  t.regex(h.stderr.text, /^ {2}bad\.js:2:7: SyntaxError: unexpected token in expression: '\)'$/m);
});

test('compile errors the runner reports exit 3 and name the plan block they came from', async (t) => {
  const plan = JSON.stringify({ blocks: [{ script: 'ok()' }, { script: 'bad(' }], addresses: [{ host: 'localhost' }] });
  const h = harness(
    () =>
      Promise.resolve({
        outcome: 'failed',
        archivePath: null,
        criticalErrors: 0,
        problems: [{ path: 'blocks[1].script', message: 'line 1, column 5: SyntaxError: expecting )' }],
      }),
    { files: { 'plan.json': plan } },
  );
  t.is(await runCommand(['run', 'demo', '--plan', 'plan.json'], h.deps), EXIT.scriptCompile);
  t.regex(h.stderr.text, /plan\.json#blocks\[1\]\.script:1:5: SyntaxError: expecting \)/);
  t.is(h.stdout.text, '');
});

test('plan problems the runner reports beside compile errors exit 2 and list both', async (t) => {
  const h = harness(() =>
    Promise.resolve({
      outcome: 'failed',
      archivePath: null,
      criticalErrors: 0,
      problems: [
        { path: 'blocks[0].script', message: 'line 3, column 1: SyntaxError: unexpected end of input' },
        { path: 'addresses[0].host', message: 'does not resolve' },
      ],
    }),
  );
  t.is(await runCommand(['run', 'demo', 'script.js'], h.deps), EXIT.usage);
  t.regex(h.stderr.text, /addresses\[0\]\.host: does not resolve/);
  t.regex(h.stderr.text, /script\.js:3:1: SyntaxError: unexpected end of input/);
});

test('a run that fails to start exits 5; a runner that throws exits 5 with the cause', async (t) => {
  const failed = harness(() => Promise.resolve({ outcome: 'failed', archivePath: null, criticalErrors: 0 }));
  t.is(await runCommand(['run', 'demo', 'script.js'], failed.deps), EXIT.runFailed);
  t.regex(failed.stderr.text, /the run failed/);

  const broken = harness(() => Promise.reject(new Error('no generator joined')));
  t.is(await runCommand(['run', 'demo', 'script.js'], broken.deps), EXIT.runFailed);
  t.regex(broken.stderr.text, /unexpected failure: Error: no generator joined/);
  t.is(broken.listeners(), 0);
});

test('--coordinator without a remote runner in the build is refused with exit 6', async (t) => {
  const h = harness(healthyRun());
  t.is(await runCommand(['run', 'demo', 'script.js', '--coordinator', 'http://grid:8000'], h.deps), EXIT.notSupported);
  t.false(h.runnerLoaded());
  t.regex(h.stderr.text, /remote coordinator \(--coordinator http:\/\/grid:8000\/?\) is not supported by this build/);
});

test('the first Ctrl-C aborts through the signal and still prints the archive: exit 4', async (t) => {
  const h: Harness = harness(async (_plan, options) => {
    options.onLive(fakeSnapshot());
    await new Promise<void>((resolve) => {
      options.signal.addEventListener('abort', () => resolve());
      setImmediate(() => h.interrupt());
    });
    return result({ outcome: 'aborted', archivePath: 'data/aborted.tar.gz' });
  });
  t.is(await runCommand(['run', 'demo', 'script.js'], h.deps), EXIT.aborted);
  t.regex(h.stderr.text, /aborting: stopping devices and writing the report \(Ctrl-C again to quit at once\)/);
  t.is(h.stdout.text, 'data/aborted.tar.gz\n');
});

test('a second Ctrl-C quits at once without waiting for the runner: exit 130', async (t) => {
  let aborted = false;
  const h: Harness = harness(async (_plan, options) => {
    options.signal.addEventListener('abort', () => {
      aborted = true;
    });
    setImmediate(() => {
      h.interrupt();
      setImmediate(() => h.interrupt());
    });
    // A runner stuck in its shutdown: never resolves.
    return new Promise<EmbeddedResult>(() => {});
  });
  t.is(await runCommand(['run', 'demo', 'script.js'], h.deps), EXIT.forced);
  t.true(aborted);
  t.is(h.stdout.text, '');
  t.regex(h.stderr.text, /no report was written/);
  t.is(h.listeners(), 0);
});

test('--demo starts the demo target, aims the plan at it and stops it after the run', async (t) => {
  let address: { host: string; port: number; protocol: string } | undefined;
  const h = harness(async (plan, options) => {
    address = (plan as { addresses: Array<typeof address> }).addresses[0];
    const response = await fetch(`http://${address!.host}:${address!.port}/`);
    t.is(response.status, 200);
    await response.text();
    options.onLive(fakeSnapshot());
    return result();
  });
  t.is(await runCommand(['run', 'demo', 'script.js', '--demo'], h.deps), EXIT.ok);
  t.is(address!.host, '127.0.0.1');
  t.is(address!.protocol, 'http');
  t.regex(h.stderr.text, new RegExp(`demo target listening on http://127\\.0\\.0\\.1:${address!.port}`));
  await t.throwsAsync(fetch(`http://127.0.0.1:${address!.port}/`), undefined, 'closed after the run');
});

test('--demo gives way to an explicit target host', async (t) => {
  const h = harness(healthyRun());
  t.is(await runCommand(['run', 'demo', 'script.js', '--demo', '--target-hosts', 'a.example,b.example'], h.deps), EXIT.ok);
  t.like(h.calls[0]!.plan, { addresses: [{ host: 'a.example' }, { host: 'b.example' }] });
  t.regex(h.stderr.text, /--demo ignored/);
});

test('commander usage errors exit 2 and --help exits 0 on stdout', async (t) => {
  const missing = harness(healthyRun());
  t.is(await runCommand(['run'], missing.deps), EXIT.usage);
  t.regex(missing.stderr.text, /missing required argument 'name'/);
  const unknown = harness(healthyRun());
  t.is(await runCommand(['run', 'demo', 'script.js', '--sizes', '3'], unknown.deps), EXIT.usage);
  t.regex(unknown.stderr.text, /unknown option '--sizes'/);
  const help = harness(healthyRun());
  t.is(await runCommand(['run', '--help'], help.deps), EXIT.ok);
  t.regex(help.stdout.text, /--target-protocol <p>/);
});

test('sgcli demo-target serves until Ctrl-C and reports what it served', async (t) => {
  const h = harness(healthyRun());
  const running = runCommand(['demo-target'], h.deps);
  while (!h.stdout.text.includes('\n')) await new Promise((resolve) => setTimeout(resolve, 5));
  const url = /listening on (http:\/\/\S+)/.exec(h.stdout.text)![1]!;
  t.is((await fetch(`${url}/json`)).status, 200);
  h.interrupt();
  t.is(await running, EXIT.ok);
  t.regex(h.stderr.text, /stopped after 1 requests/);
});

test('sgcli demo-target refuses a bad port', async (t) => {
  const h = harness(healthyRun());
  t.is(await runCommand(['demo-target', '--port', 'http'], h.deps), EXIT.usage);
  t.regex(h.stderr.text, /--port: must be a whole number/);
});
