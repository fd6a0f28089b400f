/**
 * What the management API sends, defined once: the coordinator's routes build
 * these, sgcli and the website read them. Server paths never appear here; a
 * report is named by the URL it is served at.
 */
import type { LiveSnapshot } from '../shared/live.js';
import type { PlanProblem } from '../shared/plan.js';
import type { RunOutcome, RunResult } from './run.js';
import type { RunSummary } from './run-summary.js';

import type { ReportContents } from './report-reader.js';

export type { ReportContents, ReportSeries } from './report-reader.js';

/** GET /api/reports/<runId>: a report's summary, plan and results.csv as series, and its download link. */
export interface ReportDetail extends ReportContents {
  /** Path of the download, as ReportEntry's. */
  url: string;
  /** Path of the run's HTML report, as ReportEntry's. */
  reportUrl: string;
}

/** Stable codes of API errors; `status` is the HTTP status each goes with. */
export const API_ERROR = Object.freeze({
  unauthorized: { code: 'unauthorized', status: 401 },
  linkExpired: { code: 'link_expired', status: 403 },
  linkInvalid: { code: 'link_invalid', status: 403 },
  invalidJson: { code: 'invalid_json', status: 400 },
  invalidPlan: { code: 'invalid_plan', status: 400 },
  invalidRunId: { code: 'invalid_run_id', status: 400 },
  badRequest: { code: 'bad_request', status: 400 },
  bodyTooLarge: { code: 'body_too_large', status: 413 },
  unsupportedMediaType: { code: 'unsupported_media_type', status: 415 },
  notFound: { code: 'not_found', status: 404 },
  noActiveRun: { code: 'no_active_run', status: 404 },
  runActive: { code: 'run_active', status: 409 },
  noGenerators: { code: 'no_generators', status: 503 },
  noDevices: { code: 'no_devices', status: 400 },
  upgradeRequired: { code: 'upgrade_required', status: 426 },
  internal: { code: 'internal', status: 500 },
});

export type ApiErrorCode = (typeof API_ERROR)[keyof typeof API_ERROR]['code'];

export interface ApiErrorKind {
  code: ApiErrorCode;
  status: number;
}

/** Every error body. A 400 for a plan also lists every problem. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string };
  problems?: PlanProblem[];
}

/** 201 of POST /api/runs. */
export interface RunStarted {
  runId: string;
}

/** How a run ended, as the API and the live stream tell it. */
export interface RunEnded {
  runId: string;
  outcome: RunOutcome;
  reason?: string;
  criticalErrors: number;
  /**
   * Where the report is served (`/results/<runId>.tar.gz`, signed with `?expires=&signature=`
   * when the coordinator has a token), or null when none was written.
   */
  archiveUrl: string | null;
  /** Where the run's HTML report is served (`/results/<runId>.html`), or null when no archive was written. */
  reportUrl?: string | null;
  summary: RunSummary | null;
}

/** GET /api/runs/<runId>: the active run's live values, or how a recent run ended. */
export type RunStatus = { state: 'active'; snapshot: LiveSnapshot } | { state: 'ended'; result: RunEnded };

/** A generator's last reported utilisation (it reports every second, idle or not). */
export interface GeneratorUtilisation {
  /** ISO 8601 time of the report. */
  at: string;
  activeDevices: number;
  cpuPercent: number;
  networkRxBytesPerSecond: number;
  networkTxBytesPerSecond: number;
  /** The interfaces its network bytes count. */
  networkInterfaces: string[];
  /** The busier direction as a share of their link speed, or null where the speed is unknown. */
  networkPercent: number | null;
}

/** One element of GET /api/generators. */
export interface GeneratorInfo {
  id: string;
  workers: number;
  /** ISO 8601. */
  connectedAt: string;
  /** Null until its first telemetry. */
  utilisation: GeneratorUtilisation | null;
}

/** One element of GET /api/reports, newest first. */
export interface ReportEntry {
  runId: string;
  fileName: string;
  bytes: number;
  /** ISO 8601, from the run id. */
  startedAt: string;
  /** Path of the download, relative to the coordinator's base URL (a signed link when the coordinator has a token). */
  url: string;
  /** Path of the run's self-contained HTML report (`/results/<runId>.html`), signed like `url`. */
  reportUrl: string;
  /** The archive's summary.json (name, devices, max CPU, errors); null when it has none. */
  summary: RunSummary | null;
}

/** 200 of POST /api/plans/check: what starting the plan now would meet, without starting it. */
export interface PlanChecked {
  /** True when the plan has no problem (it may still get no device: see effectiveDevices). */
  ok: boolean;
  /** Every problem, each with its field path; a script's compile error also has line and column. */
  problems: PlanProblem[];
  /** Generators connected now. */
  generators: number;
  /** Devices per ramp step (10 per generator). */
  stepSize: number;
  /** The plan's size rounded down to whole ramp steps; null when the size is not usable. */
  effectiveDevices: number | null;
  /** Why effectiveDevices differs from the size asked, for the user; null when it does not. */
  effectiveMessage: string | null;
}

/** Messages of the live stream (GET /api/live, WebSocket), one JSON text frame each. */
export type LiveMessage = { type: 'live'; snapshot: LiveSnapshot } | { type: 'notice'; message: string } | { type: 'ended'; result: RunEnded };

/** The path a run's archive is served at. */
export const archiveUrlPath = (runId: string): string => `/results/${runId}.tar.gz`;

/** How a run ended, its archive named by `link` (a signed link where the coordinator has a token). */
/**
 * The link of a run's HTML report (`/results/<runId>.html`) from its archive's
 * link: the same run id and, with a token, the same signature, which covers the run only.
 */
export const reportLinkOf = (archiveLink: string): string => archiveLink.replace(/\.tar\.gz(?=\?|$)/, '.html');

/** The run id a `/results/` report page name (`<runId>.html`) stands for, or null. */
export const runIdOfReportPage = (fileName: string): string | null => (fileName.endsWith('.html') ? fileName.slice(0, -'.html'.length) : null);

export function runEnded(result: RunResult, link: (runId: string) => string = archiveUrlPath): RunEnded {
  return {
    runId: result.runId,
    outcome: result.outcome,
    ...(result.reason !== undefined ? { reason: result.reason } : {}),
    criticalErrors: result.criticalErrors,
    archiveUrl: result.archivePath === null ? null : link(result.runId),
    reportUrl: result.archivePath === null ? null : reportLinkOf(link(result.runId)),
    summary: result.summary,
  };
}
