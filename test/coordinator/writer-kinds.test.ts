/**
 * Writers as a small interface: a kind of writer the coordinator has never heard
 * of, plugged in through its writer configuration alone (configuredWriters, then
 * the coordinator's extraWriters, as the coordinator program does), receives a
 * real run's open, every report interval and close, and changes nothing else.
 */
import test from 'ava';
import { list as tarList } from 'tar';
import { configuredWriters, WRITER_KINDS } from '../../ts/coordinator/configured-writers.js';
import type { WriterKind } from '../../ts/coordinator/writer.js';
import type { ReportRow } from '../../ts/coordinator/report-row.js';
import type { RunInfo, Writer } from '../../ts/coordinator/writer.js';
import { coordinatorFor } from '../api/coordinator-harness.js';
import { readResultsCsv } from '../support/report-archive.js';
import { startTcpServer } from '../support/tcp-server.js';

type Call = { method: 'open'; run: RunInfo } | { method: 'write'; row: ReportRow; histograms: string[] } | { method: 'close' };

/** Records every call, in order, and nothing more: no files, no status. */
class RecordingWriter implements Writer {
  constructor(readonly calls: Call[]) {}
  open(run: RunInfo): Promise<void> {
    return this.#record({ method: 'open', run });
  }
  write(row: ReportRow, histograms: ReadonlyMap<string, unknown>): Promise<void> {
    return this.#record({ method: 'write', row, histograms: [...histograms.keys()] });
  }
  close(): Promise<void> {
    return this.#record({ method: 'close' });
  }
  #record(call: Call): Promise<void> {
    this.calls.push(call);
    return Promise.resolve();
  }
}

const RECORDING_ENV = 'RECORDING_WRITER';

/** The recording writer as the environment turns it on (RECORDING_WRITER=on); `runs` gets each run's calls. */
function recordingKind(runs: Call[][]): WriterKind {
  return {
    configure(env) {
      const value = env[RECORDING_ENV];
      if (value === undefined) return Promise.resolve({ ok: true, create: null, described: 'recording off' });
      if (value !== 'on') return Promise.resolve({ ok: false, problem: `${RECORDING_ENV}: must be on or unset; got ${JSON.stringify(value)}` });
      return Promise.resolve({ ok: true, create: () => new RecordingWriter(runs[runs.push([]) - 1]!), described: 'recording on' });
    },
  };
}

/** Devices that hold a connection to a silent server and count ticks. */
const tickPlan = (targetPort: number, sustain: number) => ({
  name: 'writer-kinds',
  blocks: [{ script: 'for (;;) { incCounter("tick"); await delay(100); }' }],
  addresses: [{ host: '127.0.0.1', port: targetPort, protocol: 'http' }],
  size: 10,
  rampup: 0,
  sustain,
  rampdown: 0,
});

test('a third kind of writer, plugged in through the writer configuration alone, receives the open, every interval and the close of each real run', async (t) => {
  const runs: Call[][] = [];
  const configured = await configuredWriters({ [RECORDING_ENV]: 'on', CW_REGION: 'off' }, () => {}, [...WRITER_KINDS, recordingKind(runs)]);
  if (!configured.ok) return t.fail(configured.problems.join('\n'));
  t.deepEqual(configured.writers.described, ['CloudWatch metrics off (CW_REGION=off)', 'Prometheus remote write off (PROMETHEUS_REMOTE_WRITE_URL not set)', 'recording on']);

  const c = await coordinatorFor(t, { reportIntervalSeconds: 1, extraWriters: configured.writers.create });
  const target = await startTcpServer(() => {});
  t.teardown(() => target.close());

  for (const sustain of [2, 1]) {
    const started = await c.coordinator.start(tickPlan(target.port, sustain));
    if (!started.ok) return t.fail(JSON.stringify(started));
    const result = await started.run.done;
    t.is(result.outcome, 'done');
    t.is(result.criticalErrors, 0);
    t.is(runs.length, sustain === 2 ? 1 : 2, 'one fresh writer per run');
    const calls = runs.at(-1)!;

    const rows = await readResultsCsv(result.archivePath!);
    t.true(rows.length >= sustain, `${rows.length} intervals`);
    t.deepEqual(
      calls.map((call) => call.method),
      ['open', ...rows.map(() => 'write'), 'close'],
      'opened once, then every interval the CSV has (the last, partial one too), then closed',
    );
    const open = calls[0]!;
    if (open.method !== 'open') return;
    t.is(open.run.runId, result.runId);
    t.is(open.run.plan.name, 'writer-kinds');
    t.true(open.run.dir.startsWith(c.dataDir), open.run.dir);

    const writes = calls.filter((call) => call.method === 'write');
    writes.forEach((write, i) => {
      // The same rows as the CSV: every column the row has, with the CSV's value.
      const csv = Object.fromEntries(Object.entries(rows[i]!).filter(([column, cell]) => cell !== '' && column !== 'elapsed' && column !== 'time'));
      t.deepEqual(Object.fromEntries(Object.entries(write.row.metrics).map(([column, value]) => [column, String(value)])), csv, `interval ${i + 1}`);
      t.is(String(write.row.elapsed), rows[i]!.elapsed!);
      t.is(write.row.time, rows[i]!.time!);
    });
    t.true(Number(rows.at(-1)!.tick_count) > 0);
    t.true(
      writes.some((write) => write.histograms.includes('cpu_percent')),
      "the interval's histograms come with each row",
    );

    // A writer without files or a status adds nothing to the archive or the summary.
    const entries: string[] = [];
    await tarList({ file: result.archivePath!, onReadEntry: (entry) => void entries.push(entry.path) });
    t.deepEqual(entries.sort(), ['histograms.hlog', 'plan.json', 'report.html', 'results.csv', 'summary.json']);
    t.is(result.summary!.writers, undefined);
  }
});

test('the configuration reports the problems of every kind of writer at once', async (t) => {
  const configured = await configuredWriters({ [RECORDING_ENV]: 'yes', CW_REGION: 'mars' }, () => {}, [...WRITER_KINDS, recordingKind([])]);
  t.false(configured.ok);
  const problems = configured.ok ? [] : configured.problems;
  t.is(problems.length, 2);
  t.regex(problems[0]!, /^CW_REGION: must be an AWS region/);
  t.is(problems[1], 'RECORDING_WRITER: must be on or unset; got "yes"');
});

test('a kind left off adds no writer to a run', async (t) => {
  const runs: Call[][] = [];
  const configured = await configuredWriters({ CW_REGION: 'off' }, () => {}, [...WRITER_KINDS, recordingKind(runs)]);
  t.true(configured.ok);
  if (!configured.ok) return;
  t.deepEqual(configured.writers.described, ['CloudWatch metrics off (CW_REGION=off)', 'Prometheus remote write off (PROMETHEUS_REMOTE_WRITE_URL not set)', 'recording off']);
  t.deepEqual(configured.writers.create(), []);
  t.is(runs.length, 0);
});
