/**
 * sgcli's core: `runCommand(argv, deps)` parses the command line, runs the command
 * and returns the exit code. Everything that touches the process (streams, files,
 * signals, the embedded runner) comes in through `deps`, so tests drive it whole.
 * This is the one place where outcomes and errors become exit codes.
 */
import { Command, CommanderError } from 'commander';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { thresholdsPassed } from '../coordinator/run-summary.js';
import { thresholdLabel } from '../shared/thresholds.js';
import { formatEndSummary, type SummaryJson } from './end-summary.js';
import { thresholdsJunit } from './junit.js';
import type { LiveSnapshot } from '../shared/live.js';
import type { EmbeddedOptions, EmbeddedResult, runEmbedded } from '../coordinator/embedded.js';
import type { Writer } from '../coordinator/writer.js';
import type { PlanProblem, Protocol } from '../shared/plan.js';
import { validatePlan, type ScriptProblem } from '../shared/plan-validation.js';
import { CLI_ERROR, CliError, usageError } from './cli-errors.js';
import { parseCoordinatorUrl } from './coordinator-url.js';
import { demoUrl, type DemoTarget, type DemoTargetOptions } from './demo-target.js';
import { EXIT, type ExitCode } from './exit-codes.js';
import { createLiveView, type TerminalStream } from './live-view.js';
import { busyGeneratorsLine } from '../shared/busy-generator.js';
import { criticalReasons, deviceErrorTotal } from './run-verdict.js';
import type { runRemote } from './remote-runner.js';
import { buildPlan, DEFAULT_DATA_DIR, parseRunOptions, usesDemoTarget, withSingleTarget, type RunOptionValues } from './run-options.js';
import { TOKEN_ENV } from '../shared/token.js';
import { HotGenerators } from './hot-generators.js';
import { PROMETHEUS_FLAG, prometheusSettings, type PrometheusFlags, type PrometheusSettings } from '../coordinator/prometheus-writer-kind.js';
import { settingHelp, SETTINGS } from '../shared/settings.js';

/** The embedded coordinator + generator; only its type is imported here, the module loads on a run. */
export type RunEmbedded = typeof runEmbedded;
/** A coordinator's API (--coordinator); loaded on such a run only. */
export type RunRemote = typeof runRemote;

/** Environment variable for a coordinator's token (--token). */

export interface CliDeps {
  /** Loaded only when a run starts, so `--help` and usage errors stay fast. */
  loadRunner: () => Promise<RunEmbedded>;
  /** Loaded only when a run goes to a coordinator (--coordinator); without it that is not supported. */
  loadRemoteRunner?: () => Promise<RunRemote>;
  /** Compiles a script the way devices will; when given, compile errors come before anything starts. */
  checkScript?: (source: string) => Promise<ScriptProblem | null>;
  startDemoTarget: (options?: DemoTargetOptions) => Promise<DemoTarget>;
  /** Raises the process's soft open-file limit to the hard one; the line that says what it got. */
  raiseOpenFileLimit?: () => Promise<string>;
  /** Carries only the archive path of a run (and a command's own output). */
  stdout: TerminalStream;
  /** Live view, notices and errors. */
  stderr: TerminalStream;
  env: Record<string, string | undefined>;
  readFile: (path: string) => Promise<string>;
  /** Creates a directory and its parents; nothing when it exists. */
  makeDirectory: (path: string) => Promise<void>;
  /** Writes a whole file (--summary-json, reports); node:fs when not given. */
  writeFile?: (path: string, text: string) => Promise<void>;
  /** Calls `handler` on every Ctrl-C until the returned function is called. */
  onInterrupt: (handler: () => void) => () => void;
  version?: string;
}

/** What a finished command reports; mapped to an exit code by exitCodeFor. */
type CommandResult = { kind: 'ok' } | { kind: 'run'; outcome: EmbeddedResult['outcome']; critical: boolean; thresholdsFailed?: boolean; thresholdAborted?: boolean } | { kind: 'forced' };

export function exitCodeFor(result: CommandResult): ExitCode {
  if (result.kind === 'ok') return EXIT.ok;
  if (result.kind === 'forced') return EXIT.forced;
  if (result.outcome === 'failed') return EXIT.runFailed;
  if (result.outcome === 'aborted') return result.thresholdAborted ? EXIT.thresholdsFailed : EXIT.aborted;
  if (result.thresholdsFailed) return EXIT.thresholdsFailed;
  return result.critical ? EXIT.criticalErrors : EXIT.ok;
}

const EXIT_FOR_ERROR: Record<CliError['code'], ExitCode> = {
  [CLI_ERROR.usage]: EXIT.usage,
  [CLI_ERROR.scriptCompile]: EXIT.scriptCompile,
  [CLI_ERROR.notSupported]: EXIT.notSupported,
  [CLI_ERROR.runFailed]: EXIT.runFailed,
};

/** Runs one sgcli command line (`argv` without node and the script) and returns its exit code. */
export async function runCommand(argv: readonly string[], deps: CliDeps): Promise<ExitCode> {
  let result: CommandResult = { kind: 'ok' };
  const program = buildProgram(deps, (r) => {
    result = r;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCodeFor(result);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed the message or the help.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      deps.stderr.write(`sgcli: ${error.message}\n${error.details.map((line) => `  ${line}\n`).join('')}`);
      return EXIT_FOR_ERROR[error.code];
    }
    deps.stderr.write(`sgcli: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.runFailed;
  }
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function buildProgram(deps: CliDeps, done: (result: CommandResult) => void): Command {
  const program = new Command('sgcli')
    .description('Stressgrid: load tests with many simulated devices, from the terminal.')
    .exitOverride()
    .configureOutput({ writeOut: (text) => deps.stdout.write(text), writeErr: (text) => deps.stderr.write(text) })
    .showHelpAfterError('(add --help for usage)');
  if (deps.version) program.version(deps.version);

  program
    .command('run')
    .description('run a plan: an embedded coordinator and generator unless --coordinator is given')
    .argument('<name>', 'name of the run')
    .argument('[script-file]', 'device script (the body of an async function); optional when --plan gives blocks')
    .option('--coordinator <url>', "a coordinator's API URL, like http://coordinator:8000, to run the plan on (default: embedded)")
    .option('--token <token>', "the coordinator's token (env STRESSGRID_TOKEN)")
    .option('--target-hosts <list>', 'target hosts, comma-separated (default localhost)')
    .option('--target-port <n>', 'target port (default 80, 443 for TLS)')
    .option('--target-protocol <p>', 'http10 http10s http https http2 http2s tcp udp (default http)')
    .option('--size <n>', 'desired devices, rounded down to the ramp step (default 10)')
    .option('--arrival-rate <per-second>', 'open model: iterations (runs of the script) started per second, ramped over --rampup and --rampdown, instead of --size devices')
    .option('--max-devices <n>', 'with --arrival-rate: the pool of devices that serve the iterations (default: the rate / 10, at least 10)')
    .option('--script-params <json>', 'JSON object in scope as `params` (default {})')
    .option('--rampup <s>', 'ramp-up seconds (default 0)')
    .option('--sustain <s>', 'sustain seconds (default 60)')
    .option('--rampdown <s>', 'ramp-down seconds (default 0)')
    .option(`${SETTINGS.reportInterval.flag} ${SETTINGS.reportInterval.arg}`, settingHelp(SETTINGS.reportInterval))
    .option('--plan <file.json>', 'a whole plan as JSON; the options above override its fields')
    .option('--data-dir <dir>', 'where run archives are written (default ./data)')
    .option('--threshold <threshold>', "a pass/fail goal, '<metric>: <expression>' like 'headers_us: p99 < 10000' (repeatable; added to the plan's thresholds)", collect, [] as string[])
    .option('--summary-json <file>', 'also write the end-of-run summary as JSON to this file')
    .option('--junit <file>', "also write the thresholds' results as JUnit XML to this file")
    .option('--demo', 'start the built-in demo target (HTTP; a TCP or UDP echo with --target-protocol tcp|udp) on a free loopback port and aim at it')
    .option(`${PROMETHEUS_FLAG.url} <url>`, 'push every second of the run to this Prometheus remote-write URL (env PROMETHEUS_REMOTE_WRITE_URL)')
    .option(`${PROMETHEUS_FLAG.labels} <k=v,...>`, 'labels added to every pushed series (env PROMETHEUS_REMOTE_WRITE_LABELS)')
    .addHelpText(
      'after',
      '\nThe live view goes to stderr; stdout gets only the archive path, so `tar tzf $(sgcli run ...)` works;\n' +
        'with --coordinator it gets the archive URL, so `wget $(sgcli run ...)` does.\n' +
        'Ctrl-C once aborts the run and still writes its report; twice quits at once.\n' +
        `A run whose thresholds fail exits with ${EXIT.thresholdsFailed}; the archive is still written.`,
    )
    .action(async (name: string, scriptFile: string | undefined, values: RunOptionValues & PrometheusFlags & { token?: string }) => {
      done(await runPlan(name, scriptFile, values, deps));
    });

  program
    .command('report')
    .description("write a run's report as one self-contained HTML file (charts inlined; opens with no network)")
    .argument('<archive>', 'a run archive (<runId>.tar.gz), or a run id found in --data-dir')
    .option('-o, --output <file>', 'where to write the HTML (default report.html)')
    .option('--junit <file>', "also write the thresholds' results as JUnit XML to this file")
    .option('--data-dir <dir>', "where to look for a run id's archive (default ./data)")
    .action(async (archive: string, values: ReportOptionValues) => {
      done(await writeReport(archive, values, deps));
    });

  program
    .command('demo-target')
    .description('serve the built-in demo target until Ctrl-C: GET /, GET /json, POST /echo, GET /delay?ms=N')
    .option('--port <n>', 'port to listen on (default: a free one)')
    .option('--host <address>', 'address to listen on (default 127.0.0.1)')
    .action(async (values: { port?: string; host?: string }) => {
      done(await serveDemoTarget(values, deps));
    });
  return program;
}

const SCRIPT_PROBLEM = /^blocks\[(\d+)\]\.script$/;
const LINE_COLUMN = /^line (\d+), column (\d+): ([\s\S]*)$/;

/**
 * Splits validation problems into compile errors, written `file:line:column: message`
 * as compilers do, and the rest. `scriptOrigin(i)` names where block i's script came from.
 */
function classifyProblems(problems: readonly PlanProblem[], scriptOrigin: (block: number) => string): CliError {
  const compile: string[] = [];
  const others: PlanProblem[] = [];
  for (const problem of problems) {
    const block = SCRIPT_PROBLEM.exec(problem.path);
    const where = block ? LINE_COLUMN.exec(problem.message) : null;
    if (block && where) compile.push(`${scriptOrigin(Number(block[1]))}:${where[1]}:${where[2]}: ${where[3]}`);
    else others.push(problem);
  }
  if (others.length > 0) {
    const error = usageError(others);
    return new CliError(error.code, error.message, [...error.details, ...compile]);
  }
  return new CliError(CLI_ERROR.scriptCompile, compile.length === 1 ? 'the script does not compile' : 'scripts do not compile', compile);
}

/** Reads a file, turning a failure into a problem of the option that named it. */
async function readOptional(path: string | undefined, option: string, deps: CliDeps, problems: PlanProblem[]): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await deps.readFile(path);
  } catch (error) {
    problems.push({ path: option, message: `cannot read ${path}: ${(error as Error).message}` });
    return undefined;
  }
}

async function runPlan(name: string, scriptFile: string | undefined, values: RunOptionValues & PrometheusFlags & { token?: string }, deps: CliDeps): Promise<CommandResult> {
  const { settings, problems } = parseRunOptions(values, deps.env);
  let coordinator: URL | undefined;
  if (settings.coordinator !== undefined && settings.coordinator.trim() !== '') {
    const parsed = parseCoordinatorUrl(settings.coordinator);
    if (parsed.ok) coordinator = parsed.base;
    else problems.push(parsed.problem);
  }
  const scriptSource = await readOptional(scriptFile, '<script-file>', deps, problems);
  const planText = await readOptional(settings.planFile, '--plan', deps, problems);
  let basePlan: unknown;
  if (planText !== undefined) {
    try {
      basePlan = JSON.parse(planText);
    } catch (error) {
      problems.push({ path: '--plan', message: `${settings.planFile} is not valid JSON: ${(error as Error).message}` });
    }
  }
  const built = buildPlan(settings, {
    name,
    scriptFile,
    scriptSource,
    basePlan,
  });
  problems.push(...built.problems);
  // With --coordinator the coordinator's own settings decide where its metrics go.
  let prometheus: PrometheusSettings | null = null;
  if (coordinator === undefined) {
    const checked = prometheusSettings(values, deps.env);
    if (checked.ok) prometheus = checked.settings;
    else problems.push(...checked.problems.map((p) => ({ path: p.setting, message: p.message })));
  }
  if (problems.length > 0) throw usageError(problems);

  const loadRemoteRunner = deps.loadRemoteRunner;
  if (coordinator !== undefined && loadRemoteRunner === undefined) {
    throw new CliError(CLI_ERROR.notSupported, `a remote coordinator (--coordinator ${settings.coordinator}) is not supported by this build`, [
      'leave --coordinator out to run the plan on an embedded coordinator and generator',
    ]);
  }

  if (coordinator === undefined) {
    try {
      // A fresh checkout has no ./data yet; the report must not be the first thing to fail.
      await deps.makeDirectory(settings.dataDir);
    } catch (error) {
      throw usageError([{ path: '--data-dir', message: `cannot create ${settings.dataDir}: ${(error as Error).message}` }]);
    }
  }

  const scriptOrigin = (block: number): string => (scriptFile !== undefined ? scriptFile : `${settings.planFile ?? 'plan'}#blocks[${block}].script`);
  // Checked before the demo target or the runner start, so a bad plan costs nothing.
  const validation = await validatePlan(built.plan, deps.checkScript ? { checkScript: deps.checkScript } : {});
  if (!validation.ok) throw classifyProblems(validation.problems, scriptOrigin);

  const view = createLiveView(deps.stderr, deps.env);
  if (deps.raiseOpenFileLimit) view.notice(await deps.raiseOpenFileLimit());
  let demo: DemoTarget | undefined;
  let plan = built.plan;
  if (usesDemoTarget(settings)) {
    demo = await deps.startDemoTarget({ protocol: settings.targetProtocol });
    const protocol: Protocol = settings.targetProtocol ?? demo.protocol;
    plan = withSingleTarget(plan, demo.host, demo.port, protocol);
    view.notice(`demo target listening on ${demoUrl(demo)}`);
  } else if (settings.demo) {
    view.notice('--demo ignored: --target-hosts or --target-port names the target');
  }

  if (coordinator !== undefined && (values.dataDir !== undefined || values.reportInterval !== undefined)) {
    view.notice('--data-dir and --report-interval are ignored with --coordinator: the coordinator keeps its reports (STRESSGRID_DATA_DIR, REPORT_INTERVAL_SECONDS)');
  }
  if (coordinator !== undefined && values.prometheusRemoteWrite !== undefined) {
    view.notice(`${PROMETHEUS_FLAG.url} is ignored with --coordinator: the coordinator pushes to the remote-write URL it was started with`);
  }
  let extraWriters: (() => Writer[]) | undefined;
  if (prometheus !== null) {
    const settings = prometheus;
    const { PrometheusRemoteWriter } = await import('../coordinator/prometheus-writer.js');
    extraWriters = () => [new PrometheusRemoteWriter({ ...settings, log: (line) => view.notice(line) })];
  }

  const abort = new AbortController();
  let forceQuit!: () => void;
  const forced = new Promise<'forced'>((resolve) => {
    forceQuit = () => resolve('forced');
  });
  const stopListening = deps.onInterrupt(() => {
    if (abort.signal.aborted) {
      forceQuit();
      return;
    }
    abort.abort();
    view.notice('aborting: stopping devices and writing the report (Ctrl-C again to quit at once)');
  });

  let last: LiveSnapshot | undefined;
  const hot = new HotGenerators();
  const watch: Pick<EmbeddedOptions, 'signal' | 'onLive' | 'onNotice'> = {
    signal: abort.signal,
    onLive: (snapshot) => {
      last = snapshot;
      hot.see(snapshot);
      view.update(snapshot);
    },
    onNotice: (message) => view.notice(message),
  };
  try {
    const running =
      coordinator !== undefined && loadRemoteRunner !== undefined
        ? (await loadRemoteRunner())(plan, { ...watch, coordinator, token: values.token ?? (deps.env[TOKEN_ENV] || undefined) })
        : (await deps.loadRunner())(plan, { ...watch, dataDir: settings.dataDir, reportIntervalSeconds: settings.reportIntervalSeconds, ...(extraWriters ? { extraWriters } : {}) });
    const outcome = await Promise.race([running, forced]);
    view.finish();
    if (outcome === 'forced') {
      deps.stderr.write('sgcli: quit before the run ended; no report was written\n');
      return { kind: 'forced' };
    }
    if (outcome.problems !== undefined && outcome.problems.length > 0) throw classifyProblems(outcome.problems, scriptOrigin);

    for (const line of hot.lines()) deps.stderr.write(`sgcli: ${line}\n`);
    const reasons = outcome.outcome === 'done' ? criticalReasons(outcome.criticalErrors, last) : [];
    if (outcome.outcome === 'failed') deps.stderr.write('sgcli: the run failed\n');
    if (outcome.outcome === 'aborted') deps.stderr.write(`sgcli: the run was aborted${outcome.reason ? `: ${outcome.reason}` : ''}\n`);
    if (reasons.length > 0) {
      deps.stderr.write(`sgcli: the run ended broken: ${reasons.join('; ')} (${deviceErrorTotal(last)} device errors in all)\n`);
    }
    const busy = busyGeneratorsLine(last?.busyGenerators ?? []);
    if (busy !== '') deps.stderr.write(`sgcli: ${busy}\n`);
    const summary = outcome.summary ?? null;
    const thresholds = summary?.thresholds ?? [];
    const thresholdsFailed = thresholds.some((t) => t.ok !== true);
    const thresholdAborted = thresholds.some((t) => t.aborted === true);
    if (summary !== null) {
      deps.stderr.write(`\n${formatEndSummary(summary).join('\n')}\n`);
      if (settings.summaryJson !== undefined) await writeSummaryJson(settings.summaryJson, { ...summary, archive: outcome.archivePath, thresholdsPassed: thresholdsPassed(summary) }, deps);
      if (values.junit !== undefined) await writeOutput(values.junit, thresholdsJunit(summary), '--junit', deps);
    }
    if (thresholdsFailed)
      deps.stderr.write(
        `sgcli: thresholds failed: ${thresholds
          .filter((t) => t.ok !== true)
          .map((t) => thresholdLabel(t))
          .join('; ')}\n`,
      );
    if (outcome.archivePath !== null) {
      // The last line of stdout, and the only one, for `tar tzf $(sgcli run ...)` (a URL with --coordinator).
      deps.stdout.write(`${outcome.archivePath}\n`);
    }
    return { kind: 'run', outcome: outcome.outcome, critical: reasons.length > 0, thresholdsFailed, thresholdAborted };
  } finally {
    view.finish();
    stopListening();
    await demo?.close();
  }
}

/** Writes --summary-json; a failure is told, not fatal: the run and its archive stand. */
const writeSummaryJson = (path: string, summary: SummaryJson, deps: CliDeps): Promise<void> => writeOutput(path, `${JSON.stringify(summary, null, 2)}\n`, '--summary-json', deps);

/** Writes a file a run was asked for beside its archive; a failure is told, not fatal. */
async function writeOutput(path: string, text: string, option: string, deps: CliDeps): Promise<void> {
  try {
    await (deps.writeFile ?? writeFile)(path, text);
  } catch (error) {
    deps.stderr.write(`sgcli: could not write ${option} ${path}: ${(error as Error).message}\n`);
  }
}

interface ReportOptionValues {
  output?: string;
  junit?: string;
  dataDir?: string;
}

/** `sgcli report`: the archive (or a run id's archive in the data directory) → one HTML file, and JUnit on request. */
async function writeReport(target: string, values: ReportOptionValues, deps: CliDeps): Promise<CommandResult> {
  const { buildHtmlReport, reportSourcesOfArchive } = await import('../coordinator/html-report.js');
  const archive = target.endsWith('.tar.gz') || target.includes('/') ? target : join(values.dataDir ?? DEFAULT_DATA_DIR, `${target}.tar.gz`);
  let sources: Awaited<ReturnType<typeof reportSourcesOfArchive>>;
  try {
    sources = await reportSourcesOfArchive(archive);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? `there is no ${archive}` : (error as Error).message;
    throw usageError([{ path: '<archive>', message: `cannot read the run's archive: ${why}` }]);
  }
  const output = values.output ?? 'report.html';
  const write = deps.writeFile ?? writeFile;
  try {
    await write(output, await buildHtmlReport(sources));
    if (values.junit !== undefined) await write(values.junit, thresholdsJunit(sources.summary));
  } catch (error) {
    throw usageError([{ path: values.junit !== undefined && (error as { path?: string }).path === values.junit ? '--junit' : '--output', message: (error as Error).message }]);
  }
  deps.stdout.write(`${output}\n`);
  const failed = (sources.summary.thresholds ?? []).filter((r) => r.ok !== true);
  if (failed.length > 0) deps.stderr.write(`the run failed ${failed.length} of ${sources.summary.thresholds!.length} thresholds\n`);
  return { kind: 'ok' };
}

async function serveDemoTarget(values: { port?: string; host?: string }, deps: CliDeps): Promise<CommandResult> {
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) throw usageError([{ path: '--port', message: `must be a whole number from 0 to 65535, got ${JSON.stringify(values.port)}` }]);
  }
  const demo = await deps.startDemoTarget({ port, host: values.host });
  deps.stdout.write(`demo target listening on ${demoUrl(demo)}\n`);
  deps.stderr.write('routes: GET /, GET /json, POST /echo, GET /delay?ms=N; Ctrl-C stops it\n');
  await new Promise<void>((resolve) => {
    const stop = deps.onInterrupt(() => {
      stop();
      resolve();
    });
  });
  await demo.close();
  deps.stderr.write(`demo target stopped after ${demo.served} requests\n`);
  return { kind: 'ok' };
}
