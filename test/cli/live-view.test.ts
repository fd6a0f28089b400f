import test from 'ava';
import { createLiveView, fitWidth, renderFrame, renderLine, type TerminalStream } from '../../ts/cli/live-view.js';
import { ANSI_ESCAPE, ESC } from '../../ts/shared/control-characters.js';
import { fakeSnapshot } from './fake-snapshot.js';

class FakeTerminal implements TerminalStream {
  readonly writes: string[] = [];
  constructor(
    readonly isTTY: boolean,
    readonly columns = 120,
    readonly rows = 40,
  ) {}
  write(chunk: string): boolean {
    this.writes.push(chunk);
    return true;
  }
}

test('the frame shows run, state, devices, counters with errors last, and latencies in ms', (t) => {
  t.deepEqual(renderFrame(fakeSnapshot(), false), [
    'Stressgrid run demo (demo-20250101T120000Z)',
    'state sustain   elapsed 0:12   remaining 0:48',
    'devices active 19   target 20   effective 20 (desired 25)',
    'generators 1   cpu max 12.3%   rx 1.23 MB/s   tx 457 kB/s',
    '',
    'counter              total     /s',
    'conn                    20      0',
    'response            12,345  1,234',
    'conn_refused_error       3      1',
    '',
    'histogram  unit  count   mean    min  median    p90   p99  p99.9   max',
    'cpu        %         1   12.3   12.3    12.3   12.3  12.3   12.3  12.3',
    'headers    ms    1,234  0.512  0.101   0.450  0.800  1.20   3.40  15.0',
  ]);
});

test('errors stand out in red and the frame says nothing of desired devices when none were rounded off', (t) => {
  const lines = renderFrame(fakeSnapshot({ desiredDevices: 20 }), true);
  const errorLine = lines.find((line) => line.includes('conn_refused_error'))!;
  t.true(errorLine.startsWith('\x1b[1;31m'));
  t.false(lines.find((line) => line.includes('response'))!.includes('\x1b[1;31m'));
  t.false(lines.some((line) => line.includes('desired')));
});

test('several generators get a table of their own', (t) => {
  const generator = (id: string) => ({ id, activeDevices: 10, cpuPercent: 50, networkRxBytesPerSecond: 1000, networkTxBytesPerSecond: 2000 });
  const ids = Array.from({ length: 10 }, (_, i) => `gen-${i}`);
  const lines = renderFrame(fakeSnapshot({ generators: ids.map(generator) }), false);
  t.true(lines.includes('  generator  devices    cpu         rx         tx'));
  t.true(lines.includes('  gen-7           10  50.0%  1.00 kB/s  2.00 kB/s'));
  t.true(lines.includes('  … and 2 more generators'));
  t.false(lines.some((line) => line.includes('gen-8')));
});

test('a narrow terminal drops the least telling histogram columns first', (t) => {
  const lines = renderFrame(fakeSnapshot(), false, 50);
  t.true(lines.includes('histogram  unit  count  median    p90   p99   max'));
  t.true(lines.includes('headers    ms    1,234   0.450  0.800  1.20  15.0'));
  t.true(renderFrame(fakeSnapshot(), false, 10).includes('histogram  unit  count  median   p99   max'));
});

test('an empty snapshot says there are no counters yet and shows no histogram table', (t) => {
  const lines = renderFrame(fakeSnapshot({ counters: {}, histograms: {}, state: 'preparing' }), false);
  t.true(lines.includes('no counters yet'));
  t.false(lines.some((line) => line.startsWith('histogram')));
});

test('the plain line is key=value with report names for counters and ms for _us histograms', (t) => {
  t.is(
    renderLine(fakeSnapshot()),
    't=12 run=demo-20250101T120000Z state=sustain remaining=48 active=19 target=20 effective=20 generators=1 cpu_max=12.3 ' +
      'conn_count=20 conn_per_second=0 response_count=12345 response_per_second=1234 conn_refused_error_count=3 conn_refused_error_per_second=1 ' +
      'cpu_percent_mean=12.3 cpu_percent_median=12.3 cpu_percent_p99=12.3 cpu_percent_max=12.3 ' +
      'headers_ms_mean=0.512 headers_ms_median=0.450 headers_ms_p99=1.20 headers_ms_max=15.0',
  );
});

test('fitWidth cuts visible characters only and closes the colour it cut into', (t) => {
  t.is(fitWidth('short', 10), 'short');
  t.is(fitWidth('abcdefghij', 4), 'abcd\x1b[0m');
  t.is(fitWidth('\x1b[1;31mabcdef\x1b[0m', 3), '\x1b[1;31mabc\x1b[0m');
  t.is(fitWidth('\x1b[2mab\x1b[0mcd', 4), '\x1b[2mab\x1b[0mcd');
});

test('on a TTY each frame redraws in place, cut to the terminal width, in one write', (t) => {
  const terminal = new FakeTerminal(true, 40, 40);
  const view = createLiveView(terminal, {});
  view.update(fakeSnapshot());
  view.update(fakeSnapshot({ elapsed: 13.4 }));
  t.is(terminal.writes.length, 2);
  const [first, second] = terminal.writes as [string, string];
  const height = renderFrame(fakeSnapshot(), true).length;
  t.true(first.startsWith('\x1b[?25l'), 'hides the cursor');
  t.true(second.startsWith(`\x1b[${height}F\x1b[1m`), 'moves back up over the whole frame and overwrites it');
  t.true(second.endsWith('\n\x1b[J'), 'clears what a taller frame left below');
  const lines = second.split('\n').slice(0, -1);
  t.is(lines.length, height);
  for (const line of lines) t.true(line.replace(ANSI_ESCAPE, '').length <= 39, line);
  t.true(
    lines.every((line) => line.endsWith('\x1b[K')),
    'each line clears what an older, longer line left',
  );
  view.finish();
  t.is(terminal.writes.at(-1), '\x1b[?25h');
});

test('on a TTY a frame taller than the terminal is cut with a note', (t) => {
  const terminal = new FakeTerminal(true, 120, 8);
  createLiveView(terminal, {}).update(fakeSnapshot());
  const lines = terminal.writes[0]!.split('\n').slice(0, -1);
  t.is(lines.length, 7);
  t.regex(lines.at(-1)!, /… 7 more lines: enlarge the terminal/);
});

test('on a TTY a notice goes above the frame, which is drawn again', (t) => {
  const terminal = new FakeTerminal(true);
  const view = createLiveView(terminal, { NO_COLOR: '1' });
  view.update(fakeSnapshot());
  view.notice('desired 25 devices rounds down to 20');
  const height = renderFrame(fakeSnapshot(), false).length;
  const redraw = terminal.writes[1]!;
  t.true(redraw.startsWith(`\x1b[${height}Fnotice: desired 25 devices rounds down to 20\x1b[K\n`));
  t.is(redraw.split('\n').length - 1, height + 1);
  t.false(redraw.includes('\x1b[1m'), 'NO_COLOR leaves colours out');
});

test('off a TTY the view prints one plain line a second and notices as lines', (t) => {
  const terminal = new FakeTerminal(false);
  const view = createLiveView(terminal, {});
  view.update(fakeSnapshot({ elapsed: 12.1 }));
  view.update(fakeSnapshot({ elapsed: 12.6 }));
  view.notice('something to know');
  view.update(fakeSnapshot({ elapsed: 13.1 }));
  view.update(fakeSnapshot({ elapsed: 13.2, state: 'done', remaining: 0 }));
  view.finish();
  const output = terminal.writes.join('');
  t.false(output.includes('\x1b'), 'no escape codes');
  const lines = output.trimEnd().split('\n');
  t.is(lines.length, 4);
  t.true(lines[0]!.startsWith('t=12 '));
  t.is(lines[1], 'notice: something to know');
  t.true(lines[2]!.startsWith('t=13 '));
  t.regex(lines[3]!, /state=done remaining=0/);
});

test('a generator above 80% CPU or 80% of its link stands out, live (in red) and in the plain line; the interfaces counted are named', (t) => {
  const snapshot = fakeSnapshot({
    generators: [
      { id: 'cool', activeDevices: 10, cpuPercent: 40, networkRxBytesPerSecond: 1000, networkTxBytesPerSecond: 1000, networkInterfaces: ['eth0'], networkPercent: 1 },
      { id: 'busy', activeDevices: 10, cpuPercent: 93.4, networkRxBytesPerSecond: 110e6, networkTxBytesPerSecond: 1000, networkInterfaces: ['eth0', 'eth1'], networkPercent: 88 },
    ],
  });
  const frame = renderFrame(snapshot, true).join('\n');
  t.regex(frame, /net max.*88\.0%.*of link/);
  t.regex(frame, /on.* eth0,eth1/);
  t.true(frame.includes(`${ESC}[1;31mabove 80%: busy (cpu 93%, network 88% of its link): a generator this busy may itself limit the load`), frame);
  t.notRegex(frame, /cool \(/);
  const line = renderLine(snapshot);
  t.regex(line, / net_max=88\.0 /);
  t.regex(line, / interfaces=eth0,eth1 /);
  t.regex(line, / hot=busy( |$)/);
  const quiet = renderLine(fakeSnapshot());
  t.notRegex(quiet, /hot=|net_max=/, 'nothing when no generator is hot and no link speed is known');
});

/** Mid-run of a plan with an arrival-rate block: 500 due a second, 20 in the pool. */
const openSnapshot = (overrides: Parameters<typeof fakeSnapshot>[0] = {}) =>
  fakeSnapshot({
    desiredDevices: 0,
    effectiveDevices: 0,
    targetDevices: 0,
    activeDevices: 4,
    arrivals: { intendedPerSecond: 500, maxDevices: 20 },
    counters: { iteration_count: { total: 5_988, perSecond: 498 }, response_count: { total: 5_988, perSecond: 498 } },
    ...overrides,
  });

test('an arrival-rate plan shows the iterations due and started each second, the pool in use and the drops, and no device target or effective devices', (t) => {
  const frame = renderFrame(openSnapshot(), false);
  t.true(frame.includes('iterations/s due 500   started 498   devices active 4 of 20   dropped 0'), frame.join('\n'));
  t.false(
    frame.some((line) => /effective|target/.test(line)),
    'a plan of arrival-rate blocks alone has no closed devices',
  );
  const line = renderLine(openSnapshot());
  t.regex(line, / active=4 due_per_second=500 pool=20 generators=1 /);
  t.regex(line, / iteration_count=5988 iteration_per_second=498 /);
  t.notRegex(line, /target=|effective=/);

  const dropping = openSnapshot({ counters: { iteration_count: { total: 5_000, perSecond: 300 }, dropped_iteration_count: { total: 250, perSecond: 200 } } });
  const red = renderFrame(dropping, true).find((l) => l.includes('iterations/s'))!;
  t.true(red.includes('\x1b[1;31mdropped 250 (200/s)\x1b[0m'), red);
  t.regex(renderLine(dropping), / dropped_iteration_count=250 dropped_iteration_per_second=200( |$)/);

  // Beside closed blocks, both lines: the closed devices' ramp and the open model's rates.
  const mixed = renderFrame(openSnapshot({ effectiveDevices: 20, targetDevices: 20, desiredDevices: 20, activeDevices: 24, arrivals: { intendedPerSecond: 2.5, maxDevices: 10 } }), false);
  t.true(mixed.includes('devices active 24   target 20   effective 20'));
  t.true(mixed.includes('iterations/s due 2.5   started 498   devices active 24 of 10   dropped 0'));
  t.false(
    renderFrame(fakeSnapshot(), false).some((l) => l.includes('iterations/s')),
    'a closed plan has no such line',
  );
  t.regex(renderLine(openSnapshot({ effectiveDevices: 20, targetDevices: 20 })), / target=20 effective=20 due_per_second=500 pool=20 /);
});
