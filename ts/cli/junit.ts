/**
 * The thresholds of a run as JUnit XML, the one test report format CI systems
 * (GitLab, Jenkins, GitHub actions that read test results) all display: one
 * test suite per run, one test case per threshold, a failure with the measured
 * value for each that was missed.
 */
import type { RunSummary } from '../coordinator/run-summary.js';
import { XML_FORBIDDEN } from '../shared/control-characters.js';
import { formatThresholdValue, thresholdLabel } from '../shared/thresholds.js';

const xml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!).replace(XML_FORBIDDEN, '');

export function thresholdsJunit(summary: RunSummary): string {
  const results = summary.thresholds ?? [];
  const failures = results.filter((r) => r.ok !== true).length;
  const seconds = summary.durationSeconds ?? Math.max(0, (Date.parse(summary.endedAt) - Date.parse(summary.startedAt)) / 1000);
  const cases = results.map((r) => {
    const name = xml(thresholdLabel(r));
    if (r.ok === true) return `    <testcase classname="thresholds" name="${name}" time="0"/>`;
    const message = `measured ${formatThresholdValue(r)}${r.aborted ? `; stopped the run at ${r.abortedAt} s` : ''}`;
    return `    <testcase classname="thresholds" name="${name}" time="0">\n      <failure message="${xml(message)}" type="threshold">${xml(`${thresholdLabel(r)}: ${message}`)}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="stressgrid" tests="${results.length}" failures="${failures}" time="${seconds}">`,
    `  <testsuite name="${xml(summary.name)}" tests="${results.length}" failures="${failures}" errors="0" skipped="0" time="${seconds}" timestamp="${xml(summary.startedAt)}" id="${xml(summary.runId)}">`,
    `    <properties><property name="runId" value="${xml(summary.runId)}"/></properties>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
