/**
 * The terminal's view of a run, one LiveSnapshot a second. On a TTY it redraws one
 * frame in place (cursor moves, one write per frame, lines cut to the width so
 * nothing wraps); elsewhere it prints one plain `key=value` line per second that
 * grep and awk can read. It writes to stderr in sgcli, so that stdout carries only
 * the archive path and `tar tzf $(sgcli run ...)` works.
 */
import { busyGeneratorsLine } from '../shared/busy-generator.js';
import { ANSI_ESCAPE } from '../shared/control-characters.js';
import { isErrorMetric, isIntendedMetric } from '../shared/metrics.js';
import { formatThresholdValue, thresholdLabel } from '../shared/thresholds.js';
import { HOT_PERCENT, hotReasons, openModelFigures, openModelOnly, type CounterView, type HistogramView, type LiveSnapshot } from '../shared/live.js';
import { formatBytesPerSecond, formatCount, formatDuration, formatPercent, formatSignificant, microsToMillis } from './format-units.js';

/** The parts of a tty.WriteStream the view uses. */
export interface TerminalStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export interface LiveView {
  update(snapshot: LiveSnapshot): void;
  /** A message for the user; on a TTY it goes above the frame, which is redrawn. */
  notice(message: string): void;
  /** Leaves the last frame on screen and gives the cursor back. */
  finish(): void;
}

const ESC = '\x1b[';
/** A copy of its own: fitWidth moves its lastIndex. */
const ANSI = new RegExp(ANSI_ESCAPE);
const style = (on: boolean, code: string, text: string): string => (on ? `${ESC}${code}m${text}${ESC}0m` : text);

/** Cuts a line to `width` visible characters, keeping (and closing) its colour codes. */
export function fitWidth(line: string, width: number): string {
  if (line.replace(ANSI, '').length <= width) return line;
  let out = '';
  let visible = 0;
  let index = 0;
  while (index < line.length && visible < width) {
    ANSI.lastIndex = index;
    const match = line[index] === '\x1b' ? ANSI.exec(line) : null;
    if (match !== null && match.index === index) {
      out += match[0];
      index += match[0].length;
    } else {
      out += line[index++];
      visible++;
    }
  }
  return `${out}${ESC}0m`;
}

type Align = 'left' | 'right';

function table(rows: string[][], align: Align[]): string[] {
  const widths = align.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (align[column] === 'left' ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd(),
  );
}

interface MetricLabel {
  label: string;
  unit: string;
  format: (value: number) => string;
}

/** `headers_us` → headers in ms, `cpu_percent` → cpu in %, anything else as it is. */
export function histogramLabel(name: string): MetricLabel {
  if (name.endsWith('_us')) return { label: name.slice(0, -3), unit: 'ms', format: microsToMillis };
  if (name.endsWith('_percent')) return { label: name.slice(0, -8), unit: '%', format: (value) => value.toFixed(1) };
  return { label: name, unit: '', format: formatSignificant };
}

const counterLabel = (name: string): string => (name.endsWith('_count') ? name.slice(0, -6) : name);

/** Regular counters by name, then errors by name: rows keep their places between frames. */
function sortedCounters(counters: Record<string, CounterView>): Array<[string, CounterView, boolean]> {
  return Object.entries(counters)
    .map(([name, view]): [string, CounterView, boolean] => [name, view, isErrorMetric(name)])
    .sort(([a, , aError], [b, , bError]) => (aError === bError ? a.localeCompare(b) : aError ? 1 : -1));
}

/** By name, each latency directly followed by its `_intended` twin (corrected beside uncorrected). */
const histogramOrder = (name: string): string => (isIntendedMetric(name) ? `${name.slice(0, -'_intended_us'.length)}_us\u0001` : name);
const sortedHistograms = (histograms: Record<string, HistogramView>): Array<[string, HistogramView]> =>
  Object.entries(histograms)
    .map(([name, view]): [string, string, HistogramView] => [histogramOrder(name), name, view])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, name, view]): [string, HistogramView] => [name, view]);

const HISTOGRAM_COLUMNS: ReadonlyArray<[header: string, stat: keyof HistogramView]> = [
  ['mean', 'mean'],
  ['min', 'min'],
  ['median', 'median'],
  ['p90', 'p90'],
  ['p99', 'p99'],
  ['p99.9', 'p999'],
  ['max', 'max'],
];

/** Histogram columns a narrow terminal drops, first to last. */
const NARROW_DROP_ORDER: ReadonlyArray<keyof HistogramView> = ['min', 'p999', 'mean', 'p90'];

interface GeneratorTotals {
  cpu: number;
  rx: number;
  tx: number;
  /** The busiest link's share, or null when no generator knows its link speed. */
  net: number | null;
  /** Every interface counted, over all generators. */
  interfaces: string[];
  /** Generators above HOT_PERCENT, each with why. */
  hot: Array<{ id: string; reasons: string[] }>;
}

/** Totals over generators: the CPU and network shown are the busiest one's, the one that would bottleneck. */
function generatorTotals(snapshot: LiveSnapshot): GeneratorTotals {
  const totals: GeneratorTotals = { cpu: 0, rx: 0, tx: 0, net: null, interfaces: [], hot: [] };
  const interfaces = new Set<string>();
  for (const g of snapshot.generators) {
    totals.cpu = Math.max(totals.cpu, g.cpuPercent);
    totals.rx += g.networkRxBytesPerSecond;
    totals.tx += g.networkTxBytesPerSecond;
    if (g.networkPercent !== undefined && g.networkPercent !== null) totals.net = Math.max(totals.net ?? 0, g.networkPercent);
    for (const name of g.networkInterfaces ?? []) interfaces.add(name);
    const reasons = hotReasons(g);
    if (reasons.length > 0) totals.hot.push({ id: g.id, reasons });
  }
  totals.interfaces = [...interfaces].sort();
  return totals;
}

const hotLine = (hot: GeneratorTotals['hot']): string => `above ${HOT_PERCENT}%: ${hot.map((h) => `${h.id} (${h.reasons.join(', ')})`).join('; ')}: a generator this busy may itself limit the load`;

/** Most generators listed one by one before the view sums up the rest. */
const GENERATOR_ROWS = 8;

/** The TTY frame, one string per line, not yet cut to the terminal; histogram columns are dropped to fit `width`. */
export function renderFrame(snapshot: LiveSnapshot, color: boolean, width = Number.POSITIVE_INFINITY): string[] {
  const bold = (text: string) => style(color, '1', text);
  const dim = (text: string) => style(color, '2', text);
  const red = (text: string) => style(color, '1;31', text);
  const lines: string[] = [];

  const stateText = snapshot.state === 'failed' || snapshot.state === 'aborted' ? red(snapshot.state) : bold(snapshot.state);
  lines.push(`${bold('Stressgrid')} run ${bold(snapshot.name)} ${dim(`(${snapshot.runId})`)}`);
  lines.push(`${dim('state')} ${stateText}   ${dim('elapsed')} ${formatDuration(snapshot.elapsed)}   ${dim('remaining')} ${formatDuration(snapshot.remaining)}`);
  const desired = snapshot.desiredDevices !== snapshot.effectiveDevices ? ` ${dim(`(desired ${formatCount(snapshot.desiredDevices)})`)}` : '';
  // A plan of arrival-rate blocks alone has no closed devices to target: its line below says what it runs.
  if (!openModelOnly(snapshot)) {
    lines.push(`${dim('devices')} active ${bold(formatCount(snapshot.activeDevices))}   target ${formatCount(snapshot.targetDevices)}   effective ${formatCount(snapshot.effectiveDevices)}${desired}`);
  }
  const open = openModelFigures(snapshot);
  if (open !== null) {
    const dropped = `dropped ${formatCount(open.dropped)}${open.droppedPerSecond > 0 ? ` (${formatCount(open.droppedPerSecond)}/s)` : ''}`;
    lines.push(
      `${dim('iterations/s')} due ${bold(formatCount(open.intendedPerSecond))}   started ${bold(formatCount(open.startedPerSecond))}   ${dim('devices')} active ${formatCount(open.activeDevices)} of ${formatCount(open.maxDevices)}   ${open.droppedPerSecond > 0 ? red(dropped) : dropped}`,
    );
  }
  const totals = generatorTotals(snapshot);
  const cpuText = totals.cpu > HOT_PERCENT ? red(formatPercent(totals.cpu)) : formatPercent(totals.cpu);
  const netText = totals.net === null ? '' : `   ${dim('net max')} ${totals.net > HOT_PERCENT ? red(formatPercent(totals.net)) : formatPercent(totals.net)} ${dim('of link')}`;
  const interfaces = totals.interfaces.length > 0 ? `   ${dim('on')} ${totals.interfaces.join(',')}` : '';
  lines.push(
    `${dim('generators')} ${snapshot.generators.length}   ${dim('cpu max')} ${cpuText}   ${dim('rx')} ${formatBytesPerSecond(totals.rx)}   ${dim('tx')} ${formatBytesPerSecond(totals.tx)}${netText}${interfaces}`,
  );
  if (totals.hot.length > 0) lines.push(red(hotLine(totals.hot)));
  if (snapshot.lostGenerators.length > 0) lines.push(red(`lost generators: ${snapshot.lostGenerators.join(', ')}`));
  const busy = busyGeneratorsLine(snapshot.busyGenerators ?? []);
  if (busy !== '') lines.push(style(color, '1;33', busy));
  for (const w of snapshot.writers ?? []) {
    const line = `${dim(w.writer)} sent ${formatCount(w.sent)}   failed ${formatCount(w.failed)}   waiting ${formatCount(w.pending)}`;
    lines.push(w.failed > 0 ? `${line}   ${red(w.lastError ?? 'failed')}` : line);
  }
  if (snapshot.generators.length > 1) {
    const shown = snapshot.generators.slice(0, GENERATOR_ROWS);
    const rows = [['generator', 'devices', 'cpu', 'rx', 'tx']].concat(
      shown.map((g) => [g.id, formatCount(g.activeDevices), formatPercent(g.cpuPercent), formatBytesPerSecond(g.networkRxBytesPerSecond), formatBytesPerSecond(g.networkTxBytesPerSecond)]),
    );
    const [header, ...body] = table(rows, ['left', 'right', 'right', 'right', 'right']);
    lines.push(`  ${dim(header!)}`, ...body.map((line) => `  ${line}`));
    if (snapshot.generators.length > GENERATOR_ROWS) lines.push(dim(`  … and ${snapshot.generators.length - GENERATOR_ROWS} more generators`));
  }

  const thresholds = snapshot.thresholds ?? [];
  if (thresholds.length > 0) {
    lines.push('');
    const rows = thresholds.map((r) => [r.ok === null ? 'wait' : r.ok ? 'pass' : 'FAIL', thresholdLabel(r), formatThresholdValue(r)]);
    const rendered = table([['threshold', '', 'measured'], ...rows], ['left', 'left', 'right']);
    lines.push(dim(rendered[0]!), ...rendered.slice(1).map((line, i) => (thresholds[i]!.ok === false ? red(line) : line)));
  }

  lines.push('');
  const counters = sortedCounters(snapshot.counters);
  if (counters.length === 0) {
    lines.push(dim('no counters yet'));
  } else {
    const rows = [['counter', 'total', '/s'], ...counters.map(([name, view]) => [counterLabel(name), formatCount(view.total), formatCount(view.perSecond)])];
    const [header, ...body] = table(rows, ['left', 'right', 'right']);
    lines.push(dim(header!), ...body.map((line, index) => (counters[index]![2] ? red(line) : line)));
  }

  const histograms = sortedHistograms(snapshot.histograms);
  if (histograms.length > 0) {
    lines.push('');
    const histogramTable = (columns: typeof HISTOGRAM_COLUMNS): string[] =>
      table(
        [
          ['histogram', 'unit', 'count', ...columns.map(([header]) => header)],
          ...histograms.map(([name, view]) => {
            const { label, unit, format } = histogramLabel(name);
            return [label, unit, formatCount(view.count), ...columns.map(([, stat]) => (view.count === 0 ? '-' : format(view[stat])))];
          }),
        ],
        ['left', 'left', ...Array<Align>(columns.length + 1).fill('right')],
      );
    // A narrow terminal loses the least telling statistics rather than the tail of every row.
    let columns = HISTOGRAM_COLUMNS;
    let rendered = histogramTable(columns);
    for (const stat of NARROW_DROP_ORDER) {
      if (Math.max(...rendered.map((line) => line.length)) <= width) break;
      columns = columns.filter(([, kept]) => kept !== stat);
      rendered = histogramTable(columns);
    }
    const [header, ...body] = rendered;
    lines.push(dim(header!), ...body);
  }
  return lines;
}

const PLAIN_STATS: ReadonlyArray<keyof HistogramView> = ['mean', 'median', 'p99', 'max'];

/** A rate in a plain line: whole as it is, else three significant digits. */
const plainRate = (perSecond: number): string => (Number.isInteger(perSecond) ? String(perSecond) : formatSignificant(perSecond));

/**
 * One line per snapshot, `key=value` separated by spaces. Counters keep their
 * report names (`response_count`, `response_per_second`); `_us` histograms are
 * written in ms under `<key>_ms_<stat>`.
 */
export function renderLine(snapshot: LiveSnapshot): string {
  const totals = generatorTotals(snapshot);
  const fields: string[] = [
    `t=${Math.round(snapshot.elapsed)}`,
    `run=${snapshot.runId}`,
    `state=${snapshot.state}`,
    `remaining=${Math.round(snapshot.remaining)}`,
    `active=${snapshot.activeDevices}`,
    ...(openModelOnly(snapshot) ? [] : [`target=${snapshot.targetDevices}`, `effective=${snapshot.effectiveDevices}`]),
    ...(snapshot.arrivals !== undefined ? [`due_per_second=${plainRate(snapshot.arrivals.intendedPerSecond)}`, `pool=${snapshot.arrivals.maxDevices}`] : []),
    `generators=${snapshot.generators.length}`,
    ...(snapshot.lostGenerators.length > 0 ? [`lost=${snapshot.lostGenerators.join(',')}`] : []),
    ...((snapshot.busyGenerators ?? []).length > 0 ? [`busy=${snapshot.busyGenerators!.map((g) => g.id).join(',')}`] : []),
    ...(snapshot.writers ?? []).flatMap((w) => [`${w.writer}_sent=${w.sent}`, `${w.writer}_failed=${w.failed}`]),
    `cpu_max=${totals.cpu.toFixed(1)}`,
    ...(totals.net !== null ? [`net_max=${totals.net.toFixed(1)}`] : []),
    ...(totals.interfaces.length > 0 ? [`interfaces=${totals.interfaces.join(',')}`] : []),
    ...(totals.hot.length > 0 ? [`hot=${totals.hot.map((h) => h.id).join(',')}`] : []),
  ];
  const thresholds = snapshot.thresholds ?? [];
  if (thresholds.length > 0) {
    const failed = thresholds.filter((r) => r.ok === false).length;
    fields.push(`thresholds_failed=${failed}`, `thresholds_passed=${thresholds.filter((r) => r.ok === true).length}`);
  }
  for (const [name, view] of sortedCounters(snapshot.counters)) {
    const label = counterLabel(name);
    fields.push(`${label}_count=${view.total}`, `${label}_per_second=${plainRate(view.perSecond)}`);
  }
  for (const [name, view] of sortedHistograms(snapshot.histograms)) {
    if (view.count === 0) continue;
    const { label, unit, format } = histogramLabel(name);
    const prefix = unit === 'ms' ? `${label}_ms` : unit === '%' ? `${label}_percent` : label;
    for (const stat of PLAIN_STATS) fields.push(`${prefix}_${stat}=${format(view[stat])}`);
  }
  return fields.join(' ');
}

const TERMINAL_STATES: ReadonlySet<LiveSnapshot['state']> = new Set(['done', 'aborted', 'failed']);

class InPlaceView implements LiveView {
  private drawn = 0;
  private last: LiveSnapshot | undefined;
  private cursorHidden = false;

  constructor(
    private readonly stream: TerminalStream,
    private readonly color: boolean,
  ) {}

  update(snapshot: LiveSnapshot): void {
    this.last = snapshot;
    this.stream.write(this.backToTop() + this.frame(snapshot));
  }

  notice(message: string): void {
    const line = `${style(this.color, '33', 'notice:')} ${message}${ESC}K\n`;
    this.stream.write(this.backToTop() + line + (this.last ? this.frame(this.last) : `${ESC}J`));
  }

  finish(): void {
    if (this.cursorHidden) this.stream.write(`${ESC}?25h`);
    this.cursorHidden = false;
    this.drawn = 0;
  }

  /**
   * Moves to the first line of the previous frame. Nothing is cleared first: each
   * line overwrites the old one and clears only its own tail, and the frame ends by
   * clearing what a taller old frame left below, so no blank screen ever shows.
   */
  private backToTop(): string {
    const up = this.drawn > 0 ? `${ESC}${this.drawn}F` : '';
    this.drawn = 0;
    return up;
  }

  private frame(snapshot: LiveSnapshot): string {
    // One column short of the width: writing the last column wraps on some terminals,
    // and a wrapped line would break the count of lines to move up.
    const width = Math.max(20, (this.stream.columns ?? 80) - 1);
    const height = Math.max(3, (this.stream.rows ?? 24) - 1);
    let lines = renderFrame(snapshot, this.color, width);
    if (lines.length > height) {
      const hidden = lines.length - height + 1;
      lines = [...lines.slice(0, height - 1), style(this.color, '2', `… ${hidden} more lines: enlarge the terminal`)];
    }
    this.drawn = lines.length;
    const hide = this.cursorHidden ? '' : `${ESC}?25l`;
    this.cursorHidden = true;
    return hide + lines.map((line) => `${fitWidth(line, width)}${ESC}K\n`).join('') + `${ESC}J`;
  }
}

class PlainView implements LiveView {
  private lastSecond = -1;
  private lastState: LiveSnapshot['state'] | undefined;

  constructor(private readonly stream: TerminalStream) {}

  update(snapshot: LiveSnapshot): void {
    const second = Math.floor(snapshot.elapsed);
    // One line a second even if snapshots come faster; a change of state is always shown.
    if (second === this.lastSecond && snapshot.state === this.lastState && !TERMINAL_STATES.has(snapshot.state)) return;
    this.lastSecond = second;
    this.lastState = snapshot.state;
    this.stream.write(`${renderLine(snapshot)}\n`);
  }

  notice(message: string): void {
    this.stream.write(`notice: ${message}\n`);
  }

  finish(): void {}
}

/** In place on a TTY, plain lines elsewhere. Colour unless NO_COLOR is set. */
export function createLiveView(stream: TerminalStream, env: Record<string, string | undefined> = {}): LiveView {
  if (stream.isTTY) return new InPlaceView(stream, env.NO_COLOR === undefined || env.NO_COLOR === '');
  return new PlainView(stream);
}
