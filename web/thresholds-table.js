/**
 * A run's thresholds as a table: pass or FAIL (or waiting, live, before anything
 * was measured), the threshold, what was measured. The live view, the report
 * page and the standalone HTML report all show them so.
 */
import { el } from './format.js';
import { formatThresholdValue, thresholdLabel } from './shared/thresholds.js';

const STATUS = (r) => (r.ok === null ? 'waiting' : r.ok ? 'pass' : 'FAIL');

/** The verdict line and the table; each row carries data-threshold (its label) and data-ok (true, false, null). */
export function thresholdsTable(results) {
  const failed = results.filter((r) => r.ok === false).length;
  const waiting = results.filter((r) => r.ok === null).length;
  const verdict = el(
    'p',
    { className: `verdict ${failed > 0 ? 'fail' : waiting > 0 ? 'waiting' : 'pass'}` },
    failed > 0
      ? `${failed} of ${results.length} thresholds failed.`
      : waiting > 0
        ? `${results.length - waiting} of ${results.length} thresholds pass so far; ${waiting} wait for data.`
        : `All ${results.length} thresholds passed.`,
  );
  verdict.dataset.verdict = failed > 0 ? 'fail' : waiting > 0 ? 'waiting' : 'pass';
  const rows = results.map((r) => {
    const note = r.aborted ? `stopped the run at ${r.abortedAt} s` : r.abortOnFail ? `aborts the run after ${r.gracePeriod} s` : '';
    const row = el(
      'tr',
      { className: r.ok === false ? 'fail' : r.ok ? 'pass' : 'waiting' },
      el('td', {}, STATUS(r)),
      el('td', {}, thresholdLabel(r)),
      el('td', { className: 'num' }, formatThresholdValue(r)),
      el('td', {}, note),
    );
    row.dataset.threshold = thresholdLabel(r);
    row.dataset.ok = String(r.ok);
    return row;
  });
  const head = el('thead', {}, el('tr', {}, ...['Result', 'Threshold', 'Measured', ''].map((h) => el('th', { scope: 'col' }, h))));
  return [verdict, el('table', { className: 'table thresholds' }, head, el('tbody', {}, ...rows))];
}
